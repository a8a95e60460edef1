/**
 * Seeded randomness for the generator. Every value is a pure function of (seed, stream, index), so
 * a row can be re-derived from its index alone: tasks find their project, relations find their ends
 * and duplicates find the relation they copy without any table of earlier rows held in memory.
 */

/** A bijective 32-bit mixer (lowbias32): distinct inputs give distinct outputs. */
function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Named streams keep the draws of one concern independent of every other concern's. */
export const STREAM = {
  memory: 1,
  memoryId: 2,
  memoryUser: 3,
  memoryDeleted: 4,
  memoryEmbedding: 5,
  projectSlot: 6,
  user: 7,
  userId: 8,
  userToken: 9,
  ghostUser: 10,
  relation: 11,
  relationId: 12,
  danglingTarget: 13,
  targetUserId: 14,
  targetUserToken: 15,
  embeddingSpace: 16,
} as const;

/** For a fixed seed and stream this is a bijection of the index (indices below 2^32). */
export function hash32(seed: number, stream: number, index: number): number {
  return mix32(mix32(seed ^ Math.imul(stream, 0x9e3779b9)) ^ index);
}

/** A uniform float in [0, 1) for (seed, stream, index). */
export function unitFloat(seed: number, stream: number, index: number): number {
  return hash32(seed, stream, index) / 4294967296;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(word: number): string {
  return (
    (HEX[(word >>> 24) & 0xff] as string) +
    (HEX[(word >>> 16) & 0xff] as string) +
    (HEX[(word >>> 8) & 0xff] as string) +
    (HEX[word & 0xff] as string)
  );
}

/**
 * A version-4-shaped UUID for (seed, stream, index). Its first 32 bits are a bijection of the index,
 * so ids of one stream never collide within a dataset.
 */
export function seededUuid(seed: number, stream: number, index: number): string {
  const a = hash32(seed, stream, index);
  const b = (hash32(seed, stream + 0x1000, index) & 0xffff0fff) | 0x00004000;
  const c = (hash32(seed, stream + 0x2000, index) & 0x3fffffff) | 0x80000000;
  const d = hash32(seed, stream + 0x3000, index);
  const hb = hex32(b);
  const hc = hex32(c);
  return `${hex32(a)}-${hb.slice(0, 4)}-${hb.slice(4)}-${hc.slice(0, 4)}-${hc.slice(4)}${hex32(d)}`;
}

/** sfc32: a small, fast generator for the many draws one row needs. */
export class RowRandom {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number, index: number) {
    this.a = hash32(seed, stream, index);
    this.b = hash32(seed, stream + 0x4000, index);
    this.c = hash32(seed, stream + 0x5000, index);
    // Warm-up: the first outputs of sfc32 still echo the seed words.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Standard normal (Box-Muller). */
  gaussian(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }
}
