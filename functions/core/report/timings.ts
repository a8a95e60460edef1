/**
 * Measured step times of a run and, for dry runs, what the real run would take. A dry run reads and
 * prepares every memory exactly as the real run does and only skips the load, so its measured
 * read+prepare time per memory is the best basis there is; the load is added as a constant.
 */
import type { ReportBatchInput } from './input.js';

/**
 * Load cost per memory on top of the measured read+prepare time: module row, CMI row and ledger
 * row by binary COPY plus index upkeep, rounded from the benchmark (docs/performance.md). A
 * deliberately rounded guess; the report labels everything built on it an estimate.
 */
export const ESTIMATED_LOAD_MS_PER_MEMORY = 0.25;

/**
 * The real run's logical snapshot of both databases, per live source memory (its 1536-d vector
 * dominates the bytes: `COPY TO` → gzip → store). Rounded up from bench:snapshot on the reference
 * machine; an estimate like the load.
 */
export const ESTIMATED_SNAPSHOT_MS_PER_MEMORY = 0.5;

export interface MeasuredTimings {
  /** From the run's start to its end, as the clock on the wall saw it. */
  wallMs: number | null;
  /** Sums over all batches: worker time, which exceeds wall time when batches run in parallel. */
  readMs: number;
  embedMs: number;
  prepareMs: number;
  loadMs: number;
  batchMs: number;
  /** Memories read per second of wall time. */
  memoriesPerSecond: number | null;
  /** Memories per second of one worker's batch time. */
  memoriesPerWorkerSecond: number | null;
  slowestBatch: { index: number; ms: number } | null;
  cmiMs: number | null;
}

export interface ProjectedTimings {
  estimate: true;
  memories: number;
  concurrency: number;
  measuredMsPerMemory: number;
  loadMsPerMemory: number;
  /** The snapshot before the first write; 0 when the run takes none. */
  snapshotMs: number;
  totalMs: number;
  memoriesPerSecond: number | null;
  note: string;
}

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

const batchTotal = (t: ReportBatchInput['timings']) => t.readMs + t.embedMs + t.prepareMs + t.loadMs;

export function measureTimings(
  batches: readonly ReportBatchInput[],
  run: { startedAt: string; finishedAt: string },
  cmiMs: number | null,
): MeasuredTimings {
  let readMs = 0;
  let embedMs = 0;
  let prepareMs = 0;
  let loadMs = 0;
  let read = 0;
  let slowestBatch: MeasuredTimings['slowestBatch'] = null;
  for (const b of batches) {
    readMs += b.timings.readMs;
    embedMs += b.timings.embedMs;
    prepareMs += b.timings.prepareMs;
    loadMs += b.timings.loadMs;
    read += b.read;
    const ms = batchTotal(b.timings);
    if (!slowestBatch || ms > slowestBatch.ms) slowestBatch = { index: b.index, ms: round(ms, 1) };
  }
  const batchMs = readMs + embedMs + prepareMs + loadMs;
  const started = Date.parse(run.startedAt);
  const finished = Date.parse(run.finishedAt);
  const wallMs =
    Number.isFinite(started) && Number.isFinite(finished) ? Math.max(0, finished - started) : null;
  return {
    wallMs,
    readMs: round(readMs, 1),
    embedMs: round(embedMs, 1),
    prepareMs: round(prepareMs, 1),
    loadMs: round(loadMs, 1),
    batchMs: round(batchMs, 1),
    memoriesPerSecond: wallMs ? round((read * 1000) / wallMs, 1) : null,
    memoriesPerWorkerSecond: batchMs > 0 ? round((read * 1000) / batchMs, 1) : null,
    slowestBatch,
    cmiMs: cmiMs === null ? null : round(cmiMs, 1),
  };
}

/**
 * The real run's memory phase: (measured read+prepare per memory + load constant) × memories,
 * spread over the Map's concurrency. Relationships, CMI and verification come on top.
 */
export function projectRealRun(
  batches: readonly ReportBatchInput[],
  options: { memories: number; concurrency: number; regenerateEmbeddings: boolean; snapshot: boolean },
): ProjectedTimings {
  let read = 0;
  let measured = 0;
  for (const b of batches) {
    read += b.read;
    measured += b.timings.readMs + b.timings.prepareMs;
  }
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const measuredMsPerMemory = read > 0 ? measured / read : 0;
  // The snapshot runs once, before the batches, whatever the concurrency.
  const snapshotMs = options.snapshot ? options.memories * ESTIMATED_SNAPSHOT_MS_PER_MEMORY : 0;
  const totalMs =
    (options.memories * (measuredMsPerMemory + ESTIMATED_LOAD_MS_PER_MEMORY)) / concurrency + snapshotMs;
  const note =
    `Estimate: measured read+prepare time per memory plus an assumed ${ESTIMATED_LOAD_MS_PER_MEMORY} ms ` +
    `load per memory, over ${concurrency} concurrent batch${concurrency === 1 ? '' : 'es'}` +
    (options.snapshot
      ? `, plus an assumed ${ESTIMATED_SNAPSHOT_MS_PER_MEMORY} ms per memory for the snapshot of both databases (--snapshot none skips it). `
      : '. ') +
    'Relationships, CMI rebuild and verification come on top' +
    (options.regenerateEmbeddings
      ? ', and so does regenerating embeddings (it depends on the API rate limits).'
      : '.');
  return {
    estimate: true,
    memories: options.memories,
    concurrency,
    measuredMsPerMemory: round(measuredMsPerMemory, 4),
    loadMsPerMemory: ESTIMATED_LOAD_MS_PER_MEMORY,
    snapshotMs: round(snapshotMs, 1),
    totalMs: round(totalMs, 1),
    memoriesPerSecond: totalMs > 0 ? round((options.memories * 1000) / totalMs, 1) : null,
    note,
  };
}
