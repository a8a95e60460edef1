import type { BlockLease, BlockPool } from './block-pools.js';
import {
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  PG_EPOCH_MS,
  type PgBinaryType,
  TEXT_OID,
  writeMicroseconds,
} from './format.js';
import { LITTLE_ENDIAN } from './vectors.js';

/**
 * Writes binary COPY tuples straight into large chunks: no Buffer per field or per tuple and no
 * concatenation, which at thousands of 6 KB rows a second is what the garbage collector would
 * otherwise spend its time on. Variable-length fields reserve their length word and fill it in
 * once written.
 */
export class TupleWriter {
  private buf: Buffer;
  private offset = 0;
  private readonly chunks: Buffer[] = [];
  private readonly lease?: BlockLease<Buffer>;

  constructor(
    private readonly chunkBytes = 1 << 20,
    pool?: BlockPool<Buffer>,
  ) {
    this.lease = pool?.lease();
    this.buf = this.allocate(chunkBytes);
  }

  /**
   * Gives the pooled chunks back. Only once every chunk taken has been consumed (the server has
   * answered the COPY): later writers overwrite them.
   */
  recycle(): void {
    this.lease?.release();
  }

  private allocate(bytes: number): Buffer {
    if (!this.lease || bytes > this.chunkBytes) return Buffer.allocUnsafe(Math.max(this.chunkBytes, bytes));
    return this.lease.acquire();
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.offset + this.chunks.reduce((n, c) => n + c.length, 0);
  }

  header(): this {
    this.raw(COPY_BINARY_HEADER);
    return this;
  }

  trailer(): this {
    this.raw(COPY_BINARY_TRAILER);
    return this;
  }

  /** The finished chunks, leaving the writer empty. */
  take(): Buffer[] {
    if (this.offset > 0) {
      this.chunks.push(this.buf.subarray(0, this.offset));
      this.buf =
        this.buf.length - this.offset >= 64 * 1024
          ? this.buf.subarray(this.offset)
          : this.allocate(this.chunkBytes);
      this.offset = 0;
    }
    return this.chunks.splice(0);
  }

  tuple(types: readonly PgBinaryType[], values: readonly unknown[]): this {
    if (types.length !== values.length) {
      throw new RangeError(`tuple has ${values.length} values for ${types.length} columns`);
    }
    this.ensure(2);
    this.buf.writeInt16BE(types.length, this.offset);
    this.offset += 2;
    for (let i = 0; i < types.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        this.ensure(4);
        this.buf.writeInt32BE(-1, this.offset);
        this.offset += 4;
      } else {
        this.field(types[i] as PgBinaryType, v);
      }
    }
    return this;
  }

  private raw(bytes: Buffer): void {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.offset);
    this.offset += bytes.length;
  }

  /** Room for n more bytes in the current chunk (a field never spans chunks). */
  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    if (this.offset > 0) this.chunks.push(this.buf.subarray(0, this.offset));
    this.buf = this.allocate(n);
    this.offset = 0;
  }

  private fixed(n: number): number {
    this.ensure(4 + n);
    this.buf.writeInt32BE(n, this.offset);
    const at = this.offset + 4;
    this.offset = at + n;
    return at;
  }

  private utf8(text: string, prefix?: number): void {
    // Worst case 3 bytes per UTF-16 unit; the length word is filled in after the write.
    this.ensure(4 + (prefix === undefined ? 0 : 1) + text.length * 3);
    const start = this.offset;
    let at = start + 4;
    if (prefix !== undefined) this.buf[at++] = prefix;
    const written = this.buf.write(text, at, 'utf8');
    this.buf.writeInt32BE(at + written - start - 4, start);
    this.offset = at + written;
  }

  private field(type: PgBinaryType, value: unknown): void {
    switch (type) {
      case 'text':
        this.utf8(String(value));
        return;
      case 'jsonb':
        // jsonb's binary form is a version byte (1) followed by the JSON text.
        this.utf8(typeof value === 'string' ? value : JSON.stringify(value), 1);
        return;
      case 'uuid': {
        const hex = String(value).replace(/-/g, '');
        if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a uuid: ${String(value)}`);
        const at = this.fixed(16);
        this.buf.write(hex, at, 'hex');
        return;
      }
      // fixed() may move to a new chunk, so it runs before `this.buf` is read.
      case 'int4': {
        const at = this.fixed(4);
        this.buf.writeInt32BE(Number(value), at);
        return;
      }
      case 'int8': {
        const at = this.fixed(8);
        this.buf.writeBigInt64BE(BigInt(value as number | bigint), at);
        return;
      }
      case 'float8': {
        const at = this.fixed(8);
        this.buf.writeDoubleBE(Number(value), at);
        return;
      }
      case 'bool': {
        const at = this.fixed(1);
        this.buf[at] = value ? 1 : 0;
        return;
      }
      case 'timestamp':
      case 'timestamptz': {
        const ms = value instanceof Date ? value.getTime() : Number(value);
        if (!Number.isFinite(ms)) throw new TypeError(`not a timestamp: ${String(value)}`);
        const at = this.fixed(8);
        writeMicroseconds(this.buf, Math.round(ms) - PG_EPOCH_MS, at);
        return;
      }
      case 'text[]':
        this.textArray(value);
        return;
      case 'vector': {
        if (Buffer.isBuffer(value)) {
          this.raw(lengthPrefixed(value));
          return;
        }
        const floats = value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>);
        const at = this.fixed(4 + floats.length * 4);
        this.buf.writeInt16BE(floats.length, at);
        this.buf.writeInt16BE(0, at + 2);
        const body = this.buf.subarray(at + 4, at + 4 + floats.byteLength);
        Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).copy(body);
        if (LITTLE_ENDIAN) body.swap32();
        return;
      }
    }
  }

  private textArray(value: unknown): void {
    if (!Array.isArray(value)) throw new TypeError('text[] needs an array');
    const items = value as unknown[];
    this.ensure(
      4 +
        20 +
        items.reduce<number>((n, v) => n + 4 + (v === null || v === undefined ? 0 : String(v).length * 3), 0),
    );
    const start = this.offset;
    let at = start + 4;
    const hasNull = items.some((v) => v === null || v === undefined) ? 1 : 0;
    // An empty array is written with zero dimensions, as array_send does.
    this.buf.writeInt32BE(items.length === 0 ? 0 : 1, at);
    this.buf.writeInt32BE(hasNull, at + 4);
    this.buf.writeInt32BE(TEXT_OID, at + 8);
    at += 12;
    if (items.length > 0) {
      this.buf.writeInt32BE(items.length, at);
      this.buf.writeInt32BE(1, at + 4);
      at += 8;
    }
    for (const item of items) {
      if (item === null || item === undefined) {
        this.buf.writeInt32BE(-1, at);
        at += 4;
      } else {
        const written = this.buf.write(String(item), at + 4, 'utf8');
        this.buf.writeInt32BE(written, at);
        at += 4 + written;
      }
    }
    this.buf.writeInt32BE(at - start - 4, start);
    this.offset = at;
  }
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** One field's binary form (the bytes after its length word). */
export function encodeField(type: PgBinaryType, value: unknown): Buffer {
  // A one-field tuple, minus its field count and length word.
  return encodeTuple([type], [value]).subarray(6);
}

/** One tuple of a binary COPY stream: int16 field count, then int32 length (-1 for NULL) and bytes. */
export function encodeTuple(types: readonly PgBinaryType[], values: readonly unknown[]): Buffer {
  const chunks = new TupleWriter(16 * 1024).tuple(types, values).take();
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}
