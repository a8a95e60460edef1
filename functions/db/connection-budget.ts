import type { Queryable } from './port.js';

export interface ConnectionBudget {
  /** The server's `max_connections`. */
  max: number;
  /** Connections an ordinary role can still open: the limit, less the superusers' reserve and the sessions open now (this one counted as free). */
  free: number;
}

export async function connectionBudget(db: Queryable): Promise<ConnectionBudget> {
  const { rows } = await db.query<ConnectionBudget>(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
              - (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') + 1 AS free`,
  );
  return rows[0] as ConnectionBudget;
}
