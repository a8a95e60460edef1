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

/**
 * The `dimensions` to request so that a model's vectors fit a target column of `targetDimensions`:
 * the requested size when one was given; the target's when the model's default differs and the
 * model can shorten its vectors (text-embedding-3 models return at most their default size).
 * `fits` is false when no such request exists.
 */
export function dimensionsForTarget(
  model: string,
  requested: number | undefined,
  targetDimensions: number,
): { dimensions: number | undefined; fits: boolean } {
  if (requested !== undefined) return { dimensions: requested, fits: requested === targetDimensions };
  const natural = DEFAULT_EMBEDDING_DIMENSIONS[model];
  if (natural === targetDimensions) return { dimensions: undefined, fits: true };
  const shortens = natural !== undefined && !MODELS_WITHOUT_DIMENSIONS_PARAMETER.has(model);
  if (shortens && targetDimensions < natural) return { dimensions: targetDimensions, fits: true };
  return { dimensions: undefined, fits: false };
}

/** A model known to give vectors of at least `dimensions` values, to suggest in an error. */
export function modelFor(dimensions: number): string | undefined {
  return Object.entries(DEFAULT_EMBEDDING_DIMENSIONS)
    .filter(
      ([model, natural]) =>
        natural >= dimensions && (natural === dimensions || !MODELS_WITHOUT_DIMENSIONS_PARAMETER.has(model)),
    )
    .sort((a, b) => a[1] - b[1])[0]?.[0];
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
const TIER_1_EMBEDDING_RATE_LIMITS: Readonly<EmbeddingRateLimits> = Object.freeze({
  tokensPerMinute: 1_000_000,
  requestsPerMinute: 3_000,
});

/**
 * The Batch API's queue limit for the text-embedding-3 models at usage tier 1 (its rate-limit page):
 * tokens of batches in progress at once. Tier 5 allows 4,000,000,000.
 */
export const TIER_1_BATCH_QUEUE_TOKENS = 3_000_000;

/** The budget of `model` at tier 1; the same for any model we know nothing about. */
export function defaultEmbeddingRateLimits(_model: string): EmbeddingRateLimits {
  return { ...TIER_1_EMBEDDING_RATE_LIMITS };
}
