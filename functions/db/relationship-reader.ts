import type { DryRunRelation, EndState, RelationRow } from '../core/relationships.js';
import { decodeTuple, type PgBinaryType } from './pg-binary.js';
import type { DatabaseSession, Queryable } from './port.js';
import { type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';

const ROW_TYPES: PgBinaryType[] = ['text', 'text', 'text', 'text', 'text', 'float8', 'jsonb', 'timestamptz'];

// `memory_relations` has no foreign keys: either end may be gone (missing) or soft-deleted.
const endState = (alias: string) =>
  `CASE WHEN ${alias}.id IS NULL THEN 'missing' WHEN ${alias}.is_deleted IS TRUE THEN 'deleted' ELSE 'live' END`;

function toRelationRow(fields: (Buffer | null)[]): RelationRow {
  const v = decodeTuple(ROW_TYPES, fields);
  return {
    id: v[0] as string,
    userId: v[1] as string | null,
    sourceMemoryId: v[2] as string,
    targetMemoryId: v[3] as string,
    relationType: v[4] as string,
    strength: v[5] as number | null,
    metadata: v[6],
    createdAt: (v[7] as Date | null) ?? new Date(0),
  };
}

/**
 * One keyset range of `memory_relations` in key order, as binary COPY like the memory reader:
 * timestamp and timestamptz share one binary form, so a zone-less `created_at` is read as the UTC
 * it holds, whatever the session's zone. With `endStates`, each end's state in the source
 * `memories` is joined in. A source without `memory_relations` has nothing to read.
 */
async function readRelations<T>(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
  endStates: boolean,
  toRow: (fields: (Buffer | null)[]) => T,
): Promise<T[]> {
  if (!schema.hasRelations) return [];
  const idType = schema.relationIdType ?? 'text';
  const columns = `r.id::text, r.user_id::text, r.source_memory_id::text, r.target_memory_id::text,
      r.relation_type::text, r.strength::float8, r.metadata::jsonb, r.created_at`;
  const query = endStates
    ? `SELECT ${columns}, ${endState('s')}, ${endState('t')}, s.user_id::text, t.user_id::text
         FROM (SELECT * FROM memory_relations WHERE ${rangePredicate(range, idType)}) r
         LEFT JOIN memories s ON s.id = r.source_memory_id
         LEFT JOIN memories t ON t.id = r.target_memory_id
        ORDER BY r.id`
    : `SELECT ${columns} FROM memory_relations r WHERE ${rangePredicate(range, idType, 'r.id')} ORDER BY r.id`;
  const rows: T[] = [];
  await client.copyQueryOut(query, (fields) => rows.push(toRow(fields)));
  return rows;
}

/**
 * A range of relations with both ends' state and owner read from the source (dry runs: there is
 * no ledger).
 */
export function readRelationRange(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
): Promise<DryRunRelation[]> {
  return readRelations(client, schema, range, true, (fields) => {
    const [sourceState, targetState, sourceOwner, targetOwner] = decodeTuple(
      ['text', 'text', 'text', 'text'],
      fields.slice(ROW_TYPES.length),
    );
    return {
      ...toRelationRow(fields),
      sourceState: sourceState as EndState,
      targetState: targetState as EndState,
      sourceOwner: sourceOwner as string | null,
      targetOwner: targetOwner as string | null,
    };
  });
}

/**
 * A range of relations without their ends' state: a real run takes it from the ledger for the ends
 * it migrated and looks up only the rest (readEndStates), instead of two index lookups into
 * `memories` per relation.
 */
export function readRelationRows(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
): Promise<RelationRow[]> {
  return readRelations(client, schema, range, false, toRelationRow);
}

/** Each memory's state in the source; an id absent from the map is missing. */
export async function readEndStates(
  client: DatabaseSession,
  schema: SourceSchema,
  ids: readonly string[],
): Promise<Map<string, EndState>> {
  if (ids.length === 0) return new Map();
  const { rows } = await client.query<{ id: string; deleted: boolean }>(
    `SELECT id::text AS id, is_deleted IS TRUE AS deleted FROM memories WHERE id = ANY($1::${schema.memoryIdType}[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.deleted ? 'deleted' : 'live']));
}

/** Whether some relation of a range has one of `memoryIds` at either end. */
export async function relationsReach(
  client: Queryable,
  schema: SourceSchema,
  range: KeyRange,
  memoryIds: readonly string[],
): Promise<boolean> {
  if (!schema.hasRelations || memoryIds.length === 0) return false;
  const { rows } = await client.query<{ reached: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM memory_relations r
       WHERE ${rangePredicate(range, schema.relationIdType ?? 'text', 'r.id')}
         AND (r.source_memory_id::text = ANY($1::text[]) OR r.target_memory_id::text = ANY($1::text[]))) AS reached`,
    [memoryIds],
  );
  return rows[0]?.reached ?? false;
}
