/**
 * The database port: what the migration asks of a PostgreSQL database, whichever driver reaches it.
 * Two adapters implement it, chosen when the runtime is built: node-postgres connections
 * (`pg/pg-database.ts`, binary COPY) and the RDS Data API (`data-api/data-api-pool.ts`, statements
 * and cursors). Everything above `db/` sees only these types, so no caller asks which driver it has.
 */
import type { KeyedRead } from './keyed-read.js';
import type { PgBinaryType } from './pg-binary.js';

/** A result row: column name to value, as the driver decoded it. */
// biome-ignore lint/suspicious/noExplicitAny: rows are typed by each query's own type argument.
export type Row = Record<string, any>;

export interface QueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

/** Anything SQL can be sent to: a database (one statement, any connection) or a session. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: as node-postgres, untyped queries give untyped rows.
  query<R extends Row = any>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** One tuple of binary COPY: each field's raw bytes (null for SQL NULL). */
export type Tuple = (Buffer | null)[];

/** One connection (or, over the Data API, one transaction's worth of statements). */
export interface DatabaseSession extends Queryable {
  /** `COPY <into> FROM STDIN (FORMAT binary)` of the rows, typed column by column. */
  copyRowsIn(into: string, types: readonly PgBinaryType[], rows: Iterable<readonly unknown[]>): Promise<void>;
  /** Every tuple of `query`, pushed to `onTuple` as fast as it arrives; resolves to the count. */
  copyQueryOut(query: string, onTuple: (fields: Tuple) => void): Promise<number>;
  /**
   * The tuples of `query`, pulled one at a time (two can be merge-joined with only a chunk of each
   * in memory). A consumer that stops early must release the session with an error.
   */
  streamTuples(query: string): AsyncGenerator<Tuple>;
  /** Each row of a keyed read, in the read's order. */
  readKeyed(read: KeyedRead, onTuple: (fields: Tuple) => void): Promise<number>;
  /**
   * A `COPY … FROM STDIN` statement fed with `data` as it is, in the format the statement names:
   * text for snapshot restores, binary tuples a caller encoded itself (the dataset generator).
   */
  copyIn(statement: string, data: AsyncIterable<Buffer>): Promise<void>;
  /** The output of a text-format `COPY … TO STDOUT` statement (logical snapshots). */
  copyTextOut(statement: string): AsyncIterable<Buffer>;
  /** Returns the session; with an error, it is discarded instead of reused. */
  release(error?: Error | boolean): void;
}

/** A database: sessions on demand, or one statement on any of them. */
export interface Database extends Queryable {
  connect(): Promise<DatabaseSession>;
  end(): Promise<void>;
}

/**
 * `work` inside BEGIN … COMMIT on one session (taken from `db` when it is a database), rolled back
 * when it throws. A failed ROLLBACK (the connection is gone) does not hide the error behind it.
 */
export async function inTransaction<T>(
  db: Database | DatabaseSession,
  work: (session: DatabaseSession) => Promise<T>,
  onError: (error: unknown) => unknown = (error) => error,
): Promise<T> {
  const pooled = 'connect' in db ? await db.connect() : undefined;
  const session = pooled ?? (db as DatabaseSession);
  try {
    await session.query('BEGIN');
    try {
      const result = await work(session);
      await session.query('COMMIT');
      return result;
    } catch (error) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw onError(error);
    }
  } finally {
    pooled?.release();
  }
}

/**
 * `work` with one session of each database. After a failure both are discarded instead of
 * pooled: a COPY the failure interrupted leaves its connection mid-protocol.
 */
export async function withSessions<T>(
  source: Database,
  target: Database,
  work: (source: DatabaseSession, target: DatabaseSession) => Promise<T>,
): Promise<T> {
  const sourceSession = await source.connect();
  let targetSession: DatabaseSession | undefined;
  let failure: unknown;
  try {
    targetSession = await target.connect();
    return await work(sourceSession, targetSession);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    sourceSession.release(failure instanceof Error ? failure : undefined);
    targetSession?.release(failure instanceof Error ? failure : undefined);
  }
}
