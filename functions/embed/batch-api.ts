import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import OpenAI, { APIError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { EmbeddingUnavailableError, InvalidInputError } from '../errors.js';
import { type BatchOutput, BatchOutputReader, type BatchRequestFile } from './batch-files.js';

/**
 * OpenAI's Batch API for the run's embeddings: request files uploaded through the Files API,
 * one batch per file, found again by their metadata, and their output files read back.
 */

/** The Wait between two looks at the batches: they take minutes to hours, a look costs a Lambda call. */
export const DEFAULT_EMBEDDING_BATCH_POLL_SECONDS = 300;

/** `metadata.migration` of every batch this tool creates; `metadata.run_id` names the run. */
const BATCH_METADATA_MIGRATION = 'bigmemory-to-federated-memory';

/** A batch as the run records it (`plan/embedding-batches.json`): small, and no secret in it. */
export interface EmbeddingBatchRecord {
  /** Null while the file waits for room in the queue. */
  batchId: string | null;
  /** Plan's key ranges whose memories the batch holds (first and last index). */
  firstRange: number;
  lastRange: number;
  inputs: number;
  tokens: number;
  /** The API's status, or `waiting`: not yet submitted, for the queue limit. */
  status: Batch['status'] | 'waiting';
  /** Where the request file waits in the run store until it is submitted. */
  fileKey?: string;
  outputFileId: string | null;
  errorFileId: string | null;
}

/** A batch in one of these states changes no more: its files are what there will be. */
const FINAL_STATUSES: ReadonlySet<EmbeddingBatchRecord['status']> = new Set([
  'completed',
  'failed',
  'expired',
  'cancelled',
]);

export function batchIsFinal(record: Pick<EmbeddingBatchRecord, 'status'>): boolean {
  return FINAL_STATUSES.has(record.status);
}

export function embeddingBatchClient(apiKey: string, baseURL: string | undefined): OpenAI {
  return new OpenAI({ apiKey, baseURL, maxRetries: 3, timeout: 300_000 });
}

const rangeKey = (first: number, last: number) => `${first}-${last}`;

/**
 * The run's batches that already exist, by the ranges their metadata names: a rerun (a retried
 * step, a redriven execution) takes them instead of paying for the same embeddings twice.
 */
export async function findRunBatches(openai: OpenAI, runId: string): Promise<Map<string, Batch>> {
  const found = new Map<string, Batch>();
  await call('list the batches', async () => {
    for await (const batch of openai.batches.list({ limit: 100 })) {
      const metadata = batch.metadata ?? {};
      if (metadata.migration !== BATCH_METADATA_MIGRATION || metadata.run_id !== runId) continue;
      const key = rangeKey(Number(metadata.first_range), Number(metadata.last_range));
      // The newest one of a range wins: an older one was left behind by a step that failed after creating it.
      const known = found.get(key);
      if (!known || known.created_at < batch.created_at) found.set(key, batch);
    }
  });
  return found;
}

export function existingBatchFor(
  found: Map<string, Batch>,
  file: Pick<BatchRequestFile, 'firstRange' | 'lastRange'>,
): Batch | undefined {
  return found.get(rangeKey(file.firstRange, file.lastRange));
}

/** Uploads a request file (`purpose: batch`) and creates its batch on /v1/embeddings with a 24 h window. */
export async function submitBatchFile(openai: OpenAI, runId: string, file: BatchRequestFile): Promise<Batch> {
  const name = `${runId}-ranges-${file.firstRange}-${file.lastRange}.jsonl`;
  const uploaded = await call('upload a request file', async () =>
    openai.files.create({ file: await toFile(Buffer.from(file.body), name), purpose: 'batch' }),
  );
  return call('create a batch', () =>
    openai.batches.create({
      input_file_id: uploaded.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
      metadata: {
        migration: BATCH_METADATA_MIGRATION,
        run_id: runId,
        first_range: String(file.firstRange),
        last_range: String(file.lastRange),
        inputs: String(file.inputs),
      },
    }),
  );
}

/** A request file kept in the run store until the queue has room for it. */
export function waitingRecord(file: BatchRequestFile, fileKey: string): EmbeddingBatchRecord {
  return {
    batchId: null,
    firstRange: file.firstRange,
    lastRange: file.lastRange,
    inputs: file.inputs,
    tokens: file.tokens,
    status: 'waiting',
    fileKey,
    outputFileId: null,
    errorFileId: null,
  };
}

export function recordOf(
  batch: Batch,
  file: Pick<BatchRequestFile, 'firstRange' | 'lastRange' | 'inputs' | 'tokens'>,
): EmbeddingBatchRecord {
  return {
    batchId: batch.id,
    firstRange: file.firstRange,
    lastRange: file.lastRange,
    inputs: file.inputs,
    tokens: file.tokens,
    status: batch.status,
    outputFileId: batch.output_file_id ?? null,
    errorFileId: batch.error_file_id ?? null,
  };
}

/** The batch as it is now. */
export async function refreshBatch(
  openai: OpenAI,
  record: EmbeddingBatchRecord,
): Promise<EmbeddingBatchRecord> {
  const { batchId } = record;
  if (batchIsFinal(record) || batchId === null) return record;
  const batch = await call('look at a batch', () => openai.batches.retrieve(batchId));
  return { ...record, ...recordOf(batch, record) };
}

/** A final batch's vectors and failed inputs, its files read line by line as they download. */
export async function downloadBatchOutput(
  openai: OpenAI,
  record: EmbeddingBatchRecord,
  expected: { dimensions: number | undefined },
): Promise<BatchOutput> {
  const reader = new BatchOutputReader(expected);
  const read = async (fileId: string | null, take: (line: string) => void) => {
    if (fileId === null) return;
    await call('download a batch file', async () => {
      const body = (await openai.files.content(fileId)).body;
      if (!body) return;
      const lines = createInterface({
        input: Readable.fromWeb(body as NodeReadableStream),
        crlfDelay: Infinity,
      });
      for await (const line of lines) take(line);
    });
  };
  await read(record.outputFileId, (line) => reader.outputLine(line));
  await read(record.errorFileId, (line) => reader.errorLine(line));
  return reader.result();
}

// What the API refused is the run's configuration (key, model, endpoint): named so; anything else
// may pass, and the state machine's retries take it again.
async function call<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const status = error instanceof APIError ? error.status : undefined;
    if (status === 401 || status === 403) {
      throw new InvalidInputError(
        `The Batch API refused the API key (${status}) when asked to ${what}; check OPENAI_API_KEY or the API key secret`,
        { context: { status } },
      );
    }
    if (status === 400 || status === 404) {
      throw new InvalidInputError(
        `The Batch API rejected a request to ${what} (${status}): ${(error as Error).message}; check the model and the base URL, or use --embedding-api sync ("embeddingApi": "sync")`,
        { context: { status } },
      );
    }
    throw new EmbeddingUnavailableError(`The Batch API failed to ${what}: ${(error as Error).message}`, {
      cause: error,
      context: { status },
    });
  }
}
