/**
 * The node-postgres adapter of the database port: pooled connections, and COPY in PostgreSQL's
 * binary format through pg-copy-streams (embeddings travel as bytes, never as float text).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type KeyedRead, keyedQuery } from '../keyed-read.js';
import { BlockPool, CopyBinaryParser, type PgBinaryType, TupleWriter } from '../pg-binary.js';
import type { Database, DatabaseSession, QueryResult, Row, Tuple } from '../port.js';

// Tuples are written into chunks of about this size before they reach the socket: one write per
// tuple costs more in syscalls than the encoding itself.
const CHUNK_BYTES = 256 * 1024;
// Four COPYs in flight hold a few chunks each.
const chunks = new BlockPool(() => Buffer.allocUnsafe(CHUNK_BYTES), 16);

function* binaryCopyChunks(
  writer: TupleWriter,
  types: readonly PgBinaryType[],
  rows: Iterable<readonly unknown[]>,
): Generator<Buffer> {
  writer.header();
  for (const row of rows) {
    writer.tuple(types, row);
    if (writer.pending >= CHUNK_BYTES) yield* writer.take();
  }
  writer.trailer();
  yield* writer.take();
}

/** A session over one pooled node-postgres connection. */
class PgSession implements DatabaseSession {
  constructor(private readonly client: pg.PoolClient) {}

  query<R extends Row>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.client.query<R>(text, values as unknown[] | undefined);
  }

  async copyRowsIn(
    into: string,
    types: readonly PgBinaryType[],
    rows: Iterable<readonly unknown[]>,
  ): Promise<void> {
    const writer = new TupleWriter(CHUNK_BYTES, chunks);
    await pipeline(
      Readable.from(binaryCopyChunks(writer, types, rows)),
      this.client.query(copyFrom(`COPY ${into} FROM STDIN (FORMAT binary)`)),
    );
    // The server has answered, so it has every byte. After a failure the chunks are left to the
    // garbage collector instead: some may still wait in the socket's queue.
    writer.recycle();
  }

  async copyQueryOut(query: string, onTuple: (fields: Tuple) => void): Promise<number> {
    let count = 0;
    const parser = new CopyBinaryParser();
    const stream = this.client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
    for await (const chunk of stream) {
      for (const tuple of parser.push(chunk as Buffer)) {
        onTuple(tuple);
        count++;
      }
    }
    return count;
  }

  async *streamTuples(query: string): AsyncGenerator<Tuple> {
    // pg-copy-streams pauses the socket while the consumer has not asked for the next tuple.
    const parser = new CopyBinaryParser();
    const stream = this.client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
    try {
      for await (const chunk of stream) {
        for (const tuple of parser.push(chunk as Buffer)) yield tuple;
      }
    } finally {
      // A consumer that stops early leaves the COPY unfinished; the caller must then discard the
      // connection (release(error)) rather than return it to the pool.
      if (!parser.done) stream.destroy();
    }
  }

  readKeyed(read: KeyedRead, onTuple: (fields: Tuple) => void): Promise<number> {
    return this.copyQueryOut(keyedQuery(read), onTuple);
  }

  async copyIn(statement: string, data: AsyncIterable<Buffer>): Promise<void> {
    await pipeline(Readable.from(data), this.client.query(copyFrom(statement)));
  }

  copyTextOut(statement: string): AsyncIterable<Buffer> {
    return this.client.query(copyTo(statement)) as AsyncIterable<Buffer>;
  }

  release(error?: Error | boolean): void {
    this.client.release(error);
  }
}

/** A database reached through a node-postgres pool. */
export class PgDatabase implements Database {
  constructor(readonly pool: pg.Pool) {}

  query<R extends Row>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.pool.query<R>(text, values as unknown[] | undefined);
  }

  async connect(): Promise<DatabaseSession> {
    return new PgSession(await this.pool.connect());
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

export interface PgDatabaseOptions {
  connectionString: string;
  max?: number;
  connectionTimeoutMillis?: number;
  idleTimeoutMillis?: number;
  /** Server settings for every session (`-c name=value …`). */
  options?: string;
}

/**
 * A pooled database that survives lost connections: the pool only listens on idle clients, so
 * every client gets a listener of its own for the time it is checked out. The client is then
 * unqueryable, its next query fails (a transient error, retried), and the pool discards it on
 * release.
 */
export function openPgDatabase(options: PgDatabaseOptions): PgDatabase {
  const pool = new pg.Pool(options);
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new PgDatabase(pool);
}
