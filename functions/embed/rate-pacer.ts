import { setTimeout as realSleep } from 'node:timers/promises';
import type { RateLimitHeaders } from './rate-limit-headers.js';
import { TokenBucket } from './token-bucket.js';

/** An account's embeddings budget, as the provider counts it (per API key and model). */
export interface RateBudget {
  tokensPerMinute: number;
  requestsPerMinute: number;
}

export interface RatePacerOptions {
  /** Workers sharing the budget at once (the Map's concurrency); this pacer keeps to its share. */
  workers: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Start with a minute of the share in hand. Off by default: the key's budget may have been spent
   * moments ago (a previous run, another program), and starting empty costs only the time one
   * request's tokens take to accrue, once per process.
   */
  startFull?: boolean;
}

/** A request let through: what it was estimated at, and what was taken from the budget for it. */
export interface RatePermit {
  estimatedTokens: number;
  chargedTokens: number;
  waitedMs: number;
}

/**
 * Aim a little under the limit: the provider counts tokens its own way and when a request arrives,
 * not when it was sent, so pacing at exactly the limit would meet it now and then.
 */
export const RATE_HEADROOM = 0.97;

/**
 * One worker's share of a rate budget: a token bucket for tokens and one for requests, each a
 * minute of its share deep. Before a request goes out the worker waits until both hold enough;
 * the answer's `usage` corrects the estimate (and how far estimates run off is learnt), its
 * `x-ratelimit-*` headers lower the share when the account has less left than this worker's share
 * (another worker or program spends it too), and a 429's wait holds every request of the worker,
 * not only the one that met it.
 */
export class RatePacer {
  readonly workers: number;
  readonly #tokens: TokenBucket;
  readonly #requests: TokenBucket;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #heldUntil = 0;
  #estimated = 0;
  #counted = 0;
  // Requests wait in order, so a large one is not overtaken for ever by small ones.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(budget: RateBudget, options: RatePacerOptions) {
    const {
      workers,
      now = () => performance.now(),
      sleep = (ms: number) => realSleep(ms),
      startFull = false,
    } = options;
    const startEmpty = !startFull;
    for (const [name, value] of Object.entries({ ...budget, workers })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`A rate budget's ${name} must be a positive integer, got ${value}`);
      }
    }
    this.workers = workers;
    this.#now = now;
    this.#sleep = sleep;
    this.#tokens = new TokenBucket({ perMinute: share(budget.tokensPerMinute, workers), now, startEmpty });
    this.#requests = new TokenBucket({
      perMinute: share(budget.requestsPerMinute, workers),
      now,
      startEmpty,
    });
  }

  /** The most tokens one request should carry: a minute of this worker's share. */
  get maxRequestTokens(): number {
    return Math.floor(this.#tokens.capacity);
  }

  /** This worker's share now, per minute. */
  share(): RateBudget {
    return { tokensPerMinute: this.#tokens.perMinute, requestsPerMinute: this.#requests.perMinute };
  }

  /** Waits until a request estimated at `tokens` may go out, and counts it sent. */
  acquire(tokens: number): Promise<RatePermit> {
    const charged = Math.ceil(tokens * this.#estimateRatio());
    const turn = this.#queue.then(async () => ({
      estimatedTokens: tokens,
      chargedTokens: charged,
      waitedMs: await this.#waitFor(charged),
    }));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** The server counted `actual` tokens (its `usage`) for the request of `permit`. */
  settle(permit: RatePermit, actual: number): void {
    if (actual > permit.chargedTokens) this.#tokens.take(actual - permit.chargedTokens);
    else if (actual < permit.chargedTokens) this.#tokens.give(permit.chargedTokens - actual);
    this.#estimated += permit.estimatedTokens;
    this.#counted += actual;
  }

  /** The request of `permit` was refused (429) and counted no tokens: they go back. */
  release(permit: RatePermit): void {
    this.#tokens.give(permit.chargedTokens);
  }

  /** What the server says is left of the account's budget; never raises this worker's share. */
  observe(headers: RateLimitHeaders): void {
    if (headers.limitTokens !== undefined && headers.limitTokens > 0) {
      const limited = share(headers.limitTokens, this.workers);
      if (limited < this.#tokens.perMinute) this.#tokens.setPerMinute(limited);
    }
    if (headers.limitRequests !== undefined && headers.limitRequests > 0) {
      const limited = share(headers.limitRequests, this.workers);
      if (limited < this.#requests.perMinute) this.#requests.setPerMinute(limited);
    }
    if (headers.remainingTokens !== undefined) this.#tokens.lowerTo(headers.remainingTokens / this.workers);
    if (headers.remainingRequests !== undefined) {
      this.#requests.lowerTo(headers.remainingRequests / this.workers);
    }
  }

  /** Nothing goes out for `ms` (a 429's Retry-After). */
  hold(ms: number): void {
    this.#heldUntil = Math.max(this.#heldUntil, this.#now() + ms);
  }

  // How many tokens the server counts per token estimated, from the answers so far. Exact for
  // OpenAI (same tokenizer); another server may count its own way.
  #estimateRatio(): number {
    if (this.#estimated === 0 || this.#counted === 0) return 1;
    return Math.min(MAX_ESTIMATE_RATIO, Math.max(1 / MAX_ESTIMATE_RATIO, this.#counted / this.#estimated));
  }

  async #waitFor(tokens: number): Promise<number> {
    let waited = 0;
    for (;;) {
      const delay = Math.max(
        this.#heldUntil - this.#now(),
        this.#tokens.delayFor(tokens),
        this.#requests.delayFor(1),
      );
      if (delay <= 0) break;
      const started = this.#now();
      await this.#sleep(Math.ceil(delay));
      waited += this.#now() - started;
    }
    this.#tokens.take(tokens);
    this.#requests.take(1);
    return waited;
  }
}

const MAX_ESTIMATE_RATIO = 4;

function share(perMinute: number, workers: number): number {
  return (perMinute * RATE_HEADROOM) / workers;
}
