import { describe, expect, it } from 'vitest';
import { compareEmbeddingApis } from '../../functions/core/embedding-api-modes.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, estimateEmbeddingCost } from '../../functions/embed/cost.js';
import { InvalidInputError } from '../../functions/errors.js';

describe('Function: estimateEmbeddingCost', () => {
  it.each([
    ['text-embedding-3-small', 0.02],
    ['text-embedding-3-large', 0.13],
    ['text-embedding-ada-002', 0.1],
  ])('prices a million tokens of %s at its list price', (model, price) => {
    // Act
    const estimate = estimateEmbeddingCost({ tokens: 1_000_000, model });

    // Assess
    expect(estimate).toEqual({
      tokens: 1_000_000,
      model,
      pricePerMillionTokens: price,
      costUsd: price,
      priceSource: 'default',
    });
  });

  it('scales with the tokens', () => {
    // Act
    const estimate = estimateEmbeddingCost({ tokens: 250_000_000, model: 'text-embedding-3-small' });

    // Assess
    expect(estimate.costUsd).toBe(5);
  });

  it('uses a configured price over the default', () => {
    // Act
    const estimate = estimateEmbeddingCost({
      tokens: 2_000_000,
      model: 'text-embedding-3-small',
      pricePerMillionTokens: 0.01,
    });

    // Assess
    expect(estimate).toMatchObject({ costUsd: 0.02, pricePerMillionTokens: 0.01, priceSource: 'configured' });
  });

  it('gives no cost and says why for a model without a known price', () => {
    // Act
    const estimate = estimateEmbeddingCost({ tokens: 1000, model: 'nomic-embed-text' });

    // Assess
    expect(estimate.costUsd).toBeNull();
    expect(estimate.priceSource).toBe('unknown');
    expect(estimate.note).toMatch(/nomic-embed-text.*price per 1M tokens/);
  });

  it('prices a configured model that has no default', () => {
    // Act
    const estimate = estimateEmbeddingCost({ tokens: 500_000, model: 'local', pricePerMillionTokens: 0 });

    // Assess
    expect(estimate.costUsd).toBe(0);
  });

  it('refuses negative tokens and prices', () => {
    // Act & Assess
    expect(() => estimateEmbeddingCost({ tokens: -1, model: 'text-embedding-3-small' })).toThrow(
      InvalidInputError,
    );
    expect(() =>
      estimateEmbeddingCost({ tokens: 1, model: 'text-embedding-3-small', pricePerMillionTokens: -2 }),
    ).toThrow(InvalidInputError);
  });
});

describe('Constant: DEFAULT_EMBEDDING_DIMENSIONS', () => {
  it('states each model default vector length', () => {
    // Act & Assess
    expect(DEFAULT_EMBEDDING_DIMENSIONS).toEqual({
      'text-embedding-3-small': 1536,
      'text-embedding-3-large': 3072,
      'text-embedding-ada-002': 1536,
    });
  });
});

describe('Function: compareEmbeddingApis', () => {
  // The README's figures: 1M memories at 200 tokens each with text-embedding-3-small.
  const tokens = 200_000_000;
  const syncCostUsd = estimateEmbeddingCost({ tokens, model: 'text-embedding-3-small' }).costUsd;

  it('prices the Batch API at half the synchronous price', () => {
    // Act
    const modes = compareEmbeddingApis({
      tokens,
      syncCostUsd,
      tokensPerMinute: 1_000_000,
      batchQueueTokens: 3e6,
    });

    // Assess
    expect(modes.sync.costUsd).toBe(4);
    expect(modes.batch.costUsd).toBe(2);
  });

  it('at tier 1, takes 200 minutes synchronously or 67 waves of the 3M-token queue', () => {
    // Act
    const modes = compareEmbeddingApis({
      tokens,
      syncCostUsd,
      tokensPerMinute: 1_000_000,
      batchQueueTokens: 3e6,
    });

    // Assess
    expect(modes.sync.minutes).toBe(200);
    expect(modes.batch).toMatchObject({ waves: 67, hoursAtMost: 67 * 24 });
  });

  it('at tier 5, takes 20 minutes synchronously or one wave of the 4B-token queue', () => {
    // Act
    const modes = compareEmbeddingApis({
      tokens,
      syncCostUsd,
      tokensPerMinute: 10_000_000,
      batchQueueTokens: 4e9,
    });

    // Assess
    expect(modes.sync.minutes).toBe(20);
    expect(modes.batch).toMatchObject({ waves: 1, hoursAtMost: 24 });
  });

  it('has no cost for a model without a price, and no wave for no tokens', () => {
    // Act
    const unpriced = compareEmbeddingApis({
      tokens: 10,
      syncCostUsd: null,
      tokensPerMinute: 1,
      batchQueueTokens: 1,
    });
    const empty = compareEmbeddingApis({
      tokens: 0,
      syncCostUsd: 0,
      tokensPerMinute: 1,
      batchQueueTokens: 1,
    });

    // Assess
    expect(unpriced.batch.costUsd).toBeNull();
    expect(empty.batch).toMatchObject({ waves: 0, hoursAtMost: 0 });
  });
});
