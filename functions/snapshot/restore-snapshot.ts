import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { LEDGER_DDL, LEDGER_SCHEMA } from '../db/ledger-schema.js';
import type { Database, DatabaseSession } from '../db/port.js';
import {
  classifyDatabaseFailure,
  MigrationError,
  PreflightError,
  SnapshotIntegrityError,
} from '../errors.js';
import { countLines, ObjectMeter } from './object-meter.js';
import { copyBlockData, ScriptLineReader } from './script-reader.js';
import { assertObjectMatches, verifySnapshotObject } from './snapshot-integrity.js';
import {
  manifestKey,
  parseSnapshotManifest,
  type SnapshotDatabase,
  type SnapshotManifest,
  type SnapshotTable,
} from './snapshot-manifest.js';
import { copyInLine, qualifiedName, setvalStatement, truncateStatement } from './snapshot-sql.js';
import type { SnapshotStore } from './snapshot-store.js';

export interface RestoreOptions {
  store: SnapshotStore;
  database: SnapshotDatabase;
  pool: Database;
  /** Replace the contents of tables that hold rows, and ignore a held migration lock. */
  force?: boolean;
  /** Rows as they are replayed, and the manifest's total (for progress). */
  onRows?: (rows: number, total: number) => void;
}

export interface RestoreReport {
  database: SnapshotDatabase;
  object: string;
  snapshotAt: string;
  sha256: string;
  bytes: number;
  forced: boolean;
  /** Tables that held rows before the restore replaced them. */
  replaced: string[];
  tables: { table: string; rows: number }[];
  sequences: number;
  ledger: SnapshotManifest['ledger'];
  durationMs: number;
}

/**
 * Replays a snapshot into a database in one transaction: checks the object against its manifest
 * (size, sha256) before anything else, refuses a schema whose columns differ or tables that hold
 * rows (unless forced), empties the covered tables, COPYs every block, resets sequences, checks
 * each table's row count and the object's checksum once more, and only then commits.
 */
export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreReport> {
  const started = performance.now();
  const { store, database } = options;
  const key = manifestKey(database);
  if (!(await store.exists(key))) {
    throw new PreflightError(
      `No ${database} snapshot at ${store.locate(key)}: the directory is incomplete or not a snapshot.`,
      { context: { manifest: store.locate(key) } },
    );
  }
  const manifest = parseSnapshotManifest(await store.getText(key), store.locate(key));
  if (manifest.database !== database) {
    throw new PreflightError(
      `${store.locate(key)} is a ${manifest.database} snapshot, not a ${database} one`,
    );
  }
  await verifySnapshotObject(store, manifest);

  const client = await options.pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query(
      "SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL intervalstyle = postgres; SET LOCAL timezone = 'UTC'",
    );
    if (database === 'target') await prepareLedger(client, manifest, options.force ?? false);
    await assertSchemaMatches(client, manifest);
    const replaced = await tablesWithRows(client, manifest.tables);
    const holdingData = replaced.filter(
      (name) => !manifest.tables.some((t) => qualifiedName(t) === name && !holdsData(t)),
    );
    if (holdingData.length > 0 && !options.force) {
      throw new PreflightError(
        `Refusing to restore into tables that hold rows (${holdingData.join(', ')}): the restore replaces their contents. Pass --force ("force": true) to do so.`,
        { context: { tables: holdingData } },
      );
    }
    if (manifest.tables.length > 0) await client.query(truncateStatement(manifest.tables));

    broken = true;
    const total = manifest.tables.reduce((n, t) => n + t.rows, 0);
    const onRows = options.onRows;
    const meter = await replayObject(client, store, manifest, onRows && ((rows) => onRows(rows, total)));
    broken = false;
    for (const sequence of manifest.sequences) await client.query(setvalStatement(sequence));
    const tables = await assertRowCounts(client, manifest);
    assertObjectMatches(store, manifest, { bytes: meter.bytes, sha256: meter.sha256 });
    await client.query('COMMIT');
    return {
      database,
      object: store.locate(manifest.object.key),
      snapshotAt: manifest.snapshotAt,
      sha256: manifest.object.sha256,
      bytes: manifest.object.bytes,
      forced: options.force ?? false,
      replaced,
      tables,
      sequences: manifest.sequences.length,
      ledger: manifest.ledger,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof MigrationError) throw error;
    if ((error as { code?: string }).code === 'Z_BUF_ERROR' || (error as { errno?: number }).errno === -5) {
      throw new SnapshotIntegrityError(
        `Snapshot object ${store.locate(manifest.object.key)} ends early (gzip: ${(error as Error).message}); nothing was restored.`,
        { cause: error, context: { object: store.locate(manifest.object.key) } },
      );
    }
    throw classifyDatabaseFailure(error, {
      step: 'restore',
      database,
      object: store.locate(manifest.object.key),
    });
  } finally {
    client.release(broken ? true : undefined);
  }
}

