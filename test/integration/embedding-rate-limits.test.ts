import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EmbeddingsServer, startEmbeddingsServer } from '../../dev/harness/embeddings-server.js';
import { EmbeddingClient } from '../../functions/embed/embedding-client.js';
import { readRateLimitHeaders } from '../../functions/embed/rate-limit-headers.js';
import { RatePacerPool } from '../../functions/embed/rate-pacer-pool.js';

const MODEL = 'text-embedding-3-small';

const memories = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, index) => ({
    id: `${prefix}-${index}`,
    // About 100 tokens each, as the server counts them (four characters a token).
    text: `${prefix} ${index}: ${'the user keeps notes about the quarterly migration plan. '.repeat(7)}`,
  }));

async function postEmbeddings(server: EmbeddingsServer, key: string, input: string[]) {
  const response = await fetch(`${server.baseURL}/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, input }),
  });
  await response.arrayBuffer();
  return response;
}

describe('Harness: the embeddings server enforces rate limits per key', () => {
  let server: EmbeddingsServer;

  beforeAll(async () => {
    server = await startEmbeddingsServer();
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(() => {
    server.reset();
  });

  it('answers 429 with Retry-After and x-ratelimit headers once a key passes its tokens per minute', async () => {
    // Prepare: 60,000 tokens a minute (1,000 a second), a full minute's worth to start with;
    // each request is 50,000 tokens (200,000 characters)
    server.configure({ tokensPerMinute: 60_000, requestsPerMinute: 1000 });
    const text = 'x'.repeat(200_000);

    // Act
    const first = await postEmbeddings(server, 'sk-a', [text]);
    const second = await postEmbeddings(server, 'sk-a', [text]);
    const otherKey = await postEmbeddings(server, 'sk-b', [text]);

    // Assess: ~10,000 left after the first, so the second waits ~40 s for the rest
    expect(first.status).toBe(200);
    expect(readRateLimitHeaders(first.headers)).toMatchObject({ limitTokens: 60_000, limitRequests: 1000 });
    expect(Number(first.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(20_000);
    expect(second.status).toBe(429);
    const wait = Number(second.headers.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(30_000);
    expect(wait).toBeLessThanOrEqual(40_000);
    expect(second.headers.get('retry-after')).toBe(String(Math.ceil(wait / 1000)));
    expect(readRateLimitHeaders(second.headers).resetTokensMs).toBeGreaterThan(40_000);
    expect(otherKey.status).toBe(200);
    expect(server.stats()).toMatchObject({ requests: 3, servedRateLimited: 1, inputs: 2 });
  });

  it('counts refused requests against the requests per minute', async () => {
    // Prepare: 60 requests a minute (one a second), a full bucket
    server.configure({ requestsPerMinute: 60 });
    const started = performance.now();

    // Act: 70 at once
    const responses = await Promise.all(
      Array.from({ length: 70 }, () => postEmbeddings(server, 'sk-r', ['hi'])),
    );

    // Assess: a minute's worth goes, plus what refilled meanwhile; the rest is refused
    const seconds = (performance.now() - started) / 1000;
    const served = responses.filter((response) => response.status === 200).length;
    expect(served).toBeGreaterThanOrEqual(60);
    expect(served).toBeLessThanOrEqual(60 + Math.ceil(seconds));
    expect(responses.filter((response) => response.status === 429)).toHaveLength(70 - served);
    expect(server.stats().servedRateLimited).toBe(70 - served);
  });

  it('refuses a key first seen after another program spent its budget', async () => {
    // Prepare
    server.configure({ tokensPerMinute: 60_000, requestsPerMinute: 1000, keysStartSpent: true });

    // Act
    const first = await postEmbeddings(server, 'sk-spent', ['z'.repeat(4000)]);

    // Assess: 1,000 tokens at 1,000 a second
    expect(first.status).toBe(429);
    expect(Number(first.headers.get('retry-after-ms'))).toBeGreaterThan(900);
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
  });

  it('answers later the more tokens a request holds', async () => {
    // Prepare
    server.configure({ latencyMsPerThousandTokens: 20 });
    const started = performance.now();

    // Act: 10,000 tokens
    const response = await postEmbeddings(server, 'sk-l', ['y'.repeat(40_000)]);

    // Assess
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
  });
});

describe('Class: EmbeddingClient under a shared rate budget', () => {
  let server: EmbeddingsServer;
  const TPM = 1_200_000;

  beforeAll(async () => {
    server = await startEmbeddingsServer();
  });

  afterAll(async () => {
    await server.close();
  });

  // Four workers take batches of 50 memories (~5,000 tokens) from one queue, a fresh client per
  // batch as the Map's workers make them; 24 batches are ~120,000 tokens, 6 s at 1,200,000 a minute.
  async function runWorkers(apiKey: string, pool?: RatePacerPool) {
    server.configure({ tokensPerMinute: TPM, requestsPerMinute: 3000, rateLimitsStartEmpty: true });
    const before = server.stats();
    const queue = Array.from({ length: 24 }, (_, index) => memories(50, `${apiKey}-${index}`));
    const totals = { rateLimited: 0, retries: 0, tokens: 0, paceWaits: 0, vectors: 0 };
    const embedOne = async (
      batch: { id: string; text: string }[],
      pacer?: Parameters<Parameters<RatePacerPool['lease']>[1]>[0],
    ) => {
      const client = new EmbeddingClient({
        apiKey,
        baseURL: server.baseURL,
        model: MODEL,
        pacer,
        maxAttempts: 20,
      });
      const vectors = await client.embed(batch);
      const stats = client.stats();
      totals.rateLimited += stats.rateLimited;
      totals.retries += stats.retries;
      totals.tokens += stats.tokens;
      totals.paceWaits += stats.paceWaits;
      totals.vectors += vectors.size;
    };
    const worker = async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        if (pool)
          await pool.lease({ tokensPerMinute: TPM, requestsPerMinute: 3000 }, (pacer) =>
            embedOne(batch, pacer),
          );
        else await embedOne(batch);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 4 }, worker));
    const minutes = (performance.now() - started) / 60_000;
    const after = server.stats();
    return {
      ...totals,
      requests: after.requests - before.requests,
      served429: after.servedRateLimited - before.servedRateLimited,
      shareOfLimit: totals.tokens / minutes / TPM,
    };
  }

  it('paces four workers to the budget with at most one 429, where unpaced ones meet many', async () => {
    // Act
    const unpaced = await runWorkers('sk-unpaced');
    const paced = await runWorkers('sk-paced', new RatePacerPool({ workers: 4 }));

    // Assess: every memory embedded both ways; the paced workers waited instead of being refused
    expect(unpaced.vectors).toBe(1200);
    expect(paced.vectors).toBe(1200);
    expect(unpaced.served429).toBeGreaterThanOrEqual(5);
    expect(unpaced.rateLimited).toBe(unpaced.served429);
    // The server counts four characters a token, the client cl100k (about five here): until the
    // first answers teach it the difference, the four first requests may overshoot by one.
    expect(paced.served429).toBeLessThanOrEqual(1);
    expect(paced.rateLimited).toBe(paced.served429);
    expect(paced.paceWaits).toBeGreaterThan(0);
    expect(paced.requests).toBe(24 + paced.served429);
    // Never over the limit (the server would have refused), and not idling far under it.
    expect(paced.shareOfLimit).toBeLessThanOrEqual(1);
    expect(paced.shareOfLimit).toBeGreaterThan(0.7);
  }, 60_000);

  it('waits out a 429 that names only the reset headers, holding the whole worker', async () => {
    // Prepare: the budget allows ~5,000 tokens; the pacer is told 10x more, so the server refuses
    server.reset();
    server.configure({
      tokensPerMinute: 300_000,
      requestsPerMinute: 3000,
      rateLimitsStartEmpty: true,
      retryAfterSeconds: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pool = new RatePacerPool({ workers: 1, startFull: true });
    const batch = memories(100, 'burst');

    // Act
    const stats = await pool.lease({ tokensPerMinute: 3_000_000, requestsPerMinute: 3000 }, async (pacer) => {
      const client = new EmbeddingClient({
        apiKey: 'sk-burst',
        baseURL: server.baseURL,
        model: MODEL,
        pacer,
        limits: { maxInputsPerRequest: 50 },
      });
      const vectors = await client.embed(batch);
      expect(vectors.size).toBe(100);
      return client.stats();
    });

    // Assess: refused at first, then served once the server's own headers had lowered the share
    expect(stats.rateLimited).toBeGreaterThan(0);
    expect(stats.rateLimited).toBe(server.stats().servedRateLimited);
    expect(stats.inputs).toBe(100);
  }, 30_000);
});
