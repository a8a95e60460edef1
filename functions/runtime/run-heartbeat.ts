import { heartbeatRunLock } from '../db/run-lock.js';
import { classifyDatabaseFailure } from '../errors.js';
import type { RunContext } from '../steps/run-context.js';
import { lockTimingFromEnv } from './lock-timing.js';
import type { MigrationRuntime } from './migration-runtime.js';

/** Steps that do not write under the lock: Preflight takes it, the reports release it. */
const UNLOCKED_STEPS = new Set(['Preflight', 'Report', 'FailureReport', 'Rollback', 'Restore']);

/**
 * Runs a step of a real run under its lock's heartbeat: one beat before the work (a run whose lock
 * was broken stops here, before writing), then one every heartbeat interval while it runs, so a
 * later run can tell this one from a dead one.
 */
export async function withRunHeartbeat<R>(
  runtime: MigrationRuntime,
  step: string,
  event: unknown,
  work: () => Promise<R>,
): Promise<R> {
  const run = (event as { run?: RunContext } | null)?.run;
  if (UNLOCKED_STEPS.has(step) || !run || run.dryRun || !run.lockHolder) return work();
  const { lockHolder: holder, runId } = run;
  const target = await runtime.targetPool();
  try {
    await heartbeatRunLock(target, holder, runId);
  } catch (error) {
    throw classifyDatabaseFailure(error, { step, runId });
  }
  // A missed beat is not fatal: the next one, or the next step's, tells.
  const timer = setInterval(() => {
    heartbeatRunLock(target, holder, runId).catch(() => undefined);
  }, lockTimingFromEnv().heartbeatSeconds * 1000);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
