import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBSnapshotAlreadyExistsFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/errors.js';
import { createMigrationRuntime, type MigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import {
  rdsResourcesFor,
  rdsSnapshotIdentifier,
  startRdsSnapshots,
} from '../../functions/snapshot/rds-snapshots.js';
import type { RunContext } from '../../functions/steps/run-context.js';
import { snapshot } from '../../functions/steps/snapshot.js';
import { FileRunStore } from '../../functions/store/run-store.js';

const rds = mockClient(RDSClient);

async function runtimeWithFolderStore(): Promise<MigrationRuntime> {
  return createMigrationRuntime({
    store: new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-rds-'))),
    sourceUrl: async () => 'postgresql://unused@127.0.0.1:1/none',
    targetUrl: async () => 'postgresql://unused@127.0.0.1:1/none',
  });
}

const runOf = (fields: Partial<RunContext>) =>
  ({ runId: 'migration-20250301-101500', dryRun: false, ...fields }) as RunContext;

describe('Function: rdsSnapshotIdentifier', () => {
  it('makes a name RDS accepts, under the prefix IAM allows', () => {
    // Assess
    expect(rdsSnapshotIdentifier('migration-20250301-101500', 'Federated_DB')).toBe(
      'bigmemory-migration-migration-20250301-101500-federated-db',
    );
    expect(rdsSnapshotIdentifier('x'.repeat(300), 'db')).toHaveLength(255);
  });
});

describe('Function: rdsResourcesFor', () => {
  it('takes one snapshot of an instance that holds both databases', () => {
    // Act
    const resources = rdsResourcesFor({
      source: { kind: 'instance', identifier: 'shared' },
      target: { kind: 'instance', identifier: 'shared' },
    });

    // Assess
    expect(resources).toEqual([
      { resource: { kind: 'instance', identifier: 'shared' }, databases: ['source', 'target'] },
    ]);
  });

  it('refuses when nothing is named', () => {
    // Assess
    expect(() => rdsResourcesFor({})).toThrow(InvalidInputError);
  });
});

describe('Function: startRdsSnapshots', () => {
  beforeEach(() => rds.reset());

  it('snapshots an instance and a cluster and reads their status', async () => {
    // Prepare
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: 'creating' } });
    rds.on(CreateDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: { Status: 'creating' } });
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [{ Status: 'available', DBSnapshotArn: 'arn:db-snap' }] });
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'creating' }] });

    // Act
    const states = await startRdsSnapshots(new RDSClient({}), 'run-1', [
      { resource: { kind: 'instance', identifier: 'bigmemory-db' }, databases: ['source'] },
      { resource: { kind: 'cluster', identifier: 'federated-aurora' }, databases: ['target'] },
    ]);

    // Assess
    expect(rds.commandCalls(CreateDBSnapshotCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: 'bigmemory-db',
      DBSnapshotIdentifier: 'bigmemory-migration-run-1-bigmemory-db',
    });
    expect(rds.commandCalls(CreateDBClusterSnapshotCommand)[0]?.args[0].input).toEqual({
      DBClusterIdentifier: 'federated-aurora',
      DBClusterSnapshotIdentifier: 'bigmemory-migration-run-1-federated-aurora',
    });
    expect(states.map((s) => [s.resource, s.status])).toEqual([
      ['bigmemory-db', 'available'],
      ['federated-aurora', 'creating'],
    ]);
  });

  it('takes a snapshot that already exists (a retried step) as started', async () => {
    // Prepare
    rds
      .on(CreateDBSnapshotCommand)
      .rejects(new DBSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating' }] });

    // Act
    const states = await startRdsSnapshots(new RDSClient({}), 'run-1', [
      { resource: { kind: 'instance', identifier: 'db' }, databases: ['source', 'target'] },
    ]);

    // Assess
    expect(states[0]?.status).toBe('creating');
  });

  it('fails the step, naming the snapshot, when RDS reports it failed', async () => {
    // Prepare
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: 'creating' } });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'failed' }] });

    // Act
    const attempt = startRdsSnapshots(new RDSClient({}), 'run-1', [
      { resource: { kind: 'instance', identifier: 'db' }, databases: ['source'] },
    ]);

    // Assess
    await expect(attempt).rejects.toThrow(/bigmemory-migration-run-1-db of instance db is failed/);
  });
});

describe('Function: snapshot (RDS mode)', () => {
  beforeEach(() => rds.reset());

  it('starts the snapshots, reports them pending, and is done once a poll finds them available', async () => {
    // Prepare
    const runtime = await runtimeWithFolderStore();
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: 'creating' } });
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolves({ DBSnapshots: [{ Status: 'available' }] });
    const run = runOf({ snapshot: 'rds' });
    const deps = {
      rds: () => new RDSClient({}),
      env: { RDS_SOURCE_INSTANCE: 'shared-db', RDS_TARGET_INSTANCE: 'shared-db' },
    };

    // Act
    const started = await snapshot(runtime, { run }, deps);
    const polled = await snapshot(runtime, { run, pending: started }, deps);

    // Assess
    expect(started).toMatchObject({ mode: 'rds', skipped: false, rdsPending: true });
    expect(started.rds).toHaveLength(1);
    expect(started.logical).toBeUndefined();
    expect(polled.rdsPending).toBe(false);
    expect(polled.rds[0]?.status).toBe('available');
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
  });

  it('lets the execution input name the instance over the stack context', async () => {
    // Prepare
    const runtime = await runtimeWithFolderStore();
    rds.on(CreateDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: { Status: 'available' } });
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'available' }] });
    const run = runOf({ snapshot: 'rds', rds: { target: { cluster: 'from-input' } } });

    // Act
    const result = await snapshot(
      runtime,
      { run },
      { rds: () => new RDSClient({}), env: { RDS_TARGET_INSTANCE: 'from-context' } },
    );

    // Assess
    expect(result.rds.map((s) => [s.kind, s.resource])).toEqual([['cluster', 'from-input']]);
    expect(result.rdsPending).toBe(false);
  });

  it('skips dry runs unless asked', async () => {
    // Prepare
    const runtime = await runtimeWithFolderStore();

    // Act
    const result = await snapshot(runtime, { run: runOf({ dryRun: true }) });

    // Assess
    expect(result).toEqual({ mode: 'none', skipped: true, rds: [], rdsPending: false });
  });
});
