import { runLayout } from '../core/run-options.js';
import { type FingerprintSummary, FingerprintTally } from '../core/verification.js';
import type { VerifyScope } from '../core/verify-sample.js';
import { liveMemoryIdsInRanges } from '../db/range-memories.js';
import type { KeyRange } from '../db/source-reader.js';
import { verifyMigration } from '../engine/verify.js';
import { MigrationError, VerificationError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { fetchInOrder } from '../store/read-ahead.js';
import { getJson, putJson } from '../store/run-store.js';
import type { PlanResult } from './plan.js';
import { enforceRejectThresholds, judgeRunRejects } from './reject-gate.js';
import { type RunContext, verifySampleOf } from './run-context.js';
import { fingerprintSummarySchema, keyRangesSchema } from './stored-schemas.js';

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
  const tally = new FingerprintTally({
    preserveEmbeddings: run.embedMode === 'preserve',
    embeddingDimensions: run.target.vectors.embeddingDimensions,
  });
  const indexes = Array.from({ length: count }, (_, index) => index);
  const read = (index: number) =>
    getJson(runtime.store, layout.verifySlice(index), fingerprintSummarySchema).catch((error: unknown) => {
      throw new MigrationError(`Verify slice ${index} left no result (${layout.verifySlice(index)})`, {
        cause: error,
        context: { index },
      });
    });
  for await (const slice of fetchInOrder(indexes, read)) tally.absorb(slice);
  return tally.summary();
}

/** A range a tolerated partial run left unmigrated, as the report lists it. */
export interface NotMigratedRange extends KeyRange {
  /** Its live source memories: none of them was migrated by this run. */
  memories: number;
}

/**
 * The memory ranges of a run that tolerates failed ranges which left no batch summary (a batch
 * writes its summary after its transaction committed), with the ids of their live memories.
 */
async function failedRanges(
  runtime: MigrationRuntime,
  run: RunContext,
): Promise<{ ranges: NotMigratedRange[]; ids: Set<string> } | null> {
  if (!(run.toleratedFailurePercentage > 0 || run.toleratedFailureCount > 0)) return null;
  const layout = runLayout(run.runId);
  const planned = await getJson(runtime.store, layout.memoryRanges, keyRangesSchema);
  const done = new Set(await runtime.store.list(layout.batchesPrefix));
  const failed = planned.filter((range) => !done.has(layout.batch(range.index)));
  if (failed.length === 0) return null;
  const idsByRange = await liveMemoryIdsInRanges(
    await runtime.sourcePool(),
    run.sourceSchema,
    failed,
    run.changedSince ? new Date(run.changedSince) : null,
  );
  return {
    ranges: failed.map((range) => ({ ...range, memories: idsByRange.get(range.index)?.length ?? 0 })),
    ids: new Set([...idsByRange.values()].flat()),
  };
}

/**
 * Reconciles target against source. A failed check fails the execution (after its result is
 * stored, so the failure report shows which check and why) rather than passing quietly.
 */
export async function verify(runtime: MigrationRuntime, event: VerifyEvent) {
  const { run, plan } = event;
  const rejects = await judgeRunRejects(runtime, run);
  if (run.dryRun) {
    enforceRejectThresholds(rejects, run);
    return { skipped: true as const, ok: true, reason: 'dry run' };
  }
  const fingerprints = plan ? await sliceFingerprints(runtime, run, plan.verifySliceCount) : undefined;
  const partial = await failedRanges(runtime, run);
  const result = await verifyMigration(
    {
      source: await runtime.sourcePool(),
      target: await runtime.targetPool(),
      schema: run.sourceSchema,
      layout: run.target,
    },
    {
      preserveEmbeddings: run.embedMode === 'preserve',
      keepDeleted: run.keepDeleted ?? false,
      ...(fingerprints ? { fingerprints } : {}),
      ...(partial ? { notMigrated: partial.ids } : {}),
      select: verifySampleOf(run),
    },
  );
  const scope: VerifyScope =
    run.verify?.mode === 'sampled' ? { mode: 'sampled', sample: run.verify.sample } : { mode: 'full' };
  await putJson(runtime.store, runLayout(run.runId).verification, {
    ...result,
    scope,
    ...(partial ? { notMigratedRanges: partial.ranges } : {}),
  });
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
  if (!result.ok) {
    throw new VerificationError(
      `Verification failed: ${failed.join(', ')}. See verification.json in the run's report folder.`,
      {
        context: { failed },
      },
    );
  }
  // After the checks: the report of a run that failed its thresholds still shows what was written.
  enforceRejectThresholds(rejects, run);
  return { skipped: false as const, ok: true, checks: result.checks.length };
}
