/**
 * One node-postgres connection as a port session, for tools that talk to a database for a while
 * and then let go (scripts, the dataset generator, the test harness): a pool of one, closed with
 * the session.
 */
import type { DatabaseSession } from '../port.js';
import { openPgDatabase, type PgDatabaseOptions } from './pg-database.js';

export interface PgConnection {
  session: DatabaseSession;
  /** Releases the session and closes its connection. */
  close(): Promise<void>;
}

export async function openPgSession(
  connectionString: string,
  options: Omit<PgDatabaseOptions, 'connectionString' | 'max'> = {},
): Promise<PgConnection> {
  const db = openPgDatabase({ ...options, connectionString, max: 1 });
  let session: DatabaseSession;
  try {
    session = await db.connect();
  } catch (error) {
    await db.end().catch(() => undefined);
    throw error;
  }
  return {
    session,
    close: async () => {
      session.release();
      await db.end();
    },
  };
}

/** `work` on a session of its own, closed afterwards whatever `work` does. */
export async function withPgSession<T>(
  connectionString: string,
  work: (session: DatabaseSession) => Promise<T>,
  options: Omit<PgDatabaseOptions, 'connectionString' | 'max'> = {},
): Promise<T> {
  const { session, close } = await openPgSession(connectionString, options);
  try {
    return await work(session);
  } finally {
    await close();
  }
}
