import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { InvalidInputError, MigrationError } from '../errors.js';
import type { SnapshotDatabase } from './snapshot-manifest.js';

type RdsResourceKind = 'instance' | 'cluster';

/** An RDS DB instance or Aurora cluster holding one (or both) of the databases. */
export interface RdsResource {
  kind: RdsResourceKind;
  identifier: string;
}

export interface RdsSnapshotState {
  kind: RdsResourceKind;
  resource: string;
  /** The databases the resource holds: one snapshot serves both when they share an instance. */
  databases: SnapshotDatabase[];
  snapshotIdentifier: string;
  status: string;
  arn?: string;
}

/** Every snapshot this project creates starts with it, so IAM can allow exactly those names. */
export const RDS_SNAPSHOT_PREFIX = 'bigmemory-migration-';

/**
 * `bigmemory-migration-<run>-<resource>`: letters, digits and single hyphens, starting with a
 * letter, at most 255 characters (RDS's rules for snapshot identifiers). Deterministic, so a
 * retried step finds the snapshot it already started.
 */
export function rdsSnapshotIdentifier(runId: string, resource: string): string {
  const slug = `${runId}-${resource}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${RDS_SNAPSHOT_PREFIX}${slug}`.slice(0, 255).replace(/-+$/, '');
}

/** The resources to snapshot, one entry per distinct instance/cluster. */
export function rdsResourcesFor(
  byDatabase: Partial<Record<SnapshotDatabase, RdsResource>>,
): { resource: RdsResource; databases: SnapshotDatabase[] }[] {
  const out: { resource: RdsResource; databases: SnapshotDatabase[] }[] = [];
  for (const [database, resource] of Object.entries(byDatabase) as [SnapshotDatabase, RdsResource][]) {
    const same = out.find(
      (o) => o.resource.kind === resource.kind && o.resource.identifier === resource.identifier,
    );
    if (same) same.databases.push(database);
    else out.push({ resource, databases: [database] });
  }
  if (out.length === 0) {
    throw new InvalidInputError(
      'An RDS snapshot was asked for but no DB instance or cluster is named: set "rds": { "source": { "instance": "…" }, "target": { "cluster": "…" } } in the execution input, or the stack context rdsSourceInstance/rdsSourceCluster/rdsTargetInstance/rdsTargetCluster.',
    );
  }
  return out;
}

const isAlreadyThere = (error: unknown) =>
  ['DBSnapshotAlreadyExistsFault', 'DBClusterSnapshotAlreadyExistsFault'].includes((error as Error).name);

/** Asks RDS for an instance's or a cluster's snapshot; the two APIs differ only in their names. */
async function createSnapshot(
  rds: RDSClient,
  resource: RdsResource,
  snapshotIdentifier: string,
): Promise<{ status?: string; arn?: string }> {
  if (resource.kind === 'instance') {
    const { DBSnapshot: made } = await rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: resource.identifier,
        DBSnapshotIdentifier: snapshotIdentifier,
      }),
    );
    return { status: made?.Status, arn: made?.DBSnapshotArn };
  }
  const { DBClusterSnapshot: made } = await rds.send(
    new CreateDBClusterSnapshotCommand({
      DBClusterIdentifier: resource.identifier,
      DBClusterSnapshotIdentifier: snapshotIdentifier,
    }),
  );
  return { status: made?.Status, arn: made?.DBClusterSnapshotArn };
}

/** Starts one snapshot per resource; one that exists already (a retried step) is taken as started. */
export async function startRdsSnapshots(
  rds: RDSClient,
  runId: string,
  resources: { resource: RdsResource; databases: SnapshotDatabase[] }[],
): Promise<RdsSnapshotState[]> {
  const states: RdsSnapshotState[] = [];
  for (const { resource, databases } of resources) {
    const snapshotIdentifier = rdsSnapshotIdentifier(runId, resource.identifier);
    const state: RdsSnapshotState = {
      kind: resource.kind,
      resource: resource.identifier,
      databases,
      snapshotIdentifier,
      status: 'creating',
    };
    try {
      const started = await createSnapshot(rds, resource, snapshotIdentifier);
      state.status = started.status ?? 'creating';
      state.arn = started.arn;
    } catch (error) {
      if (!isAlreadyThere(error)) throw rdsFailure(error, state);
    }
    states.push(state);
  }
  return refreshRdsSnapshots(rds, states);
}

/** Reads each snapshot's status; a failed one fails the step with its name. */
export async function refreshRdsSnapshots(
  rds: RDSClient,
  states: RdsSnapshotState[],
): Promise<RdsSnapshotState[]> {
  const out: RdsSnapshotState[] = [];
  for (const state of states) {
    let status: string | undefined;
    let arn: string | undefined;
    try {
      if (state.kind === 'instance') {
        const res = await rds.send(
          new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: state.snapshotIdentifier }),
        );
        status = res.DBSnapshots?.[0]?.Status;
        arn = res.DBSnapshots?.[0]?.DBSnapshotArn;
      } else {
        const res = await rds.send(
          new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: state.snapshotIdentifier }),
        );
        status = res.DBClusterSnapshots?.[0]?.Status;
        arn = res.DBClusterSnapshots?.[0]?.DBClusterSnapshotArn;
      }
    } catch (error) {
      throw rdsFailure(error, state);
    }
    const next = { ...state, status: status ?? state.status, arn: arn ?? state.arn };
    if (next.status === 'failed' || next.status === 'incompatible-restore' || next.status === 'deleting') {
      throw new MigrationError(
        `RDS snapshot ${state.snapshotIdentifier} of ${state.kind} ${state.resource} is ${next.status}: the migration stops before writing anything.`,
        { context: { ...next } },
      );
    }
    out.push(next);
  }
  return out;
}

export const rdsSnapshotsPending = (states: readonly RdsSnapshotState[]) =>
  states.some((s) => s.status !== 'available');

function rdsFailure(error: unknown, state: RdsSnapshotState): MigrationError {
  const name = (error as Error).name;
  return new MigrationError(
    `RDS refused the snapshot ${state.snapshotIdentifier} of ${state.kind} ${state.resource} (${name}: ${(error as Error).message}).${name === 'AccessDeniedException' || name === 'AccessDenied' ? ' Name the instance/cluster in the stack context so the Snapshot function is allowed to snapshot it.' : ''}`,
    { cause: error, context: { ...state, errorName: name } },
  );
}
