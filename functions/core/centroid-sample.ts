/**
 * The centroid sample as a sequence of offers (docs/design.md, "Skipping what is done"): what each
 * sampled memory, in sample order, gives the accumulator. The accumulator is a pure function of
 * that sequence, so two samples whose offers are equal give bit-equal sums, and a rerun whose
 * sampled memories changed without changing what they offer may keep the sums it cached.
 */
import { createHash } from 'node:crypto';
import { ModuleCentroidAccumulator, type ModuleCentroidAccumulatorJson } from './centroids.js';
import { classifyMemory, isConfident } from './classify.js';
import { validateEmbedding } from './embedding.js';
import type { CompiledRules } from './rules.js';
import type { SourceMemory } from './types.js';

/** A memory that gives the centroids nothing: not confidently classified, or no usable vector. */
const NO_OFFER = '-';

/**
 * What one sampled memory offers: its confident module and a digest of its vector's bytes, or
 * NO_OFFER. Centroids live in the source's space: classification compares source vectors with them.
 */
export function sampleOffer(
  memory: SourceMemory,
  rules: CompiledRules,
  dimensions: number | null,
): { module: string; embedding: Float32Array; offer: string } | { offer: string } {
  const embedding = memory.embedding;
  if (!embedding || !validateEmbedding(embedding, dimensions ?? embedding.length).ok)
    return { offer: NO_OFFER };
  const classification = classifyMemory(memory, rules);
  if (!isConfident(classification)) return { offer: NO_OFFER };
  const digest = createHash('md5')
    .update(new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength))
    .digest('hex');
  return { module: classification.module, embedding, offer: `${classification.module}:${digest}` };
}

/** The sums of a sample's memories, in sample order, and each memory's offer. */
export function accumulateSample(
  memories: readonly SourceMemory[],
  rules: CompiledRules,
  dimensions: number | null,
): { centroids: ModuleCentroidAccumulatorJson; offers: string[] } {
  const accumulator = new ModuleCentroidAccumulator(rules.centroid.maxSamplesPerModule);
  const offers = memories.map((memory) => {
    const offered = sampleOffer(memory, rules, dimensions);
    if ('module' in offered) accumulator.add(offered.module, offered.embedding);
    return offered.offer;
  });
  return { centroids: accumulator.toJSON(), offers };
}

/** The memory of a sampled row as the source hashes it, `<id>:<row hash>` (db/source-fingerprints.ts). */
export const sampleRowId = (row: string) => row.slice(0, row.lastIndexOf(':'));

/**
 * The positions whose rows changed since `before`, when the sample still holds the same memories in
 * the same order (only then can equal offers mean equal sums); null otherwise.
 */
export function changedSamplePositions(before: readonly string[], now: readonly string[]): number[] | null {
  if (before.length !== now.length) return null;
  const changed: number[] = [];
  for (let i = 0; i < now.length; i++) {
    const was = before[i] as string;
    const is = now[i] as string;
    if (was === is) continue;
    if (sampleRowId(was) !== sampleRowId(is)) return null;
    changed.push(i);
  }
  return changed;
}
