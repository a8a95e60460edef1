import { describe, expect, it } from 'vitest';
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
