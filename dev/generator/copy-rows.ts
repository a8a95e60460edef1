import { Readable } from 'node:stream';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from '../../functions/db/pg-binary.js';
import type { DatabaseSession } from '../../functions/db/port.js';

// Tuples are gathered into chunks of about this size: one stream write per chunk, not per row.
const CHUNK_BYTES = 256 * 1024;

/** Wraps tuples in the binary COPY header/trailer, gathered into chunks; pulled lazily. */
function* copyChunks(tuples: Iterable<Buffer>): Generator<Buffer> {
  let pending: Buffer[] = [COPY_BINARY_HEADER];
  let size = COPY_BINARY_HEADER.length;
  for (const tuple of tuples) {
    pending.push(tuple);
    size += tuple.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.concat(pending, size);
      pending = [];
      size = 0;
    }
  }
  pending.push(COPY_BINARY_TRAILER);
  yield Buffer.concat(pending, size + COPY_BINARY_TRAILER.length);
}

/**
 * Streams tuples into `table` with `COPY … FROM STDIN (FORMAT binary)`. The tuple iterable is only
 * pulled as fast as the server takes the data (stream backpressure), so a dataset of any size holds
 * a few chunks in memory at a time.
 */
export async function copyRows(
  session: DatabaseSession,
  table: string,
  columns: readonly string[],
  tuples: Iterable<Buffer>,
): Promise<void> {
  await session.copyIn(
    `COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`,
    Readable.from(copyChunks(tuples), { objectMode: false, highWaterMark: 2 * CHUNK_BYTES }),
  );
}
