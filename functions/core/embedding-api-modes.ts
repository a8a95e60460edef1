/**
 * The two ways a run can embed, side by side for the dry run: the synchronous API at the rate
 * budget, and the Batch API at half the price within its queue limit. Arithmetic only.
 */

/** The Batch API's price as a share of the synchronous one (OpenAI's pricing page). */
export const BATCH_PRICE_SHARE = 0.5;

/** The completion window every batch is created with: the API finishes it within this, or expires it. */
const BATCH_COMPLETION_WINDOW_HOURS = 24;

export interface EmbeddingApiModes {
  tokens: number;
  sync: {
    costUsd: number | null;
    tokensPerMinute: number;
    /** At the budget's full rate: the least time the embedding takes. */
    minutes: number;
  };
  batch: {
    costUsd: number | null;
    queueTokens: number;
    /** Rounds of batches the queue limit allows (all at once when one round holds every token). */
    waves: number;
    /** The most it can take: each wave within the completion window. */
    hoursAtMost: number;
  };
}

export function compareEmbeddingApis(input: {
  tokens: number;
  syncCostUsd: number | null;
  tokensPerMinute: number;
  batchQueueTokens: number;
}): EmbeddingApiModes {
  const { tokens, syncCostUsd, tokensPerMinute, batchQueueTokens } = input;
  const waves = tokens === 0 ? 0 : Math.ceil(tokens / batchQueueTokens);
  return {
    tokens,
    sync: { costUsd: syncCostUsd, tokensPerMinute, minutes: tokens / tokensPerMinute },
    batch: {
      costUsd: syncCostUsd === null ? null : syncCostUsd * BATCH_PRICE_SHARE,
      queueTokens: batchQueueTokens,
      waves,
      hoursAtMost: waves * BATCH_COMPLETION_WINDOW_HOURS,
    },
  };
}
