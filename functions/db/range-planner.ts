import type { Queryable } from './port.js';
import type { KeyRange } from './source-reader.js';

export interface PlanOptions {
  batchSize: number;
  /** Incremental runs plan only over rows changed after this instant. */
  changedSince?: Date | null;
  /** Plan over deleted rows too (the range then holds fewer live rows); the default. */
  table?: 'memories' | 'memory_relations';
  /** Only the keys of this range (its bounds cast to the key's type). */
  within?: { range: KeyRange; idType: string };
}

/** The WHERE clause of the options' rows, its parameters appended to `params`. */
function planWhere(options: Pick<PlanOptions, 'changedSince' | 'within'>, params: unknown[]): string {
  const conditions: string[] = [];
  const add = (condition: (n: number) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(params.length));
  };
  // Preflight gives a watermark only to sources that have `updated_at`.
  if (options.changedSince) add((n) => `updated_at > $${n}::timestamptz`, options.changedSince.toISOString());
  const within = options.within;
  if (within?.range.fromKey != null) add((n) => `id > $${n}::${within.idType}`, within.range.fromKey);
  if (within?.range.toKey != null) add((n) => `id <= $${n}::${within.idType}`, within.range.toKey);
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/**
 * Splits a table's primary keys into consecutive ranges of `batchSize` keys. One pass over the
 * primary-key index with row_number(): no OFFSET, no per-range query, a few seconds for 10M rows.
 * Soft-deleted rows are counted too, so ranges never hold more than `batchSize` live rows.
 */
export async function planKeyRanges(db: Queryable, options: PlanOptions): Promise<KeyRange[]> {
  const table = options.table ?? 'memories';
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const params: unknown[] = [batchSize];
  const { rows } = await db.query<{ key: string }>(
    `SELECT key FROM (
       SELECT id::text AS key, row_number() OVER (ORDER BY id) AS rn FROM ${table} ${planWhere(options, params)}
     ) k
     WHERE rn % $1 = 0
     ORDER BY rn`,
    params,
  );
  // The last key closes the final, partial range; an index lookup, unlike count(*) OVER ().
  const lastParams: unknown[] = [];
  const { rows: last } = await db.query<{ key: string }>(
    `SELECT id::text AS key FROM ${table} ${planWhere(options, lastParams)} ORDER BY id DESC LIMIT 1`,
    lastParams,
  );
  const boundaries = rows.map((r) => r.key);
  const lastKey = last[0]?.key;
  if (lastKey !== undefined && boundaries[boundaries.length - 1] !== lastKey) boundaries.push(lastKey);
  const ranges: KeyRange[] = [];
  let fromKey: string | null = options.within?.range.fromKey ?? null;
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
export async function planUserRanges(db: Queryable, options: UserPlanOptions): Promise<KeyRange[]> {
  const perRange = Math.max(1, Math.floor(options.memoriesPerRange));
  const params: unknown[] = [];
  const changed = planWhere(options, params);
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

/**
 * Slices of the whole key space for the Verify step, `rangesPerSlice` consecutive ranges each. The
 * first slice is open below and the last open above, so a row added after the plan still falls in
 * a slice; with no ranges at all, one slice covers everything.
 */
export function verifySlicesOf(ranges: readonly KeyRange[], rangesPerSlice: number): KeyRange[] {
  const per = Math.max(1, Math.floor(rangesPerSlice));
  const slices: KeyRange[] = [];
  for (let start = 0; start < ranges.length; start += per) {
    const last = ranges[Math.min(start + per, ranges.length) - 1] as KeyRange;
    slices.push({
      index: slices.length,
      fromKey: slices.length === 0 ? null : (ranges[start]?.fromKey ?? null),
      toKey: last.toKey,
    });
  }
  const final = slices[slices.length - 1];
  if (final) final.toKey = null;
  else slices.push({ index: 0, fromKey: null, toKey: null });
  return slices;
}