/** The ledger goes back to what the snapshot saw: recreated if it held one, dropped if it had none. */
async function prepareLedger(
  client: DatabaseSession,
  manifest: SnapshotManifest,
  force: boolean,
): Promise<void> {
  const { rows } = await client.query<{ lock: string | null }>(
    `SELECT to_regclass('${LEDGER_SCHEMA}.lock')::text AS lock`,
  );
  if (rows[0]?.lock && !force) {
    const { rows: holders } = await client.query<{ run_id: string }>(
      `SELECT run_id FROM ${LEDGER_SCHEMA}.lock`,
    );
    if (holders[0]) {
      throw new PreflightError(
        `Run ${holders[0].run_id} holds the migration lock: restoring under a running migration would mix both. Wait for it, or pass --force if it died.`,
        { context: { heldBy: holders[0].run_id } },
      );
    }
  }
  if (manifest.ledger === 'absent') await client.query(`DROP SCHEMA IF EXISTS ${LEDGER_SCHEMA} CASCADE`);
  if (manifest.ledger === 'included') await client.query(LEDGER_DDL);
}

async function assertSchemaMatches(client: DatabaseSession, manifest: SnapshotManifest): Promise<void> {
  const problems: string[] = [];
  for (const table of manifest.tables) {
    const { rows } = await client.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
      [qualifiedName(table)],
    );
    if (rows.length === 0) {
      problems.push(`${qualifiedName(table)} is missing`);
      continue;
    }
    const have = new Map(rows.map((r) => [r.name, r.type]));
    const want = new Map(table.columns.map((c) => [c.name, c.type]));
    for (const [name, type] of want) {
      if (!have.has(name)) problems.push(`${qualifiedName(table)} lacks column "${name}"`);
      else if (have.get(name) !== type)
        problems.push(`${qualifiedName(table)}."${name}" is ${have.get(name)}, the snapshot has ${type}`);
    }
    for (const name of have.keys()) {
      if (!want.has(name))
        problems.push(`${qualifiedName(table)} has column "${name}" the snapshot does not`);
    }
  }
  if (problems.length > 0) {
    throw new PreflightError(
      `The database's schema does not match the snapshot's; nothing was restored: ${problems.join('; ')}.`,
      { context: { problems } },
    );
  }
}

// A fresh install already fills its registries (Federated Memory seeds memory_modules), and the
// ledger is the migration's own: neither makes a database "not empty".
const REGISTRY_TABLES = new Set(['memory_modules', 'memory_categories']);
const holdsData = (t: SnapshotTable) => t.schema !== LEDGER_SCHEMA && !REGISTRY_TABLES.has(t.name);

async function tablesWithRows(client: DatabaseSession, tables: SnapshotTable[]): Promise<string[]> {
  const out: string[] = [];
  for (const table of tables) {
    const { rows } = await client.query(`SELECT 1 FROM ${qualifiedName(table)} LIMIT 1`);
    if (rows.length > 0) out.push(qualifiedName(table));
  }
  return out;
}

/**
 * Streams the object through gunzip and runs each COPY block in the manifest's order. Only the
 * blocks are taken from the script; every other statement is the restore's own, from the manifest.
 */
async function replayObject(
  client: DatabaseSession,
  store: SnapshotStore,
  manifest: SnapshotManifest,
  onRows?: (rows: number) => void,
): Promise<ObjectMeter> {
  const meter = new ObjectMeter();
  const gunzip = createGunzip();
  const decoding = pipeline(await store.read(manifest.object.key), meter, gunzip).catch((error: unknown) => {
    gunzip.destroy(error as Error);
  });
  try {
    return await replayBlocks(client, store, manifest, new ScriptLineReader(gunzip), decoding, meter, onRows);
  } finally {
    gunzip.destroy();
  }
}

async function replayBlocks(
  client: DatabaseSession,
  store: SnapshotStore,
  manifest: SnapshotManifest,
  reader: ScriptLineReader,
  decoding: Promise<void>,
  meter: ObjectMeter,
  onRows?: (rows: number) => void,
): Promise<ObjectMeter> {
  const expected = manifest.tables.map((t) => copyInLine(t));
  let block = 0;
  for (let line = await reader.next(); line !== null; line = await reader.next()) {
    if (!line.subarray(0, 5).equals(Buffer.from('COPY '))) continue;
    const text = line.toString('utf8');
    if (text !== expected[block]) {
      throw new SnapshotIntegrityError(
        `Snapshot object ${store.locate(manifest.object.key)} line ${reader.lineNumber} does not match its manifest: expected ${expected[block] ?? 'no more COPY blocks'}, found ${text.slice(0, 200)}`,
        { context: { object: store.locate(manifest.object.key), line: reader.lineNumber } },
      );
    }
    await client.copyIn(text, counted(copyBlockData(reader), onRows));
    block++;
  }
  await decoding;
  if (block !== expected.length) {
    throw new SnapshotIntegrityError(
      `Snapshot object ${store.locate(manifest.object.key)} holds ${block} of the ${expected.length} tables its manifest lists.`,
      { context: { object: store.locate(manifest.object.key) } },
    );
  }
  return meter;
}

async function* counted(
  chunks: AsyncGenerator<Buffer>,
  onRows: ((rows: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    onRows?.(countLines(chunk));
    yield chunk;
  }
}

async function assertRowCounts(
  client: DatabaseSession,
  manifest: SnapshotManifest,
): Promise<RestoreReport['tables']> {
  const out: RestoreReport['tables'] = [];
  for (const table of manifest.tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualifiedName(table)}`);
    const n = Number(rows[0]?.n);
    if (n !== table.rows) {
      throw new SnapshotIntegrityError(
        `${qualifiedName(table)} holds ${n} rows after the replay but the snapshot's manifest says ${table.rows}; rolled back.`,
        { context: { table: qualifiedName(table), rows: n, expected: table.rows } },
      );
    }
    out.push({ table: qualifiedName(table), rows: n });
  }
  return out;
}
