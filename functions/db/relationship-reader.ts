import type { ClientBase } from 'pg';
import type { EndState, SourceRelation } from '../core/relationships.js';
import { copyQueryOut } from './copy-stream.js';
import { decodeField, type PgBinaryType } from './pg-binary.js';
import { type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';

const READ_TYPES: PgBinaryType[] = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'float8',
  'jsonb',
  'timestamptz',
  'text',
  'text',
];

// `memory_relations` has no foreign keys: either end may be gone (missing) or soft-deleted.
const endState = (alias: string) =>
  `CASE WHEN ${alias}.id IS NULL THEN 'missing' WHEN ${alias}.is_deleted IS TRUE THEN 'deleted' ELSE 'live' END`;

function toRelation(fields: (Buffer | null)[]): SourceRelation {
  const v = (i: number) => decodeField(READ_TYPES[i] as PgBinaryType, fields[i] ?? null);
  return {
    id: v(0) as string,
    userId: v(1) as string | null,
    sourceMemoryId: v(2) as string,
    targetMemoryId: v(3) as string,
    relationType: v(4) as string,
    strength: v(5) as number | null,
    metadata: v(6),
    createdAt: (v(7) as Date | null) ?? new Date(0),
    sourceState: v(8) as EndState,
    targetState: v(9) as EndState,
  };
}

/**
 * Reads one keyset range of `memory_relations` in key order, each with its ends' state from the
 * source `memories`. Binary COPY like the memory reader: timestamp and timestamptz share one binary form,
 * so a zone-less `created_at` is read as the UTC it holds, whatever the session's zone.
 * A source without `memory_relations` has nothing to read.
 */
export async function readRelationRange(
  client: ClientBase,
  schema: SourceSchema,
  range: KeyRange,
): Promise<SourceRelation[]> {
  if (!schema.hasRelations) return [];
  const idType = schema.relationIdType ?? 'text';
  const query = `SELECT r.id::text, r.user_id::text, r.source_memory_id::text, r.target_memory_id::text,
      r.relation_type::text, r.strength::float8, r.metadata::jsonb, r.created_at,
      ${endState('s')}, ${endState('t')}
    FROM (SELECT * FROM memory_relations WHERE ${rangePredicate(client, range, idType)}) r
    LEFT JOIN memories s ON s.id = r.source_memory_id
    LEFT JOIN memories t ON t.id = r.target_memory_id
    ORDER BY r.id`;
  const relations: SourceRelation[] = [];
  await copyQueryOut(client, query, (fields) => relations.push(toRelation(fields)));
  return relations;
}
