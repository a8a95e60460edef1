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
  it('averages consecutive groups of three, 1536 → 512', () => {
    // Prepare
    const embedding = Float32Array.from({ length: 1536 }, (_, i) => i);

    // Act
    const reduced = reduceEmbeddingForCmi(embedding);

    // Assess
    expect(reduced).toBeInstanceOf(Float32Array);
    expect(reduced).toHaveLength(512);
    expect(reduced[0]).toBe(1);
    expect(reduced[1]).toBe(4);
    expect(reduced[511]).toBe(1534);
  });

  it('sums in float64 and rounds once to float32', () => {
    // Prepare: a float32 sum would lose the small values next to the large one
    const embedding = Float32Array.from([1e8, 1, 1, 0.1, 0.2, 0.3]);

    // Act
    const reduced = reduceEmbeddingForCmi(embedding);

    // Assess
    const e = embedding as unknown as number[];
    expect(reduced[0]).toBe(Math.fround((e[0]! + e[1]! + e[2]!) / 3));
    expect(reduced[1]).toBe(Math.fround((e[3]! + e[4]! + e[5]!) / 3));
    expect(reduceEmbeddingForCmi(embedding)).toEqual(reduced);
  });

  it('writes every value into the array its allocator gives, whatever that array held', () => {
    // Prepare: a reused block full of stale values
    const embedding = Float32Array.from({ length: 9 }, (_, i) => i);
    const block = new Float32Array(8).fill(Number.NaN);

    // Act
    const reduced = reduceEmbeddingForCmi(embedding, (length) => block.subarray(2, 2 + length));

    // Assess
    expect(reduced.buffer).toBe(block.buffer);
    expect([...reduced]).toEqual([1, 4, 7]);
    expect(reduced).toEqual(reduceEmbeddingForCmi(embedding));
  });

  it('refuses a vector whose length is not a multiple of three', () => {
    // Act & Assess
    expect(() => reduceEmbeddingForCmi(new Float32Array(10))).toThrow(InvalidInputError);
  });
});
