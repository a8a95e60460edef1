import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { DEFAULT_LLM_THRESHOLD } from '../core/llm-classification.js';
import { runLayout } from '../core/run-options.js';
import type { KeyRange } from '../db/source-reader.js';
import { type EmbeddingBatchRecord, embeddingBatchClient } from '../embed/batch-api.js';
import { batchOutputEmbedder } from '../embed/batch-vectors.js';
import { ChatClassifier, estimateChatCost } from '../embed/chat-classifier.js';
import { EmbeddingClient } from '../embed/embedding-client.js';
import { defaultEmbeddingRateLimits } from '../embed/models.js';
import type { RateBudget, RatePacer } from '../embed/rate-pacer.js';
import {
  type BatchEmbedder,
  type BatchLlmClassifier,
  migrateBatch as migrateBatchRange,
} from '../engine/migrate-batch.js';
import { PreflightError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { getJson, putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { loadRunCentroids, loadRunRules, moduleRegistryOf } from './run-inputs.js';
import { embeddingBatchManifestSchema } from './stored-schemas.js';
import { userResolver } from './users.js';

// Off the event loop (libuv's pool) and at the fastest level: the decisions of a batch are a few
// hundred repetitive JSON lines, which compress well at any level, and the next batch's work
// should not wait behind them.
const compress = promisify(gzip);
const DECISIONS_GZIP = { level: constants.Z_BEST_SPEED };

export interface MigrateBatchEvent {
  run: RunContext;
  range: KeyRange;
}

export interface MigrateBatchResult {
  index: number;
  migrated: number;
  rejected: number;
}

/**
 * A fresh client per batch, so its counters are the batch's own; its pacer (this worker's share of
 * the rate budget) outlives the batch. Dry runs never call the API. The endpoint and retry
 * settings come from the runtime (OPENAI_BASE_URL, EMBEDDING_MAX_ATTEMPTS,
 * EMBEDDING_BASE_DELAY_MS, EMBEDDING_MAX_DELAY_MS), the client's defaults where unset.
 */
async function batchEmbedder(
  runtime: MigrationRuntime,
  run: RunContext,
  range: KeyRange,
  pacer: RatePacer | undefined,
): Promise<BatchEmbedder | undefined> {
  if (run.embedMode === 'preserve') return undefined;
  const apiKey = run.dryRun ? 'dry-run-sends-nothing' : await runtime.openAiApiKey?.();
  if (!apiKey)
    throw new PreflightError(
      'No OpenAI API key for regenerating embeddings (OPENAI_API_KEY / openAiApiKeySecretArn).',
    );
  const client = new EmbeddingClient({
    apiKey,
    baseURL: runtime.openAiBaseUrl?.(),
    model: run.embeddingModel,
    dimensions: run.embeddingDimensions,
    ...runtime.embeddingRetry,
    pacer,
  });
  if (run.embeddingApi === 'batch' && !run.dryRun) {
    const fromBatches = batchOutputEmbedder({
      openai: embeddingBatchClient(apiKey, runtime.openAiBaseUrl?.()),
      batches: await runBatches(runtime, run),
      rangeIndex: range.index,
      dimensions: client.expectedDimensions,
      sync: client,
    });
    return {
      mode: run.embedMode,
      embedBatch: (items) => fromBatches.embedBatch(items),
      stats: () => ({ ...client.stats(), ...fromBatches.batchStats() }),
    };
  }
  return {
    mode: run.embedMode,
    embedBatch: (items) => client.embedBatch(items),
    stats: () => client.stats(),
  };
}

// Per container, like the rules: the batches are final before the first range starts.
const batchesByRun = new Map<string, Promise<EmbeddingBatchRecord[]>>();

function runBatches(runtime: MigrationRuntime, run: RunContext): Promise<EmbeddingBatchRecord[]> {
  let batches = batchesByRun.get(run.runId);
  if (!batches) {
    batches = getJson(
      runtime.store,
      runLayout(run.runId).embeddingBatches,
      embeddingBatchManifestSchema,
    ).then((m) => m.batches);
    batches.catch(() => batchesByRun.delete(run.runId));
    batchesByRun.set(run.runId, batches);
  }
  return batches;
}

// A run context from before the budget existed gets the model's defaults.
function rateBudgetOf(run: RunContext): RateBudget {
  const defaults = defaultEmbeddingRateLimits(run.embeddingModel);
  return {
    tokensPerMinute: run.embeddingTpm ?? defaults.tokensPerMinute,
    requestsPerMinute: run.embeddingRpm ?? defaults.requestsPerMinute,
  };
}

/**
 * The LLM pass when the run asked for it: a fresh chat client per batch (its counters are the
 * batch's), with the embeddings' key, endpoint and retry settings. Dry runs only estimate.
 */
async function batchLlm(runtime: MigrationRuntime, run: RunContext): Promise<BatchLlmClassifier | undefined> {
  if (run.classifier !== 'llm') return undefined;
  const model = run.llmModel ?? 'gpt-4o-mini';
  const apiKey = run.dryRun ? 'dry-run-sends-nothing' : await runtime.openAiApiKey?.();
  if (!apiKey) {
    throw new PreflightError(
      'No OpenAI API key for the LLM classifier (OPENAI_API_KEY / openAiApiKeySecretArn).',
    );
  }
  const client = new ChatClassifier({
    apiKey,
    baseURL: runtime.openAiBaseUrl?.(),
    model,
    ...runtime.embeddingRetry,
  });
  return {
    model,
    threshold: run.llmThreshold ?? DEFAULT_LLM_THRESHOLD,
    classify: (items, modules) => client.classify(items, modules),
    estimate: (items, modules) => estimateChatCost(items, modules, model),
    stats: () => client.stats(),
  };
}

/**
 * One Map item: a key range through the engine. The batch's summary and its per-memory decisions
 * go to the run store (the Report gathers them); the state returns three numbers, so thousands of
 * items stay far under the Map's result limit.
 */
export async function migrateBatch(
  runtime: MigrationRuntime,
  event: MigrateBatchEvent,
): Promise<MigrateBatchResult> {
  const { run, range } = event;
  const layout = runLayout(run.runId);
  const migrate = async (pacer?: RatePacer) =>
    migrateBatchRange(
      {
        source: await runtime.sourcePool(),
        target: await runtime.targetPool(),
        schema: run.sourceSchema,
        rules: await loadRunRules(runtime, run),
        centroids: await loadRunCentroids(runtime, run),
        resolveUsers: await userResolver(runtime, run),
        embedder: await batchEmbedder(runtime, run, range, pacer),
        llm: await batchLlm(runtime, run),
        embeddingModel: run.embeddingModel,
        modules: moduleRegistryOf(run),
        vectors: run.target.vectors,
      },
      {
        runId: run.runId,
        range,
        dryRun: run.dryRun,
        changedSince: run.changedSince ? new Date(run.changedSince) : null,
        forceReprocess: run.forceReprocess ?? false,
        chunkSize: run.batchSize,
      },
    );
  const pacers = runtime.embeddingPacers;
  const outcome =
    pacers && run.embedMode !== 'preserve' && !run.dryRun
      ? await pacers.lease(rateBudgetOf(run), migrate)
      : await migrate();
  const lines = outcome.decisions.map((d) => JSON.stringify(d)).join('\n');
  await runtime.store.put(
    layout.decisions(range.index),
    await compress(lines.length > 0 ? `${lines}\n` : '', DECISIONS_GZIP),
    'application/gzip',
  );
  await putJson(runtime.store, layout.batch(range.index), outcome.summary);
  return { index: range.index, migrated: outcome.summary.migrated, rejected: outcome.summary.rejected };
}
