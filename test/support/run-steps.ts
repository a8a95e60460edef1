import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLayout } from '../../functions/core/run-options.js';
import { recordRunEnd, releaseRunLock } from '../../functions/db/run-ledger.js';
import type { KeyRange } from '../../functions/db/source-reader.js';
import { createMigrationRuntime, type MigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { migrateBatch } from '../../functions/steps/migrate-batch.js';
import type { RelationshipItem } from '../../functions/steps/plan.js';
import { plan as planStep } from '../../functions/steps/plan.js';
import { preflight } from '../../functions/steps/preflight.js';
import type { RunContext } from '../../functions/steps/run-context.js';
import { users } from '../../functions/steps/users.js';
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
}

export interface StepRunResult {
  run: RunContext;
  runtime: MigrationRuntime;
  outputs: Record<string, unknown>;
  /** Wall time per phase, in ms. */
  phaseMs: Record<string, number>;
}

let runCounter = 0;

async function forEachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
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
    openAiApiKey: async () => process.env.OPENAI_API_KEY,
  });
  const runId = options.runId ?? `run-${process.pid}-${Date.now()}-${++runCounter}`;
  const outputs: Record<string, unknown> = {};
  const phaseMs: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      phaseMs[phase] = performance.now() - started;
    }
  };
  const run = await timed('preflight', () =>
    preflight(runtime, { input: options.input, executionName: runId }),
  );
  outputs.users = await timed('users', () => users(runtime, { run }));
  const plan = await timed('plan', () => planStep(runtime, { run }));
  outputs.plan = plan;
  const ranges = await getJson<KeyRange[]>(store, plan.rangesKey);
  await timed('batches', () =>
    forEachLimited(ranges, concurrency, (range) => migrateBatch(runtime, { run, range })),
  );
  if (!options.batchesOnly) {
    const { STEPS } = await import('../../functions/steps/index.js');
    const items = await getJson<RelationshipItem[]>(store, runLayout(run.runId).relationshipRanges);
    await timed('relationships', () =>
      forEachLimited(items, concurrency, (range) => STEPS.MigrateRelationships(runtime, { run, range })),
    );
    outputs.cmi = await timed('cmi', () => STEPS.RebuildCmi(runtime, { run }));
    outputs.verify = await timed('verify', () => STEPS.Verify(runtime, { run }));
    outputs.report = await timed('report', () => STEPS.Report(runtime, { run, plan }));
  } else if (!run.dryRun) {
    // The Report step closes a run; without it, close it here so the next run can take the lock.
    const target = await runtime.targetPool();
    await recordRunEnd(target, run.runId, 'succeeded', {});
    await releaseRunLock(target, run.runId);
  }
  return { run, runtime, outputs, phaseMs };
}
