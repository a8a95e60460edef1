import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import {
  type EmbeddingsServer,
  type EmbeddingsStats,
  embeddingFor,
  startEmbeddingsServer,
} from '../../dev/harness/embeddings-server.js';
import { tableChecksum, withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunOptions, type StepRunResult } from '../../dev/support/run-steps.js';
import type { BatchSummary } from '../../functions/core/batch.js';
import { reduceEmbeddingForCmi } from '../../functions/core/embedding.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { type KeyRange, rangePredicate } from '../../functions/db/source-reader.js';
import { EmbeddingUnavailableError, PreflightError } from '../../functions/errors.js';
import {
  batchSummarySchema,
  keyRangesSchema,
  migrationReportSchema,
} from '../../functions/steps/stored-schemas.js';
import { FileRunStore, getJson, type RunStore } from '../../functions/store/run-store.js';

const API_KEY = 'sk-regen-7c41e9a2b5d8f03164a7e2c9b0d5f8a1';
const MODEL = 'text-embedding-3-small';
const BATCH_SIZE = 200;
const INPUT = { batchSize: BATCH_SIZE, createUsers: true };
// Few, short waits: the failure tests exhaust the attempts against a server on this machine.
const RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
// OpenAI's per-request input limit; a 200-memory batch fits in one request.
const MAX_INPUTS_PER_REQUEST = 2048;

interface TargetVector {
  sourceId: string;
  targetId: string;
  module: string;
  content: string;
  embedding: Buffer | null;
  metadata: Record<string, unknown>;
}

interface SourceRow {
  id: string;
  user_id: string;
  content: string | null;
  embedding: Buffer | null;
}

/** pgvector's binary form (vector_send): int16 dimensions, int16 unused, big-endian float4 values. */
function vectorSend(vector: Float32Array): Buffer {
  const bytes = Buffer.alloc(4 + vector.length * 4);
  bytes.writeInt16BE(vector.length, 0);
  vector.forEach((value, index) => {
    bytes.writeFloatBE(value, 4 + index * 4);
  });
  return bytes;
}

// The same test the batch worker applies before asking for a vector.
const embeddable = (row: SourceRow, mappedUsers: ReadonlySet<string>) =>
  row.content !== null && row.content.trim() !== '' && mappedUsers.has(row.user_id);

async function moduleVectors(targetUrl: string): Promise<Map<string, TargetVector>> {
  return withClient(targetUrl, async (c) => {
    const out = new Map<string, TargetVector>();
    for (const module of MODULE_IDS) {
      const { rows } = await c.query<{
        id: string;
        content: string;
        embedding: Buffer | null;
        metadata: Record<string, unknown>;
      }>(`SELECT id, content, vector_send(embedding) AS embedding, metadata FROM "${module}_memories"`);
      for (const r of rows) {
        const sourceId = String(r.metadata.original_id);
        out.set(sourceId, { sourceId, targetId: r.id, module, ...r });
      }
    }
    return out;
  });
}

async function cmiVectors(targetUrl: string): Promise<Map<string, Buffer | null>> {
  return withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ remote: string; embedding: Buffer | null }>(
      'SELECT "remoteMemoryId" AS remote, vector_send(embedding) AS embedding FROM memory_index',
    );
    return new Map(rows.map((r) => [r.remote, r.embedding]));
  });
}

async function sourceRows(sourceUrl: string): Promise<Map<string, SourceRow>> {
  return withClient(sourceUrl, async (c) => {
    const { rows } = await c.query<SourceRow>(
      `SELECT id::text, user_id::text, content, vector_send(embedding) AS embedding
         FROM memories WHERE is_deleted IS NOT TRUE`,
    );
    return new Map(rows.map((r) => [r.id, r]));
  });
}

async function mappedUsers(targetUrl: string): Promise<Set<string>> {
  return withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `SELECT source_user_id AS id FROM ${LEDGER_SCHEMA}.user_map WHERE target_user_id IS NOT NULL`,
    );
    return new Set(rows.map((r) => r.id));
  });
}

