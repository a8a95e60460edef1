import { keySetDigest } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable } from './port.js';
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

/** A batch's range as Plan hands it out: the user map it was planned under and, if any, its record. */
export interface PlannedRange extends KeyRange {
  userMap?: string;
  settled?: SettledRange;
}

const TABLE = `${LEDGER_SCHEMA}.memory_ranges`;
const rangeKey = (range: KeyRange) => JSON.stringify([range.fromKey, range.toKey]);

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

/** Drops every record: the ledger is about to change in ways no record follows. */
export async function forgetSettledRanges(target: Queryable): Promise<void> {
  await target.query(`DELETE FROM ${TABLE}`);
}

export async function recordSettledRange(
  target: Queryable,
  range: PlannedRange & { userMap: string },
  settled: SettledRange,
  runId: string,
): Promise<void> {
  await target.query(
    `INSERT INTO ${TABLE} (range_key, digest, user_map, live, rejects, run_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6)
     ON CONFLICT (range_key) DO UPDATE SET digest = EXCLUDED.digest, user_map = EXCLUDED.user_map,
       live = EXCLUDED.live, rejects = EXCLUDED.rejects, run_id = EXCLUDED.run_id`,
    [
      rangeKey(range),
      settled.digest,
      range.userMap,
      settled.live,
      JSON.stringify(settled.rejectsByReason),
      runId,
    ],
  );
}
