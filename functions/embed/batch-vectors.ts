import type OpenAI from 'openai';
import { downloadBatchOutput, type EmbeddingBatchRecord } from './batch-api.js';
import type { BatchOutput } from './batch-files.js';
import { OPENAI_EMBEDDING_LIMITS, truncateToTokens } from './token-estimate.js';

/** The synchronous embedder's interface, as the engine calls it (a subset of EmbeddingClient). */
export interface SyncEmbedder {
  embedBatch(
    items: { id: string; text: string }[],
  ): Promise<{ vectors: ReadonlyMap<string, Float32Array>; truncatedIds: readonly string[] }>;
}

// Output files held per container: the Map hands out ranges in key order, so a worker's next range
// is usually in the same file as its last; a file of 50,000 1536-d vectors takes about 300 MB, so
// only the latest is kept.
const CACHED_OUTPUTS = 1;
const outputs = new Map<string, Promise<BatchOutput>>();

function cachedOutput(
  openai: OpenAI,
  record: EmbeddingBatchRecord,
  dimensions: number | undefined,
): Promise<BatchOutput> {
  // Keyed by the output file: a batch that has one is final, its files never change.
  const key = record.outputFileId ?? '';
  let output = outputs.get(key);
  if (output) {
    outputs.delete(key);
  } else {
    output = downloadBatchOutput(openai, record, { dimensions });
    // A failed download is not kept: the next batch (or the retried one) downloads again.
    output.catch(() => outputs.delete(key));
  }
  outputs.set(key, output);
  while (outputs.size > CACHED_OUTPUTS) outputs.delete(outputs.keys().next().value as string);
  return output;
}

export interface BatchVectorStats {
  /** Inputs whose vector came from a batch's output file, and that file's tokens for them. */
  batchInputs: number;
  batchTokens: number;
}

/**
 * A range's vectors from the Batch API's output files (downloaded once per file, kept per
 * container); what the files lack — inputs the batch failed, a batch that failed, expired or was
 * cancelled — goes to the synchronous embedder, paced as in sync mode.
 */
export function batchOutputEmbedder(options: {
  openai: OpenAI;
  batches: readonly EmbeddingBatchRecord[];
  rangeIndex: number;
  dimensions: number | undefined;
  sync: SyncEmbedder;
}): SyncEmbedder & { batchStats(): BatchVectorStats } {
  const stats: BatchVectorStats = { batchInputs: 0, batchTokens: 0 };
  const covering = options.batches.filter(
    (b) => b.firstRange <= options.rangeIndex && options.rangeIndex <= b.lastRange && b.outputFileId !== null,
  );
  return {
    batchStats: () => ({ ...stats }),
    async embedBatch(items) {
      const files = await Promise.all(
        covering.map((b) => cachedOutput(options.openai, b, options.dimensions)),
      );
      const vectors = new Map<string, Float32Array>();
      const truncatedIds: string[] = [];
      const missing: { id: string; text: string }[] = [];
      for (const item of items) {
        const vector = files.map((f) => f.vectors.get(item.id)).find((v) => v !== undefined);
        if (vector === undefined) {
          missing.push(item);
          continue;
        }
        vectors.set(item.id, vector);
        stats.batchInputs += 1;
        const cut = truncateToTokens(item.text, OPENAI_EMBEDDING_LIMITS.maxTokensPerInput);
        stats.batchTokens += cut.tokens;
        if (cut.truncated) truncatedIds.push(item.id);
      }
      if (missing.length > 0) {
        const synced = await options.sync.embedBatch(missing);
        for (const [id, vector] of synced.vectors) vectors.set(id, vector);
        truncatedIds.push(...synced.truncatedIds);
      }
      return { vectors, truncatedIds };
    },
  };
}
