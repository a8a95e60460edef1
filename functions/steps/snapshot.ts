import { RDSClient } from '@aws-sdk/client-rds';
import { runLayout, type SnapshotMode } from '../core/run-options.js';
import { MigrationError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import {
  type RdsResource,
  type RdsSnapshotState,
  rdsResourcesFor,
  rdsSnapshotsPending,
  refreshRdsSnapshots,
  startRdsSnapshots,
} from '../snapshot/rds-snapshots.js';
import { estimateSnapshotRows } from '../snapshot/row-estimate.js';
import { runSnapshotDirectory, type SnapshotDatabase } from '../snapshot/snapshot-manifest.js';
import { snapshotStoreInRunStore } from '../snapshot/snapshot-store.js';
import { takeSnapshot } from '../snapshot/take-snapshot.js';
import { getJson, putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { storedSnapshotSchema } from './stored-schemas.js';

export interface SnapshotEvent {
  run: RunContext;
  /** Set by the state machine's wait loop: the previous result, whose RDS snapshots are still being made. */
  pending?: SnapshotResult;
}

export interface LogicalSnapshot {
  /** The snapshot directory's key prefix in the run store (`backups/<run id>/`). */
  directory: string;
  location: string;
  databases: Partial<
    Record<SnapshotDatabase, { object: string; rows: number; bytes: number; sha256: string }>
  >;
}

export interface SnapshotResult {
  mode: SnapshotMode;
  skipped: boolean;
  logical?: LogicalSnapshot;
  rds: RdsSnapshotState[];
  /** True while an RDS snapshot is not yet `available`: the state machine waits and polls again. */
  rdsPending: boolean;
  rdsRequestedAt?: string;
}

export interface SnapshotDependencies {
  rds?: () => RDSClient;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_RDS_MAX_WAIT_MINUTES = 12 * 60;

/**
 * The Snapshot state (docs/design.md, "Pipeline"): before Users writes anything, a logical snapshot of both
 * databases to `backups/<run id>/` in the run store (see `runSnapshotDirectory`), and/or RDS-native snapshots.
 * Dry runs skip it unless the input asks. Idempotent: a retried step reuses the snapshot it recorded.
 *
 * RDS snapshots take minutes to hours, longer than a Lambda may run, so this step only starts them;
 * the state machine waits and calls it again with `pending` until they are available (or
 * RDS_SNAPSHOT_MAX_WAIT_MINUTES, default 12 h, pass).
 */
export async function snapshot(
  runtime: MigrationRuntime,
  event: SnapshotEvent,
  deps: SnapshotDependencies = {},
): Promise<SnapshotResult> {
  const { run } = event;
  const env = deps.env ?? process.env;
  const rdsClient = deps.rds ?? (() => new RDSClient({}));
  const layout = runLayout(run.runId);
  if (event.pending) return pollRds(runtime, run, event.pending, rdsClient(), env);

  const mode = run.snapshot ?? (run.dryRun ? 'none' : 'logical');
  if (mode === 'none') return { mode, skipped: true, rds: [], rdsPending: false };
  const recorded = await getJson(runtime.store, layout.snapshot, storedSnapshotSchema).catch(() => null);
  if (recorded && recorded.mode === mode) return recorded;

  const result: SnapshotResult = { mode, skipped: false, rds: [], rdsPending: false };
  if (mode === 'logical' || mode === 'both') result.logical = await logicalSnapshot(runtime, run);
  if (mode === 'rds' || mode === 'both') {
    const resources = rdsResourcesFor(rdsResourcesOf(run, env));
    result.rds = await startRdsSnapshots(rdsClient(), run.runId, resources);
    result.rdsPending = rdsSnapshotsPending(result.rds);
    result.rdsRequestedAt = new Date().toISOString();
  }
  await putJson(runtime.store, layout.snapshot, result);
  return result;
}

async function logicalSnapshot(runtime: MigrationRuntime, run: RunContext): Promise<LogicalSnapshot> {
  // Named after the run, so two runs never share a directory and a retry writes the same one.
  const { name, stampedAt: startedAt } = runSnapshotDirectory(run.runId, new Date(run.startedAt));
  const directory = `backups/${name}/`;
  const store = snapshotStoreInRunStore(runtime.store, directory);
  const pools = { source: await runtime.sourcePool(), target: await runtime.targetPool() };
  const meter = runtime.progress?.(
    'snapshot',
    (await estimateSnapshotRows(pools.source)) + (await estimateSnapshotRows(pools.target)),
  );
  const summary = await takeSnapshot({
    pools,
    store,
    startedAt,
    runId: run.runId,
    onRows: meter ? (_database, rows) => meter.tick(rows) : undefined,
  });
  meter?.finish();
  const databases: LogicalSnapshot['databases'] = {};
  for (const [database, m] of Object.entries(summary.manifests) as [
    SnapshotDatabase,
    NonNullable<(typeof summary.manifests)['source']>,
  ][]) {
    databases[database] = {
      object: store.locate(m.object.key),
      rows: m.tables.reduce((n, t) => n + t.rows, 0),
      bytes: m.object.bytes,
      sha256: m.object.sha256,
    };
  }
  return { directory, location: store.locate(), databases };
}

async function pollRds(
  runtime: MigrationRuntime,
  run: RunContext,
  pending: SnapshotResult,
  rds: RDSClient,
  env: NodeJS.ProcessEnv,
): Promise<SnapshotResult> {
  const states = await refreshRdsSnapshots(rds, pending.rds);
  const result: SnapshotResult = { ...pending, rds: states, rdsPending: rdsSnapshotsPending(states) };
  const maxMinutes = Number(env.RDS_SNAPSHOT_MAX_WAIT_MINUTES ?? DEFAULT_RDS_MAX_WAIT_MINUTES);
  const waited = (Date.now() - Date.parse(pending.rdsRequestedAt ?? new Date().toISOString())) / 60_000;
  if (result.rdsPending && waited > maxMinutes) {
    throw new MigrationError(
      `RDS snapshot(s) ${states
        .filter((s) => s.status !== 'available')
        .map((s) => `${s.snapshotIdentifier} (${s.status})`)
        .join(
          ', ',
        )} not available after ${Math.round(waited)} minutes; the migration stops before writing anything.`,
      { context: { states, maxMinutes } },
    );
  }
  await putJson(runtime.store, runLayout(run.runId).snapshot, result);
  return result;
}

/** The input's `rds` names win; the stack context's (Snapshot function environment) fill the gaps. */
function rdsResourcesOf(
  run: RunContext,
  env: NodeJS.ProcessEnv,
): Partial<Record<SnapshotDatabase, RdsResource>> {
  const out: Partial<Record<SnapshotDatabase, RdsResource>> = {};
  for (const database of ['source', 'target'] as const) {
    const given = run.rds?.[database];
    const prefix = `RDS_${database.toUpperCase()}`;
    const instance = given ? given.instance : env[`${prefix}_INSTANCE`];
    const cluster = given ? given.cluster : env[`${prefix}_CLUSTER`];
    if (instance) out[database] = { kind: 'instance', identifier: instance };
    else if (cluster) out[database] = { kind: 'cluster', identifier: cluster };
  }
  return out;
}
