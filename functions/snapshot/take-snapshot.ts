import type { Database } from '../db/port.js';
import {
  INDEX_KEY,
  manifestKey,
  SNAPSHOT_FORMAT,
  type SnapshotDatabase,
  type SnapshotIndex,
  type SnapshotManifest,
  snapshotObjectName,
} from './snapshot-manifest.js';
import type { SnapshotStore } from './snapshot-store.js';
import { snapshotDatabase } from './snapshot-writer.js';

export interface TakeSnapshotOptions {
  /** The databases to snapshot; each is read in its own consistent transaction. */
  pools: Partial<Record<SnapshotDatabase, Database>>;
  store: SnapshotStore;
  /** Names the objects (`federated_YYYYMMDD-HHMMSS.sql.gz`). */
  startedAt: Date;
  runId?: string | null;
  gzipLevel?: number;
  /** Rows as they stream out of either database (for progress). */
  onRows?: (database: SnapshotDatabase, rows: number) => void;
}

export interface SnapshotSummary {
  location: string;
  manifests: Partial<Record<SnapshotDatabase, SnapshotManifest>>;
}

/**
 * Snapshots the given databases side by side into one directory, then writes `snapshot.json` naming
 * them. A failure leaves no index (and no manifest for the failed database), so an incomplete
 * directory is recognisable as such.
 */
export async function takeSnapshot(options: TakeSnapshotOptions): Promise<SnapshotSummary> {
  const entries = Object.entries(options.pools) as [SnapshotDatabase, Database][];
  // Both settle before a failure is thrown: nothing still writes into the directory then.
  const settled = await Promise.allSettled(
    entries.map(([database, pool]) =>
      snapshotDatabase({
        pool,
        database,
        store: options.store,
        objectKey: snapshotObjectName(database, options.startedAt),
        runId: options.runId,
        gzipLevel: options.gzipLevel,
        onRows: options.onRows ? (rows) => options.onRows?.(database, rows) : undefined,
      }),
    ),
  );
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const manifests = settled.map((r) => (r as PromiseFulfilledResult<SnapshotManifest>).value);
  const byDatabase = Object.fromEntries(
    manifests.map((m) => [m.database, m]),
  ) as SnapshotSummary['manifests'];
  const index: SnapshotIndex = {
    format: SNAPSHOT_FORMAT,
    directory: options.store.locate(),
    createdAt: new Date().toISOString(),
    runId: options.runId ?? null,
    databases: Object.fromEntries(
      manifests.map((m) => [
        m.database,
        {
          manifest: manifestKey(m.database),
          object: m.object.key,
          rows: m.tables.reduce((n, t) => n + t.rows, 0),
          bytes: m.object.bytes,
        },
      ]),
    ),
  };
  await options.store.putText(INDEX_KEY, `${JSON.stringify(index, null, 2)}\n`);
  return { location: options.store.locate(), manifests: byDatabase };
}
