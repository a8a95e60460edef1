/**
 * Module centroids from confidently classified memories, used to place memories no rule decides
 * (docs/design.md, "Classification"). Batches run in parallel Lambdas, so the accumulator is mergeable and serialisable:
 * each batch sums its samples, the sums are merged, and `finish` normalises once.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { inModuleOrder } from './modules.js';
import type { ModuleId } from './types.js';

/** Unit-length centroid per module that had samples, all of one dimension. */
export interface ModuleCentroids {
  dimensions: number;
  modules: Partial<Record<ModuleId, Float32Array>>;
  /** Samples behind each centroid, for the report. */
  samples: Partial<Record<ModuleId, number>>;
}

export interface NearestCentroid {
  module: ModuleId;
  similarity: number;
  /** Similarity minus the runner-up's; the runner-up counts as -1 when there is only one centroid. */
  margin: number;
}

interface ModuleSum {
  count: number;
  sum: Float64Array;
}

const accumulatorJsonSchema = z.strictObject({
  version: z.literal(1),
  dimensions: z.number().int().positive().nullable(),
  maxSamplesPerModule: z.number().int().positive(),
  modules: z.partialRecord(
    z.string().min(1),
    z.strictObject({ count: z.number().int().positive(), sum: z.array(z.number()) }),
  ),
});

export type ModuleCentroidAccumulatorJson = z.infer<typeof accumulatorJsonSchema>;

function norm(vector: ArrayLike<number>): number {
  let squares = 0;
  for (let i = 0; i < vector.length; i++) squares += (vector[i] as number) ** 2;
  return Math.sqrt(squares);
}

export class ModuleCentroidAccumulator {
  private readonly sums = new Map<ModuleId, ModuleSum>();
  private dimensions: number | null = null;

  /** The cap bounds how much one dominant module can cost; the mean of a large sample barely moves. */
  constructor(readonly maxSamplesPerModule: number = Number.MAX_SAFE_INTEGER) {}

  /**
   * Adds one sample (normalised first, so long vectors do not outweigh short ones). Returns false
   * when it was not taken: the module is full, the vector is zero or non-finite, or its dimension
   * differs from the samples already taken.
   */
  add(module: ModuleId, embedding: Float32Array): boolean {
    if (this.dimensions !== null && embedding.length !== this.dimensions) return false;
    const length = norm(embedding);
    if (!Number.isFinite(length) || length === 0) return false;
    const entry = this.entryFor(module, embedding.length);
    if (entry.count >= this.maxSamplesPerModule) return false;
    for (let i = 0; i < embedding.length; i++) {
      entry.sum[i] = (entry.sum[i] as number) + (embedding[i] as number) / length;
    }
    entry.count += 1;
    return true;
  }

  /**
   * Adds another accumulator's samples. Over the cap, the combined sum is scaled down to the cap:
   * sums cannot be split back into samples, and scaling keeps the mean direction exact.
   */
  merge(other: ModuleCentroidAccumulator): this {
    if (other.dimensions === null) return this;
    if (this.dimensions !== null && other.dimensions !== this.dimensions) {
      throw new InvalidInputError(
        `cannot merge ${other.dimensions}-d centroids into ${this.dimensions}-d ones`,
        {
          context: { dimensions: this.dimensions, otherDimensions: other.dimensions },
        },
      );
    }
    for (const [module, theirs] of other.sums) {
      const entry = this.entryFor(module, other.dimensions);
      const count = entry.count + theirs.count;
      const scale = count > this.maxSamplesPerModule ? this.maxSamplesPerModule / count : 1;
      for (let i = 0; i < entry.sum.length; i++) {
        entry.sum[i] = ((entry.sum[i] as number) + (theirs.sum[i] as number)) * scale;
      }
      entry.count = Math.min(count, this.maxSamplesPerModule);
    }
    return this;
  }

  toJSON(): ModuleCentroidAccumulatorJson {
    const modules: ModuleCentroidAccumulatorJson['modules'] = {};
    for (const [module, entry] of this.sums) modules[module] = { count: entry.count, sum: [...entry.sum] };
    return {
      version: 1,
      dimensions: this.dimensions,
      maxSamplesPerModule: this.maxSamplesPerModule,
      modules,
    };
  }

  static fromJSON(json: unknown): ModuleCentroidAccumulator {
    const parsed = accumulatorJsonSchema.safeParse(json);
    if (!parsed.success) {
      throw new InvalidInputError(`invalid centroid accumulator: ${parsed.error.message}`, {
        cause: parsed.error,
      });
    }
    const { dimensions, maxSamplesPerModule, modules } = parsed.data;
    const accumulator = new ModuleCentroidAccumulator(maxSamplesPerModule);
    for (const module of inModuleOrder(Object.keys(modules))) {
      const entry = modules[module];
      if (!entry) continue;
      if (entry.sum.length !== dimensions) {
        throw new InvalidInputError(
          `invalid centroid accumulator: ${module} has ${entry.sum.length} values`,
          {
            context: { module, dimensions },
          },
        );
      }
      accumulator.sums.set(module, { count: entry.count, sum: Float64Array.from(entry.sum) });
    }
    accumulator.dimensions = dimensions;
    return accumulator;
  }

  /** Unit centroids of every module with at least `minSamples` samples. */
  finish(minSamples = 1): ModuleCentroids {
    const centroids: ModuleCentroids = { dimensions: this.dimensions ?? 0, modules: {}, samples: {} };
    for (const module of inModuleOrder(this.sums.keys())) {
      const entry = this.sums.get(module);
      if (!entry || entry.count < minSamples) continue;
      const length = norm(entry.sum);
      if (length === 0) continue;
      centroids.modules[module] = Float32Array.from(entry.sum, (value) => value / length);
      centroids.samples[module] = entry.count;
    }
    return centroids;
  }

  private entryFor(module: ModuleId, dimensions: number): ModuleSum {
    this.dimensions = dimensions;
    let entry = this.sums.get(module);
    if (!entry) {
      entry = { count: 0, sum: new Float64Array(dimensions) };
      this.sums.set(module, entry);
    }
    return entry;
  }
}

/**
 * The most similar centroid by cosine, or null when there is none or the dimensions differ. Ties go
 * to the module first in `inModuleOrder`, so the answer never depends on insertion order.
 */
export function nearestCentroid(embedding: Float32Array, centroids: ModuleCentroids): NearestCentroid | null {
  if (embedding.length !== centroids.dimensions) return null;
  const length = norm(embedding);
  if (!Number.isFinite(length) || length === 0) return null;
  let best: { module: ModuleId; similarity: number } | null = null;
  let runnerUp = -1;
  for (const module of inModuleOrder(Object.keys(centroids.modules))) {
    const centroid = centroids.modules[module];
    if (!centroid) continue;
    let dot = 0;
    for (let i = 0; i < embedding.length; i++) dot += (embedding[i] as number) * (centroid[i] as number);
    const similarity = dot / length;
    if (best === null || similarity > best.similarity) {
      if (best !== null) runnerUp = best.similarity;
      best = { module, similarity };
    } else if (similarity > runnerUp) {
      runnerUp = similarity;
    }
  }
  return best === null ? null : { ...best, margin: best.similarity - runnerUp };
}

export function centroidCount(centroids: ModuleCentroids): number {
  return Object.values(centroids.modules).filter((centroid) => centroid !== undefined).length;
}
