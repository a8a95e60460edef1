import { LEDGER_SCHEMA } from '../db/ledger-schema.js';
import type { Database } from '../db/port.js';

/**
 * The rows a snapshot of this database will hold, from the statistics (counting would read every
 * table once more): an estimate, good enough for a rate and an ETA. The activity counters start
 * at zero in a database copied from a template or after a crash; the planner's row count, kept in
 * the catalog, covers those. Zero when neither can be read.
 */
export async function estimateSnapshotRows(pool: Database): Promise<number> {
  try {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT coalesce(sum(greatest(s.n_live_tup, c.reltuples::bigint, 0)), 0)::bigint AS n
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname IN (current_schema(), $1)`,
      [LEDGER_SCHEMA],
    );
    return Number(rows[0]?.n ?? 0);
  } catch {
    return 0;
  }
}
