import type { z } from 'zod';
import type { BatchSummary } from '../core/batch.js';
import { BATCH_PRICE_SHARE, compareEmbeddingApis } from '../core/embedding-api-modes.js';
import type { ClassificationPrediction } from '../core/report/classification.js';
import { migrateCommandLine } from '../core/report/command-line.js';
import { splitFailureLocation } from '../core/report/failure-location.js';
import { renderReportHtml } from '../core/report/html.js';
import { renderReportMarkdown } from '../core/report/markdown.js';
import { buildMigrationReport, type MigrationReport, type ReportInput } from '../core/report/model.js';
import { MigrationInputSchema, runIdFrom, runLayout } from '../core/run-options.js';
import { recordRunEnd } from '../db/run-ledger.js';
import { releaseRunLock } from '../db/run-lock.js';
import { estimateEmbeddingCost } from '../embed/cost.js';
import { defaultEmbeddingRateLimits, TIER_1_BATCH_QUEUE_TOKENS } from '../embed/models.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { concatenateObjects } from '../store/concatenate-objects.js';
import { fetchInOrder } from '../store/read-ahead.js';
import { getJson, putJson, type RunStore } from '../store/run-store.js';
import { rejectVerdict } from './reject-gate.js';
import { type RunContext, reportableOptions } from './run-context.js';
import {
  batchSummarySchema,
  deletesSummarySchema,
  searchRecallResultSchema,
  storedRunContextSchema,
  written,
} from './stored-schemas.js';

export interface ReportEvent {
  run?: RunContext;
  plan?: { batchCount: number; relationBatchCount: number };
  /** Failure path: the caught error (`{ Error, Cause }`) and the whole state at the time. */
  failed?: boolean;
  error?: { Error?: string; Cause?: string };
  state?: { run?: RunContext; plan?: { batchCount: number; relationBatchCount: number }; dryRun?: unknown };
  /** Failure path: names the run when Preflight failed before a run context existed. */
  executionName?: string;
  /** Failure path from the execution's status event: FAILED, TIMED_OUT or ABORTED. */
  executionStatus?: string;
  /** Failure path from the execution's status event: the execution input, as JSON text. */
  input?: string;
  /** The Map's MaxConcurrency (the definition passes it). */
  concurrency?: number;
}

/**
 * What the failure report gets when an execution ends unsuccessfully (the EventBridge rule of
 * infra/constructs/failure-report-rule.ts; the local runner sends the same): only the execution's
 * name, status, input and error, so the run context comes from the run store (Preflight's run.json).
 */
export type ExecutionFailedEvent = Required<
  Pick<ReportEvent, 'failed' | 'executionName' | 'executionStatus' | 'input' | 'error'>
>;

/** The error name of an execution that ended without one of its own (timed out, aborted). */
function statusErrorName(status: string | undefined): string {
  if (status === 'TIMED_OUT') return 'States.Timeout';
  if (status === 'ABORTED') return 'ExecutionAborted';
  return 'Error';
}

