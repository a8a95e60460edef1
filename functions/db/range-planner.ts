import type { ClientBase, Pool } from 'pg';
import type { KeyRange } from './source-reader.js';

/**
 * `WHERE updated_at > $n` for an incremental run, its parameter appended to `params`; empty
 * otherwise. (Preflight gives a watermark only to sources that have `updated_at`.)
 */
function changedSinceWhere(changedSince: Date | null | undefined, params: unknown[]): string {
  if (!changedSince) return '';
  params.push(changedSince.toISOString());
  return `WHERE updated_at > $${params.length}::timestamptz`;
}

export interface PlanOptions {
  batchSize: number;
  /** Incremental runs plan only over rows changed after this instant. */
  changedSince?: Date | null;
  /** Plan over deleted rows too (the range then holds fewer live rows); the default. */
  table?: 'memories' | 'memory_relations';
}

/**
 * Splits a table's primary keys into consecutive ranges of `batchSize` keys. One pass over the
 * primary-key index with row_number(): no OFFSET, no per-range query, a few seconds for 10M rows.
 * Soft-deleted rows are counted too, so ranges never hold more than `batchSize` live rows.
 */
export async function planKeyRanges(db: Pool | ClientBase, options: PlanOptions): Promise<KeyRange[]> {
  const table = options.table ?? 'memories';
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const params: unknown[] = [batchSize];
  const where = changedSinceWhere(options.changedSince, params);
  const { rows } = await db.query<{ key: string }>(
    `SELECT key FROM (
       SELECT id::text AS key, row_number() OVER (ORDER BY id) AS rn FROM ${table} ${where}
     ) k
     WHERE rn % $1 = 0
     ORDER BY rn`,
    params,
  );
  // The last key closes the final, partial range; an index lookup, unlike count(*) OVER ().
  const lastParams: unknown[] = [];
  const { rows: last } = await db.query<{ key: string }>(
    `SELECT id::text AS key FROM ${table} ${changedSinceWhere(options.changedSince, lastParams)} ORDER BY id DESC LIMIT 1`,
    lastParams,
  );
  const boundaries = rows.map((r) => r.key);
  const lastKey = last[0]?.key;
  if (lastKey !== undefined && boundaries[boundaries.length - 1] !== lastKey) boundaries.push(lastKey);
  const ranges: KeyRange[] = [];
  let fromKey: string | null = null;
  for (const key of boundaries) {
    ranges.push({ index: ranges.length, fromKey, toKey: key });
    fromKey = key;
  }
  return ranges;
}

export interface UserPlanOptions {
  /** About this many memories per range; one user's memories are never split. */
  memoriesPerRange: number;
  /** Incremental runs plan only over users with memories changed after this instant. */
  changedSince?: Date | null;
}

/**
 * Splits the users that own memories into consecutive ranges of `memories.user_id` holding about
 * `memoriesPerRange` memories each (a user with more gets a range alone). Work that looks across
 * a user's memories (a task's project by name) then reads each user's memories once in the whole
 * run, through the user_id index, instead of once per key range of memories.
 */
export async function planUserRanges(db: Pool | ClientBase, options: UserPlanOptions): Promise<KeyRange[]> {
  const perRange = Math.max(1, Math.floor(options.memoriesPerRange));
  const params: unknown[] = [];
  const changed = changedSinceWhere(options.changedSince, params);
  const { rows } = await db.query<{ key: string; memories: number }>(
    `SELECT user_id::text AS key, count(*)::int AS memories
       FROM (SELECT user_id FROM memories ${changed}) m WHERE user_id IS NOT NULL
      GROUP BY user_id ORDER BY user_id`,
    params,
  );
  const ranges: KeyRange[] = [];
  let fromKey: string | null = null;
  let memories = 0;
  rows.forEach((row, i) => {
    memories += row.memories;
    if (memories >= perRange || i === rows.length - 1) {
      ranges.push({ index: ranges.length, fromKey, toKey: row.key });
      fromKey = row.key;
      memories = 0;
    }
  });
  return ranges;
}
