import type { SampleRule } from '../core/verify-sample.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { DatabaseSession } from './port.js';
import { type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';
import { inSampleSql } from './verification-queries.js';

/**
 * The live source memories of a page of the key space, ids only, from the primary key's order,
 * each with whether the sample draws it (inSampleSql).
 */
export async function liveDrawsOfPage(
  client: DatabaseSession,
  schema: SourceSchema,
  page: KeyRange,
  draw: SampleRule,
): Promise<{ id: string; drawn: boolean }[]> {
  const { rows } = await client.query<{ id: string; drawn: boolean }>(
    `SELECT id::text AS id, ${inSampleSql(draw, 'id::text')} AS drawn FROM memories
      WHERE is_deleted IS NOT TRUE AND ${rangePredicate(page, schema.memoryIdType)}`,
  );
  return rows;
}

/**
 * A sampled Verify's live memories of a range in one read, ids only and in key order: those in
 * `written` and those the sample draws (decided by the server, as sourceFingerprintPage does).
 * Null when there are more than `limit`, for the caller to go page by page.
 */
export async function selectedIdsOf(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
  selection: { written: readonly string[]; draw: SampleRule },
  limit: number,
): Promise<string[] | null> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id::text AS id FROM memories
      WHERE is_deleted IS NOT TRUE AND ${rangePredicate(range, schema.memoryIdType)}
        AND (id = ANY($1::${schema.memoryIdType}[]) OR ${inSampleSql(selection.draw, 'id::text')})
      ORDER BY id LIMIT $2`,
    [selection.written, limit + 1],
  );
  return rows.length > limit ? null : rows.map((r) => r.id);
}

/** Which of these source memories the ledger says this run wrote. */
export async function writtenByRun(
  client: DatabaseSession,
  runId: string,
  sourceIds: readonly string[],
): Promise<Set<string>> {
  if (sourceIds.length === 0) return new Set();
  const { rows } = await client.query<{ source_id: string }>(
    `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = ANY($1::text[]) AND run_id = $2`,
    [sourceIds, runId],
  );
  return new Set(rows.map((r) => r.source_id));
}

/**
 * Every source memory the ledger says this run wrote, through the ledger's run index; null when
 * there are more than `limit` (a first run writes all of them), for the caller to ask page by page.
 */
export async function idsWrittenByRun(
  client: Pick<DatabaseSession, 'query'>,
  runId: string,
  limit: number,
): Promise<string[] | null> {
  const { rows } = await client.query<{ source_id: string }>(
    `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1 LIMIT $2`,
    [runId, limit + 1],
  );
  return rows.length > limit ? null : rows.map((r) => r.source_id);
}