function parsedInput(text: string | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export interface ReportResult {
  runId: string | null;
  status: 'succeeded' | 'failed';
  dryRun: boolean;
  report: { json: string; markdown: string; html: string; decisions: string } | null;
  accounting: { liveSourceMemories: number; migrated: number; rejected: number } | null;
  /** What a person must not miss (a high fallback share): the CLI prints them loudly. */
  warnings?: string[];
}

async function readAll<T>(store: RunStore, prefix: string, schema: z.ZodType<T>): Promise<T[]> {
  const keys = (await store.list(prefix)).filter((k) => k.endsWith('.json'));
  const out: T[] = [];
  for await (const item of fetchInOrder(keys, (k) => getJson(store, k, schema))) out.push(item);
  return out;
}

async function readOptional<T>(store: RunStore, key: string, schema: z.ZodType<T>): Promise<T | null> {
  return getJson(store, key, schema).catch(() => null);
}

/** Where each finished dry run leaves its module counts for the next real run's report. */
const LATEST_DRY_RUN_KEY = 'dry-runs/latest-classification.json';

function predictionOf(report: MigrationReport, runId: string): ClassificationPrediction {
  return {
    runId,
    finishedAt: report.run.finishedAt,
    migrated: report.totals.migrated,
    byModule: Object.fromEntries(report.modules.map((m) => [m.module, m.count])),
  };
}

/** The last dry run's prediction, if it finished before this run started. */
async function lastPrediction(store: RunStore, startedAt: string): Promise<ClassificationPrediction | null> {
  const prediction = await readOptional(store, LATEST_DRY_RUN_KEY, written<ClassificationPrediction>());
  return prediction && prediction.finishedAt <= startedAt ? prediction : null;
}

/**
 * Gathers the run's pieces from the store into report.json, report.md, report.html and
 * decisions.jsonl.gz; for real runs it also closes the run in the ledger and releases the lock.
 * The failure path calls it too, so every execution leaves a report.
 */
export async function report(runtime: MigrationRuntime, event: ReportEvent): Promise<ReportResult> {
  const failed = event.failed === true;
  const executionInput = parsedInput(event.input);
  // Rollback and restore executions are not runs: their own result is their report.
  if (
    executionInput &&
    (executionInput.rollbackRunId !== undefined || executionInput.restore !== undefined)
  ) {
    return { runId: null, status: 'failed', dryRun: false, report: null, accounting: null };
  }
  const run =
    event.run ??
    event.state?.run ??
    (failed && event.executionName
      ? ((await readOptional(
          runtime.store,
          runLayout(runIdFrom(event.executionName)).runContext,
          storedRunContextSchema,
        )) ?? undefined)
      : undefined);
  const errorName = event.error?.Error || statusErrorName(event.executionStatus);
  let errorMessage = event.error?.Cause || '';
  try {
    const cause = JSON.parse(errorMessage) as { errorMessage?: string };
    if (cause.errorMessage) errorMessage = cause.errorMessage;
  } catch {
    // Not JSON: the cause is the message itself.
  }
  const located = splitFailureLocation(errorMessage);
  errorMessage = located.where ? `${located.message} (${located.where})` : located.message;
  if (!run) return reportEarlyFailure(runtime.store, event, { name: errorName, message: errorMessage });
  const layout = runLayout(run.runId);
  const store = runtime.store;
  const plan = event.plan ?? event.state?.plan;

  const batches = await readAll(store, layout.batchesPrefix, batchSummarySchema);
  const relationships = await readAll(
    store,
    layout.relationshipsPrefix,
    written<ReportInput['relationships'][number]>(),
  );
  const storedInput =
    (await readOptional(store, layout.executionInput, written<Record<string, unknown>>())) ?? {};
  const input: ReportInput = {
    run: {
      runId: run.runId,
      dryRun: run.dryRun,
      status: failed ? 'failed' : 'succeeded',
      startedAt: run.startedAt,
      finishedAt: new Date().toISOString(),
      options: reportableOptions(run),
      ...(failed
        ? {
            error: {
              name: errorName,
              message: errorMessage,
              ...(located.step ? { step: located.step } : {}),
            },
          }
        : {}),
    },
    source: run.sourceCounts,
    plan: plan
      ? { batchCount: plan.batchCount, relationBatchCount: plan.relationBatchCount, batchSize: run.batchSize }
      : undefined,
    users: await readOptional(store, layout.usersSummary, written<NonNullable<ReportInput['users']>>()),
    batches,
    relationships,
    cmi: await readOptional(store, layout.cmi, written<NonNullable<ReportInput['cmi']>>()),
    deletes: await readOptional(store, layout.deletes, deletesSummarySchema),
    verification: await readOptional(
      store,
      layout.verification,
      written<NonNullable<ReportInput['verification']>>(),
    ),
    search: await readOptional(store, layout.search, searchRecallResultSchema),
    embeddings: embeddingsSection(run, batches),
    modules: run.target.modules.map((m) => m.id),
    prediction: run.dryRun ? null : await lastPrediction(store, run.startedAt),
    rejectThresholds: rejectVerdict(run, batches),
    commands: commandsOf(storedInput, event.concurrency),
    realRunSnapshots: storedInput.snapshot !== 'none',
    ...(event.concurrency !== undefined ? { concurrency: event.concurrency } : {}),
  };
  const model = buildMigrationReport(input);
  if (run.dryRun && !failed) await putJson(store, LATEST_DRY_RUN_KEY, predictionOf(model, run.runId));
  await putJson(store, layout.report.json, model);
  await store.put(layout.report.markdown, renderReportMarkdown(model), 'text/markdown; charset=utf-8');
  await store.put(layout.report.html, renderReportHtml(model), 'text/html; charset=utf-8');
  await writeDecisions(store, layout);

  if (!run.dryRun) {
    const target = await runtime.targetPool().catch(() => null);
    if (target) {
      await recordRunEnd(target, run.runId, failed ? 'failed' : 'succeeded', model.totals).catch(
        () => undefined,
      );
      await releaseRunLock(target, run.runId, run.lockHolder).catch(() => undefined);
    }
  }
  // The target's state, as a clean run would leave it: memories skipped as unchanged count by the
  // outcome the ledger keeps for them (a redriven run's batches skip what its first attempt wrote).
  const keptRejects = (b: BatchSummary) =>
    Object.values(b.unchangedRejectsByReason ?? {}).reduce((n, k) => n + k, 0);
  const migrated = batches.reduce((n, b) => n + b.migrated + (b.unchanged ?? 0) - keptRejects(b), 0);
  const rejected = batches.reduce((n, b) => n + b.rejected + keptRejects(b), 0);
  return {
    runId: run.runId,
    status: failed ? 'failed' : 'succeeded',
    dryRun: run.dryRun,
    report: {
      json: store.locate(layout.report.json),
      markdown: store.locate(layout.report.markdown),
      html: store.locate(layout.report.html),
      decisions: store.locate(layout.report.decisions),
    },
    accounting: { liveSourceMemories: run.sourceCounts.liveMemories, migrated, rejected },
    ...(model.classification?.warning ? { warnings: [model.classification.warning] } : {}),
  };
}

/**
 * Preflight failed, so there is no run context: the report says what failed and that nothing was
 * written, under the run id the execution's name gives.
 */
async function reportEarlyFailure(
  store: RunStore,
  event: ReportEvent,
  error: { name: string; message: string },
): Promise<ReportResult> {
  if (!event.executionName)
    return { runId: null, status: 'failed', dryRun: false, report: null, accounting: null };
  const runId = runIdFrom(event.executionName);
  const layout = runLayout(runId);
  const dryRun = event.state?.dryRun === true || parsedInput(event.input)?.dryRun === true;
  // Refused by the lock under a run id another execution is using: its folder is not ours to write.
  if (error.name === 'MigrationLockedError' && (await store.list(layout.prefix)).length > 0) {
    return { runId, status: 'failed', dryRun, report: null, accounting: null };
  }
  const now = new Date().toISOString();
  const raw = event.state && typeof event.state === 'object' ? (event.state as Record<string, unknown>) : {};
  // The input as typed (it may be what failed): the rerun command repeats it, defaults filled in
  // where it parses.
  const parsed = MigrationInputSchema.safeParse(raw);
  const model = buildMigrationReport({
    commands: commandsOf(parsed.success ? parsed.data : raw, event.concurrency),
    run: {
      runId,
      dryRun,
      status: 'failed',
      startedAt: now,
      finishedAt: now,
      options: { dryRun },
      error: { ...error, step: 'Preflight' },
    },
    batches: [],
    relationships: [],
  });
  await putJson(store, layout.report.json, model);
  await store.put(layout.report.markdown, renderReportMarkdown(model), 'text/markdown; charset=utf-8');
  await store.put(layout.report.html, renderReportHtml(model), 'text/html; charset=utf-8');
  return {
    runId,
    status: 'failed',
    dryRun,
    report: {
      json: store.locate(layout.report.json),
      markdown: store.locate(layout.report.markdown),
      html: store.locate(layout.report.html),
      decisions: store.locate(layout.report.decisions),
    },
    accounting: null,
  };
}

function commandsOf(input: Record<string, unknown>, concurrency: number | undefined) {
  return {
    rerun: migrateCommandLine(input, { concurrency }),
    realRun: migrateCommandLine(input, { concurrency, dryRun: false }),
  };
}

/** Sums what the batches asked of the embeddings API; a dry run's figures are estimates with a cost. */
function embeddingsSection(run: RunContext, batches: BatchSummary[]): ReportInput['embeddings'] {
  if (run.embedMode === 'preserve') return { mode: 'preserve' };
  const sum = (pick: (e: NonNullable<BatchSummary['embedding']>) => number) =>
    batches.reduce((n, b) => n + (b.embedding ? pick(b.embedding) : 0), 0);
  const tokens = sum((e) => e.tokens);
  const requests = sum((e) => e.requests);
  const cost = estimateEmbeddingCost({
    tokens,
    model: run.embeddingModel,
    pricePerMillionTokens: run.embeddingPricePerMillionTokens,
  });
  const api = run.embeddingApi ?? 'sync';
  if (run.dryRun) {
    return {
      mode: 'regenerate',
      api,
      apiModes: compareEmbeddingApis({
        tokens,
        syncCostUsd: cost.costUsd,
        tokensPerMinute: run.embeddingTpm ?? defaultEmbeddingRateLimits(run.embeddingModel).tokensPerMinute,
        batchQueueTokens: run.embeddingBatchQueueTokens ?? TIER_1_BATCH_QUEUE_TOKENS,
      }),
      model: run.embeddingModel,
      estimatedTokens: tokens,
      estimatedRequests: requests,
      estimatedCostUsd: cost.costUsd ?? undefined,
      limitTokensPerMinute: run.embeddingTpm,
      limitRequestsPerMinute: run.embeddingRpm,
    };
  }
  // Batch API mode: the batches' tokens at half price, the synchronous leftovers at the full one.
  const batchTokens = sum((e) => e.batchTokens ?? 0);
  const batchCost =
    api === 'batch'
      ? estimateEmbeddingCost({
          tokens: batchTokens,
          model: run.embeddingModel,
          pricePerMillionTokens: run.embeddingPricePerMillionTokens,
        }).costUsd
      : 0;
  return {
    mode: 'regenerate',
    api,
    ...(api === 'batch' ? { batchInputs: sum((e) => e.batchInputs ?? 0) } : {}),
    model: run.embeddingModel,
    requests,
    tokens,
    retries: sum((e) => e.retries),
    waitMs: sum((e) => e.waitMs),
    estimatedCostUsd:
      cost.costUsd === null || batchCost === null ? undefined : cost.costUsd + batchCost * BATCH_PRICE_SHARE,
    limitTokensPerMinute: run.embeddingTpm,
    limitRequestsPerMinute: run.embeddingRpm,
    rateLimited: sum((e) => e.rateLimited ?? 0),
    paceWaitMs: sum((e) => e.paceWaitMs ?? 0),
    tokensPerMinute: tokensPerMinute(batches, tokens),
  };
}

// Over the span from the first batch's embedding to the last one's, all workers together.
function tokensPerMinute(batches: BatchSummary[], tokens: number): number | undefined {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const { embedding } of batches) {
    if (embedding?.startedAt === undefined || embedding.finishedAt === undefined) continue;
    first = Math.min(first, embedding.startedAt);
    last = Math.max(last, embedding.finishedAt);
  }
  return last > first ? (tokens * 60_000) / (last - first) : undefined;
}

/**
 * One decisions.jsonl.gz from the batches' parts, in batch order: concatenated gzip members are a
 * valid gzip file (RFC 1952; gunzip, zcat and Node's zlib read them whole), so nothing is
 * decompressed, and the parts stream through (at 10 million memories they are about 600 MB).
 */
async function writeDecisions(store: RunStore, layout: ReturnType<typeof runLayout>): Promise<void> {
  const parts = await store.list(layout.decisionsPrefix);
  await concatenateObjects(store, parts, layout.report.decisions, 'application/gzip');
}
