/**
 * The CMI rebuild's SQL: module rows read a page at a time with whether their user exists, CMI rows
 * upserted through a staging table (one transaction per page), and CMI rows whose module row is
 * gone removed. The rebuild's loop and the CMI formulas live in engine/rebuild-cmi.ts and core/.
 */
import { cmiReductionGroup, type VectorShape } from '../core/embedding.js';
import type { TargetModule } from '../core/modules.js';
import type { CmiRow, ModuleId, ModuleMemoryRow } from '../core/types.js';
import { CMI_COLUMNS, cmiValues } from './cmi-columns.js';
import { columnList, copyRowsIn, excludedSet, quoteIdentifier } from './copy-stream.js';
import type { KeyedColumn, KeyedRead } from './keyed-read.js';
import { escapeLiteral } from './pg/escape.js';
import { decodeTuple } from './pg-binary.js';
import type { DatabaseSession } from './port.js';

const CMI_COLUMN_LIST = columnList(CMI_COLUMNS);
const CMI_UPDATE_SET = excludedSet(CMI_COLUMNS, ['id', 'moduleId', 'remoteMemoryId']);

// Its own staging table, not the batch loader's: the two must not depend on each other's layout.
const STAGING_DDL = `CREATE TEMP TABLE IF NOT EXISTS bm_rebuild_cmi (LIKE memory_index INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`;

// Rows that would break a constraint are filtered here rather than failing the page: a user
// deleted since the page was read, or a CMI id already used by the same memory id in another module.
const UPSERT_SQL = `
WITH upserted AS (
  INSERT INTO memory_index (${CMI_COLUMN_LIST})
  SELECT ${CMI_COLUMN_LIST} FROM bm_rebuild_cmi s
   WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = s."userId")
     AND NOT EXISTS (SELECT 1 FROM memory_index x WHERE x.id = s.id
                      AND (x."moduleId" <> s."moduleId" OR x."remoteMemoryId" <> s."remoteMemoryId"))
  ON CONFLICT ("moduleId", "remoteMemoryId") DO UPDATE SET ${CMI_UPDATE_SET}
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM upserted`;

interface PageRow {
  row: ModuleMemoryRow;
  userExists: boolean;
}

// The module row and whether its user exists; content, embedding and metadata may be long (read in
// pieces by the Data API driver).
const PAGE_COLUMNS: KeyedColumn[] = [
  { sql: 'm.id', type: 'text' },
  { sql: 'm."userId"', type: 'text' },
  { sql: 'm.content', type: 'text', wide: 'm.content' },
  {
    sql: 'm.embedding',
    type: 'vector',
    wide: 'm.embedding::text',
    wideBytes: 'vector_dims(m.embedding) * 16',
  },
  { sql: 'm.metadata', type: 'jsonb', wide: 'm.metadata::text' },
  { sql: 'm."accessCount"', type: 'int4' },
  { sql: 'm."lastAccessed"', type: 'timestamp' },
  { sql: 'm."createdAt"', type: 'timestamp' },
  { sql: 'm."updatedAt"', type: 'timestamp' },
  { sql: 'EXISTS (SELECT 1 FROM users u WHERE u.id = m."userId")', type: 'bool' },
];
const PAGE_TYPES = PAGE_COLUMNS.map((c) => c.type);

function toPageRow(module: ModuleId, vectors: VectorShape, fields: (Buffer | null)[]): PageRow {
  const v = decodeTuple(PAGE_TYPES, fields);
  const metadata = v[4];
  const embedding = v[3] as Float32Array | null;
  const reducible =
    embedding !== null &&
    cmiReductionGroup({ embeddingDimensions: embedding.length, cmiDimensions: vectors.cmiDimensions }) !==
      null;
  const updatedAt = v[8] as Date;
  return {
    row: {
      id: v[0] as string,
      module,
      userId: v[1] as string,
      content: (v[2] as string | null) ?? '',
      // A vector the CMI reduction cannot take leaves the CMI vector NULL.
      embedding: reducible ? embedding : null,
      metadata:
        metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)
          ? (metadata as Record<string, unknown>)
          : {},
      accessCount: (v[5] as number | null) ?? 0,
      // NOT NULL in Federated Memory; a drifted install's NULL gets the migration's own rule.
      lastAccessed: (v[6] as Date | null) ?? updatedAt,
      createdAt: v[7] as Date,
      updatedAt,
    },
    userExists: v[9] as boolean,
  };
}

export async function readModulePage(
  client: DatabaseSession,
  module: TargetModule,
  vectors: VectorShape,
  after: string | null,
  limit: number,
  all: boolean,
): Promise<PageRow[]> {
  const conditions: string[] = [];
  if (after !== null) conditions.push(`m.id > ${escapeLiteral(after)}`);
  if (!all) {
    conditions.push(
      `NOT EXISTS (SELECT 1 FROM memory_index c WHERE c."moduleId" = ${escapeLiteral(module.id)} AND c."remoteMemoryId" = m.id)`,
    );
  }
  // COPY takes no parameters, hence the escaped literals; keyset on id, never OFFSET.
  const read: KeyedRead = {
    from: `${quoteIdentifier(module.table)} m`,
    alias: 'm',
    key: 'm.id',
    keyType: 'text',
    columns: PAGE_COLUMNS,
    where: conditions.length > 0 ? conditions.join(' AND ') : 'true',
    orderBy: 'm.id',
    limit,
  };
  const rows: PageRow[] = [];
  await client.readKeyed(read, (fields) => rows.push(toPageRow(module.id, vectors, fields)));
  return rows;
}

export async function writeCmiPage(
  client: DatabaseSession,
  entries: CmiRow[],
): Promise<{ created: number; updated: number }> {
  await client.query('BEGIN');
  try {
    await client.query(STAGING_DDL);
    await copyRowsIn(client, 'bm_rebuild_cmi', CMI_COLUMNS, entries.map(cmiValues));
    const { rows } = await client.query<{ created: number; updated: number }>(UPSERT_SQL);
    await client.query('COMMIT');
    return { created: rows[0]?.created ?? 0, updated: rows[0]?.updated ?? 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export async function removeCmiOrphans(client: DatabaseSession, module: TargetModule): Promise<number> {
  const result = await client.query(
    `DELETE FROM memory_index c WHERE c."moduleId" = $1
        AND NOT EXISTS (SELECT 1 FROM ${quoteIdentifier(module.table)} m WHERE m.id = c."remoteMemoryId")`,
    [module.id],
  );
  return result.rowCount ?? 0;
}

/**
 * Whether every row of a module table has its CMI row, known from two counts once the module's
 * orphans are gone: the CMI holds at most one row per module row (its unique key, which the
 * upserts above rely on) and none for a missing one, so equal counts are equal sets.
 */
export async function everyRowIndexed(client: DatabaseSession, module: TargetModule): Promise<boolean> {
  const { rows } = await client.query<{ same: boolean }>(
    `SELECT (SELECT count(*) FROM ${quoteIdentifier(module.table)})
          = (SELECT count(*) FROM memory_index WHERE "moduleId" = $1) AS same`,
    [module.id],
  );
  return rows[0]?.same ?? false;
}
