import type { BatchSummary } from '../core/batch.js';
import {
  DEFAULT_MAX_REJECT_RATIO,
  judgeRejects,
  rejectThresholdError,
  type ThresholdVerdict,
} from '../core/reject-thresholds.js';
import { runLayout } from '../core/run-options.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { fetchInOrder } from '../store/read-ahead.js';
import { getJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { batchSummarySchema } from './stored-schemas.js';

type BatchCounts = Pick<
  BatchSummary,
  'migrated' | 'rejected' | 'rejectsByReason' | 'unchanged' | 'unchangedRejectsByReason'
>;

/** The batches' migrated and rejected counts, judged against the run's reject thresholds. */
export function rejectVerdict(run: RunContext, batches: Iterable<BatchCounts>): ThresholdVerdict {
  let migrated = 0;
  let rejected = 0;
  const rejectsByReason: Record<string, number> = {};
  for (const batch of batches) {
    // Memories skipped as unchanged keep the outcome an earlier run gave them: judged as such.
    const kept = batch.unchangedRejectsByReason ?? {};
    const unchangedRejected = Object.values(kept).reduce((a, b) => a + b, 0);
    migrated += batch.migrated + (batch.unchanged ?? 0) - unchangedRejected;
    rejected += batch.rejected + unchangedRejected;
    for (const counts of [batch.rejectsByReason, kept]) {
      for (const [reason, n] of Object.entries(counts)) {
        rejectsByReason[reason] = (rejectsByReason[reason] ?? 0) + n;
      }
    }
  }
  return judgeRejects(
    {
      migrated,
      rejected,
      liveSourceMemories: run.sourceCounts.liveMemories,
      incremental: run.incremental,
      rejectsByReason,
      dryRun: run.dryRun,
    },
    // Runs started before the thresholds existed carry none: the default applies.
    { maxRejectRatio: run.maxRejectRatio ?? DEFAULT_MAX_REJECT_RATIO, maxRejects: run.maxRejects },
  );
}

/** The same verdict from the batch summaries in the run store. */
export async function judgeRunRejects(runtime: MigrationRuntime, run: RunContext): Promise<ThresholdVerdict> {
  const keys = (await runtime.store.list(runLayout(run.runId).batchesPrefix)).filter((k) =>
    k.endsWith('.json'),
  );
  const counts: BatchCounts[] = [];
  for await (const b of fetchInOrder(keys, (k) => getJson(runtime.store, k, batchSummarySchema))) {
    counts.push({
      migrated: b.migrated,
      rejected: b.rejected,
      rejectsByReason: b.rejectsByReason,
      unchanged: b.unchanged,
      unchangedRejectsByReason: b.unchangedRejectsByReason,
    });
  }
  return rejectVerdict(run, counts);
}

/** Fails the run, by name, when its rejects passed a threshold. */
export function enforceRejectThresholds(verdict: ThresholdVerdict, run: Pick<RunContext, 'dryRun'>): void {
  if (!verdict.ok) throw rejectThresholdError(verdict, { dryRun: run.dryRun });
}
