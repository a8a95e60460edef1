import { MODULE_IDS, type ModuleId, SOURCE_EMBEDDING_DIMENSIONS } from './modules.js';
import { RowRandom, STREAM } from './seeded-random.js';

const POOL_SIZE = 1 << 16;
const POOL_MASK = POOL_SIZE - 1;
// With two N(0,1) pool draws per value, this scale gives the noise a norm of about 1.3 against the
// module direction's ~1: cosine to the own module ≈ 0.6, to the others ≈ 0 — separable, not trivial.
const NOISE_SCALE = 1.3 / Math.sqrt(2 * SOURCE_EMBEDDING_DIMENSIONS);

/**
 * Synthetic 1536-d embeddings that carry their module: a per-module unit direction plus noise, so
 * nearest-centroid placement of unclear memories has something real to find.
 *
 * Hot path of the generator (1536 floats a row): the noise is mixed from a precomputed Gaussian pool
 * at two random offsets instead of drawn fresh, and floats are written big-endian straight into the
 * field buffer through a DataView.
 */
export class EmbeddingSpace {
  readonly dimensions = SOURCE_EMBEDDING_DIMENSIONS;
  private readonly directions = new Map<ModuleId, Float32Array>();
  private readonly pool = new Float32Array(POOL_SIZE);
  private readonly scratch = new Float64Array(SOURCE_EMBEDDING_DIMENSIONS);

  constructor(seed: number) {
    const random = new RowRandom(seed, STREAM.embeddingSpace, 0);
    for (const module of MODULE_IDS) {
      const direction = new Float32Array(this.dimensions);
      let norm = 0;
      for (let i = 0; i < direction.length; i++) {
        const v = random.gaussian();
        direction[i] = v;
        norm += v * v;
      }
      norm = Math.sqrt(norm);
      for (let i = 0; i < direction.length; i++) direction[i] = (direction[i] as number) / norm;
      this.directions.set(module, direction);
    }
    for (let i = 0; i < POOL_SIZE; i++) this.pool[i] = random.gaussian();
  }

  /** The module's unit direction (what a perfect centroid of that module would be). */
  direction(module: ModuleId): Float32Array {
    return this.directions.get(module) as Float32Array;
  }

  /**
   * pgvector's binary form of a unit-length embedding near `module`'s direction: int16 dimensions,
   * int16 unused, then float4 big-endian each.
   */
  encode(module: ModuleId, random: RowRandom, blendWith: ModuleId | null = null): Buffer {
    const direction = this.direction(module);
    // A conflicting memory sits between two modules: still nearer its own, with a thin margin.
    const blend = blendWith === null ? null : this.direction(blendWith);
    const blendWeight = blend === null ? 0 : 0.5 + random.float() * 0.3;
    const pool = this.pool;
    const scratch = this.scratch;
    const weight = 0.7 + random.float() * 0.6;
    const first = random.nextUint32() & POOL_MASK;
    const second = random.nextUint32() & POOL_MASK;
    let sumOfSquares = 0;
    for (let i = 0; i < scratch.length; i++) {
      const noise =
        (pool[(first + i) & POOL_MASK] as number) + (pool[(second + 3 * i) & POOL_MASK] as number);
      const blended = blend === null ? 0 : (blend[i] as number) * blendWeight;
      const v = ((direction[i] as number) + blended) * weight + noise * NOISE_SCALE;
      scratch[i] = v;
      sumOfSquares += v * v;
    }
    const inverseNorm = 1 / Math.sqrt(sumOfSquares);
    const buffer = Buffer.allocUnsafe(4 + scratch.length * 4);
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    view.setInt16(0, scratch.length, false);
    view.setInt16(2, 0, false);
    for (let i = 0; i < scratch.length; i++)
      view.setFloat32(4 + i * 4, (scratch[i] as number) * inverseNorm, false);
    return buffer;
  }
}
