import { MEMORY_LEDGER, probeLedger, RELATIONSHIP_LEDGER } from './ledger-probe.js';
import type { DatabaseSession } from './port.js';
import { changedSincePredicate, type KeyRange, rangePredicate, rangeRows } from './source-reader.js';
import { OPTIONAL_MEMORY_COLUMNS, type SourceSchema } from './source-schema.js';

/** One source memory of a range as the skip test sees it: never its vector, only whether it has one. */
export interface SourceRowHash {
  id: string;
  userId: string;
  deleted: boolean;
  /** md5 of every column a migrated memory is made of, the embedding as present or not. */
  rowHash: string;
}

/** A memory row's hash: every column a migrated memory is made of, the embedding as present or not. */
function rowHashSql(schema: SourceSchema): string {
  const present = new Set(schema.memoryColumns);
  const parts = ['user_id::text', 'content'];
  for (const column of OPTIONAL_MEMORY_COLUMNS) {
    if (!present.has(column)) continue;
    parts.push(column === 'embedding' ? '(embedding IS NULL)' : `${column}::text`);
  }
  return `md5(ROW(${parts.join(', ')})::text)`;
}

/**
 * The live memories `readSourceRange` gives for each range with `limit` (the first ones in key
 * order), as `<id>:<row hash>` in that order: the same rows give the same list, and no vector is read.
 */
export async function readSampleRows(
  client: Pick<DatabaseSession, 'query'>,
  schema: SourceSchema,
  ranges: readonly KeyRange[],
  limit: number,
): Promise<string[]> {
  if (ranges.length === 0) return [];
  // Hashed outside the limited read: a plan that sorts the whole range (no statistics yet) must
  // not hash every row of it. Qualified `m.id` sorts by the key's own type.
  const parts = ranges.map(
    (range, index) =>
      `(SELECT ${index} AS part, id, id::text || ':' || ${rowHashSql(schema)} AS h FROM (
          SELECT m.* FROM memories m WHERE ${rangeRows(schema, range, false, {})}
           ORDER BY m.id LIMIT ${Math.max(0, Math.floor(limit))}) sampled)`,
  );
  const { rows } = await client.query<{ h: string }>(
    `SELECT h FROM (${parts.join(' UNION ALL ')}) s ORDER BY part, id`,
  );
  return rows.map((r) => r.h);
}

/**
 * The memories of consecutive ranges, live and soft-deleted, hashed by the source in one query
 * (docs/design.md, "Skipping what is done"), one list per range in key order. `embedding IS NULL`
 * reads no vector; a row's text form tells NULL from an empty value, so two different rows never
 * hash alike by shifting a NULL.
 */
export async function readSourceRowHashes(
  client: DatabaseSession,
  schema: SourceSchema,
  ranges: readonly Pick<KeyRange, 'fromKey' | 'toKey'>[],
  changedSince: Date | null,
): Promise<SourceRowHash[][]> {
  const first = ranges[0];
  const last = ranges.at(-1);
  if (!first || !last) return [];
  // The server tells which range a row falls in: it orders the keys by their own type.
  const ends = ranges
    .slice(0, -1)
    .map(
      (r, i) =>
        `WHEN ${rangePredicate({ index: 0, fromKey: null, toKey: r.toKey }, schema.memoryIdType)} THEN ${i}`,
    );
  const part = ends.length > 0 ? `CASE ${ends.join(' ')} ELSE ${ends.length} END` : '0';
  const { rows } = await client.query<{
    part: number;
    id: string;
    user_id: string;
    deleted: boolean;
    row_hash: string;
  }>(
    `SELECT ${part} AS part, id::text AS id, user_id::text AS user_id, is_deleted IS TRUE AS deleted,
            ${rowHashSql(schema)} AS row_hash
       FROM memories
      WHERE ${rangePredicate({ index: 0, fromKey: first.fromKey, toKey: last.toKey }, schema.memoryIdType)}
        AND ${changedSincePredicate(schema, changedSince)}
      ORDER BY id`,
  );
  const byRange: SourceRowHash[][] = ranges.map(() => []);
  for (const r of rows) {
    byRange[r.part]?.push({ id: r.id, userId: r.user_id, deleted: r.deleted, rowHash: r.row_hash });
  }
  return byRange;
}

export interface LedgerState {
  status: 'migrated' | 'rejected';
  rule: string | null;
  reason: string | null;
  fingerprint: string | null;
}

// A dry run before any real run finds no ledger (undefined table) or one from before fingerprints
// (undefined column): nothing is known, so nothing is skipped.
const NO_LEDGER_YET = new Set(['42P01', '3F000', '42703']);

/** What the ledger holds for these source memories (those it has never seen are absent). */
export async function readLedgerStates(
  db: Pick<DatabaseSession, 'query'>,
  sourceIds: readonly string[],
): Promise<Map<string, LedgerState>> {
  try {
    const rows = await probeLedger<LedgerState & { source_id: string }>(
      db,
      MEMORY_LEDGER,
      'l.source_id, l.status, l.rule, l.reason, l.fingerprint',
      sourceIds,
    );
    return new Map(rows.map((r) => [r.source_id, r]));
  } catch (error) {
    if (NO_LEDGER_YET.has((error as { code?: string }).code ?? '')) return new Map();
    throw error;
  }
}

export interface RelationshipLedgerState {
  status: 'migrated' | 'skipped';
  reason: string | null;
  fingerprint: string | null;
}

/** The relationship ledger's rows for these keys (one primary-key probe each). */
export async function readRelationshipLedgerStates(
  db: Pick<DatabaseSession, 'query'>,
  keys: readonly string[],
): Promise<Map<string, RelationshipLedgerState>> {
  const rows = await probeLedger<RelationshipLedgerState & { source_key: string }>(
    db,
    RELATIONSHIP_LEDGER,
    'l.source_key, l.status, l.reason, l.fingerprint',
    keys,
  );
  return new Map(rows.map((r) => [r.source_key, r]));
}

/**
 * When the ledger last recorded each of these memories as written (its row's `updated_at`, as
 * text): a project link's `project_id` lives in the task's module row, so a task written again
 * needs its link written again.
 */
export async function readLedgerWriteTimes(
  db: Pick<DatabaseSession, 'query'>,
  sourceIds: readonly string[],
): Promise<Map<string, string>> {
  const rows = await probeLedger<{ source_id: string; written: string }>(
    db,
    MEMORY_LEDGER,
    'l.source_id, l.updated_at::text AS written',
    sourceIds,
  );
  return new Map(rows.map((r) => [r.source_id, r.written]));
}
