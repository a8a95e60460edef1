import { InvalidInputError } from '../errors.js';
import { EMBEDDING_PRICE_PER_MILLION_TOKENS } from './models.js';

export { DEFAULT_EMBEDDING_DIMENSIONS } from './models.js';

export interface EmbeddingCostEstimate {
  tokens: number;
  model: string;
  pricePerMillionTokens: number | null;
  /** US dollars; null when the model's price is unknown and none was given. */
  costUsd: number | null;
  priceSource: 'configured' | 'default' | 'unknown';
  note?: string;
}

/** What embedding `tokens` tokens costs, for the dry-run and the run report. */
export function estimateEmbeddingCost(input: {
  tokens: number;
  model: string;
  pricePerMillionTokens?: number;
}): EmbeddingCostEstimate {
  const { tokens, model, pricePerMillionTokens } = input;
  if (!Number.isFinite(tokens) || tokens < 0) {
    throw new InvalidInputError(`Token count must be a non-negative number, got ${tokens}`, {
      context: { tokens },
    });
  }
  if (pricePerMillionTokens !== undefined) {
    if (!Number.isFinite(pricePerMillionTokens) || pricePerMillionTokens < 0) {
      throw new InvalidInputError(
        `Embedding price per 1M tokens must be a non-negative number, got ${pricePerMillionTokens}`,
        { context: { pricePerMillionTokens } },
      );
    }
    return priced(tokens, model, pricePerMillionTokens, 'configured');
  }
  const known = EMBEDDING_PRICE_PER_MILLION_TOKENS[model];
  if (known !== undefined) return priced(tokens, model, known, 'default');
  return {
    tokens,
    model,
    pricePerMillionTokens: null,
    costUsd: null,
    priceSource: 'unknown',
    note: `No price known for model '${model}'; pass a price per 1M tokens to estimate the cost`,
  };
}

function priced(
  tokens: number,
  model: string,
  pricePerMillionTokens: number,
  priceSource: 'configured' | 'default',
): EmbeddingCostEstimate {
  return {
    tokens,
    model,
    pricePerMillionTokens,
    // Scaled by integers first so 1M tokens at $0.02 is 0.02, not 0.020000000000000004.
    costUsd: (tokens * Math.round(pricePerMillionTokens * 1e6)) / 1e12,
    priceSource,
  };
}
