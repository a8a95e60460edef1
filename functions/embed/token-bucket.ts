/**
 * A budget that refills evenly: `perMinute` units a minute, holding at most `capacity`. Taking more
 * than is there leaves a debt that the refill pays off first, so a request larger than the bucket
 * still goes, and the next one waits for it. Pure: time comes from `now`.
 */
export class TokenBucket {
  #level: number;
  #capacity: number;
  #perMs: number;
  #updatedAt: number;
  readonly #now: () => number;

  constructor(options: { perMinute: number; capacity?: number; now: () => number; startEmpty?: boolean }) {
    const { perMinute, capacity = perMinute, now, startEmpty = false } = options;
    if (!(perMinute > 0) || !(capacity > 0)) {
      throw new RangeError(
        `A token bucket needs a positive rate and capacity, got ${perMinute} and ${capacity}`,
      );
    }
    this.#capacity = capacity;
    this.#perMs = perMinute / 60_000;
    this.#now = now;
    this.#updatedAt = now();
    this.#level = startEmpty ? 0 : capacity;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get perMinute(): number {
    return this.#perMs * 60_000;
  }

  level(): number {
    this.#refill();
    return this.#level;
  }

  /** Milliseconds until `amount` (at most the capacity) is in the bucket; 0 when it is now. */
  delayFor(amount: number): number {
    this.#refill();
    const wanted = Math.min(amount, this.#capacity);
    return this.#level >= wanted ? 0 : Math.ceil((wanted - this.#level) / this.#perMs);
  }

  take(amount: number): void {
    this.#refill();
    this.#level -= amount;
  }

  /** Back into the bucket (a request that cost less than estimated), never above capacity. */
  give(amount: number): void {
    this.#refill();
    this.#level = Math.min(this.#capacity, this.#level + amount);
  }

  /** Never more than `level` in the bucket from now on (what the server says is left). */
  lowerTo(level: number): void {
    this.#refill();
    this.#level = Math.min(this.#level, level);
  }

  /** A slower (or faster) refill from now on, the capacity one minute of it. */
  setPerMinute(perMinute: number): void {
    if (!(perMinute > 0)) return;
    this.#refill();
    this.#perMs = perMinute / 60_000;
    this.#capacity = perMinute;
    this.#level = Math.min(this.#level, this.#capacity);
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) this.#level = Math.min(this.#capacity, this.#level + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
}
