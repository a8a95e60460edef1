import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { copyRowsInDataApi, dataApiTuples } from './data-api/data-api-copy.js';
import { isDataApiSession } from './data-api/data-api-pool.js';
import { keyedTuplesThroughDataApi } from './data-api/data-api-wide-rows.js';
import { type KeyedRead, keyedQuery } from './keyed-read.js';
import { BlockPool, CopyBinaryParser, type PgBinaryType, TupleWriter } from './pg-binary.js';

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

/** A table or column name as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The columns as a quoted SQL list: `"id", "userId", …` (the target's names are camelCase). */
export function columnList(columns: readonly { name: string }[]): string {
  return columns.map((c) => `"${c.name}"`).join(', ');
}

/** An upsert's `"col" = EXCLUDED."col", …` for every column but the key columns in `keep`. */
export function excludedSet(columns: readonly { name: string }[], keep: readonly string[]): string {
  return columns
    .filter((c) => !keep.includes(c.name))
    .map((c) => `"${c.name}" = EXCLUDED."${c.name}"`)
    .join(', ');
}

/** `COPY <table> (<columns>) FROM STDIN (FORMAT binary)` of the given rows, typed column by column. */
export async function copyRowsIn(
  client: ClientBase,
  table: string,
  columns: readonly { name: string; type: PgBinaryType }[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const into = `${table} (${columnList(columns)})`;
  const types = columns.map((c) => c.type);
  if (isDataApiSession(client)) return copyRowsInDataApi(client, into, types, rows);
  const sql = `COPY ${into} FROM STDIN (FORMAT binary)`;
  const writer = new TupleWriter(CHUNK_BYTES, chunks);
  await pipeline(Readable.from(binaryCopyChunks(writer, types, rows)), client.query(copyFrom(sql)));
  // The server has answered, so it has every byte. After a failure the chunks are left to the
  // garbage collector instead: some may still wait in the socket's queue.
  writer.recycle();
}

async function drain(
  tuples: AsyncIterable<(Buffer | null)[]>,
  onTuple: (fields: (Buffer | null)[]) => void,
): Promise<number> {
  let count = 0;
  for await (const tuple of tuples) {
    onTuple(tuple);
    count++;
  }
  return count;
}

/** Runs `COPY (<query>) TO STDOUT (FORMAT binary)` and hands each tuple's raw fields to `onTuple`. */
export async function copyQueryOut(
  client: ClientBase,
  query: string,
  onTuple: (fields: (Buffer | null)[]) => void,
): Promise<number> {
  if (isDataApiSession(client)) return drain(dataApiTuples(client, query), onTuple);
  let count = 0;
  const parser = new CopyBinaryParser();
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  for await (const chunk of stream) {
    for (const tuple of parser.push(chunk as Buffer)) {
      onTuple(tuple);
      count++;
    }
  }
  return count;
}

/**
 * Hands each row of a keyed read, as binary COPY fields, to `onTuple` in the read's order: by
 * binary COPY over pg, by cursor pages over the Data API (whose wide rows arrive in pieces).
 */
export async function readKeyed(
  client: ClientBase,
  read: KeyedRead,
  onTuple: (fields: (Buffer | null)[]) => void,
): Promise<number> {
  if (isDataApiSession(client)) return drain(keyedTuplesThroughDataApi(client, read), onTuple);
  return copyQueryOut(client, keyedQuery(read), onTuple);
}

/**
 * Pull-based `COPY (<query>) TO STDOUT (FORMAT binary)`: the next tuple is parsed only when asked
 * for, and pg-copy-streams pauses the socket meanwhile, so two of these can be merge-joined with
 * only a chunk of each in memory. (copyQueryOut pushes every tuple and cannot be paused; it is the
 * faster of the two for a consumer that keeps up.)
 */
export async function* streamTuples(client: ClientBase, query: string): AsyncGenerator<(Buffer | null)[]> {
  if (isDataApiSession(client)) {
    yield* dataApiTuples(client, query);
    return;
  }
  const parser = new CopyBinaryParser();
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
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
