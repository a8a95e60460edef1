import { keySetDigest } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable } from './port.js';
import { planKeyRanges } from './range-planner.js';
import type { KeyRange } from './source-reader.js';

/**
 * What a real run left a key range of memories as (docs/design.md, "Skipping what is done"): the
 * digest of its source rows' hashes under the processing version, and what the ledger then held
 * for its live memories. A later batch over the same keys whose rows and version digest alike, under
 * the same user map, has nothing to do and needs only its one hashing query to know it.
 */
export interface SettledRange {
  digest: string;
  /** Live memories of the range, every one of them migrated or rejected. */
  live: number;
  rejectsByReason: Record<string, number>;
}

/** A recorded range inside a Map item that holds several (see `mergeSettledRanges`). */
interface RangePart {
  fromKey: string | null;
  toKey: string | null;
  settled: SettledRange;
}

/**
 * A batch's range as Plan hands it out: the user map it was planned under and, if any, its record;
 * or, for consecutive recorded ranges handed out together, the span and its parts.
 */
export interface PlannedRange extends KeyRange {
  userMap?: string;
  settled?: SettledRange;
  parts?: RangePart[];
}

/**
 * Items Plan aims for over the recorded ranges (one for each of the Map's default four slots: a
 * second wave of small items costs a rerun more than it spreads), and the most ranges one item holds.
 */
const MERGED_ITEMS = 4;
const MAX_RANGES_PER_ITEM = 16;

/**
 * Hands out runs of consecutive recorded ranges as one Map item each (up to MAX_RANGES_PER_ITEM,
 * about MERGED_ITEMS items in all). A rerun's changes are spread over the key space: one memory
 * edited in a hundred touches every range, and a transaction per range costs more than the few
 * memories it writes. An item over several ranges confirms each by its digest, finds the changed
 * memories of the others and writes them in transactions of at most a batch's size. Ranges
 * without a record (a first run's, a failed run's rest) stay one item each: all their memories
 * are work, and the Map spreads it. The result is numbered afresh, in key order.
 */
export function mergeSettledRanges(ranges: readonly PlannedRange[]): PlannedRange[] {
  const recorded = ranges.filter((r) => r.settled).length;
  const size = Math.min(MAX_RANGES_PER_ITEM, Math.ceil(recorded / MERGED_ITEMS));
  if (size < 2) return [...ranges];
  const items: Omit<PlannedRange, 'index'>[] = [];
  let run: PlannedRange[] = [];
  const flush = () => {
    for (let i = 0; i < run.length; i += size) {
      const group = run.slice(i, i + size);
      const [first] = group;
      const last = group.at(-1);
      if (!first || !last) continue;
      if (group.length === 1) {
        items.push(first);
        continue;
      }
      items.push({
        fromKey: first.fromKey,
        toKey: last.toKey,
        ...(first.userMap === undefined ? {} : { userMap: first.userMap }),
        parts: group.map((r) => ({ fromKey: r.fromKey, toKey: r.toKey, settled: r.settled as SettledRange })),
      });
    }
    run = [];
  };
  for (const range of ranges) {
    if (range.settled) {
      run.push(range);
      continue;
    }
    flush();
    items.push(range);
  }
  flush();
  return items.map((item, index) => ({ ...item, index }));
}

const TABLE = `${LEDGER_SCHEMA}.memory_ranges`;
const rangeKey = (range: Pick<KeyRange, 'fromKey' | 'toKey'>) => JSON.stringify([range.fromKey, range.toKey]);

/** Where each source user maps, as one digest (the map is small: one row per source user). */
export function userMapDigest(target: Queryable): Promise<string> {
  return keySetDigest(
    target,
    'ROW(source_user_id, target_user_id)::text',
    `FROM ${LEDGER_SCHEMA}.user_map`,
  ).then((d) => `${d.count}:${d.hashSum}`);
}

/**
 * The ranges with the records that still describe them. Records of another cut of the key space
 * are dropped first: a run with other bounds may have rewritten memories they cover.
 */
export async function settledRanges(
  target: Queryable,
  ranges: readonly KeyRange[],
  userMap: string,
): Promise<PlannedRange[]> {
  const { rows } = await target.query<{ range_key: string; user_map: string; settled: SettledRange }>(
    `SELECT range_key, user_map, jsonb_build_object('digest', digest, 'live', live, 'rejectsByReason', rejects) AS settled
       FROM ${TABLE}`,
  );
  const planned = new Set(ranges.map(rangeKey));
  if (rows.some((r) => !planned.has(r.range_key))) {
    await forgetSettledRanges(target);
    return ranges.map((range) => ({ ...range, userMap }));
  }
  const byKey = new Map(rows.filter((r) => r.user_map === userMap).map((r) => [r.range_key, r.settled]));
  return ranges.map((range) => {
    const settled = byKey.get(rangeKey(range));
    return settled ? { ...range, userMap, settled } : { ...range, userMap };
  });
}

/** A recorded range grown past this many batches is cut anew. */
const GROWN = 1.5;

