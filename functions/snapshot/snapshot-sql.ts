import { LEDGER_DDL, LEDGER_SCHEMA } from '../db/ledger-schema.js';
import type { SnapshotManifest, SnapshotTable } from './snapshot-manifest.js';

/**
 * The text of a snapshot object: a data-only SQL script in psql's own dump dialect, so that
 * `gunzip -c <object> | psql <url>` restores it with nothing else installed (the guide's rollback).
 * The same builders make the lines the Restore handler expects, so writer and reader cannot drift.
 */

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const qualifiedName = (t: Pick<SnapshotTable, 'schema' | 'name'>) =>
  `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const columnList = (t: Pick<SnapshotTable, 'columns'>) => t.columns.map((c) => quoteIdent(c.name)).join(', ');
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The statement the writer runs: text format, so every value is in the form `COPY … FROM stdin` reads. */
export const copyOutStatement = (t: Pick<SnapshotTable, 'schema' | 'name' | 'columns'>) =>
  `COPY ${qualifiedName(t)} (${columnList(t)}) TO STDOUT`;

/** The line opening a table's data block in the script (and the statement the Restore handler runs). */
export const copyInLine = (t: Pick<SnapshotTable, 'schema' | 'name' | 'columns'>) =>
  `COPY ${qualifiedName(t)} (${columnList(t)}) FROM stdin;`;

export const END_OF_DATA = '\\.';

/** One statement for all tables: foreign keys between them do not block it, and it is all or nothing. */
export const truncateStatement = (tables: readonly Pick<SnapshotTable, 'schema' | 'name'>[]) =>
  `TRUNCATE TABLE ${tables.map(qualifiedName).join(', ')};`;

export const setvalStatement = (s: { name: string; lastValue: string; isCalled: boolean }) =>
  `SELECT pg_catalog.setval(${literal(s.name)}, ${s.lastValue}, ${s.isCalled});`;

// Session settings the text was written under: ISO dates and UTC, so the values read back the same
// whatever the restoring server's defaults are.
const SESSION_SETTINGS = [
  "SET client_encoding = 'UTF8';",
  'SET standard_conforming_strings = on;',
  "SET datestyle = 'ISO, YMD';",
  'SET intervalstyle = postgres;',
  "SET timezone = 'UTC';",
];

type ScriptHead = Pick<
  SnapshotManifest,
  'label' | 'databaseName' | 'serverVersion' | 'snapshotAt' | 'ledger'
> & {
  tables: Pick<SnapshotTable, 'schema' | 'name'>[];
};

/** Everything before the first data block. */
export function scriptPrologue(head: ScriptHead): string {
  const lines = [
    `-- BigMemory migration snapshot: ${head.label} database ${head.databaseName} (PostgreSQL ${head.serverVersion}) as of ${head.snapshotAt}.`,
    '-- Data only, in one transaction: the covered tables are emptied, then refilled.',
    '-- Restore: gunzip -c <this file> | psql -v ON_ERROR_STOP=1 "postgresql://<user>:<password>@<host>:<port>/<dbname>"',
    // A failed statement must stop psql: otherwise the data lines that follow are read as SQL.
    '\\set ON_ERROR_STOP on',
    ...SESSION_SETTINGS,
    // The ledger's CREATE … IF NOT EXISTS would print a notice per existing table.
    'SET client_min_messages = warning;',
    'BEGIN;',
  ];
  if (head.ledger === 'absent') lines.push(`DROP SCHEMA IF EXISTS ${LEDGER_SCHEMA} CASCADE;`);
  if (head.ledger === 'included') lines.push(LEDGER_DDL.trim());
  if (head.tables.length > 0) lines.push(truncateStatement(head.tables));
  return `${lines.join('\n')}\n`;
}

export function scriptEpilogue(sequences: SnapshotManifest['sequences']): string {
  return `${[...sequences.map(setvalStatement), 'COMMIT;'].join('\n')}\n`;
}