/** Source ids of each planned range, read with the range's own predicate. */
async function idsByRange(sourceUrl: string, ranges: KeyRange[]): Promise<string[][]> {
  return withClient(sourceUrl, async (c) => {
    const out: string[][] = [];
    for (const range of ranges) {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE is_deleted IS NOT TRUE AND ${rangePredicate(range, 'uuid')}`,
      );
      out.push(rows.map((r) => r.id));
    }
    return out;
  });
}

/** What a failed batch could have touched: module rows, CMI rows and the memory ledger (run ids included). */
async function batchTableChecksums(targetUrl: string): Promise<Record<string, string>> {
  return withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
      `${LEDGER_SCHEMA}.memory_ledger`,
    ]);
    const tables = [
      ...MODULE_IDS.map((m) => `"${m}_memories"`),
      'memory_index',
      ...(rows[0]?.present ? [`${LEDGER_SCHEMA}.memory_ledger`] : []),
    ];
    const out: Record<string, string> = {};
    for (const table of tables) {
      out[table] = await tableChecksum(c, table, table.endsWith('memory_ledger') ? 'source_id' : 'id');
    }
    return out;
  });
}

async function batchSummaries(result: StepRunResult): Promise<BatchSummary[]> {
  const layout = runLayout(result.run.runId);
  const keys = await result.runtime.store.list(layout.batchesPrefix);
  return Promise.all(keys.map((key) => getJson(result.runtime.store, key, batchSummarySchema)));
}

async function storedText(store: RunStore, prefix = 'runs/'): Promise<string> {
  const parts: string[] = [];
  for (const key of await store.list(prefix)) {
    const body = await store.get(key);
    parts.push(
      key.endsWith('.gz') && body.length > 0 ? gunzipSync(body).toString('utf8') : body.toString('utf8'),
    );
  }
  return parts.join('\n');
}

async function failureOf(promise: Promise<unknown>): Promise<Error & { context?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { context?: Record<string, unknown> };
  }
  throw new Error('expected the run to fail');
}

describe('Step: MigrateBatch regenerating embeddings', () => {
  let server: EmbeddingsServer;
  let sourceUrl: string;
  let targetUrl: string;
  const results: StepRunResult[] = [];
  const runtimes: { close(): Promise<void> }[] = [];
  const failedStores: RunStore[] = [];
  let runCount = 0;

  const run = async (
    overrides: Partial<StepRunOptions> & { input?: Record<string, unknown> } = {},
  ): Promise<StepRunResult> => {
    const result = await runSteps({
      sourceUrl,
      targetUrl,
      openAiApiKey: API_KEY,
      openAiBaseUrl: server.baseURL,
      embeddingRetry: RETRY,
      concurrency: 2,
      ...overrides,
      input: { ...INPUT, ...overrides.input },
    });
    results.push(result);
    runtimes.push(result.runtime);
    return result;
  };

  /** A run expected to fail; its store is kept so the failure report can be read. */
  const failingRun = async (url: string, overrides: Partial<StepRunOptions> = {}) => {
    const store = new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-regenerate-')));
    failedStores.push(store);
    const runId = `regenerate-failure-${process.pid}-${++runCount}`;
    const error = await failureOf(run({ targetUrl: url, runId, store, concurrency: 1, ...overrides }));
    return { error, store, runId };
  };

  beforeAll(async () => {
    server = await startEmbeddingsServer();
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 12, seed: 6 });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await server?.close();
  });

  beforeEach(() => {
    server.reset();
  });

  describe('a full regenerate run', () => {
    let first: StepRunResult;
    // Read once: the outer beforeEach zeroes the server's counters before every test.
    let stats: EmbeddingsStats;

    beforeAll(async () => {
      server.reset();
      first = await run();
      stats = server.stats();
    });

    it('sends one request per batch that has memories to embed, where the original scripts sent two per memory', async () => {
      // Prepare
      const ranges = await getJson(
        first.runtime.store,
        runLayout(first.run.runId).memoryRanges,
        keyRangesSchema,
      );
      const [source, users, byRange] = await Promise.all([
        sourceRows(sourceUrl),
        mappedUsers(targetUrl),
        idsByRange(sourceUrl, ranges),
      ]);
      const embeddablePerBatch = byRange.map(
        (ids) => ids.filter((id) => embeddable(source.get(id)!, users)).length,
      );
      const expectedRequests = embeddablePerBatch.reduce(
        (n, inputs) => n + Math.ceil(inputs / MAX_INPUTS_PER_REQUEST),
        0,
      );
      const summaries = await batchSummaries(first);
      const migrated = summaries.reduce((n, b) => n + b.migrated, 0);

      // Assess
      expect(ranges.length).toBe(3);
      expect(embeddablePerBatch.filter((n) => n > 0)).toHaveLength(3);
      expect(stats.requests).toBe(expectedRequests);
      expect(stats.requests).toBe(3);
      expect(stats.inputs).toBe(embeddablePerBatch.reduce((a, b) => a + b, 0));
      expect(stats.served429 + stats.served5xx + stats.served400).toBe(0);
      // The seed's approach: one request per memory for the module row and one for the CMI row.
      const seedRequests = 2 * migrated;
      expect(stats.requests * 100).toBeLessThan(seedRequests);
      for (const summary of summaries) {
        expect(summary.embedding).toMatchObject({
          inputs: embeddablePerBatch[summary.index],
          requests: 1,
          retries: 0,
          truncated: 0,
          estimated: false,
        });
      }
    });

    it('stores the vector the server returned for each memory bit for bit, and its triple average in the CMI', async () => {
      // Prepare
      const [source, target, cmi] = await Promise.all([
        sourceRows(sourceUrl),
        moduleVectors(targetUrl),
        cmiVectors(targetUrl),
      ]);
      const moduleMismatches: string[] = [];
      const cmiMismatches: string[] = [];

      // Act
      for (const row of target.values()) {
        const content = source.get(row.sourceId)?.content;
        expect(content).toBe(row.content);
        const expected = embeddingFor(content as string, 1536);
        if (!row.embedding?.equals(vectorSend(expected))) moduleMismatches.push(row.sourceId);
        if (!cmi.get(row.targetId)?.equals(vectorSend(reduceEmbeddingForCmi(expected)))) {
          cmiMismatches.push(row.sourceId);
        }
      }

      // Assess
      expect(target.size).toBeGreaterThan(500);
      expect(cmi.size).toBe(target.size);
      expect(moduleMismatches).toEqual([]);
      expect(cmiMismatches).toEqual([]);
    });

    it("records the embedding model in each migrated memory's metadata", async () => {
      // Act
      const target = await moduleVectors(targetUrl);

      // Assess
      const models = new Set([...target.values()].map((row) => row.metadata.embedding_model));
      expect([...models]).toEqual([MODEL]);
    });

    it('reports the requests, tokens and retries of a real run, and never stores the API key', async () => {
      // Prepare
      const report = await getJson(
        first.runtime.store,
        runLayout(first.run.runId).report.json,
        migrationReportSchema,
      );

      // Assess
      expect(report.embeddings).toMatchObject({ mode: 'regenerate', model: MODEL, requests: 3, retries: 0 });
      expect(report.embeddings?.tokens).toBeGreaterThan(0);
      expect(report.embeddings?.estimatedCostUsd).toBeCloseTo(
        ((report.embeddings?.tokens ?? 0) * 0.02) / 1e6,
        12,
      );
      expect(await storedText(first.runtime.store)).not.toContain(API_KEY);
    });
  });

  it('waits out a 429 with Retry-After and completes the run', async () => {
    // Prepare
    server.configure({ failNext429: 2, retryAfterSeconds: 0.2 });
    const before = await moduleVectors(targetUrl);

    // Act: every memory again (a rerun would leave the migrated ones alone)
    const result = await run({ batchesOnly: true, input: { forceReprocess: true } });

    // Assess
    const stats = server.stats();
    expect(stats.served429).toBe(2);
    expect(stats.requests).toBe(3 + 2);
    const summaries = await batchSummaries(result);
    const retried = summaries.filter((b) => (b.embedding?.retries ?? 0) >= 1);
    expect(retried.length).toBeGreaterThanOrEqual(1);
    expect(summaries.reduce((n, b) => n + (b.embedding?.retries ?? 0), 0)).toBe(2);
    for (const b of retried) expect(b.embedding?.waitMs).toBeGreaterThanOrEqual(200);
    const hexOf = (rows: Map<string, TargetVector>) =>
      Object.fromEntries([...rows].map(([id, r]) => [id, r.embedding?.toString('hex')]));
    expect(hexOf(await moduleVectors(targetUrl))).toEqual(hexOf(before));
  });

  it('retries a burst of 5xx answers and completes the run', async () => {
    // Prepare
    server.configure({ failNext5xx: 3, status5xx: 503 });

    // Act
    const result = await run({ batchesOnly: true, input: { forceReprocess: true } });

    // Assess
    const stats = server.stats();
    expect(stats.served5xx).toBe(3);
    expect(stats.requests).toBe(3 + 3);
    const summaries = await batchSummaries(result);
    expect(summaries.reduce((n, b) => n + (b.embedding?.retries ?? 0), 0)).toBe(3);
    expect(summaries.reduce((n, b) => n + b.migrated, 0)).toBeGreaterThan(500);
  });

  describe('a batch whose embeddings cannot be had', () => {
    it('fails with EmbeddingUnavailableError and writes nothing on a fresh target', async () => {
      // Prepare
      const freshTarget = await createTarget();
      const before = await batchTableChecksums(freshTarget);
      server.configure({ failAlways: 500 });

      // Act
      const { error, store, runId } = await failingRun(freshTarget, {
        embeddingRetry: { ...RETRY, maxAttempts: 2 },
      });

      // Assess
      expect(error).toBeInstanceOf(EmbeddingUnavailableError);
      expect(error.name).toBe('EmbeddingUnavailableError');
      expect(error.context).toMatchObject({ attempts: 2, lastStatus: 500, model: MODEL });
      // One batch at a time: the first one spends its two attempts and the run stops there.
      expect(server.stats()).toMatchObject({ requests: 2, servedFailAlways: 2, inputs: 0 });
      const after = await batchTableChecksums(freshTarget);
      const { [`${LEDGER_SCHEMA}.memory_ledger`]: ledger, ...publicTables } = after;
      expect(publicTables).toEqual(before);
      expect(ledger).toBe('0:empty');
      const report = await getJson(store, runLayout(runId).report.json, migrationReportSchema);
      expect(report.run.status).toBe('failed');
      expect(report.error?.name).toBe('EmbeddingUnavailableError');
    });

    it('leaves an already migrated batch exactly as it was, ledger included', async () => {
      // Prepare: the ledger's run_id and updated_at change on any write, so equal checksums mean none.
      const before = await batchTableChecksums(targetUrl);
      server.configure({ failAlways: 500 });

      // Act: every memory again, so the batches ask for embeddings
      const { error } = await failingRun(targetUrl, {
        embeddingRetry: { ...RETRY, maxAttempts: 2 },
        input: { forceReprocess: true },
      });

      // Assess
      expect(error).toBeInstanceOf(EmbeddingUnavailableError);
      expect(server.stats().requests).toBe(2);
      expect(await batchTableChecksums(targetUrl)).toEqual(before);
    });

    it('keeps the API key out of the thrown error and the failure report', async () => {
      // Prepare
      server.configure({ failAlways: 503 });

      // Act
      const { error, store } = await failingRun(await createTarget(), {
        embeddingRetry: { ...RETRY, maxAttempts: 1 },
      });

      // Assess: thrown errors go into the state machine's history and the failure report.
      expect(error).toBeInstanceOf(EmbeddingUnavailableError);
      const thrown = [error.message, error.stack, JSON.stringify(error.context), String(error.cause ?? '')];
      expect(thrown.join('\n')).not.toContain(API_KEY);
      expect(await storedText(store)).not.toContain(API_KEY);
    });
  });

  it('keeps every valid source vector with embedMissingOnly and embeds only the memories without one', async () => {
    // Prepare
    const missingTarget = await createTarget();
    const source = await sourceRows(sourceUrl);

    // Act
    const result = await run({
      targetUrl: missingTarget,
      batchesOnly: true,
      input: { preserveEmbeddings: true, embedMissingOnly: true },
    });

    // Assess
    const users = await mappedUsers(missingTarget);
    const missing = [...source.values()].filter((r) => embeddable(r, users) && r.embedding === null);
    expect(missing.length).toBeGreaterThan(0);
    expect(server.stats().inputs).toBe(missing.length);
    const summaries = await batchSummaries(result);
    expect(summaries.reduce((n, b) => n + (b.embedding?.inputs ?? 0), 0)).toBe(missing.length);
    const target = await moduleVectors(missingTarget);
    let kept = 0;
    let embedded = 0;
    for (const row of target.values()) {
      const own = source.get(row.sourceId)!;
      if (own.embedding === null) {
        expect(row.embedding?.equals(vectorSend(embeddingFor(own.content as string, 1536)))).toBe(true);
        expect(row.metadata.embedding_model).toBe(MODEL);
        embedded += 1;
      } else {
        expect(row.embedding?.equals(own.embedding)).toBe(true);
        // A kept vector was not made by the model: its metadata must not claim so.
        expect(row.metadata.embedding_model).toBeUndefined();
        kept += 1;
      }
    }
    expect(embedded).toBe(missing.length);
    expect(kept).toBeGreaterThan(500);
  });

  it('sends nothing in a dry run and reports the estimated tokens, requests and cost', async () => {
    // Act
    const result = await run({ input: { dryRun: true, forceReprocess: true } });

    // Assess
    expect(server.stats()).toMatchObject({ requests: 0, inputs: 0 });
    const report = await getJson(
      result.runtime.store,
      runLayout(result.run.runId).report.json,
      migrationReportSchema,
    );
    expect(report.embeddings).toMatchObject({ mode: 'regenerate', model: MODEL, estimatedRequests: 3 });
    const tokens = report.embeddings?.estimatedTokens ?? 0;
    expect(tokens).toBeGreaterThan(0);
    expect(report.embeddings?.estimatedCostUsd).toBeCloseTo((tokens * 0.02) / 1e6, 12);
    expect(report.embeddings?.requests).toBeNull();
    const summaries = await batchSummaries(result);
    for (const b of summaries) expect(b.embedding?.estimated).toBe(true);
  });

  it.each([
    [
      'dimensions',
      { embeddingDimensions: 512 },
      /vector\(1536\).*--embedding-dimensions 1536.*"embeddingDimensions": 1536/,
    ],
    [
      'model',
      { embeddingModel: 'my-local-model' },
      /my-local-model.*vector\(1536\).*--embedding-dimensions 1536/,
    ],
  ])('refuses a %s that does not match the target before anything is written', async (_, input, message) => {
    // Prepare
    const freshTarget = await createTarget();

    // Act
    const { error } = await failingRun(freshTarget, { input });

    // Assess
    expect(error).toBeInstanceOf(PreflightError);
    expect(error.message).toMatch(message);
    expect(server.stats().requests).toBe(0);
    const ledger = await withClient(freshTarget, (c) =>
      c.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [LEDGER_SCHEMA]),
    );
    expect(ledger.rows[0]?.present).toBe(false);
    const users = await withClient(freshTarget, (c) => c.query('SELECT 1 FROM "users"'));
    expect(users.rows).toEqual([]);
  });

  it('never puts the API key into any object of any run', async () => {
    // Assess
    expect(results.length).toBeGreaterThanOrEqual(5);
    for (const store of [...results.map((r) => r.runtime.store), ...failedStores]) {
      expect(await storedText(store)).not.toContain(API_KEY);
    }
  });
});