/**
 * The cut the records describe, while it still fits the source (docs/design.md, "Skipping what is
 * done"). New memories then fall into the recorded ranges, where a fresh cut by row number would
 * shift every boundary after the first of them and leave no record describing it. A range grown
 * past half again a batch (or a smaller `--batch-size`) is cut anew and its record dropped; keys
 * past the last recorded range get ranges of their own. A boundary whose memory was deleted for
 * good still bounds its range. Null, to plan afresh, when there is no record or the records do not
 * chain from the first key.
 */
export async function recordedCut(
  source: Queryable,
  target: Queryable,
  options: { batchSize: number; idType: string },
): Promise<KeyRange[] | null> {
  const { rows } = await target.query<{ range_key: string }>(`SELECT range_key FROM ${TABLE}`);
  const next = new Map<string | null, string | null>();
  for (const r of rows) {
    const [from, to] = JSON.parse(r.range_key) as [string | null, string | null];
    if (next.has(from)) return null;
    next.set(from, to);
  }
  const chain: { fromKey: string | null; toKey: string | null }[] = [];
  for (let from: string | null = null; next.has(from) && chain.length <= rows.length; ) {
    const to: string | null = next.get(from) ?? null;
    chain.push({ fromKey: from, toKey: to });
    if (to === null) break;
    from = to;
  }
  if (chain.length === 0 || chain.length !== rows.length) return null;
  // Every range's end, and past the last recorded one the end of the key space (null): all the
  // memories.
  const position = await keysUpTo(source, options.idType, [...chain.map((r) => r.toKey), null]);
  const total = position.get(null) ?? 0;
  const cut: KeyRange[] = [];
  const recut: typeof chain = [];
  const afresh = async (range: { fromKey: string | null; toKey: string | null }) => {
    const pieces = await planKeyRanges(source, {
      batchSize: options.batchSize,
      within: { range: { index: 0, ...range }, idType: options.idType },
    });
    const last = pieces.at(-1);
    // The last piece ends where the range did, so the cut still covers every key.
    if (last && range.toKey !== null) last.toKey = range.toKey;
    cut.push(...pieces);
  };
  let before = 0;
  for (const range of chain) {
    const at = position.get(range.toKey) ?? total;
    if (at - before > options.batchSize * GROWN) {
      recut.push(range);
      await afresh(range);
    } else cut.push({ index: 0, ...range });
    before = at;
  }
  const last = chain.at(-1);
  if (last?.toKey != null && total > before) await afresh({ fromKey: last.toKey, toKey: null });
  if (recut.length > 0) {
    await target.query(`DELETE FROM ${TABLE} WHERE range_key = ANY($1::text[])`, [recut.map(rangeKey)]);
  }
  return cut.map((range, index) => ({ ...range, index }));
}

/**
 * How many memories have a key up to each of these (in the key type's order), whether or not the
 * key itself is still there: a boundary whose memory was deleted for good still bounds its range.
 * Null stands for the end of the key space (every memory). One pass over the keys, each boundary
 * sorted in after the memories equal to it, null after all of them.
 */
async function keysUpTo(
  source: Queryable,
  idType: string,
  keys: readonly (string | null)[],
): Promise<Map<string | null, number>> {
  const { rows } = await source.query<{ key: string | null; rn: string }>(
    `SELECT key, rn FROM (
       SELECT key, is_end, count(*) FILTER (WHERE NOT is_end) OVER (ORDER BY k, is_end ROWS UNBOUNDED PRECEDING) AS rn
         FROM (SELECT id AS k, NULL::text AS key, false AS is_end FROM memories
               UNION ALL
               SELECT e::${idType}, e, true FROM unnest($1::text[]) AS e) u) w
      WHERE is_end`,
    [keys],
  );
  return new Map(rows.map((r) => [r.key, Number(r.rn)]));
}

/** Drops every record: the ledger is about to change in ways no record follows. */
export async function forgetSettledRanges(target: Queryable): Promise<void> {
  await target.query(`DELETE FROM ${TABLE}`);
}

/** Records ranges as settled under one user map, in one statement. */
export async function recordSettledRanges(
  target: Queryable,
  userMap: string,
  ranges: readonly { range: Pick<KeyRange, 'fromKey' | 'toKey'>; settled: SettledRange }[],
  runId: string,
): Promise<void> {
  if (ranges.length === 0) return;
  await target.query(
    `INSERT INTO ${TABLE} (range_key, digest, user_map, live, rejects, run_id)
     SELECT r.range_key, r.digest, $3, r.live, r.rejects, $6
       FROM unnest($1::text[], $2::text[], $4::int[], $5::jsonb[]) AS r(range_key, digest, live, rejects)
     ON CONFLICT (range_key) DO UPDATE SET digest = EXCLUDED.digest, user_map = EXCLUDED.user_map,
       live = EXCLUDED.live, rejects = EXCLUDED.rejects, run_id = EXCLUDED.run_id`,
    [
      ranges.map((r) => rangeKey(r.range)),
      ranges.map((r) => r.settled.digest),
      userMap,
      ranges.map((r) => r.settled.live),
      ranges.map((r) => JSON.stringify(r.settled.rejectsByReason)),
      runId,
    ],
  );
}
