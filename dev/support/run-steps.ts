import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLayout } from '../../functions/core/run-options.js';
import { recordRunEnd } from '../../functions/db/run-ledger.js';
import { releaseRunLock } from '../../functions/db/run-lock.js';
import {
  createMigrationRuntime,
  type EmbeddingRetrySettings,
  embeddingRetryFromEnv,
  type MigrationRuntime,
  type RuntimeOptions,
} from '../../functions/runtime/migration-runtime.js';
import { STEPS } from '../../functions/steps/index.js';
import type { PlanResult } from '../../functions/steps/plan.js';
import type { RunContext } from '../../functions/steps/run-context.js';
import { keyRangesSchema, relationshipItemsSchema } from '../../functions/steps/stored-schemas.js';
import { FileRunStore, getJson, type RunStore } from '../../functions/store/run-store.js';

export interface StepRunOptions {
  sourceUrl: string;
  targetUrl: string;
  input: Record<string, unknown>;
  runId?: string;
  store?: RunStore;
  /** Batches run this many at a time, like the Map's MaxConcurrency. */
  concurrency?: number;
  /** Stop after the batches (no relationships, CMI rebuild, verify or report). */
  batchesOnly?: boolean;
  /** Regenerate mode's key; OPENAI_API_KEY when absent. */
  openAiApiKey?: string;
  /** An OpenAI-compatible server (e.g. the harness's); OPENAI_BASE_URL when absent. */
  openAiBaseUrl?: string;
  /** The embeddings client's retries; EMBEDDING_MAX_ATTEMPTS etc. when absent. */
  embeddingRetry?: EmbeddingRetrySettings;
  /** Both databases through the RDS Data API instead of pg (the URLs are then unused). */
  dataApi?: RuntimeOptions['dataApi'];
  /** Called as each phase starts and ends (the benchmark's CPU accounting). */
  onPhase?: (phase: string, at: 'start' | 'end') => void;
}

export interface StepRunResult {
  run: RunContext;
  runtime: MigrationRuntime;
  outputs: Record<string, unknown>;
  /** Wall time per phase, in ms. */
  phaseMs: Record<string, number>;
}

let runCounter = 0;

// Like a Map that fails: no item starts after a failure, and the ones in flight settle before the
// first error is thrown, so nothing still writes while the caller inspects the target.
async function forEachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (failure === undefined && next < items.length) {
      try {
        await work(items[next++] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(lanes);
  if (failure !== undefined) throw failure.error;
}

/**
 * The pipeline's steps called in state-machine order without an ASL interpreter: the engine path
 * for tests and the benchmark. (The end-to-end tests run the synthesized definition instead.)
 */
export async function runSteps(options: StepRunOptions): Promise<StepRunResult> {
  const store = options.store ?? new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-run-')));
  const concurrency = options.concurrency ?? 2;
  const runtime = createMigrationRuntime({
    store,
    sourceUrl: async () => options.sourceUrl,
    targetUrl: async () => options.targetUrl,
    poolSize: concurrency + 1,
    openAiApiKey: async () => options.openAiApiKey ?? process.env.OPENAI_API_KEY,
    openAiBaseUrl: () => options.openAiBaseUrl ?? process.env.OPENAI_BASE_URL,
    embeddingRetry: options.embeddingRetry ?? embeddingRetryFromEnv(process.env),
    embeddingWorkers: concurrency,
    dataApi: options.dataApi,
  });
  const runId = options.runId ?? `run-${process.pid}-${Date.now()}-${++runCounter}`;
  const outputs: Record<string, unknown> = {};
  const phaseMs: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    options.onPhase?.(phase, 'start');
    const started = performance.now();
    try {
      return await work();
    } finally {
      phaseMs[phase] = performance.now() - started;
      options.onPhase?.(phase, 'end');
    }
  };
  let run: RunContext;
  try {
    const preflight = await STEPS.Preflight.work();
    run = await timed('preflight', () => preflight(runtime, { input: options.input, executionName: runId }));
  } catch (error) {
    await runtime.close();
    throw error;
  }
  let plan: PlanResult | undefined;
  try {
    const [snapshot, users, planStep, embeddingBatches, migrateBatch] = await Promise.all([
      STEPS.Snapshot.work(),
      STEPS.Users.work(),
      STEPS.Plan.work(),
      STEPS.EmbeddingBatches.work(),
      STEPS.MigrateBatch.work(),
    ]);
    outputs.snapshot = await timed('snapshot', () => snapshot(runtime, { run }));
    outputs.users = await timed('users', () => users(runtime, { run }));
    plan = await timed('plan', () => planStep(runtime, { run }));
    outputs.plan = plan;
    const planned = plan;
    outputs.embeddingBatches = await timed('embeddingBatches', async () => {
      // The state machine's wait loop, with a short wait.
      let result = await embeddingBatches(runtime, { run, plan: planned });
      while (result.pending) {
        await sleep(Math.min(run.embeddingBatchPollSeconds ?? 1, 1) * 1000);
        result = await embeddingBatches(runtime, { run, pending: result });
      }
      return result;
    });
    const ranges = await getJson(store, plan.rangesKey, keyRangesSchema);
    await timed('batches', () =>
      forEachLimited(ranges, concurrency, (range) => migrateBatch(runtime, { run, range })),
    );
    if (!options.batchesOnly) {
      const [migrateRelationships, rebuildCmi, verifySlice, verify, verifySearch, report] = await Promise.all(
        [
          STEPS.MigrateRelationships.work(),
          STEPS.RebuildCmi.work(),
          STEPS.VerifySlice.work(),
          STEPS.Verify.work(),
          STEPS.VerifySearch.work(),
          STEPS.Report.work(),
        ],
      );
      const items = await getJson(store, runLayout(run.runId).relationshipRanges, relationshipItemsSchema);
      await timed('relationships', () =>
        forEachLimited(items, concurrency, (range) => migrateRelationships(runtime, { run, range })),
      );
      outputs.cmi = await timed('cmi', () => rebuildCmi(runtime, { run }));
      const slices = await getJson(store, plan.verifySlicesKey, keyRangesSchema);
      const verifyPlan = plan;
      outputs.verify = await timed('verify', async () => {
        await forEachLimited(slices, concurrency, (range) => verifySlice(runtime, { run, range }));
        return verify(runtime, { run, plan: verifyPlan });
      });
      outputs.search = await timed('search', () => verifySearch(runtime, { run }));
      outputs.report = await timed('report', () => report(runtime, { run, plan }));
    } else if (!run.dryRun) {
      // The Report step closes a run; without it, close it here so the next run can take the lock.
      const target = await runtime.targetPool();
      await recordRunEnd(target, run.runId, 'succeeded', {});
      await releaseRunLock(target, run.runId);
    }
  } catch (error) {
    await reportFailure(runtime, run, plan, error);
    throw error;
  }
  return { run, runtime, outputs, phaseMs };
}

/**
 * What the failed-execution rule does on AWS: the Report step writes a failure report, marks the
 * run failed and releases the lock, so the next run is not locked out. The runtime is closed, as the caller never
 * gets it.
 */
async function reportFailure(
  runtime: MigrationRuntime,
  run: RunContext,
  plan: { batchCount: number; relationBatchCount: number } | undefined,
  error: unknown,
): Promise<void> {
  try {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    const report = await STEPS.Report.work();
    await report(runtime, { run, plan, failed: true, error: { Error: name, Cause: message } });
  } catch {
    // The original failure is what the caller needs to see.
  } finally {
    await runtime.close();
  }
}
