import type { Float32Slab } from './block-pools.js';

// pgvector's binary form (vector_send): int16 dimensions, int16 unused, float4 big-endian each.
// Both directions copy the floats as one block and swap byte order natively (swap32): per-value
// readFloatBE/writeFloatBE cost more than the rest of a row's encoding together.
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
