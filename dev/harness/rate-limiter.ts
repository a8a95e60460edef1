import { formatResetDuration } from '../../functions/embed/rate-limit-headers.js';
import { TokenBucket } from '../../functions/embed/token-bucket.js';

/**
 * The test server's rate limits, modelled on OpenAI's: per API key, a tokens-per-minute and a
 * requests-per-minute budget, each refilling evenly and holding at most a minute of itself (a key
 * idle for a minute may spend a whole minute's worth at once). A request over either budget is
 * answered 429 with Retry-After and costs one request but no tokens. Every answer carries the
 * `x-ratelimit-*` headers.
 */
export interface RateLimits {
  tokensPerMinute: number | null;
  requestsPerMinute: number | null;
  /** Every key's budget is empty when the limits are set (a benchmark's even start); full otherwise. */
  rateLimitsStartEmpty?: boolean;
  /** A key's budget is empty when the key is first seen: another program has just spent it. */
  keysStartSpent?: boolean;
}

export type Admission =
  | { admitted: true; headers: Record<string, string> }
  | {
      admitted: false;
      retryAfterMs: number;
      limitedBy: 'tokens' | 'requests';
      headers: Record<string, string>;
    };

interface KeyBudget {
  tokens: TokenBucket | null;
  requests: TokenBucket | null;
}

export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #keys = new Map<string, KeyBudget>();
  readonly #now: () => number;
  readonly #createdAt: number;

  constructor(limits: RateLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#createdAt = now();
  }

  get limited(): boolean {
    return this.#limits.tokensPerMinute !== null || this.#limits.requestsPerMinute !== null;
  }

  /** Counts a request of `tokens` for `key` if both budgets hold it. */
  admit(key: string, tokens: number): Admission {
    const budget = this.#budget(key);
    // A request larger than a minute's budget waits for a full bucket and then goes.
    const tokenWait = budget.tokens?.delayFor(tokens) ?? 0;
    const requestWait = budget.requests?.delayFor(1) ?? 0;
    budget.requests?.take(1);
    if (tokenWait > 0 || requestWait > 0) {
      return {
        admitted: false,
        retryAfterMs: Math.max(tokenWait, requestWait),
        limitedBy: tokenWait >= requestWait ? 'tokens' : 'requests',
        headers: this.#headers(budget),
      };
    }
    budget.tokens?.take(tokens);
    return { admitted: true, headers: this.#headers(budget) };
  }

  #budget(key: string): KeyBudget {
    let budget = this.#keys.get(key);
    if (budget === undefined) {
      // An empty start is the limiter's, not the key's first request's: the key has been refilling since.
      const elapsed = this.#now() - this.#createdAt;
      const bucket = (perMinute: number | null) => {
        if (perMinute === null) return null;
        const created = new TokenBucket({
          perMinute,
          now: this.#now,
          startEmpty: this.#limits.rateLimitsStartEmpty,
        });
        if (this.#limits.keysStartSpent) created.take(created.capacity);
        else if (this.#limits.rateLimitsStartEmpty) created.give((elapsed * perMinute) / 60_000);
        return created;
      };
      budget = {
        tokens: bucket(this.#limits.tokensPerMinute),
        requests: bucket(this.#limits.requestsPerMinute),
      };
      this.#keys.set(key, budget);
    }
    return budget;
  }

  #headers(budget: KeyBudget): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, bucket] of [
      ['tokens', budget.tokens],
      ['requests', budget.requests],
    ] as const) {
      if (bucket === null) continue;
      const level = bucket.level();
      headers[`x-ratelimit-limit-${name}`] = String(Math.round(bucket.perMinute));
      headers[`x-ratelimit-remaining-${name}`] = String(Math.max(0, Math.floor(level)));
      const untilFull = ((bucket.capacity - level) / bucket.perMinute) * 60_000;
      headers[`x-ratelimit-reset-${name}`] = formatResetDuration(untilFull);
    }
    return headers;
  }
}
