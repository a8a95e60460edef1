import { endianness } from 'node:os';

/**
 * Reads an embeddings answer into vectors in input order, refusing anything that is not exactly
 * one finite vector of the expected length per input. Pure: it knows the wire format, not HTTP.
 */

export type DecodedEmbeddings =
  | { ok: true; vectors: Float32Array[]; dimensions: number }
  /** `dimensions`: the server answered with another vector length (a configuration mistake). */
  | { ok: false; problem: 'dimensions' | 'malformed'; message: string };

export function decodeEmbeddingResponse(
  body: unknown,
  expected: { inputs: number; dimensions: number | undefined },
): DecodedEmbeddings {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return malformed('the answer has no data array');
  if (data.length !== expected.inputs) {
    return malformed(`the answer holds ${data.length} embeddings for ${expected.inputs} inputs`);
  }
  const vectors: (Float32Array | undefined)[] = new Array(expected.inputs);
  let dimensions = expected.dimensions;
  for (const entry of data as unknown[]) {
    const { index, embedding } = (entry ?? {}) as { index?: unknown; embedding?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= expected.inputs) {
      return malformed(`an embedding has index ${String(index)} outside 0..${expected.inputs - 1}`);
    }
    if (vectors[index] !== undefined) return malformed(`index ${index} appears twice`);
    const vector = toFloat32(embedding);
    if (vector === undefined) return malformed(`embedding ${index} is neither base64 float32 nor numbers`);
    dimensions ??= vector.length;
    if (vector.length !== dimensions) {
      return {
        ok: false,
        problem: 'dimensions',
        message: `embedding ${index} has ${vector.length} dimensions, expected ${dimensions}`,
      };
    }
    if (!allFinite(vector)) return malformed(`embedding ${index} holds a non-finite value`);
    vectors[index] = vector;
  }
  // Every index in range, none twice and as many entries as inputs: all slots are filled.
  return { ok: true, vectors: vectors as Float32Array[], dimensions: dimensions ?? 0 };
}

/**
 * base64 is what we ask for: little-endian float32 bytes, copied as they are, so the vector is
 * bit-for-bit what the server computed. Some compatible servers ignore `encoding_format` and send
 * JSON numbers; those were float32 values printed in full, so Float32Array.from restores them.
 */
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function toFloat32(embedding: unknown): Float32Array | undefined {
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined;
    // The copy also gives the vector its own aligned buffer instead of a view into Buffer's pool.
    if (LITTLE_ENDIAN_HOST)
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const vector = new Float32Array(bytes.length / 4);
    for (let i = 0; i < vector.length; i += 1) vector[i] = view.getFloat32(i * 4, true);
    return vector;
  }
  if (Array.isArray(embedding) && embedding.length > 0 && embedding.every((v) => typeof v === 'number')) {
    return Float32Array.from(embedding as number[]);
  }
  return undefined;
}

function allFinite(vector: Float32Array): boolean {
  // Indexed, not for-of: this runs over every value of every batch.
  for (let i = 0; i < vector.length; i += 1) {
    if (!Number.isFinite(vector[i])) return false;
  }
  return true;
}

function malformed(message: string): DecodedEmbeddings {
  return { ok: false, problem: 'malformed', message };
}
