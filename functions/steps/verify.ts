import { runLayout } from '../core/run-options.js';
import { type FingerprintSummary, FingerprintTally } from '../core/verification.js';
import { verifyMigration } from '../engine/verify.js';
import { MigrationError, VerificationError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { getJson, putJson } from '../store/run-store.js';
import type { PlanResult } from './plan.js';
import type { RunContext } from './run-context.js';

export interface VerifyEvent {
  run: RunContext;
  /** Plan's result: how many VerifySlices results to add up. Without it the checksums are compared here. */
  plan?: Pick<PlanResult, 'verifySliceCount'>;
}

// Slice results read at once: hundreds of small objects, without opening hundreds of sockets.
const SLICE_READS = 32;

/** The VerifySlices Map's results, added up in slice (key) order; a missing one is an error. */
async function sliceFingerprints(
  runtime: MigrationRuntime,
  run: RunContext,
  count: number,
): Promise<FingerprintSummary> {
  const layout = runLayout(run.runId);
  const tally = new FingerprintTally({ preserveEmbeddings: run.embedMode === 'preserve' });
  for (let first = 0; first < count; first += SLICE_READS) {
    const indexes = Array.from({ length: Math.min(SLICE_READS, count - first) }, (_, i) => first + i);
    const slices = await Promise.all(
      indexes.map((index) =>
        getJson<FingerprintSummary>(runtime.store, layout.verifySlice(index)).catch((error: unknown) => {
          throw new MigrationError(`Verify slice ${index} left no result (${layout.verifySlice(index)})`, {
            cause: error,
            context: { index },
          });
        }),
      ),
    );
    for (const slice of slices) tally.absorb(slice);
  }
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
    { preserveEmbeddings: run.embedMode === 'preserve', ...(fingerprints ? { fingerprints } : {}) },
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
