/**
 * npm run migrate:backup -- [options]   (the guide's Step 1: back up both databases)
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import type { Database } from '../functions/db/port.js';
import { estimateSnapshotRows } from '../functions/snapshot/row-estimate.js';
import type { SnapshotDatabase } from '../functions/snapshot/snapshot-manifest.js';
import { INDEX_KEY, snapshotDirectoryName } from '../functions/snapshot/snapshot-manifest.js';
import {
  FolderSnapshotStore,
  S3SnapshotStore,
  type SnapshotStore,
} from '../functions/snapshot/snapshot-store.js';
import { DEFAULT_GZIP_LEVEL } from '../functions/snapshot/snapshot-writer.js';
import { takeSnapshot } from '../functions/snapshot/take-snapshot.js';
import { namingTheDatabase, onDatabase } from './cli/database-errors.js';
import { databaseUrls, parseFlags, positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { chooseRunStore } from './cli/local-migration.js';
import { ProgressBar } from './cli/progress.js';

const USAGE = `usage: npm run migrate:backup -- [options]

Snapshots both databases (every table the migration reads or writes) into
backups/migration-YYYYMMDD-HHMMSS/: bigmemory_<stamp>.sql.gz and federated_<stamp>.sql.gz (data-only SQL
that psql replays), a manifest.json per database (tables, columns, row counts, sha256) and snapshot.json.
Progress (rows, rate, ETA) goes to stderr. A backup that fails or is interrupted removes its directory.

  --source-db <url>   BigMemory database URL (default: SOURCE_DATABASE_URL)
  --target-db <url>   Federated Memory database URL (default: DATABASE_URL)
  --only <database>   source or target: back up only that one
  --dir <dir>         parent directory of the backups (default: ./backups)
  --bucket <name>     write to this S3 bucket under backups/ instead (MIGRATION_BUCKET; AWS_ENDPOINT_URL
                      for S3-compatible stores)
  --gzip-level <n>    1 (fastest, the default) to 9 (smallest; about 10% smaller, 4x slower)
  --help              this text

Restore with: gunzip -c backups/migration-*/federated_*.sql.gz | psql -v ON_ERROR_STOP=1 "$DATABASE_URL"
         or: npm run migrate:restore -- --snapshot backups/migration-… --database target --force

Example: npm run migrate:backup -- --only target --gzip-level 6`;

const flags = () =>
  parseFlags({
    'source-db': { type: 'string' },
    'target-db': { type: 'string' },
    only: { type: 'string' },
    dir: { type: 'string', default: 'backups' },
    bucket: { type: 'string' },
    'gzip-level': { type: 'string' },
  });

async function main(): Promise<number> {
  const values = flags();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.only !== undefined && values.only !== 'source' && values.only !== 'target')
    throw new UsageError('--only takes source or target');
  const gzipLevel = positiveInteger(values['gzip-level'], '--gzip-level', DEFAULT_GZIP_LEVEL);
  if (gzipLevel > 9) throw new UsageError('--gzip-level takes 1 to 9');
  const urls = databaseUrls(values);
  const startedAt = new Date();
  const store = await newBackupStore(values.bucket ?? process.env.MIGRATION_BUCKET, values.dir, startedAt);
  const wanted: SnapshotDatabase[] = values.only ? [values.only as SnapshotDatabase] : ['source', 'target'];
  const pools = Object.fromEntries(
    wanted.map((d) => [
      d,
      openPgDatabase({ connectionString: d === 'source' ? urls.sourceUrl : urls.targetUrl, max: 1 }),
    ]),
  ) as Partial<Record<SnapshotDatabase, Database>>;
  console.error(`Backing up ${wanted.join(' and ')} to ${store.locate()} …`);
  const started = performance.now();
  try {
    // Both reachable before anything is written: a failure then leaves no half-written backup.
    for (const d of wanted) {
      await onDatabase(d, d === 'source' ? urls.sourceUrl : urls.targetUrl, () =>
        pools[d]!.query('SELECT 1'),
      );
    }
    let total = 0;
    for (const d of wanted) total += await estimateSnapshotRows(pools[d]!);
    const bar = new ProgressBar('backing up', total, 'rows');
    // A backup that stops half-way (a database fails, Ctrl-C) is removed: what stays is whole.
    const interrupted = () => {
      void store.discard().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const summary = await takeSnapshot({
      pools,
      store,
      startedAt,
      gzipLevel,
      onRows: (_database, rows) => bar.tick(rows),
    }).catch(async (error: unknown) => {
      await store.discard();
      process.stderr.write('\n');
      throw await namingTheDatabase(error, urls);
    });
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    bar.finish();
    const seconds = (performance.now() - started) / 1000;
    console.log(`Backup written in ${seconds.toFixed(1)} s: ${summary.location}`);
    for (const manifest of Object.values(summary.manifests)) {
      const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
      console.log(
        `  ${store.locate(manifest.object.key)}  ${rows.toLocaleString('en-US')} rows in ${manifest.tables.length} tables, ${(manifest.object.bytes / 1e6).toFixed(1)} MB, sha256 ${manifest.object.sha256}`,
      );
    }
    return 0;
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.end()));
  }
}

/**
 * A new directory for this backup, never one that exists: a failed backup removes its directory,
 * which must not be an earlier backup taken in the same second.
 */
async function newBackupStore(
  bucket: string | undefined,
  dir: string,
  startedAt: Date,
): Promise<SnapshotStore> {
  const s3 = bucket ? chooseRunStore({ bucket }).s3 : undefined;
  for (let n = 1; ; n++) {
    const name = `${snapshotDirectoryName(startedAt)}${n === 1 ? '' : `-${n}`}`;
    if (bucket && s3) {
      const store = new S3SnapshotStore(s3, bucket, `backups/${name}/`);
      if (!(await store.exists(INDEX_KEY))) return store;
    } else if (!existsSync(join(dir, name))) {
      return new FolderSnapshotStore(join(dir, name));
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
