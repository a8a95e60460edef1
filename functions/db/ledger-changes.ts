import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable } from './port.js';

const LEDGER = `${LEDGER_SCHEMA}.memory_ledger`;
const REMOVALS = `${LEDGER_SCHEMA}.memory_removals`;
const RUNS = `${LEDGER_SCHEMA}.runs`;

/**
 * Removes memory-ledger rows and notes each removal under the run: a row a later run rewrites
 * carries that run's id, but a removed row carries nothing, and what depended on it (a
 * relationship item's recorded outcome) must still learn it is gone. Inside the caller's
 * transaction, so the note and the removal commit together.
 */
export async function removeLedgerRows(session: Queryable, sourceIds: readonly string[], runId: string) {
  if (sourceIds.length === 0) return;
  await session.query(
    `WITH gone AS (DELETE FROM ${LEDGER} WHERE source_id = ANY($1::text[]) RETURNING source_id)
     INSERT INTO ${REMOVALS} (source_id, run_id) SELECT source_id, $2 FROM gone`,
    [sourceIds, runId],
  );
}

// Runs that started after `$1` (the run that recorded something), the running one included.
const LATER_RUNS = `SELECT run_id FROM ${RUNS}
   WHERE run_id <> $1 AND started_at >= (SELECT started_at FROM ${RUNS} WHERE run_id = $1)`;

/**
 * The source ids of the memories whose ledger rows runs after `since` wrote or removed, or null
 * when there are more than `limit` (or `since` is not a known run): too many to test one by one.
 */
export async function ledgerChangesSince(
  target: Queryable,
  since: string,
  limit: number,
): Promise<string[] | null> {
  const { rows } = await target.query<{ source_id: string; known: boolean }>(
    // UNION ALL, not UNION: the limit then stops the read early (a memory written and removed is
    // merely listed twice).
    `SELECT source_id, true AS known FROM ${LEDGER} WHERE run_id IN (${LATER_RUNS})
     UNION ALL
     SELECT source_id, true FROM ${REMOVALS} WHERE run_id IN (${LATER_RUNS})
     UNION ALL
     SELECT NULL, false WHERE NOT EXISTS (SELECT 1 FROM ${RUNS} WHERE run_id = $1)
     LIMIT $2`,
    [since, limit + 1],
  );
  if (rows.length > limit || rows.some((r) => !r.known)) return null;
  return rows.map((r) => r.source_id);
}

/**
 * Forgets removals older than every relationship item's record: no item can ask about them.
 */
export async function pruneLedgerRemovals(target: Queryable): Promise<void> {
  await target.query(
    `DELETE FROM ${REMOVALS} m WHERE NOT EXISTS (
       SELECT 1 FROM ${RUNS} r WHERE r.run_id = m.run_id AND r.started_at >= (
         SELECT min(i_run.started_at) FROM ${LEDGER_SCHEMA}.relationship_items i
           JOIN ${RUNS} i_run ON i_run.run_id = i.run_id))`,
  );
}
