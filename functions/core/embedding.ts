/**
 * Embedding checks and the CMI's reduction. Float32Array because pgvector stores float4:
 * a valid vector passes through untouched and round-trips bit-exact.
 */
import { InvalidInputError } from '../errors.js';

export type EmbeddingValidation =
  | { ok: true }
  | { ok: false; reason: 'invalid_embedding_dimension' | 'non_finite_embedding'; detail: string };

/** A missing (null) embedding is valid here: the transformer keeps it NULL and records a repair. */
export function validateEmbedding(
  embedding: Float32Array | null,
  expectedDims: number = DEFAULT_VECTOR_SHAPE.embeddingDimensions,
): EmbeddingValidation {
  if (embedding === null) return { ok: true };
  if (embedding.length !== expectedDims) {
    return {
      ok: false,
      reason: 'invalid_embedding_dimension',
      detail: `expected ${expectedDims} dimensions, got ${embedding.length}`,
    };
  }
  for (let i = 0; i < embedding.length; i++) {
    const value = embedding[i] as number;
    if (!Number.isFinite(value)) {
      return { ok: false, reason: 'non_finite_embedding', detail: `value at index ${i} is ${value}` };
    }
  }
  return { ok: true };
}

/** The vector sizes of a target: its module tables' `embedding` and its CMI's (`memory_index`). */
export interface VectorShape {
  embeddingDimensions: number;
  cmiDimensions: number;
}

/** Federated Memory as its Prisma schema makes it: vector(1536) modules, a vector(512) CMI. */
export const DEFAULT_VECTOR_SHAPE: VectorShape = { embeddingDimensions: 1536, cmiDimensions: 512 };

/**
 * How many module values each CMI value averages, or null when the CMI cannot be derived from the
 * module vectors as Federated Memory does it: its reduction cuts at floor(i * ratio), so a ratio
 * that is not a whole number averages groups of unequal size, which no migration should copy.
 */
export function cmiReductionGroup(shape: VectorShape): number | null {
  const { embeddingDimensions, cmiDimensions } = shape;
  if (cmiDimensions <= 0 || embeddingDimensions < cmiDimensions) return null;
  return Number.isInteger(embeddingDimensions / cmiDimensions) ? embeddingDimensions / cmiDimensions : null;
}

// The group means of reduceEmbeddingForCmi, reused by every call.
let meansScratch = new Float64Array(0);

/**
 * Federated Memory's `reduceDimensions(embedding, cmiDimensions)`: the mean of each consecutive
 * group of `length / cmiDimensions` values, then scaled to unit length. Its query router reduces
 * query vectors the same way, so CMI rows must live in exactly this space. A vector no longer than
 * the CMI passes through as it is, as there. Sums are taken in float64 and rounded once to float32,
 * so the result does not depend on evaluation order. A zero vector stays zero (the system would
 * divide by zero and store NaN, which pgvector refuses). `allocate` gives the result's array (a
 * batch's slab); every value is written.
 */
export function reduceEmbeddingForCmi(
  embedding: Float32Array,
  cmiDimensions: number = DEFAULT_VECTOR_SHAPE.cmiDimensions,
  allocate: (length: number) => Float32Array = (length) => new Float32Array(length),
): Float32Array {
  if (embedding.length <= cmiDimensions) {
    const copy = allocate(embedding.length);
    copy.set(embedding);
    return copy;
  }
  const group = cmiReductionGroup({ embeddingDimensions: embedding.length, cmiDimensions });
  if (group === null) {
    throw new InvalidInputError(
      `cannot reduce a ${embedding.length}-d embedding to the CMI's ${cmiDimensions} dimensions in equal groups`,
      { context: { dimensions: embedding.length, cmiDimensions } },
    );
  }
  // One scratch array for every call (the function never yields): a batch reduces thousands of
  // vectors, and a fresh array for each was garbage to collect.
  if (meansScratch.length < cmiDimensions) meansScratch = new Float64Array(cmiDimensions);
  const means = meansScratch;
  let squares = 0;
  let j = 0;
  for (let i = 0; i < cmiDimensions; i++) {
    let sum = 0;
    for (const end = j + group; j < end; j++) sum += embedding[j] as number;
    const mean = sum / group;
    means[i] = mean;
    squares += mean * mean;
  }
  const magnitude = Math.sqrt(squares);
  const reduced = allocate(cmiDimensions);
  for (let i = 0; i < cmiDimensions; i++) {
    reduced[i] = magnitude === 0 ? 0 : (means[i] as number) / magnitude;
  }
  return reduced;
}
