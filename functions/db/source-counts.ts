import type { SourceCounts } from '../core/report/input.js';
import type { Queryable } from './port.js';
import type { SourceSchema } from './source-schema.js';

/**
 * The next incremental run starts after the watermark, so it comes from the source's own clock,
 * zone-explicit (a zone-less column holds UTC; the session is in UTC, so the cast says so), and
 * never beyond the source's now(): one row dated in the future would otherwise hold every later
 * run back until that date. Such rows are counted for the report.
 */
function watermarkColumns(hasUpdatedAt: boolean): string {
  if (!hasUpdatedAt) return 'NULL::timestamptz AS watermark, 0 AS future';
  return `(SELECT least(max(updated_at)::timestamptz, now()) FROM memories) AS watermark,
            (SELECT count(*) FROM memories WHERE updated_at::timestamptz > now()) AS future`;
}

/** What the source holds now, and the watermark a later incremental run starts after. */
export async function countSource(
  source: Queryable,
  schema: SourceSchema,
): Promise<{ counts: SourceCounts; watermark: Date | null }> {
  const { rows } = await source.query<{
    total: string;
    live: string;
    users: string;
    relations: string;
    watermark: Date | null;
    future: string;
  }>(
    `SELECT (SELECT count(*) FROM memories) AS total,
            (SELECT count(*) FROM memories WHERE is_deleted IS NOT TRUE) AS live,
            (SELECT count(*) FROM users) AS users,
            ${schema.hasRelations ? '(SELECT count(*) FROM memory_relations)' : '0'} AS relations,
            ${watermarkColumns(schema.memoryColumns.includes('updated_at'))}`,
  );
  const c = rows[0]!;
  return {
    counts: {
      memories: Number(c.total),
      liveMemories: Number(c.live),
      deletedMemories: Number(c.total) - Number(c.live),
      users: Number(c.users),
      relations: Number(c.relations),
      futureUpdated: Number(c.future),
    },
    watermark: c.watermark,
  };
}
