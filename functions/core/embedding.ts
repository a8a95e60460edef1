/**
 * Embedding checks and the CMI's 512-d reduction. Float32Array because pgvector stores float4:
 * a valid vector passes through untouched and round-trips bit-exact.
 */
import { InvalidInputError } from '../errors.js';
import { SOURCE_EMBEDDING_DIMENSIONS } from './types.js';

export type EmbeddingValidation =
  | { ok: true }
  | { ok: false; reason: 'invalid_embedding_dimension' | 'non_finite_embedding'; detail: string };

/** A missing (null) embedding is valid here: the transformer keeps it NULL and records a repair. */
export function validateEmbedding(
  embedding: Float32Array | null,
  expectedDims: number = SOURCE_EMBEDDING_DIMENSIONS,
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

const CMI_REDUCTION_GROUP = 3;

/**
 * Federated Memory's CMI space: the mean of each consecutive group of 3 values (1536 → 512). Its
 * query router reduces query vectors the same way, so CMI rows must live in exactly this space.
 * The sum is taken in float64 and rounded once to float32, so the result does not depend on
 * evaluation order. `allocate` gives the result's array (a batch's slab); every value is written.
 */
export function reduceEmbeddingForCmi(
  embedding: Float32Array,
  allocate: (length: number) => Float32Array = (length) => new Float32Array(length),
): Float32Array {
  if (embedding.length % CMI_REDUCTION_GROUP !== 0) {
    throw new InvalidInputError(`cannot reduce a ${embedding.length}-d embedding in groups of 3`, {
      context: { dimensions: embedding.length },
    });
  }
  const reduced = allocate(embedding.length / CMI_REDUCTION_GROUP);
  for (let i = 0; i < reduced.length; i++) {
    const start = i * CMI_REDUCTION_GROUP;
    const sum =
      (embedding[start] as number) + (embedding[start + 1] as number) + (embedding[start + 2] as number);
    reduced[i] = sum / CMI_REDUCTION_GROUP;
  }
  return reduced;
}
