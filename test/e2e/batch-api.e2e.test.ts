import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { estimateTokens } from '../../dev/harness/embedding-vectors.js';
import { type EmbeddingsServer, startEmbeddingsServer } from '../../dev/harness/embeddings-server.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { withClient } from '../../dev/support/checksums.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { runLayout } from '../../functions/core/run-options.js';
import { readBatchOutput } from '../../functions/embed/batch-files.js';
import { truncateToTokens } from '../../functions/embed/token-estimate.js';
import type { EmbeddingBatchManifest } from '../../functions/steps/embedding-batches.js';
import {
  batchSummarySchema,
  embeddingBatchManifestSchema,
  migrationReportSchema,
} from '../../functions/steps/stored-schemas.js';
import { getJson, putJson, S3RunStore } from '../../functions/store/run-store.js';
import { runLocalMigration, type StoreChoice } from '../../scripts/cli/local-migration.js';

const API_KEY = 'sk-batch-e2e-5d1f0c9a7b3e';
// 600 memories in files of at most 150: four batches; the third expires, and every 9th line of the
// others fails, so both kinds of leftover go through the synchronous path.
const FILE_MAX_INPUTS = 150;
const INPUT = { batchSize: 100, createUsers: true, embeddingApi: 'batch', embeddingBatchPollSeconds: 1 };

