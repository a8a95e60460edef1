/**
 * PostgreSQL's binary COPY format and the binary wire forms of the column types this project moves.
 * Pure: bytes in, values out and back. The loader and reader own the streams.
 *
 * Written here rather than taken from a library because the packages that exist either write only
 * the text format or cover neither pgvector nor arrays; embeddings must travel as bytes (parsing
 * float text is what made the original scripts slow, PLATFORM-NOTES).
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

const TEXT_OID = 25;
// PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC.
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

// ---------------------------------------------------------------------------------------------
// pgvector

// pgvector's binary form (vector_send): int16 dimensions, int16 unused, float4 big-endian each.
// Both directions copy the floats as one block and swap byte order natively (swap32): per-value
// readFloatBE/writeFloatBE cost more than the rest of a row's encoding together.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeVector(values: ArrayLike<number>): Buffer {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  const buf = Buffer.allocUnsafe(4 + floats.length * 4);
  buf.writeInt16BE(floats.length, 0);
  buf.writeInt16BE(0, 2);
  const body = buf.subarray(4);
  Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).copy(body);
  if (LITTLE_ENDIAN) body.swap32();
  return buf;
}

export function decodeVector(buf: Buffer): Float32Array {
  const dims = buf.readInt16BE(0);
  if (buf.length !== 4 + dims * 4) {
    throw new RangeError(`vector of ${dims} dimensions needs ${4 + dims * 4} bytes, got ${buf.length}`);
  }
  const out = new Float32Array(dims);
  const bytes = Buffer.from(out.buffer);
  buf.copy(bytes, 0, 4);
  if (LITTLE_ENDIAN) bytes.swap32();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field encoders

function encodeTimestamp(value: unknown): Buffer {
  const ms = value instanceof Date ? value.getTime() : Number(value);
  if (!Number.isFinite(ms)) throw new TypeError(`not a timestamp: ${String(value)}`);
  const buf = Buffer.allocUnsafe(8);
  buf.writeBigInt64BE(BigInt(Math.round(ms) - PG_EPOCH_MS) * 1000n, 0);
  return buf;
}

function encodeTextArray(value: unknown): Buffer {
  if (!Array.isArray(value)) throw new TypeError('text[] needs an array');
  const elements = value.map((v) => (v === null || v === undefined ? null : Buffer.from(String(v), 'utf8')));
  const hasNull = elements.some((e) => e === null) ? 1 : 0;
  // An empty array is written with zero dimensions, as array_send does.
  const headerSize = elements.length === 0 ? 12 : 20;
  const size = headerSize + elements.reduce((n, e) => n + 4 + (e?.length ?? 0), 0);
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(elements.length === 0 ? 0 : 1, 0);
  buf.writeInt32BE(hasNull, 4);
  buf.writeInt32BE(TEXT_OID, 8);
  let offset = 12;
  if (elements.length > 0) {
    buf.writeInt32BE(elements.length, 12);
    buf.writeInt32BE(1, 16);
    offset = 20;
  }
  for (const e of elements) {
    if (e === null) {
      buf.writeInt32BE(-1, offset);
      offset += 4;
    } else {
      buf.writeInt32BE(e.length, offset);
      e.copy(buf, offset + 4);
      offset += 4 + e.length;
    }
  }
  return buf;
}

function encodeUuid(value: unknown): Buffer {
  const hex = String(value).replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a uuid: ${String(value)}`);
  return Buffer.from(hex, 'hex');
}

export function encodeField(type: PgBinaryType, value: unknown): Buffer {
  switch (type) {
    case 'text':
      return Buffer.from(String(value), 'utf8');
    case 'uuid':
      return encodeUuid(value);
    case 'int4': {
      const buf = Buffer.allocUnsafe(4);
      buf.writeInt32BE(Number(value), 0);
      return buf;
    }
    case 'int8': {
      const buf = Buffer.allocUnsafe(8);
      buf.writeBigInt64BE(BigInt(value as number | bigint), 0);
      return buf;
    }
    case 'float8': {
      const buf = Buffer.allocUnsafe(8);
      buf.writeDoubleBE(Number(value), 0);
      return buf;
    }
    case 'bool':
      return Buffer.from([value ? 1 : 0]);
    case 'timestamp':
    case 'timestamptz':
      return encodeTimestamp(value);
    case 'jsonb': {
      // jsonb's binary form is a version byte (1) followed by the JSON text.
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const body = Buffer.from(text, 'utf8');
      const buf = Buffer.allocUnsafe(body.length + 1);
      buf[0] = 1;
      body.copy(buf, 1);
      return buf;
    }
    case 'text[]':
      return encodeTextArray(value);
    case 'vector':
      return Buffer.isBuffer(value) ? value : encodeVector(value as ArrayLike<number>);
  }
}

/** One tuple of a binary COPY stream: int16 field count, then int32 length (-1 for NULL) and bytes. */
export function encodeTuple(types: readonly PgBinaryType[], values: readonly unknown[]): Buffer {
  if (types.length !== values.length) {
    throw new RangeError(`tuple has ${values.length} values for ${types.length} columns`);
  }
  const fields: (Buffer | null)[] = new Array(types.length);
  let size = 2;
  for (let i = 0; i < types.length; i++) {
    const v = values[i];
    const field = v === null || v === undefined ? null : encodeField(types[i] as PgBinaryType, v);
    fields[i] = field;
    size += 4 + (field?.length ?? 0);
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt16BE(types.length, 0);
  let offset = 2;
  for (const field of fields) {
    if (field === null) {
      buf.writeInt32BE(-1, offset);
      offset += 4;
    } else {
      buf.writeInt32BE(field.length, offset);
      field.copy(buf, offset + 4);
      offset += 4 + field.length;
    }
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Field decoders

function decodeTextArray(buf: Buffer): (string | null)[] {
  const ndim = buf.readInt32BE(0);
  if (ndim === 0) return [];
  if (ndim !== 1) throw new RangeError(`only one-dimensional arrays are supported, got ${ndim}`);
  const length = buf.readInt32BE(12);
  const out: (string | null)[] = new Array(length);
  let offset = 20;
  for (let i = 0; i < length; i++) {
    const len = buf.readInt32BE(offset);
    offset += 4;
    if (len === -1) {
      out[i] = null;
    } else {
      out[i] = buf.toString('utf8', offset, offset + len);
      offset += len;
    }
  }
  return out;
}

function decodeUuid(buf: Buffer): string {
  const h = buf.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function decodeField(type: PgBinaryType, buf: Buffer | null): unknown {
  if (buf === null) return null;
  switch (type) {
    case 'text':
      return buf.toString('utf8');
    case 'uuid':
      return decodeUuid(buf);
    case 'int4':
      return buf.readInt32BE(0);
    case 'int8':
      return buf.readBigInt64BE(0);
    case 'float8':
      return buf.readDoubleBE(0);
    case 'bool':
      return buf[0] === 1;
    case 'timestamp':
    case 'timestamptz':
      return new Date(Number(buf.readBigInt64BE(0) / 1000n) + PG_EPOCH_MS);
    case 'jsonb':
      return JSON.parse(buf.toString('utf8', 1));
    case 'text[]':
      return decodeTextArray(buf);
    case 'vector':
      return decodeVector(buf);
  }
}

// ---------------------------------------------------------------------------------------------
// Stream parser

/**
 * Incremental parser of a binary COPY stream: feed chunks as they arrive, get complete tuples
 * (each field's raw bytes, or null). Holds at most one partial tuple between chunks.
 */
export class CopyBinaryParser {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private ended = false;

  push(chunk: Buffer): (Buffer | null)[][] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const tuples: (Buffer | null)[][] = [];
    let offset = 0;
    const buf = this.pending;
    if (!this.headerRead) {
      if (buf.length < 19) return tuples;
      if (!buf.subarray(0, 11).equals(COPY_BINARY_HEADER.subarray(0, 11))) {
        throw new Error('not a binary COPY stream (bad signature)');
      }
      const extension = buf.readInt32BE(15);
      if (buf.length < 19 + extension) return tuples;
      offset = 19 + extension;
      this.headerRead = true;
    }
    while (!this.ended && offset + 2 <= buf.length) {
      const count = buf.readInt16BE(offset);
      if (count === -1) {
        this.ended = true;
        offset += 2;
        break;
      }
      let cursor = offset + 2;
      const fields: (Buffer | null)[] = new Array(count);
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (cursor + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(cursor);
        cursor += 4;
        if (len === -1) {
          fields[i] = null;
          continue;
        }
        if (cursor + len > buf.length) {
          complete = false;
          break;
        }
        fields[i] = buf.subarray(cursor, cursor + len);
        cursor += len;
      }
      if (!complete) break;
      tuples.push(fields);
      offset = cursor;
    }
    // Copy the leftover so the big chunk it came from can be collected.
    this.pending = offset >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset));
    return tuples;
  }

  /** True once the trailer was seen. */
  get done(): boolean {
    return this.ended;
  }
}
