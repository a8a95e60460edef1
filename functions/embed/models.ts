/**
 * Facts about OpenAI's embedding models, from OpenAI's model and pricing pages. A model not listed
 * here still works (any OpenAI-compatible server): give `dimensions` and a price explicitly.
 */

/** Vector length each model returns when no `dimensions` is requested. */
export const DEFAULT_EMBEDDING_DIMENSIONS: Readonly<Record<string, number>> = Object.freeze({
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
});

/** US dollars per 1M input tokens (standard tier, not the Batch API's half price). */
export const EMBEDDING_PRICE_PER_MILLION_TOKENS: Readonly<Record<string, number>> = Object.freeze({
  'text-embedding-3-small': 0.02,
  'text-embedding-3-large': 0.13,
  'text-embedding-ada-002': 0.1,
});

/** ada-002 has a fixed size; the text-embedding-3 models accept a shorter `dimensions`. */
export const MODELS_WITHOUT_DIMENSIONS_PARAMETER: ReadonlySet<string> = new Set(['text-embedding-ada-002']);

/** The vector length to expect: the requested `dimensions`, else the model's default, else unknown. */
export function expectedEmbeddingDimensions(model: string, dimensions?: number): number | undefined {
  return dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS[model];
}

/** Tokens and requests a minute for one API key. */
export interface EmbeddingRateLimits {
  tokensPerMinute: number;
  requestsPerMinute: number;
}

/**
 * OpenAI's usage tier 1 for its embedding models (its rate-limit page, late 2026): the budget a
 * run assumes when none is given, the smallest a paying account has. Tier 5 allows 10M tokens
 * and 10,000 requests a minute; give the account's own figures to go faster.
 */
export const TIER_1_EMBEDDING_RATE_LIMITS: Readonly<EmbeddingRateLimits> = Object.freeze({
  tokensPerMinute: 1_000_000,
  requestsPerMinute: 3_000,
});

/** The budget of `model` at tier 1; the same for any model we know nothing about. */
export function defaultEmbeddingRateLimits(_model: string): EmbeddingRateLimits {
  return { ...TIER_1_EMBEDDING_RATE_LIMITS };
}
