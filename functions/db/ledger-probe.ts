import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable, Row } from './port.js';

/**
 * The rows of a ledger table for these keys (`l.` names its columns in `columns`), one
 * primary-key probe each: `= ANY` on a ledger not yet analyzed can make the planner scan all of it
 * for every batch.
 */
export async function probeLedger<R extends Row>(
  db: Queryable,
  ledger: { table: 'memory_ledger'; key: 'source_id' } | { table: 'relationship_ledger'; key: 'source_key' },
  columns: string,
  keys: readonly string[],
): Promise<R[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<R>(
    `SELECT ${columns}
       FROM unnest($1::text[]) AS k(key)
       CROSS JOIN LATERAL (
         SELECT * FROM ${LEDGER_SCHEMA}.${ledger.table} WHERE ${ledger.key} = k.key LIMIT 1
       ) l`,
    [keys],
  );
  return rows;
}

export const MEMORY_LEDGER = { table: 'memory_ledger', key: 'source_id' } as const;
export const RELATIONSHIP_LEDGER = { table: 'relationship_ledger', key: 'source_key' } as const;
