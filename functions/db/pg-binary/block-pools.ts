/** Blocks taken by one user (a batch's slab, a COPY's writer), given back together when it is done. */
export interface BlockLease<T> {
  acquire(): T;
  release(): void;
}

/**
 * Large blocks kept for reuse once their user is done with them. Fresh memory costs a page fault
 * per 4 KB on first touch and external memory the garbage collector must notice before it frees
 * it; a batch's COPY data and vectors are large enough for those faults to show in the client's
 * CPU profile (docs/performance.md).
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
