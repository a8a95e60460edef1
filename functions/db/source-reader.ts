import type { SourceMemory } from '../core/types.js';
import type { KeyedColumn, KeyedRead } from './keyed-read.js';
import { escapeLiteral } from './pg/escape.js';
import { decodeTuple, Float32Slab, type PgBinaryType } from './pg-binary.js';
import type { DatabaseSession } from './port.js';
import type { SourceSchema } from './source-schema.js';

/** A keyset range of source primary keys: `fromKey < id <= toKey`; a null bound is open. */
export interface KeyRange {
  index: number;
  fromKey: string | null;
  toKey: string | null;
}

export interface ReadOptions {
  /** Incremental runs read only rows changed after the previous run's watermark. */
  changedSince?: Date | null;
  /** At most this many rows, from the start of the range (a sample). */
  limit?: number;
  /** Where the embeddings are decoded to (a batch's pooled slab); a slab of the read's own otherwise. */
  slab?: Float32Slab;
  /** Only these memories of the range (those a rerun found changed); all of them when absent. */
  ids?: readonly string[];
}

// Column list of the read, in the order of SourceMemory's fields; absent optional columns read as
// NULL so one decoder serves every installation. `wide` marks values a memory may make long (its
// text form, for the Data API driver, which reads rows over its 64 KB limit in pieces).
interface ReadColumn {
  column: string;
  type: PgBinaryType;
  expr?: (schema: SourceSchema) => string;
  wide?: (schema: SourceSchema) => string;
  wideBytes?: string;
}
const READ_COLUMNS: ReadColumn[] = [
  { column: 'id', type: 'text', expr: () => 'id::text' },
  { column: 'user_id', type: 'text', expr: () => 'user_id::text' },
  { column: 'content', type: 'text', wide: () => 'content' },
  { column: 'content_hash', type: 'text', expr: () => 'content_hash::text' },
  // Its text is at most ~16 bytes a dimension; counting dimensions spares printing every vector.
  {
    column: 'embedding',
    type: 'vector',
    wide: () => 'embedding::text',
    wideBytes: 'vector_dims(embedding) * 16',
  },
  { column: 'title', type: 'text', wide: () => 'title' },
  { column: 'summary', type: 'text', wide: () => 'summary' },
  {
    column: 'tags',
    type: 'text[]',
    expr: () => 'tags::text[]',
    wide: () => 'array_to_json(tags::text[])::text',
  },
  { column: 'source', type: 'text', wide: () => 'source' },
  {
    column: 'source_metadata',
    type: 'jsonb',
    expr: (s) => (s.metadataIsJson ? 'source_metadata::jsonb' : 'source_metadata'),
    wide: (s) => (s.metadataIsJson ? 'source_metadata::jsonb::text' : 'source_metadata::text'),
  },
  // timestamp and timestamptz share one binary form; a zone-less value is read as the UTC it holds.
  { column: 'created_at', type: 'timestamptz' },
  { column: 'updated_at', type: 'timestamptz' },
  { column: 'accessed_at', type: 'timestamptz' },
  // float8 holds any bigint count exactly enough to see that it overflows the target's int4.
  { column: 'access_count', type: 'float8', expr: () => 'access_count::float8' },
];
const READ_TYPES = READ_COLUMNS.map((c) => c.type);

function readColumns(schema: SourceSchema): KeyedColumn[] {
  const present = new Set(schema.memoryColumns);
  return READ_COLUMNS.map((c) => {
    if (!present.has(c.column)) {
      if (c.column === 'access_count') return { sql: '0::float8', type: c.type };
      if (c.type === 'vector') return { sql: 'NULL::vector', type: c.type };
      return { sql: `NULL::${c.type === 'timestamptz' ? 'timestamptz' : c.type}`, type: c.type };
    }
    return {
      sql: c.expr ? c.expr(schema) : c.column,
      type: c.type,
      ...(c.wide ? { wide: c.wide(schema), wideBytes: c.wideBytes } : {}),
    };
  });
}

/**
 * SQL predicate for a key range of `column` (default `id`), with the keys as literals of the
 * column's own type (COPY takes no parameters).
 */
export function rangePredicate(range: KeyRange, idType: string, column = 'id'): string {
  const parts: string[] = [];
  if (range.fromKey !== null) parts.push(`${column} > ${escapeLiteral(range.fromKey)}::${idType}`);
  if (range.toKey !== null) parts.push(`${column} <= ${escapeLiteral(range.toKey)}::${idType}`);
  return parts.length > 0 ? parts.join(' AND ') : 'true';
}

export function changedSincePredicate(schema: SourceSchema, since?: Date | null): string {
  if (!since || !schema.memoryColumns.includes('updated_at')) return 'true';
  return `updated_at > ${escapeLiteral(since.toISOString())}::timestamptz`;
}

/** The range's live or soft-deleted rows, only those changed since the watermark on incremental runs. */
export function rangeRows(
  schema: SourceSchema,
  range: KeyRange,
  deleted: boolean,
  options: ReadOptions,
): string {
  const only = options.ids
    ? `id = ANY(ARRAY[${options.ids.map((id) => escapeLiteral(id)).join(', ')}]::${schema.memoryIdType}[])`
    : 'true';
  return `${rangePredicate(range, schema.memoryIdType)}
      AND is_deleted IS ${deleted ? '' : 'NOT '}TRUE
      AND ${changedSincePredicate(schema, options.changedSince)}
      AND ${only}`;
}

function toSourceMemory(fields: (Buffer | null)[], slab: Float32Slab): SourceMemory {
  const v = decodeTuple(READ_TYPES, fields, slab);
  return {
    id: v[0] as string,
    userId: v[1] as string,
    content: v[2] as string | null,
    contentHash: v[3] as string | null,
    embedding: v[4] as Float32Array | null,
    title: v[5] as string | null,
    summary: v[6] as string | null,
    tags: v[7] as string[] | null,
    source: v[8] as string | null,
    sourceMetadata: v[9],
    createdAt: v[10] as Date | null,
    updatedAt: v[11] as Date | null,
    accessedAt: v[12] as Date | null,
    accessCount: v[13] as number | null,
  };
}

/**
 * Reads one key range of live (not soft-deleted) memories in key order, as binary COPY so
 * embeddings arrive as bytes. Keyset, never OFFSET: cost is the range's size, not its position.
 */
export async function readSourceRange(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
  options: ReadOptions = {},
): Promise<SourceMemory[]> {
  const read: KeyedRead = {
    from: 'memories m',
    alias: 'm',
    key: 'm.id',
    keyType: schema.memoryIdType,
    columns: readColumns(schema),
    where: rangeRows(schema, range, false, options),
    // Qualified: a bare `id` would name the select list's `id::text` and sort as text.
    orderBy: 'm.id',
    limit: options.limit,
  };
  const memories: SourceMemory[] = [];
  const slab = options.slab ?? new Float32Slab();
  await client.readKeyed(read, (fields) => memories.push(toSourceMemory(fields, slab)));
  return memories;
}
