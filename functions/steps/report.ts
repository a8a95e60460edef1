import type { BatchSummary } from '../core/batch.js';
import { renderReportHtml } from '../core/report/html.js';
import { renderReportMarkdown } from '../core/report/markdown.js';
import { buildMigrationReport, type ReportInput } from '../core/report/model.js';
import { runIdFrom, runLayout } from '../core/run-options.js';
import { recordRunEnd, releaseRunLock } from '../db/run-ledger.js';
import { estimateEmbeddingCost } from '../embed/cost.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { concatenateObjects } from '../store/concatenate-objects.js';
import { fetchInOrder } from '../store/read-ahead.js';
import { getJson, putJson, type RunStore } from '../store/run-store.js';
import { type RunContext, reportableOptions } from './run-context.js';

export interface ReportEvent {
  run?: RunContext;
  plan?: { batchCount: number; relationBatchCount: number };
  /** Failure path: the caught error (`{ Error, Cause }`) and the whole state at the time. */
  failed?: boolean;
  error?: { Error?: string; Cause?: string };
  state?: { run?: RunContext; plan?: { batchCount: number; relationBatchCount: number }; dryRun?: unknown };
  /** Failure path: names the run when Preflight failed before a run context existed. */
  executionName?: string;
}

export interface ReportResult {
  runId: string | null;
  status: 'succeeded' | 'failed';
  dryRun: boolean;
  report: { json: string; markdown: string; html: string; decisions: string } | null;
  accounting: { liveSourceMemories: number; migrated: number; rejected: number } | null;
}

async function readAll<T>(store: RunStore, prefix: string): Promise<T[]> {
  const keys = (await store.list(prefix)).filter((k) => k.endsWith('.json'));
  const out: T[] = [];
  for await (const item of fetchInOrder(keys, (k) => getJson<T>(store, k))) out.push(item);
  return out;
}

async function readOptional<T>(store: RunStore, key: string): Promise<T | null> {
  return getJson<T>(store, key).catch(() => null);
}

/** Explains a failure from its error name: what failed and what to do next. */
function hintFor(name: string): string {
  switch (name) {
    case 'PreflightError':
      return 'Nothing was written. Fix the connection or schema problem named above and start the execution again.';
    case 'InvalidInputError':
      return 'Nothing was written. Correct the execution input (or the user map / rules file) as the message says and start again.';
    case 'MigrationLockedError':
      return 'Another run is in progress. Wait for it, or release a stale lock as the message says.';
    case 'SearchRecallError':
      return 'The data was written and reconciles, but search finds less of what it found before; see the search equivalence section. Fix the cause (model, vectors, modules) and re-run, or roll back; lower minRecall only as a decision.';
    case 'VerificationError':
      return 'The data was written but does not reconcile; see the verification checks. Re-running is safe (idempotent); roll back the run if needed.';
    default:
      return 'Batches commit one transaction each, so the target holds only whole batches. Re-running the same input is safe: it resumes idempotently.';
  }
}

/**
 * Gathers the run's pieces from the store into report.json, report.md, report.html and
 * decisions.jsonl.gz; for real runs it also closes the run in the ledger and releases the lock.
 * The failure path calls it too, so every execution leaves a report.
 */
export async function report(runtime: MigrationRuntime, event: ReportEvent): Promise<ReportResult> {
  const run = event.run ?? event.state?.run;
  const failed = event.failed === true;
  const errorName = event.error?.Error ?? 'Error';
  let errorMessage = event.error?.Cause ?? '';
  try {
    const cause = JSON.parse(errorMessage) as { errorMessage?: string };
    if (cause.errorMessage) errorMessage = cause.errorMessage;
  } catch {
    // Not JSON: the cause is the message itself.
  }
  if (!run) return reportEarlyFailure(runtime.store, event, { name: errorName, message: errorMessage });
  const layout = runLayout(run.runId);
  const store = runtime.store;
  const plan = event.plan ?? event.state?.plan;

  const batches = await readAll<BatchSummary>(store, layout.batchesPrefix);
  const relationships = await readAll<ReportInput['relationships'][number]>(
    store,
    layout.relationshipsPrefix,
  );
  const input: ReportInput = {
    run: {
      runId: run.runId,
      dryRun: run.dryRun,
      status: failed ? 'failed' : 'succeeded',
      startedAt: run.startedAt,
      finishedAt: new Date().toISOString(),
      options: reportableOptions(run),
      ...(failed ? { error: { name: errorName, message: errorMessage, hint: hintFor(errorName) } } : {}),
    },
    source: run.sourceCounts,
    plan: plan
      ? { batchCount: plan.batchCount, relationBatchCount: plan.relationBatchCount, batchSize: run.batchSize }
      : undefined,
    users: await readOptional(store, layout.usersSummary),
    batches,
    relationships,
    cmi: await readOptional(store, layout.cmi),
    verification: await readOptional(store, layout.verification),
    search: await readOptional(store, layout.search),
    embeddings: embeddingsSection(run, batches),
    modules: run.target.modules.map((m) => m.id),
  };
  const model = buildMigrationReport(input);
  await putJson(store, layout.report.json, model);
  await store.put(layout.report.markdown, renderReportMarkdown(model), 'text/markdown; charset=utf-8');
  await store.put(layout.report.html, renderReportHtml(model), 'text/html; charset=utf-8');
  await writeDecisions(store, layout);

  if (!run.dryRun) {
    const target = await runtime.targetPool().catch(() => null);
    if (target) {
      const totals = model.totals as unknown as Record<string, unknown>;
      await recordRunEnd(target, run.runId, failed ? 'failed' : 'succeeded', totals).catch(() => undefined);
      await releaseRunLock(target, run.runId).catch(() => undefined);
    }
  }
  const migrated = batches.reduce((n, b) => n + b.migrated, 0);
  const rejected = batches.reduce((n, b) => n + b.rejected, 0);
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
  const dryRun = event.state?.dryRun === true;
  const now = new Date().toISOString();
  const model = buildMigrationReport({
    run: {
      runId,
      dryRun,
      status: 'failed',
      startedAt: now,
      finishedAt: now,
      options: { dryRun },
      error: { ...error, step: 'Preflight', hint: hintFor(error.name) },
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
  if (run.dryRun) {
    return {
      mode: 'regenerate',
      model: run.embeddingModel,
      estimatedTokens: tokens,
      estimatedRequests: requests,
      estimatedCostUsd: cost.costUsd ?? undefined,
    };
  }
  return {
    mode: 'regenerate',
    model: run.embeddingModel,
    requests,
    tokens,
    retries: sum((e) => e.retries),
    waitMs: sum((e) => e.waitMs),
    estimatedCostUsd: cost.costUsd ?? undefined,
  };
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
