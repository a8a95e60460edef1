import { runLayout } from '../core/run-options.js';
import { verifyMigration } from '../engine/verify.js';
import { VerificationError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';

export interface VerifyEvent {
  run: RunContext;
}

/**
 * Reconciles target against source. A failed check fails the execution (after its result is
 * stored, so the failure report shows which check and why) rather than passing quietly.
 */
export async function verify(runtime: MigrationRuntime, event: VerifyEvent) {
  const { run } = event;
  if (run.dryRun) return { skipped: true as const, ok: true, reason: 'dry run' };
  const result = await verifyMigration(
    { source: await runtime.sourcePool(), target: await runtime.targetPool(), schema: run.sourceSchema },
    { preserveEmbeddings: run.embedMode === 'preserve' },
  );
  await putJson(runtime.store, runLayout(run.runId).verification, result);
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
  if (!result.ok) {
    throw new VerificationError(
      `Verification failed: ${failed.join(', ')}. See verification.json in the run's report folder.`,
      {
        context: { failed },
      },
    );
  }
  return { skipped: false as const, ok: true, checks: result.checks.length };
}
