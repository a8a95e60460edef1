import { LEDGER_SCHEMA } from '../db/ledger-schema.js';
import { readModuleRegistry } from '../db/module-registry.js';
import type { DatabaseSession } from '../db/port.js';
import { PreflightError } from '../errors.js';
import type { SnapshotColumn, SnapshotDatabase } from './snapshot-manifest.js';

interface WantedTable {
  name: string;
  optional: boolean;
}

/**
 * Tables the migration reads or writes, by database; `optional` ones may be absent. The target's
 * module tables come from its registry (`moduleTables`).
 */
const WANTED: Record<SnapshotDatabase, WantedTable[]> = {
  source: [
    { name: 'users', optional: false },
    { name: 'memories', optional: false },
    { name: 'memory_relations', optional: true },
    { name: 'memory_categories', optional: true },
  ],
  target: [
    { name: 'users', optional: false },
    { name: 'memory_index', optional: false },
    { name: 'memory_relationships', optional: false },
    { name: 'memory_modules', optional: true },
  ],
};

// The lock is about executions in progress, not data: restoring it would lock out the next run.
const LEDGER_TABLES_LEFT_OUT = new Set(['lock']);

export interface PlannedTable {
  oid: number;
  schema: string;
  name: string;
  columns: SnapshotColumn[];
}

export interface SnapshotPlan {
  tables: PlannedTable[];
  /** Serial/identity sequences of the planned tables' columns. */
  sequences: string[];
  ledger: 'included' | 'absent' | null;
}

/**
 * The tables of one database to snapshot, in an order that replays under immediate foreign keys.
 * A table outside the list that references one inside it is added too: the replay's TRUNCATE would
 * fail on it, and its rows would be lost by a cascade.
 */
export async function planSnapshotTables(
  client: DatabaseSession,
  database: SnapshotDatabase,
): Promise<SnapshotPlan> {
  const oids: number[] = [];
  const moduleTables: WantedTable[] =
    database === 'target'
      ? (await readModuleRegistry(client)).registry.modules.map((m) => ({ name: m.table, optional: false }))
      : [];
  for (const wanted of [...WANTED[database], ...moduleTables]) {
    const { rows } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [
      `"${wanted.name}"`,
    ]);
    const oid = rows[0]?.oid ?? null;
    if (oid !== null) oids.push(oid);
    else if (!wanted.optional) {
      throw new PreflightError(
        `The ${database} database has no "${wanted.name}" table to snapshot: is the ${database === 'source' ? 'SOURCE_DATABASE_URL' : 'DATABASE_URL'} right?`,
        { context: { database, table: wanted.name } },
      );
    }
  }
  let ledger: SnapshotPlan['ledger'] = null;
  if (database === 'target') {
    const { rows } = await client.query<{ oid: number; relname: string }>(
      `SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
      [LEDGER_SCHEMA],
    );
    const { rows: schema } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
      LEDGER_SCHEMA,
    ]);
    ledger = schema.length > 0 ? 'included' : 'absent';
    for (const r of rows) if (!LEDGER_TABLES_LEFT_OUT.has(r.relname)) oids.push(r.oid);
  }
  await addReferencingTables(client, oids);

  const tables: PlannedTable[] = [];
  for (const oid of oids) tables.push(await describeTable(client, oid));
  const ordered = await replayOrder(client, tables);
  const { rows: sequences } = await client.query<{ seq: string }>(
    `SELECT DISTINCT pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS seq
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        AND pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) IS NOT NULL
      ORDER BY 1`,
    [oids],
  );
  return { tables: ordered, sequences: sequences.map((s) => s.seq), ledger };
}

async function addReferencingTables(client: DatabaseSession, oids: number[]): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ oid: number }>(
      `SELECT DISTINCT conrelid AS oid FROM pg_constraint
        WHERE contype = 'f' AND confrelid = ANY($1::oid[]) AND NOT (conrelid = ANY($1::oid[]))`,
      [oids],
    );
    if (rows.length === 0) return;
    oids.push(...rows.map((r) => r.oid));
  }
}

async function describeTable(client: DatabaseSession, oid: number): Promise<PlannedTable> {
  const { rows: names } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = $1`,
    [oid],
  );
  // Generated columns cannot be written by COPY FROM; the server recomputes them.
  const { rows: columns } = await client.query<SnapshotColumn>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [oid],
  );
  const { schema, name } = names[0]!;
  return { oid, schema, name, columns };
}

/** Stable topological order over the foreign keys between the planned tables (self-references ignored). */
async function replayOrder(client: DatabaseSession, tables: PlannedTable[]): Promise<PlannedTable[]> {
  const { rows: edges } = await client.query<{ child: number; parent: number }>(
    `SELECT conrelid AS child, confrelid AS parent FROM pg_constraint
      WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[]) AND conrelid <> confrelid`,
    [tables.map((t) => t.oid)],
  );
  const ordered: PlannedTable[] = [];
  const placed = new Set<number>();
  let remaining = [...tables];
  while (remaining.length > 0) {
    const ready = remaining.filter((t) => edges.every((e) => e.child !== t.oid || placed.has(e.parent)));
    // A cycle of foreign keys: keep the given order for what is left rather than fail.
    const next = ready.length > 0 ? ready : remaining;
    for (const t of next) {
      ordered.push(t);
      placed.add(t.oid);
    }
    remaining = remaining.filter((t) => !placed.has(t.oid));
  }
  return ordered;
}
