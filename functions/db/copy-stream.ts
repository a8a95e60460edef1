import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import {
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  CopyBinaryParser,
  encodeTuple,
  type PgBinaryType,
} from './pg-binary.js';

// Tuples are gathered into chunks of about this size before they reach the socket: one write per
// tuple costs more in syscalls than the encoding itself.
const CHUNK_BYTES = 256 * 1024;

function* binaryCopyChunks(
  types: readonly PgBinaryType[],
  rows: Iterable<readonly unknown[]>,
): Generator<Buffer> {
  let parts: Buffer[] = [COPY_BINARY_HEADER];
  let size = COPY_BINARY_HEADER.length;
  for (const row of rows) {
    const tuple = encodeTuple(types, row);
    parts.push(tuple);
    size += tuple.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  parts.push(COPY_BINARY_TRAILER);
  yield Buffer.concat(parts, size + COPY_BINARY_TRAILER.length);
}

/** `COPY <table> (<columns>) FROM STDIN (FORMAT binary)` of the given rows, typed column by column. */
export async function copyRowsIn(
  client: ClientBase,
  table: string,
  columns: readonly { name: string; type: PgBinaryType }[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const columnList = columns.map((c) => `"${c.name}"`).join(', ');
  const sql = `COPY ${table} (${columnList}) FROM STDIN (FORMAT binary)`;
  const types = columns.map((c) => c.type);
  await pipeline(Readable.from(binaryCopyChunks(types, rows)), client.query(copyFrom(sql)));
}

/** Runs `COPY (<query>) TO STDOUT (FORMAT binary)` and hands each tuple's raw fields to `onTuple`. */
export async function copyQueryOut(
  client: ClientBase,
  query: string,
  onTuple: (fields: (Buffer | null)[]) => void,
): Promise<number> {
  const parser = new CopyBinaryParser();
  let count = 0;
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  for await (const chunk of stream) {
    for (const tuple of parser.push(chunk as Buffer)) {
      onTuple(tuple);
      count++;
    }
  }
  return count;
}
