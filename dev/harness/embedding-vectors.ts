import { createHash } from 'node:crypto';

export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;

// sfc32: small, fast and identical in every process, so the server and a test agree bit for bit.
function sfc32(seed: Buffer): () => number {
  let a = seed.readUInt32LE(0);
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/**
 * The unit-length vector the test embeddings server returns for `text`. Values come from one
 * stream seeded by sha256(text), so a shorter vector is the longer one's prefix renormalised,
 * which is how OpenAI's `dimensions` shortening behaves too.
 */
export function embeddingFor(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): Float32Array {
  const random = sfc32(createHash('sha256').update(text, 'utf8').digest());
  const values = new Float64Array(dimensions);
  for (let i = 0; i < dimensions; i += 2) {
    // Box-Muller: normal draws spread the direction evenly over the sphere.
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < dimensions) values[i + 1] = radius * Math.sin(angle);
  }
  let sumOfSquares = 0;
  for (const value of values) sumOfSquares += value * value;
  const norm = Math.sqrt(sumOfSquares) || 1;
  return Float32Array.from(values, (value) => value / norm);
}

/** The OpenAI wire form of `encoding_format: 'base64'`: little-endian float32 bytes. */
export function embeddingToBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => {
    bytes.writeFloatLE(value, index * 4);
  });
  return bytes.toString('base64');
}

/** A rough token count (about four characters a token), enough for usage counters. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
