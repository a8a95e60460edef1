import { describe, expect, it } from 'vitest';
import {
  parseResetDuration,
  readRateLimitHeaders,
  waitFromRateLimitHeaders,
} from '../../functions/embed/rate-limit-headers.js';
import { RATE_HEADROOM, RatePacer } from '../../functions/embed/rate-pacer.js';
import { RatePacerPool } from '../../functions/embed/rate-pacer-pool.js';
import { TokenBucket } from '../../functions/embed/token-bucket.js';

/** A clock that only moves when the pacer sleeps, so waits are exact. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
  };
}

describe('Class: TokenBucket', () => {
  it('refills evenly up to a minute of its rate and lends into debt', () => {
    // Prepare
    const time = fakeTime();
    const bucket = new TokenBucket({ perMinute: 60_000, now: time.now });

    // Act & Assess: full at the start, a debt paid off before the next request
    expect(bucket.level()).toBe(60_000);
    bucket.take(90_000);
    expect(bucket.level()).toBe(-30_000);
    expect(bucket.delayFor(1000)).toBe(31_000);
    time.advance(120_000);
    expect(bucket.level()).toBe(60_000);
  });

  it('asks no request to wait for more than its capacity', () => {
    // Prepare
    const time = fakeTime();
    const bucket = new TokenBucket({ perMinute: 600, now: time.now, startEmpty: true });

    // Act & Assess: 1,000 tokens can never be in a 600-token bucket; a full one lets it go
    expect(bucket.delayFor(1000)).toBe(60_000);
  });
});

describe('Class: RatePacer', () => {
  it('keeps each of four workers to a quarter of the budget, under the headroom', async () => {
    // Prepare
    const time = fakeTime();
    const pacer = new RatePacer(
      { tokensPerMinute: 1_000_000, requestsPerMinute: 3000 },
      { workers: 4, now: time.now, sleep: time.sleep },
    );

    // Act: ten requests of 50,000 tokens from an empty bucket
    for (let i = 0; i < 10; i += 1) await pacer.acquire(50_000);

    // Assess: 500,000 tokens at 242,500 a minute take a little over two minutes
    const share = (1_000_000 * RATE_HEADROOM) / 4;
    expect(pacer.share().tokensPerMinute).toBeCloseTo(share);
    expect(time.now()).toBeGreaterThanOrEqual((500_000 / share) * 60_000 - 1);
    expect(time.now()).toBeLessThan((500_000 / share) * 60_000 + 10);
  });

  it('waits for requests per minute when they are the tighter budget', async () => {
    // Prepare
    const time = fakeTime();
    const pacer = new RatePacer(
      { tokensPerMinute: 10_000_000, requestsPerMinute: 60 },
      { workers: 1, now: time.now, sleep: time.sleep },
    );

    // Act
    for (let i = 0; i < 5; i += 1) await pacer.acquire(10);

    // Assess: 60 a minute with headroom is one every ~1,031 ms
    expect(time.now()).toBeGreaterThan(5 * 1000);
    expect(time.now()).toBeLessThan(5 * 1100);
  });

  it('charges what the server counted and learns how far estimates run off', async () => {
    // Prepare
    const time = fakeTime();
    const pacer = new RatePacer(
      { tokensPerMinute: 100_000, requestsPerMinute: 1000 },
      { workers: 1, now: time.now, sleep: time.sleep, startFull: true },
    );

    // Act: the server counts twice the estimate
    const first = await pacer.acquire(1000);
    pacer.settle(first, 2000);
    const second = await pacer.acquire(1000);

    // Assess
    expect(first.chargedTokens).toBe(1000);
    expect(second.chargedTokens).toBe(2000);
  });

  it('gives a refused request its tokens back and holds every request for a Retry-After', async () => {
    // Prepare
    const time = fakeTime();
    const pacer = new RatePacer(
      { tokensPerMinute: 1_000_000, requestsPerMinute: 3000 },
      { workers: 1, now: time.now, sleep: time.sleep, startFull: true },
    );
    const permit = await pacer.acquire(500_000);

    // Act
    pacer.release(permit);
    pacer.hold(2500);
    const next = await pacer.acquire(500_000);

    // Assess: it waited for the hold only, not for the tokens (they came back)
    expect(next.waitedMs).toBe(2500);
    expect(time.sleeps).toEqual([2500]);
  });

  it('lowers its share to what the headers say is left, split over the workers', async () => {
    // Prepare
    const time = fakeTime();
    const pacer = new RatePacer(
      { tokensPerMinute: 1_000_000, requestsPerMinute: 3000 },
      { workers: 2, now: time.now, sleep: time.sleep, startFull: true },
    );

    // Act: the account has 100,000 tokens left and a 600,000 limit, less than configured
    pacer.observe(
      readRateLimitHeaders(
        new Headers({
          'x-ratelimit-limit-tokens': '600000',
          'x-ratelimit-remaining-tokens': '100000',
        }),
      ),
    );
    const permit = await pacer.acquire(100_000);

    // Assess: 50,000 left for this worker, refilling at 291,000 a minute: ~10.3 s for the rest
    expect(pacer.share().tokensPerMinute).toBeCloseTo((600_000 * RATE_HEADROOM) / 2);
    expect(permit.waitedMs).toBeGreaterThan(10_000);
    expect(permit.waitedMs).toBeLessThan(10_500);
  });

  it('refuses a budget that is not a positive whole number', () => {
    // Act & Assess
    expect(() => new RatePacer({ tokensPerMinute: 0, requestsPerMinute: 3000 }, { workers: 4 })).toThrow(
      /tokensPerMinute must be a positive integer/,
    );
  });
});

describe('Class: RatePacerPool', () => {
  it('lends one pacer per batch in flight and the same one to the next batch', async () => {
    // Prepare
    const pool = new RatePacerPool({ workers: 2 });
    const budget = { tokensPerMinute: 1_000_000, requestsPerMinute: 3000 };
    const seen: RatePacer[] = [];

    // Act: two batches at once, then one more
    await Promise.all([1, 2].map(() => pool.lease(budget, async (pacer) => void seen.push(pacer))));
    await pool.lease(budget, async (pacer) => void seen.push(pacer));

    // Assess
    expect(seen[0]).not.toBe(seen[1]);
    expect(seen.slice(0, 2)).toContain(seen[2]);
  });
});

describe('Function: readRateLimitHeaders', () => {
  it("reads limits, what is left and the resets in the API's duration format", () => {
    // Act
    const read = readRateLimitHeaders(
      new Headers({
        'x-ratelimit-limit-tokens': '1000000',
        'x-ratelimit-remaining-tokens': '999488',
        'x-ratelimit-reset-tokens': '30ms',
        'x-ratelimit-limit-requests': '3000',
        'x-ratelimit-remaining-requests': '2999',
        'x-ratelimit-reset-requests': '1m0.5s',
      }),
    );

    // Assess
    expect(read).toEqual({
      limitTokens: 1_000_000,
      remainingTokens: 999_488,
      resetTokensMs: 30,
      limitRequests: 3000,
      remainingRequests: 2999,
      resetRequestsMs: 60_500,
    });
  });

  it('parses Go-style durations and refuses what it cannot read', () => {
    // Act & Assess
    expect(parseResetDuration('6m0s')).toBe(360_000);
    expect(parseResetDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseResetDuration('2')).toBe(2000);
    expect(parseResetDuration('soon')).toBeUndefined();
    expect(parseResetDuration('5s later')).toBeUndefined();
  });

  it('turns the reset of a short budget into the wait for the part missing', () => {
    // Act & Assess: 40,000 of the 1,000,000 missing refill in 60 s: 100,000 needed take 3.75 s more
    expect(
      waitFromRateLimitHeaders(
        { limitTokens: 1_000_000, remainingTokens: 40_000, resetTokensMs: 57_600 },
        { tokens: 100_000 },
      ),
    ).toBe(3600);
    expect(
      waitFromRateLimitHeaders({ remainingTokens: 500_000, resetTokensMs: 1000 }, { tokens: 10 }),
    ).toBeUndefined();
  });
});
