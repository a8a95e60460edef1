import { S3Client } from '@aws-sdk/client-s3';
import { parseMigrationInput } from '../core/run-options.js';
import { InvalidInputError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { type RestoreReport, restoreSnapshot } from '../snapshot/restore-snapshot.js';
import type { SnapshotDatabase } from '../snapshot/snapshot-manifest.js';
import { snapshotStoreAt } from '../snapshot/snapshot-store.js';
import { S3RunStore } from '../store/run-store.js';

/**
 * Either the restore's own fields (the CLI), or a whole execution input holding
 * `restore: { snapshot, database }` and `force` (the state machine's Restore branch).
 */
export type RestoreEvent =
  | { snapshot: string; database: SnapshotDatabase; force?: boolean }
  | { input: unknown };

/**
 * Replays a snapshot (`s3://bucket/backups/migration-…/` or a local directory) into the source or
 * target database in one transaction; see `restoreSnapshot` for the checks. Bounded by the Lambda
 * timeout when run as a handler: a database too big for 15 minutes restores with the CLI or psql.
 */
export async function restore(runtime: MigrationRuntime, event: RestoreEvent): Promise<RestoreReport> {
  const request = 'input' in event ? fromInput(event.input) : event;
  if (runtime.driver === 'data-api') {
    // A logical snapshot loads by COPY FROM STDIN, which the Data API cannot carry.
    throw new InvalidInputError(
      'A logical snapshot restores over pg connections only: run npm run migrate:restore (or psql) with the database URL, or restore the RDS snapshot.',
      { context: { database: request.database } },
    );
  }
  const pool = request.database === 'source' ? await runtime.sourcePool() : await runtime.targetPool();
  const store = snapshotStoreAt(request.snapshot, () =>
    // The run store's client carries the endpoint settings of S3-compatible stores.
    runtime.store instanceof S3RunStore ? runtime.store.s3 : new S3Client({}),
  );
  return restoreSnapshot({ store, database: request.database, pool, force: request.force ?? false });
}

function fromInput(raw: unknown): { snapshot: string; database: SnapshotDatabase; force: boolean } {
  const input = parseMigrationInput(raw);
  if (!input.restore) throw new InvalidInputError('The input has no "restore": { "snapshot", "database" }.');
  return { ...input.restore, force: input.force };
}
