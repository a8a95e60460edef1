/**
 * npm run migrate:restore -- --snapshot <dir|s3 uri> --database source|target [--db <url>] [--force]
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { pathToFileURL } from 'node:url';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { redactDatabaseUrl } from '../functions/runtime/database-urls.js';
import { restoreSnapshot } from '../functions/snapshot/restore-snapshot.js';
import { snapshotStoreAt } from '../functions/snapshot/snapshot-store.js';
import { namingTheDatabase, onDatabase } from './cli/database-errors.js';
import { parseFlags, runCli, UsageError } from './cli/database-flags.js';
import { chooseRunStore } from './cli/local-migration.js';
import { ProgressBar } from './cli/progress.js';

const USAGE = `usage: npm run migrate:restore -- --snapshot <dir|s3 uri> --database source|target [--db <url>] [--force]

Replays one database's snapshot (made by migrate:backup or the state machine's Snapshot step) in one
transaction. The object is checked against its manifest (size, sha256) first; a database whose columns
differ is refused; tables that hold rows are refused unless --force; row counts are checked before commit.

  --snapshot <loc>     backups/migration-YYYYMMDD-HHMMSS or s3://bucket/backups/migration-YYYYMMDD-HHMMSS/
  --database <which>   source (BigMemory) or target (Federated Memory)
  --db <url>           database to restore into (default: SOURCE_DATABASE_URL / DATABASE_URL)
  --force              replace the contents of tables that hold rows; ignore a held migration lock
  --help               this text

Example: npm run migrate:restore -- --snapshot backups/migration-20250301-101500 --database target --force`;

const flags = () =>
  parseFlags({
    snapshot: { type: 'string' },
    database: { type: 'string' },
    db: { type: 'string' },
    force: { type: 'boolean', default: false },
  });

async function main(): Promise<number> {
  const values = flags();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.snapshot) throw new UsageError('--snapshot <dir|s3 uri> is required');
  const database = values.database;
  if (database !== 'source' && database !== 'target')
    throw new UsageError('--database takes source or target');
  const url =
    values.db ?? (database === 'source' ? process.env.SOURCE_DATABASE_URL : process.env.DATABASE_URL);
  if (!url)
    throw new UsageError(
      `pass --db <url> or set ${database === 'source' ? 'SOURCE_DATABASE_URL' : 'DATABASE_URL'}`,
    );
  const setting = values.db
    ? '--db'
    : database === 'source'
      ? 'SOURCE_DATABASE_URL (or --db)'
      : 'DATABASE_URL (or --db)';
  const store = snapshotStoreAt(values.snapshot, () => {
    const bucket = /^s3:\/\/([^/]+)/.exec(values.snapshot ?? '')?.[1] ?? '';
    return chooseRunStore({ bucket }).s3!;
  });
  const pool = openPgDatabase({ connectionString: url, max: 1 });
  try {
    console.error(`Restoring the ${database} snapshot at ${store.locate()} into ${redactDatabaseUrl(url)} …`);
    // Reachable before the object is read through: a wrong URL is named at once, with the fix.
    await onDatabase(database, url, () => pool.query('SELECT 1'), setting);
    const bar = new ProgressBar('restoring', 0, 'rows');
    const report = await restoreSnapshot({
      store,
      database,
      pool,
      force: values.force,
      onRows: (rows, total) => {
        bar.begin();
        bar.setTotal(total);
        bar.tick(rows);
      },
    }).catch(async (error: unknown) => {
      process.stderr.write('\n');
      throw await namingTheDatabase(
        error,
        database === 'source' ? { sourceUrl: url } : { targetUrl: url },
        setting,
      );
    });
    bar.finish();
    const rows = report.tables.reduce((n, t) => n + t.rows, 0);
    console.log(
      `Restored ${rows.toLocaleString('en-US')} rows into ${report.tables.length} tables as of ${report.snapshotAt} in ${(report.durationMs / 1000).toFixed(1)} s (object ${report.object}, sha256 verified).`,
    );
    if (report.replaced.length > 0)
      console.log(`  replaced the previous contents of ${report.replaced.join(', ')}`);
    for (const t of report.tables) console.log(`  ${t.table}: ${t.rows.toLocaleString('en-US')} rows`);
    if (report.ledger === 'absent') console.log('  the migration ledger did not exist then: it was dropped');
    return 0;
  } finally {
    await pool.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
