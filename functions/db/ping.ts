import type { Queryable } from './port.js';

/** One round trip: throws the driver's own error when the database cannot be reached. */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}
