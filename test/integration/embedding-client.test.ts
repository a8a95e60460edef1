import { createServer } from 'node:net';
import { setTimeout as realSleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type EmbeddingsServer,
  embeddingFor,
  startEmbeddingsServer,
} from '../../dev/harness/embeddings-server.js';
import { EmbeddingClient, type EmbeddingClientOptions } from '../../functions/embed/embedding-client.js';
import { retryAfterFromHeaders } from '../../functions/embed/retry-policy.js';
import { truncateToTokens } from '../../functions/embed/token-estimate.js';
import { EmbeddingUnavailableError, InvalidInputError } from '../../functions/errors.js';

const API_KEY = 'sk-test-4f9c2a7e1b3d5f60718293a4b5c6d7e8';
const MODEL = 'text-embedding-3-small';

const memories = (count: number, prefix = 'memory') =>
  Array.from({ length: count }, (_, index) => ({
    id: `${prefix}-${index}`,
    text: `${prefix} ${index}: the user prefers concise answers about project ${index % 17}`,
  }));

const bytesOf = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

describe('Class: EmbeddingClient', () => {
  let server: EmbeddingsServer;
  let waits: number[];

  // Real timers, recorded: the tests assert how long the client chose to wait.
  const recordingSleep = async (ms: number) => {
    waits.push(ms);
    await realSleep(ms);
  };

  const client = (options: Partial<EmbeddingClientOptions> = {}) =>
    new EmbeddingClient({
      apiKey: API_KEY,
      baseURL: server.baseURL,
      model: MODEL,
      baseDelayMs: 10,
      maxDelayMs: 50,
      sleep: recordingSleep,
      ...options,
    });

  const failureOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as Error & { context: Record<string, unknown> };
    }
    throw new Error('expected a failure');
  };

  beforeAll(async () => {
    server = await startEmbeddingsServer();
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(() => {
    server.reset();
    waits = [];
  });

  it('embeds 1,000 memories in 10 requests of 100', async () => {
    // Prepare
    const items = memories(1000);
    const embeddings = client({ limits: { maxInputsPerRequest: 100 } });

    // Act
    const vectors = await embeddings.embed(items);

    // Assess
    expect(vectors.size).toBe(1000);
    expect(server.stats()).toMatchObject({ requests: 10, inputs: 1000 });
    expect(embeddings.stats()).toMatchObject({
      requests: 10,
      inputs: 1000,
      tokens: server.stats().tokens,
      retries: 0,
      truncated: 0,
    });
  });

  it('returns exactly the bytes the server computed for each text', async () => {
    // Prepare
    const items = memories(300);

    // Act
    const vectors = await client({ limits: { maxInputsPerRequest: 64 } }).embed(items);

    // Assess
    for (const { id, text } of items) {
      const vector = vectors.get(id)!;
      expect(vector).toHaveLength(1536);
      expect(bytesOf(vector).equals(bytesOf(embeddingFor(text, 1536)))).toBe(true);
    }
  });

  it('asks for and checks the configured dimensions', async () => {
    // Prepare
    const items = memories(20);

    // Act
    const vectors = await client({ dimensions: 512 }).embed(items);

    // Assess
    for (const { id, text } of items) {
      expect(bytesOf(vectors.get(id)!).equals(bytesOf(embeddingFor(text, 512)))).toBe(true);
    }
  });

  it('splits requests by their token budget', async () => {
    // Prepare: each text is about 60 tokens, so a 200-token budget holds 3
    const items = memories(30).map((item) => ({ ...item, text: `${item.text} `.repeat(4) }));
    const embeddings = client({ limits: { maxTokensPerRequest: 200 } });

    // Act
    const vectors = await embeddings.embed(items);

    // Assess
    expect(vectors.size).toBe(30);
    expect(server.stats().requests).toBe(10);
  });

  it('truncates an input over the per-input limit and names it', async () => {
    // Prepare
    const long = { id: 'long', text: 'a long note about the migration plan '.repeat(100) };
    const items = [...memories(3), long];

    // Act
    const batch = await client({ limits: { maxTokensPerInput: 40 } }).embedBatch(items);

    // Assess
    expect(batch.truncatedIds).toEqual(['long']);
    const sent = truncateToTokens(long.text, 40).text;
    expect(bytesOf(batch.vectors.get('long')!).equals(bytesOf(embeddingFor(sent)))).toBe(true);
  });

  it('waits out a 429 for at least its Retry-After, then succeeds', async () => {
    // Prepare
    server.configure({ failNext429: 1, retryAfterSeconds: 0.1 });
    const embeddings = client();
    const started = performance.now();

    // Act
    const vectors = await embeddings.embed(memories(5));

    // Assess
    expect(vectors.size).toBe(5);
    expect(server.stats()).toMatchObject({ requests: 2, served429: 1, inputs: 5 });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(100);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(embeddings.stats()).toMatchObject({ requests: 2, retries: 1 });
    expect(embeddings.stats().waitMs).toBeGreaterThanOrEqual(100);
  });

  it('backs off exponentially when a 429 names no wait', async () => {
    // Prepare: random() = 1 shows the ceiling of each full-jitter draw
    server.configure({ failNext429: 3, retryAfterSeconds: null });

    // Act
    await client({ random: () => 1 }).embed(memories(2));

    // Assess
    expect(waits).toEqual([10, 20, 40]);
  });

  it('retries a burst of 5xx answers', async () => {
    // Prepare
    server.configure({ failNext5xx: 3, status5xx: 503 });
    const embeddings = client();

    // Act
    const vectors = await embeddings.embed(memories(10));

    // Assess
    expect(vectors.size).toBe(10);
    expect(server.stats()).toMatchObject({ requests: 4, served5xx: 3 });
    expect(embeddings.stats()).toMatchObject({ requests: 4, retries: 3, inputs: 10 });
  });

  it('throws EmbeddingUnavailableError after maxAttempts of a permanent failure', async () => {
    // Prepare
    server.configure({ failAlways: 503 });

    // Act
    const error = await failureOf(client({ maxAttempts: 4 }).embed(memories(10)));

    // Assess
    expect(error).toBeInstanceOf(EmbeddingUnavailableError);
    expect(error.message).toMatch(/failed 4 attempts.*last status 503/);
    expect(error.context).toMatchObject({ attempts: 4, lastStatus: 503, model: MODEL });
    expect(server.stats().requests).toBe(4);
  });

  it('stops the other requests of a batch once one has failed for good', async () => {
    // Prepare: 8 requests, 2 at a time, every one failing
    server.configure({ failAlways: 500 });

    // Act
    const error = await failureOf(
      client({ maxAttempts: 3, concurrency: 2, limits: { maxInputsPerRequest: 10 } }).embed(memories(80)),
    );

    // Assess: the two in flight used their attempts, no third request started
    expect(error).toBeInstanceOf(EmbeddingUnavailableError);
    expect(server.stats().requests).toBeGreaterThanOrEqual(3);
    expect(server.stats().requests).toBeLessThanOrEqual(6);
  });

  it.each([400, 404, 422])('does not retry a %i', async (status) => {
    // Prepare
    server.configure({ failAlways: status });

    // Act
    const error = await failureOf(client().embed(memories(3)));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.context).toMatchObject({ status });
    expect(server.stats().requests).toBe(1);
  });

  it('names the dimensions when the server refuses them', async () => {
    // Act: the harness, like OpenAI, answers 400 to an impossible size
    const error = await failureOf(client({ dimensions: 9000 }).embed(memories(2)));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/Invalid dimensions: 9000.*dimensions \(9000\)/);
    expect(server.stats().requests).toBe(1);
  });

  it('refuses vectors of another size than the model promises, without retrying', async () => {
    // Act: text-embedding-3-large promises 3072, the harness answers 1536
    const error = await failureOf(client({ model: 'text-embedding-3-large' }).embed(memories(2)));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/1536 dimensions, expected 3072/);
    expect(server.stats().requests).toBe(1);
  });

  it('keeps the API key out of errors and stats', async () => {
    // Prepare
    server.configure({ failAlways: 401 });
    const embeddings = client();

    // Act
    const error = await failureOf(embeddings.embed(memories(1)));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/refused the API key \(401\)/);
    const everything = JSON.stringify({ message: error.message, context: error.context, stack: error.stack });
    expect(everything).not.toContain(API_KEY);
    expect(JSON.stringify(embeddings.stats())).not.toContain(API_KEY);
  });

  it('retries connection failures and then gives up with the named error', async () => {
    // Prepare: a port nothing listens on
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });

    // Act
    const error = await failureOf(
      client({ baseURL: `http://127.0.0.1:${closedPort}/v1`, maxAttempts: 3 }).embed(memories(1)),
    );

    // Assess
    expect(error).toBeInstanceOf(EmbeddingUnavailableError);
    expect(error.context).toMatchObject({ attempts: 3, lastStatus: 'connection' });
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain(API_KEY);
  });

  it('retries a request that times out', async () => {
    // Prepare
    server.configure({ latencyMs: 200 });

    // Act
    const error = await failureOf(client({ timeoutMs: 50, maxAttempts: 2 }).embed(memories(1)));

    // Assess
    expect(error).toBeInstanceOf(EmbeddingUnavailableError);
    expect(error.context).toMatchObject({ attempts: 2, lastStatus: 'timeout' });
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    // Prepare: count requests in flight at the transport the SDK uses
    server.configure({ latencyMs: 80 });
    let inFlight = 0;
    let peak = 0;
    const countingFetch: typeof fetch = async (input, init) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight -= 1;
      }
    };
    const openai = new OpenAI({
      apiKey: API_KEY,
      baseURL: server.baseURL,
      maxRetries: 0,
      fetch: countingFetch,
    });
    const started = performance.now();

    // Act: 8 requests, 3 at a time, take 3 rounds of latency
    await client({ openai, concurrency: 3, limits: { maxInputsPerRequest: 10 } }).embed(memories(80));

    // Assess
    const elapsed = performance.now() - started;
    expect(server.stats().requests).toBe(8);
    expect(peak).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 80);
    expect(elapsed).toBeLessThan(8 * 80);
  });

  it('holds an unknown model to the vector length of its first answer', async () => {
    // Prepare
    const embeddings = client({ model: 'nomic-embed-text', limits: { maxInputsPerRequest: 5 } });

    // Act
    const vectors = await embeddings.embed(memories(10));

    // Assess
    expect(embeddings.expectedDimensions).toBe(1536);
    expect(vectors.get('memory-9')).toHaveLength(1536);
  });

  it('makes no request for no memories', async () => {
    // Act
    const vectors = await client().embed([]);

    // Assess
    expect(vectors.size).toBe(0);
    expect(server.stats().requests).toBe(0);
  });
});

describe('Function: retryAfterFromHeaders', () => {
  it('reads retry-after-ms first, then Retry-After in seconds or as a date', () => {
    // Prepare
    const now = Date.parse('2026-01-01T00:00:00Z');

    // Act & Assess
    expect(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '1.5' }))).toBe(1500);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(
      3000,
    );
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '3600' }))).toBe(60_000);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterFromHeaders(new Headers())).toBeUndefined();
  });
});
