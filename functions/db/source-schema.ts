import { PreflightError } from '../errors.js';
import type { Queryable } from './port.js';

/**
 * What this BigMemory installation actually has. Real installations drift (docs/design.md, "BigMemory (source)"): optional
 * columns may be missing and timestamps may lack a time zone. Read once in preflight, passed along.
 */
export interface SourceSchema {
  /** Columns of `memories` that exist. */
  memoryColumns: string[];
  /** Data type of `memories.id` (keyset comparisons cast key literals to it). */
  memoryIdType: string;
  /** Data type of `memories.user_id` (project links are planned over ranges of it). */
  userIdType: string;
  /** Declared dimensions of `memories.embedding`, or null when the column is unconstrained/absent. */
  embeddingDimensions: number | null;
  /** Whether `source_metadata` is json rather than jsonb (it is then cast). */
  metadataIsJson: boolean;
  hasRelations: boolean;
  relationIdType: string | null;
  hasCategories: boolean;
}

const REQUIRED_MEMORY_COLUMNS = ['id', 'user_id', 'content', 'is_deleted'] as const;
export const OPTIONAL_MEMORY_COLUMNS = [
  'content_hash',
  'embedding',
  'title',
  'summary',
  'tags',
  'source',
  'source_metadata',
  'created_at',
  'updated_at',
  'accessed_at',
  'access_count',
] as const;

export async function introspectSource(db: Queryable): Promise<SourceSchema> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name IN ('users', 'memories', 'memory_relations', 'memory_categories')`,
  );
  const tableNames = new Set(tables.map((t) => t.table_name));
  for (const required of ['users', 'memories']) {
    if (!tableNames.has(required)) {
      const { rows } = await db.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      const schema = rows[0]?.schema ?? '(none: the search_path names no existing schema)';
      throw new PreflightError(
        `The source database has no "${required}" table in schema ${schema}: is --source-db / SOURCE_DATABASE_URL pointing at the BigMemory database?`,
        { context: { missingTable: required, schema } },
      );
    }
  }
  const { rows: columns } = await db.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    udt_name: string;
    typmod: number;
  }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.udt_name, a.atttypmod AS typmod
       FROM information_schema.columns c
       JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
                          AND a.attname = c.column_name
      WHERE c.table_schema = current_schema() AND c.table_name IN ('memories', 'memory_relations')`,
  );
  const memoryCols = columns.filter((c) => c.table_name === 'memories');
  const names = new Set(memoryCols.map((c) => c.column_name));
  const missing = REQUIRED_MEMORY_COLUMNS.filter((c) => !names.has(c));
  if (missing.length > 0) {
    throw new PreflightError(
      `The source "memories" table lacks required column(s) ${missing.join(', ')}; this does not look like a BigMemory database.`,
      { context: { missingColumns: missing } },
    );
  }
  const byName = (n: string) => memoryCols.find((c) => c.column_name === n);
  const embedding = byName('embedding');
  const relationId = columns.find((c) => c.table_name === 'memory_relations' && c.column_name === 'id');
  return {
    memoryColumns: [...names],
    memoryIdType: byName('id')?.udt_name ?? 'text',
    userIdType: byName('user_id')?.udt_name ?? 'text',
    embeddingDimensions: embedding && embedding.typmod > 0 ? embedding.typmod : null,
    metadataIsJson: byName('source_metadata')?.udt_name === 'json',
    hasRelations: tableNames.has('memory_relations'),
    relationIdType: relationId?.udt_name ?? null,
    hasCategories: tableNames.has('memory_categories'),
  };
}
