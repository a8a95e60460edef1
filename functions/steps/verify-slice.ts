import { runLayout } from '../core/run-options.js';
import type { KeyRange } from '../db/source-reader.js';
import { verifyFingerprints } from '../engine/verify.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import { type RunContext, verifySampleOf } from './run-context.js';

export interface VerifySliceEvent {
  run: RunContext;
  range: KeyRange;
}

/**
 * One item of the VerifySlices Map: the checksums of a slice of the key space, stored for the
 * Verify step to add up. Slices let the comparison of every memory's content and embedding spread
 * over many functions instead of one function's 15 minutes.
 */
export async function verifySlice(
  runtime: MigrationRuntime,
  event: VerifySliceEvent,
): Promise<{ index: number; compared: number; skipped?: true }> {
  const { run, range } = event;
  if (run.dryRun) return { index: range.index, compared: 0, skipped: true };
  const summary = await verifyFingerprints(
    {
      source: await runtime.sourcePool(),
      target: await runtime.targetPool(),
      schema: run.sourceSchema,
      layout: run.target,
    },
    { preserveEmbeddings: run.embedMode === 'preserve', range, select: verifySampleOf(run) },
  );
  await putJson(runtime.store, runLayout(run.runId).verifySlice(range.index), summary);
  return { index: range.index, compared: summary.compared };
}
