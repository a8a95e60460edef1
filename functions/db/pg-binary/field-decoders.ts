import type { Float32Slab } from './block-pools.js';
import { PG_EPOCH_MS, type PgBinaryType, readMilliseconds } from './format.js';
import { decodeVector } from './vectors.js';

// Each column type's binary form (the bytes after its length word) back to a value.

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