/** The memories' tokens as the run counts them (tiktoken) and as the harness server does. */
async function sourceTokens(sourceUrl: string): Promise<{ ours: number; server: number }> {
  const { rows } = await withClient(sourceUrl, (c) =>
    c.query<{ content: string }>(
      "SELECT content FROM memories WHERE is_deleted IS NOT TRUE AND coalesce(trim(content), '') <> ''",
    ),
  );
  return {
    ours: rows.reduce((n, r) => n + truncateToTokens(r.content, 8192).tokens, 0),
    server: rows.reduce((n, r) => n + estimateTokens(r.content), 0),
  };
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

async function targetVectors(targetUrl: string): Promise<Map<string, Buffer>> {
  return withClient(targetUrl, async (c) => {
    const out = new Map<string, Buffer>();
    for (const module of MODULE_IDS) {
      const { rows } = await c.query<{ embedding: Buffer; metadata: Record<string, unknown> }>(
        `SELECT vector_send(embedding) AS embedding, metadata FROM "${module}_memories"`,
      );
      for (const r of rows) out.set(String(r.metadata.original_id), r.embedding);
    }
    return out;
  });
}

describe('End to end: embeddings through the Batch API, run locally', () => {
  let server: EmbeddingsServer;
  let sourceUrl: string;
  let targetUrl: string;
  let storeChoice: StoreChoice;
  let input: Record<string, unknown>;
  let tokens: { ours: number; server: number };
  const savedEnv = { ...process.env };

  const run = (input: Record<string, unknown>, executionName: string) =>
    runLocalMigration({
      sourceUrl,
      targetUrl,
      input,
      storeChoice,
      concurrency: 2,
      executionName,
      progress: false,
    });

  beforeAll(async () => {
    // A private server: its batches and counters are this file's alone.
    server = await startEmbeddingsServer({ batchCompletionMs: 1500, batchFailEvery: 9, batchExpireEvery: 3 });
    Object.assign(process.env, {
      OPENAI_API_KEY: API_KEY,
      OPENAI_BASE_URL: server.baseURL,
      EMBEDDING_BATCH_FILE_MAX_INPUTS: String(FILE_MAX_INPUTS),
    });
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 8, seed: 2222 });
    const s3 = makeS3Client(services().s3Endpoint);
    const bucket = await createBucket(s3);
    storeChoice = { store: new S3RunStore(s3, bucket), bucket, s3 };
    // A queue of about half the run's tokens: the four batches must go in waves, and the server
    // fails any batch that would take its queue past two thirds of them.
    tokens = await sourceTokens(sourceUrl);
    input = { ...INPUT, embeddingBatchQueueTokens: Math.ceil(tokens.ours * 0.55) };
    server.configure({ batchQueueTokens: Math.ceil(tokens.server * 0.7) });
  }, 120_000);

  afterAll(async () => {
    for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'EMBEDDING_BATCH_FILE_MAX_INPUTS']) {
      if (savedEnv[name] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[name];
    }
    await server?.close();
  });

  it('a dry run sends nothing and prices both APIs: the Batch API at half, in waves of the queue limit', async () => {
    // Act
    const result = await run({ ...input, dryRun: true }, 'batch-dry-run');

    // Assess
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const stats = server.stats();
    expect(stats.requests).toBe(0);
    expect(stats.batchApi).toMatchObject({ filesUploaded: 0, batchesCreated: 0 });
    const layout = runLayout('batch-dry-run');
    const report = await getJson(storeChoice.store, layout.report.json, migrationReportSchema);
    const e = report.embeddings;
    expect(e?.api).toBe('batch');
    expect(e?.estimatedCostUsd).toBeGreaterThan(0);
    expect(e?.apiModes).toEqual({
      tokens: e?.estimatedTokens,
      sync: {
        costUsd: e?.estimatedCostUsd,
        tokensPerMinute: 1_000_000,
        minutes: (e?.estimatedTokens ?? 0) / 1_000_000,
      },
      batch: {
        costUsd: (e?.estimatedCostUsd ?? 0) / 2,
        queueTokens: input.embeddingBatchQueueTokens,
        waves: 2,
        hoursAtMost: 48,
      },
    });
    const markdown = (await storeChoice.store.get(layout.report.markdown)).toString();
    expect(markdown).toMatch(
      /Sync vs Batch API \| sync: \$[\d.]+, at least .* Batch API \(this run\): \$[\d.]+, 2 waves/,
    );
    expect((await storeChoice.store.get(layout.report.html)).toString()).toContain('Sync vs Batch API');
    expect(report.commands?.rerun).toContain('--embedding-api batch');
  }, 240_000);

  it('stores the vectors the batch output files hold, bit for bit, and embeds the failed and expired inputs synchronously', async () => {
    // Act
    const result = await run(input, 'batch-run');

    // Assess: the run went through the wait loop to the end
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const stats = server.stats();
    const manifest = await getJson(
      storeChoice.store,
      runLayout('batch-run').embeddingBatches,
      embeddingBatchManifestSchema,
    );
    expect(manifest.batches.map((b) => b.status)).toEqual(['completed', 'completed', 'expired', 'completed']);
    expect(stats.batchApi).toMatchObject({ filesUploaded: 4, batchesCreated: 4, batchesRefused: 0 });
    // In waves: never all the run's tokens in the queue at once
    expect(stats.batchApi.peakQueuedTokens).toBeLessThan(tokens.server * 0.7);
    expect(manifest.batches.reduce((n, b) => n + b.inputs, 0)).toBe(
      stats.batchApi.batchInputs + stats.batchApi.batchFailedInputs,
    );

    // Assess: every vector a batch made is in the target as the output file holds it
    const openai = new OpenAI({ apiKey: API_KEY, baseURL: server.baseURL });
    const fromFiles = new Map<string, Float32Array>();
    for (const batch of manifest.batches) {
      const text = async (id: string | null) => (id ? (await openai.files.content(id)).text() : '');
      const output = readBatchOutput(await text(batch.outputFileId), await text(batch.errorFileId), {
        dimensions: 1536,
      });
      for (const [id, vector] of output.vectors) fromFiles.set(id, vector);
    }
    expect(fromFiles.size).toBe(stats.batchApi.batchInputs);
    const target = await targetVectors(targetUrl);
    const mismatches = [...fromFiles].filter(([id, vector]) => !target.get(id)?.equals(vectorSend(vector)));
    expect(mismatches.map(([id]) => id)).toEqual([]);

    // Assess: what the batches did not embed went through /v1/embeddings, and nothing else did
    expect(stats.batchApi.batchFailedInputs).toBeGreaterThan(FILE_MAX_INPUTS);
    expect(stats.inputs).toBe(stats.batchApi.batchFailedInputs);
    expect(target.size).toBe(fromFiles.size + stats.inputs);
    const report = await getJson(
      storeChoice.store,
      runLayout('batch-run').report.json,
      migrationReportSchema,
    );
    expect(report.totals.migrated).toBe(target.size);
    const keys = await storeChoice.store.list(runLayout('batch-run').batchesPrefix);
    const summaries = await Promise.all(
      keys.map((key) => getJson(storeChoice.store, key, batchSummarySchema)),
    );
    expect(summaries.reduce((n, b) => n + (b.embedding?.batchInputs ?? 0), 0)).toBe(fromFiles.size);
  }, 240_000);

  it('a rerun finds the batches it created by their metadata and creates none', async () => {
    // Prepare: the run store forgets the batches, so only the API's list can give them back
    const before = server.stats().batchApi;
    const key = runLayout('batch-run').embeddingBatches;
    const made = await getJson(storeChoice.store, key, embeddingBatchManifestSchema);
    await putJson(storeChoice.store, key, { batches: [] } satisfies EmbeddingBatchManifest);

    // Act
    const result = await run(input, 'batch-run');

    // Assess
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const after = server.stats().batchApi;
    expect(after.batchesCreated).toBe(before.batchesCreated);
    expect(after.filesUploaded).toBe(before.filesUploaded);
    const found = await getJson(storeChoice.store, key, embeddingBatchManifestSchema);
    expect(found.batches.map((b) => b.batchId)).toEqual(made.batches.map((b) => b.batchId));
  }, 240_000);
});
