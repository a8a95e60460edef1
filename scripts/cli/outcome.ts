import { runIdFrom, runLayout } from '../../functions/core/run-options.js';
import type { ReportResult } from '../../functions/steps/report.js';
import { storedSnapshotSchema } from '../../functions/steps/stored-schemas.js';
import { getJson, type RunStore } from '../../functions/store/run-store.js';
import type { LocalMigrationResult } from './local-migration.js';

const fmt = (n: number) => n.toLocaleString('en-US');

/** This process's peak resident set so far (the definition's synthesis runs in a child, not counted). */
const peakMemoryMiB = () => fmt(Math.round(process.resourceUsage().maxRSS / 1024));

/** Where the run's logical snapshot of both databases went, if it took one. */
async function snapshotLocation(store: RunStore, runId: string): Promise<string | undefined> {
  const recorded = await getJson(store, runLayout(runIdFrom(runId)).snapshot, storedSnapshotSchema).catch(
    () => null,
  );
  return recorded?.logical?.location;
}

/** Prints what a run did and where its report and snapshot are; returns the exit code. */
export async function printOutcome(
  result: LocalMigrationResult,
  store: RunStore,
  runId: string,
): Promise<number> {
  const output = (result.status === 'SUCCEEDED' ? result.output : undefined) as ReportResult | undefined;
  if (result.status === 'SUCCEEDED' && output) {
    const a = output.accounting;
    console.log(
      `${output.dryRun ? 'Dry run' : 'Migration'} ${output.runId} succeeded in ${result.seconds.toFixed(1)} s (peak memory ${peakMemoryMiB()} MiB).`,
    );
    if (a) {
      console.log(
        `  ${fmt(a.liveSourceMemories)} live source memories: ${fmt(a.migrated)} ${output.dryRun ? 'would migrate' : 'migrated'}, ${fmt(a.rejected)} rejected (reasons in the report)`,
      );
    }
    for (const warning of output.warnings ?? []) console.error(`\n  WARNING: ${warning}\n`);
    if (output.report) {
      console.log(`  report:    ${output.report.markdown}`);
      console.log(`             ${output.report.html}`);
      console.log(`             ${output.report.json}`);
      console.log(`  decisions: ${output.report.decisions}`);
    }
    const snapshot = await snapshotLocation(store, runId);
    if (snapshot) console.log(`  snapshot:  ${snapshot}`);
    return 0;
  }
  console.error(
    `Run failed after ${result.seconds.toFixed(1)} s: ${result.error ?? 'Error'}: ${result.cause ?? ''}`,
  );
  const reportKey = runLayout(runIdFrom(runId)).report.markdown;
  const written = await store.get(reportKey).then(
    () => true,
    () => false,
  );
  console.error(
    written
      ? `  failure report: ${store.locate(reportKey)}`
      : '  no report: the run failed before it started (nothing was written).',
  );
  const snapshot = await snapshotLocation(store, runId);
  if (snapshot) console.error(`  snapshot of both databases before the run: ${snapshot}`);
  return 1;
}
