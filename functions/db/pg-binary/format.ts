/**
 * PostgreSQL's binary COPY format: the column types this project moves, the stream's header and
 * trailer, and the timestamp epoch. The codecs, the writer and the parser build on these.
 */

export type PgBinaryType =
  | 'text'
  | 'uuid'
  | 'int4'
  | 'int8'
  | 'float8'
  | 'bool'
  | 'timestamp'
  | 'timestamptz'
  | 'jsonb'
  | 'text[]'
  | 'vector';

/** `PGCOPY\n\377\r\n\0`, flags 0, header extension length 0. */
export const COPY_BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** A field count of -1 ends the data. */
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

export const TEXT_OID = 25;
// PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC.
export const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

// An int64 of microseconds as two 32-bit halves while it is a safe integer (years 1715 to 2285),
// exact in a double; BigInt only beyond. Every row carries several timestamps, and a BigInt per
// value showed up among the batch's allocations.
const TWO_32 = 2 ** 32;

/** Whole milliseconds since 2000-01-01 as int64 microseconds. */
export function writeMicroseconds(buf: Buffer, millis: number, at: number): void {
  const micros = millis * 1000;
  if (!Number.isSafeInteger(micros)) {
    buf.writeBigInt64BE(BigInt(millis) * 1000n, at);
    return;
  }
  const high = Math.floor(micros / TWO_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(micros - high * TWO_32, at + 4);
}

/** int64 microseconds as milliseconds since 2000-01-01, truncated toward zero as int64 division does. */
export function readMilliseconds(buf: Buffer): number {
  const micros = buf.readInt32BE(0) * TWO_32 + buf.readUInt32BE(4);
  if (!Number.isSafeInteger(micros)) return Number(buf.readBigInt64BE(0) / 1000n);
  return (micros - (micros % 1000)) / 1000;
}
