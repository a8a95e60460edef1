import type OpenAI from 'openai';
import { validateEmbedding } from '../core/embedding.js';
import { runLayout } from '../core/run-options.js';
import { type KeyRange, readSourceRange } from '../db/source-reader.js';
import {
  batchIsFinal,
  type EmbeddingBatchRecord,
  embeddingBatchClient,
  existingBatchFor,
  findRunBatches,
  recordOf,
  refreshBatch,
  submitBatchFile,
  waitingRecord,
} from '../embed/batch-api.js';
import {
  BATCH_FILE_LIMITS,
  BatchFileBuilder,
  type BatchFileLimits,
  type BatchRequestFile,
} from '../embed/batch-files.js';
import { TIER_1_BATCH_QUEUE_TOKENS } from '../embed/models.js';
import { classifyDatabaseFailure, PreflightError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { getJson, putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { embeddingBatchManifestSchema, keyRangesSchema } from './stored-schemas.js';
import { userResolver } from './users.js';

export interface EmbeddingBatchesEvent {
  run: RunContext;
  /** Plan's result: where its memory ranges are. */
  plan?: { rangesKey: string };
  /** Set by the state machine's wait loop: the previous result, whose batches are not all done. */
  pending?: EmbeddingBatchesResult;
}

export interface EmbeddingBatchesResult {
  api: 'sync' | 'batch';
  /** True while a batch is still running: the state machine waits and looks again. */
  pending: boolean;
  batches: number;
  /** Of those, made by this run's earlier attempts (found by their metadata). */
  reused: number;
  inputs: number;
  tokens: number;
  /** Batches by status, once all are final: `completed`, `failed`, `expired`, `cancelled`. */
  statuses: Record<string, number>;
}

export interface EmbeddingBatchManifest {
  batches: EmbeddingBatchRecord[];
}

/**
 * The Batch API step after Plan (docs/design.md, "Embeddings through the Batch API"): the memories
 * the batches will embed go to request files, one batch each; called again with `pending` by the
 * state machine's wait loop, it looks at the batches until none is running. Sync mode, dry runs
 * and preserved embeddings pass straight through.
 */
export async function embeddingBatches(
  runtime: MigrationRuntime,
  event: EmbeddingBatchesEvent,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EmbeddingBatchesResult> {
  const { run } = event;
  const api = run.embeddingApi ?? 'sync';
  if (api === 'sync' || run.embedMode === 'preserve' || run.dryRun) {
    return { api, pending: false, batches: 0, reused: 0, inputs: 0, tokens: 0, statuses: {} };
  }
  const apiKey = await runtime.openAiApiKey?.();
  if (!apiKey)
    throw new PreflightError('No OpenAI API key for the Batch API (OPENAI_API_KEY / openAiApiKeySecretArn).');
  const openai = embeddingBatchClient(apiKey, runtime.openAiBaseUrl?.());
  const key = runLayout(run.runId).embeddingBatches;

  const queueLimit = run.embeddingBatchQueueTokens ?? TIER_1_BATCH_QUEUE_TOKENS;

  if (event.pending) {
    const manifest = await getJson(runtime.store, key, embeddingBatchManifestSchema);
    const batches = await Promise.all(manifest.batches.map((b) => refreshBatch(openai, b)));
    await submitWaiting(runtime, openai, run.runId, batches, queueLimit);
    await putJson(runtime.store, key, { batches } satisfies EmbeddingBatchManifest);
    return { ...summaryOf(batches), reused: event.pending.reused };
  }

  const rangesKey = event.plan?.rangesKey ?? runLayout(run.runId).memoryRanges;
  const ranges = await getJson(runtime.store, rangesKey, keyRangesSchema);
  const found = await findRunBatches(openai, run.runId);
  const batches: EmbeddingBatchRecord[] = [];
  let reused = 0;
  // Each file goes to the run store first: the queue limit may hold it back for hours.
  const keep = async (file: BatchRequestFile | undefined) => {
    if (!file) return;
    const existing = existingBatchFor(found, file);
    if (existing) {
      reused += 1;
      batches.push(recordOf(existing, file));
      return;
    }
    const fileKey = runLayout(run.runId).embeddingBatchFile(file.firstRange, file.lastRange);
    await runtime.store.put(fileKey, Buffer.from(file.body), 'application/jsonl');
    batches.push(waitingRecord(file, fileKey));
  };
  const builder = new BatchFileBuilder({
    model: run.embeddingModel,
    dimensions: run.embeddingDimensions,
    limits: { ...BATCH_FILE_LIMITS, ...fileLimitsFrom(env) },
  });
  for (const range of ranges) {
    for (const input of await memoriesToEmbed(runtime, run, range)) await keep(builder.add(input));
  }
  await keep(builder.finish());
  await submitWaiting(runtime, openai, run.runId, batches, queueLimit, found);
  await putJson(runtime.store, key, { batches } satisfies EmbeddingBatchManifest);
  return { ...summaryOf(batches), reused };
}

/**
 * Submits waiting files, in order, while the tokens of the batches in progress stay within the
 * queue limit (one file at a time when a single file passes it: the API then fails that batch, and
 * MigrateBatch embeds its memories synchronously). A file whose batch already exists — a step that
 * failed after creating it — takes that batch instead of a second one.
 */
async function submitWaiting(
  runtime: MigrationRuntime,
  openai: OpenAI,
  runId: string,
  batches: EmbeddingBatchRecord[],
  queueLimit: number,
  known?: Awaited<ReturnType<typeof findRunBatches>>,
): Promise<void> {
  if (!batches.some((b) => b.status === 'waiting')) return;
  const found = known ?? (await findRunBatches(openai, runId));
  let queued = batches.reduce((n, b) => n + (b.batchId !== null && !batchIsFinal(b) ? b.tokens : 0), 0);
  for (const [index, record] of batches.entries()) {
    if (record.status !== 'waiting' || record.fileKey === undefined) continue;
    const existing = existingBatchFor(found, record);
    if (existing) {
      batches[index] = recordOf(existing, record);
      if (!batchIsFinal(batches[index])) queued += record.tokens;
      continue;
    }
    if (queued > 0 && queued + record.tokens > queueLimit) break;
    const body = (await runtime.store.get(record.fileKey)).toString('utf8');
    batches[index] = recordOf(await submitBatchFile(openai, runId, { ...record, body }), record);
    queued += record.tokens;
  }
}

function summaryOf(batches: EmbeddingBatchRecord[]): EmbeddingBatchesResult {
  // A waiting file is not final either: the loop goes on until it has been submitted and is done.
  const pending = batches.some((b) => !batchIsFinal(b));
  const statuses: Record<string, number> = {};
  if (!pending) for (const b of batches) statuses[b.status] = (statuses[b.status] ?? 0) + 1;
  return {
    api: 'batch',
    pending,
    batches: batches.length,
    reused: 0,
    inputs: batches.reduce((n, b) => n + b.inputs, 0),
    tokens: batches.reduce((n, b) => n + b.tokens, 0),
    statuses,
  };
}

/**
 * What MigrateBatch would send the embeddings API for this range: memories with content whose
 * user maps to a target user, in missing-only mode only those without a usable vector.
 */
async function memoriesToEmbed(
  runtime: MigrationRuntime,
  run: RunContext,
  range: KeyRange,
): Promise<{ id: string; text: string; rangeIndex: number }[]> {
  const client = await (await runtime.sourcePool()).connect();
  let memories: Awaited<ReturnType<typeof readSourceRange>>;
  try {
    memories = await readSourceRange(client, run.sourceSchema, range, {
      changedSince: run.changedSince ? new Date(run.changedSince) : null,
    });
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', batch: range.index });
  } finally {
    client.release();
  }
  const resolve = await userResolver(runtime, run);
  const users = await resolve([...new Set(memories.map((m) => m.userId))]);
  const dimensions = run.target.vectors.embeddingDimensions;
  return memories
    .filter((m) => m.content && m.content.trim() !== '' && users.get(m.userId)?.targetUserId)
    .filter((m) => run.embedMode === 'all' || !m.embedding || !validateEmbedding(m.embedding, dimensions).ok)
    .map((m) => ({ id: m.id, text: m.content as string, rangeIndex: range.index }));
}

// Smaller files than the API allows: for tests that want several batches from a few memories.
function fileLimitsFrom(env: NodeJS.ProcessEnv): Partial<BatchFileLimits> {
  const inputs = Number(env.EMBEDDING_BATCH_FILE_MAX_INPUTS);
  return Number.isInteger(inputs) && inputs > 0
    ? { maxInputs: Math.min(inputs, BATCH_FILE_LIMITS.maxInputs) }
    : {};
}
