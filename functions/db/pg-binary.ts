/**
 * PostgreSQL's binary COPY format and the binary wire forms of the column types this project moves.
 * Pure: bytes in, values out and back. The loader and reader own the streams.
 *
 * Written here rather than taken from a library because the packages that exist either write only
 * the text format or cover neither pgvector nor arrays; embeddings must travel as bytes (parsing
 * float text is what made the original scripts slow).
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
// Timestamps

// An int64 of microseconds as two 32-bit halves while it is a safe integer (years 1715 to 2285),
// exact in a double; BigInt only beyond. Every row carries several timestamps, and a BigInt per
// value showed up among the batch's allocations.
const TWO_32 = 2 ** 32;

/** Whole milliseconds since 2000-01-01 as int64 microseconds. */
function writeMicroseconds(buf: Buffer, millis: number, at: number): void {
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
function readMilliseconds(buf: Buffer): number {
  const micros = buf.readInt32BE(0) * TWO_32 + buf.readUInt32BE(4);
  if (!Number.isSafeInteger(micros)) return Number(buf.readBigInt64BE(0) / 1000n);
  return (micros - (micros % 1000)) / 1000;
}

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

export function decodeVector(buf: Buffer, slab?: Float32Slab): Float32Array {
  const dims = buf.readInt16BE(0);
  if (buf.length !== 4 + dims * 4) {
    throw new RangeError(`vector of ${dims} dimensions needs ${4 + dims * 4} bytes, got ${buf.length}`);
  }
  const out = slab ? slab.take(dims) : new Float32Array(dims);
  const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  buf.copy(bytes, 0, 4);
  if (LITTLE_ENDIAN) bytes.swap32();
  return out;
}

/** Blocks taken by one user (a batch's slab, a COPY's writer), given back together when it is done. */
export interface BlockLease<T> {
  acquire(): T;
  release(): void;
}

/**
 * Large blocks kept for reuse once their user is done with them. Fresh memory costs a page fault
 * per 4 KB on first touch and external memory the garbage collector must notice before it frees
 * it: at ~190 MB of COPY data and ~150 MB of vectors per 20,000 memories, the faults alone were
 * about a tenth of the client's CPU in a one-run process.
 */
export class BlockPool<T> {
  private readonly free: T[] = [];

  constructor(
    private readonly create: () => T,
    private readonly keep: number,
  ) {}

  acquire(): T {
    return this.free.pop() ?? this.create();
  }

  release(blocks: readonly T[]): void {
    for (const block of blocks) if (this.free.length < this.keep) this.free.push(block);
  }

  lease(): BlockLease<T> {
    const taken: T[] = [];
    return {
      acquire: () => {
        const block = this.acquire();
        taken.push(block);
        return block;
      },
      release: () => this.release(taken.splice(0)),
    };
  }
}

const SLAB_BLOCK_FLOATS = 256 * 1024;
// Four batches in flight hold about five blocks each.
const slabBlocks = new BlockPool(() => new Float32Array(SLAB_BLOCK_FLOATS), 24);

/**
 * Hands out Float32Array views of large shared blocks: a batch's vectors then cost a few
 * allocations instead of one 6 KB ArrayBuffer each, which is what the garbage collector was busy
 * with. A view keeps its block alive, so a slab belongs to one batch.
 */
export class Float32Slab {
  private block: Float32Array = new Float32Array(0);
  private used = 0;
  private readonly lease?: BlockLease<Float32Array>;

  constructor(
    private readonly blockFloats = SLAB_BLOCK_FLOATS,
    pool?: BlockPool<Float32Array>,
  ) {
    this.lease = pool?.lease();
  }

  /** A slab whose blocks come from, and go back to, a pool shared by the process's batches. */
  static pooled(): Float32Slab {
    return new Float32Slab(SLAB_BLOCK_FLOATS, slabBlocks);
  }

  take(length: number): Float32Array {
    if (this.used + length > this.block.length) {
      if (this.lease && length <= this.blockFloats) {
        this.block = this.lease.acquire();
      } else {
        this.block = new Float32Array(Math.max(this.blockFloats, length));
      }
      this.used = 0;
    }
    const view = this.block.subarray(this.used, this.used + length);
    this.used += length;
    return view;
  }

  /**
   * Gives the pooled blocks back: every view this slab handed out is then overwritten by later
   * batches, so only call it once none of them is used any more.
   */
  recycle(): void {
    this.lease?.release();
    this.block = new Float32Array(0);
    this.used = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Tuple writer

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

export function decodeField(type: PgBinaryType, buf: Buffer | null, slab?: Float32Slab): unknown {
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
      return new Date(readMilliseconds(buf) + PG_EPOCH_MS);
    case 'jsonb':
      return JSON.parse(buf.toString('utf8', 1));
    case 'text[]':
      return decodeTextArray(buf);
    case 'vector':
      return decodeVector(buf, slab);
  }
}

/**
 * Every field of a tuple decoded by its column's type. (A per-row closure instead costs more than
 * it looks under tsx, whose keepNames wraps each one created.)
 */
export function decodeTuple(
  types: readonly PgBinaryType[],
  fields: readonly (Buffer | null)[],
  slab?: Float32Slab,
): unknown[] {
  const values = new Array<unknown>(types.length);
  for (let i = 0; i < types.length; i++)
    values[i] = decodeField(types[i] as PgBinaryType, fields[i] ?? null, slab);
  return values;
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
    const tuples: (Buffer | null)[][] = [];
    if (this.pending.length > 0) {
      // Finish the tuple split across chunks from as little of the new chunk as it needs, instead
      // of copying the whole chunk behind the tail (that copy was a large share of read time).
      let take = Math.min(chunk.length, 16 * 1024);
      for (;;) {
        const joined = Buffer.concat([this.pending, chunk.subarray(0, take)]);
        const consumed = this.parse(joined, tuples, true);
        if (consumed > this.pending.length || take === chunk.length) {
          const rest = consumed - this.pending.length;
          if (rest < 0) {
            // Still incomplete with all of the chunk: keep everything for the next one.
            this.pending = Buffer.from(joined.subarray(consumed));
            return tuples;
          }
          this.pending = Buffer.alloc(0);
          chunk = chunk.subarray(rest);
          break;
        }
        take = Math.min(chunk.length, take * 4);
        tuples.length = 0;
      }
    }
    const consumed = this.parse(chunk, tuples, false);
    // Copy the leftover so the big chunk it came from can be collected.
    this.pending = consumed >= chunk.length ? Buffer.alloc(0) : Buffer.from(chunk.subarray(consumed));
    return tuples;
  }

  /**
   * Parses whole tuples from `buf` into `tuples`; returns the bytes consumed. With `firstOnly`, stops
   * after the first tuple (or the header), so a joined tail never holds more than one tuple.
   */
  private parse(buf: Buffer, tuples: (Buffer | null)[][], firstOnly: boolean): number {
    let offset = 0;
    if (!this.headerRead) {
      if (buf.length < 19) return 0;
      if (!buf.subarray(0, 11).equals(COPY_BINARY_HEADER.subarray(0, 11))) {
        throw new Error('not a binary COPY stream (bad signature)');
      }
      const extension = buf.readInt32BE(15);
      if (buf.length < 19 + extension) return 0;
      offset = 19 + extension;
      this.headerRead = true;
      if (firstOnly) return offset;
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
      if (firstOnly) break;
    }
    return offset;
  }

  /** True once the trailer was seen. */
  get done(): boolean {
    return this.ended;
  }
}
