import { runLayout } from '../core/run-options.js';
import { type FingerprintSummary, FingerprintTally } from '../core/verification.js';
import { verifyMigration } from '../engine/verify.js';
import { MigrationError, VerificationError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { fetchInOrder } from '../store/read-ahead.js';
import { getJson, putJson } from '../store/run-store.js';
import type { PlanResult } from './plan.js';
import type { RunContext } from './run-context.js';

export interface VerifyEvent {
  run: RunContext;
  /** Plan's result: how many VerifySlices results to add up. Without it the checksums are compared here. */
  plan?: Pick<PlanResult, 'verifySliceCount'>;
}

/** The VerifySlices Map's results, added up in slice (key) order; a missing one is an error. */
async function sliceFingerprints(
  runtime: MigrationRuntime,
  run: RunContext,
  count: number,
): Promise<FingerprintSummary> {
  const layout = runLayout(run.runId);
  const tally = new FingerprintTally({ preserveEmbeddings: run.embedMode === 'preserve' });
  const indexes = Array.from({ length: count }, (_, index) => index);
  const read = (index: number) =>
    getJson<FingerprintSummary>(runtime.store, layout.verifySlice(index)).catch((error: unknown) => {
      throw new MigrationError(`Verify slice ${index} left no result (${layout.verifySlice(index)})`, {
        cause: error,
        context: { index },
      });
    });
  for await (const slice of fetchInOrder(indexes, read)) tally.absorb(slice);
  return tally.summary();
}

/**
 * Reconciles target against source. A failed check fails the execution (after its result is
 * stored, so the failure report shows which check and why) rather than passing quietly.
 */
export async function verify(runtime: MigrationRuntime, event: VerifyEvent) {
  const { run, plan } = event;
  if (run.dryRun) return { skipped: true as const, ok: true, reason: 'dry run' };
  const fingerprints = plan ? await sliceFingerprints(runtime, run, plan.verifySliceCount) : undefined;
  const result = await verifyMigration(
    { source: await runtime.sourcePool(), target: await runtime.targetPool(), schema: run.sourceSchema },
    {
      preserveEmbeddings: run.embedMode === 'preserve',
      keepDeleted: run.keepDeleted ?? false,
      ...(fingerprints ? { fingerprints } : {}),
    },
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
