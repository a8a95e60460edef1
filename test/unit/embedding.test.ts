import { describe, expect, it } from 'vitest';
import { reduceEmbeddingForCmi, validateEmbedding } from '../../functions/core/embedding.js';
import { InvalidInputError } from '../../functions/errors.js';

describe('Function: validateEmbedding', () => {
  it('accepts a finite vector of the expected dimension and a missing one', () => {
    // Act & Assess
    expect(validateEmbedding(new Float32Array(1536).fill(0.01))).toEqual({ ok: true });
    expect(validateEmbedding(null)).toEqual({ ok: true });
    expect(validateEmbedding(new Float32Array(4), 4)).toEqual({ ok: true });
  });

  it('rejects a wrong dimension with both numbers in the detail', () => {
    // Act
    const result = validateEmbedding(new Float32Array(768));

    // Assess
    expect(result).toEqual({
      ok: false,
      reason: 'invalid_embedding_dimension',
      detail: 'expected 1536 dimensions, got 768',
    });
  });

  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('rejects %s and names its index', (value, printed) => {
    // Prepare
    const embedding = new Float32Array(1536);
    embedding[700] = value;

    // Act
    const result = validateEmbedding(embedding);

    // Assess
    expect(result).toEqual({
      ok: false,
      reason: 'non_finite_embedding',
      detail: `value at index 700 is ${printed}`,
    });
  });
});

describe('Function: reduceEmbeddingForCmi', () => {
  // Federated Memory's embedding service, written out again here so the test catches drift.
  function systemReduce(embedding: number[], targetDimensions: number): number[] {
    if (embedding.length <= targetDimensions) return embedding;
    const ratio = embedding.length / targetDimensions;
    const reduced: number[] = [];
    for (let i = 0; i < targetDimensions; i++) {
      const start = Math.floor(i * ratio);
      const end = Math.floor((i + 1) * ratio);
      let sum = 0;
      for (let j = start; j < end; j++) sum += embedding[j] as number;
      reduced.push(sum / (end - start));
    }
    const magnitude = Math.sqrt(reduced.reduce((sum, val) => sum + val * val, 0));
    return reduced.map((val) => val / magnitude);
  }

  it.each([
    [1536, 512],
    [768, 256],
    [3072, 512],
    [3072, 1024],
  ])("gives the system's values for %i → %i, rounded once to float32", (from, to) => {
    // Prepare
    let seed = from + to;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const embedding = Float32Array.from({ length: from }, next);

    // Act
    const reduced = reduceEmbeddingForCmi(embedding, to);

    // Assess
    expect(reduced).toHaveLength(to);
    const expected = systemReduce([...embedding], to);
    for (let i = 0; i < to; i++) expect(reduced[i]).toBeCloseTo(expected[i] as number, 6);
  });

  it('writes every value into the array its allocator gives, whatever that array held', () => {
    // Prepare: a reused block full of stale values
    const embedding = Float32Array.from({ length: 9 }, (_, i) => i);
    const block = new Float32Array(8).fill(Number.NaN);

    // Act
    const reduced = reduceEmbeddingForCmi(embedding, 3, (length) => block.subarray(2, 2 + length));

    // Assess
    expect(reduced.buffer).toBe(block.buffer);
    const norm = Math.sqrt(1 + 16 + 49);
    expect([...reduced]).toEqual([1, 4, 7].map((v) => Math.fround(v / norm)));
    expect(reduced).toEqual(reduceEmbeddingForCmi(embedding, 3));
  });

  it('keeps a zero vector zero instead of dividing by zero', () => {
    // Act & Assess
    expect([...reduceEmbeddingForCmi(new Float32Array(6), 2)]).toEqual([0, 0]);
  });

  it('passes a vector no longer than the CMI through, as the system does', () => {
    // Act & Assess
    expect([...reduceEmbeddingForCmi(Float32Array.of(3, 4), 2)]).toEqual([3, 4]);
  });

  it('refuses sizes that do not divide into equal groups', () => {
    // Act & Assess
    expect(() => reduceEmbeddingForCmi(new Float32Array(10), 3)).toThrow(InvalidInputError);
    expect(() => reduceEmbeddingForCmi(new Float32Array(768), 512)).toThrow(InvalidInputError);
  });
});
