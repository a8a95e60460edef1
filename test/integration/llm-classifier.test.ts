import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import {
  chatModuleFor,
  type EmbeddingsServer,
  type EmbeddingsStats,
  MALFORMED_CHAT_MARKER,
  startEmbeddingsServer,
} from '../../dev/harness/embeddings-server.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import type { BatchLlmSummary, BatchSummary, MemoryDecision } from '../../functions/core/batch.js';
import { LLM_BATCH_SIZE } from '../../functions/core/llm-classification.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { batchSummarySchema, migrationReportSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const API_KEY = 'sk-llm-3f9a61c0d2e84b7a95c1e6f0a2b4d8c7';
const MODEL = 'gpt-4o-mini';
// Every decision below certainty goes to the model, so each batch sends several requests.
const INPUT = {
  batchSize: 150,
  createUsers: true,
  preserveEmbeddings: true,
  classifier: 'llm',
  llmModel: MODEL,
  llmThreshold: 1,
};
const RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

async function batchSummaries(result: StepRunResult): Promise<BatchSummary[]> {
  const keys = await result.runtime.store.list(runLayout(result.run.runId).batchesPrefix);
  return Promise.all(keys.map((key) => getJson(result.runtime.store, key, batchSummarySchema)));
}

async function decisions(result: StepRunResult): Promise<MemoryDecision[]> {
  const store = result.runtime.store;
  const out: MemoryDecision[] = [];
  for (const key of await store.list(runLayout(result.run.runId).decisionsPrefix)) {
    const body = await store.get(key);
    if (body.length === 0) continue;
    for (const line of gunzipSync(body).toString('utf8').split('\n')) {
      if (line.trim() !== '') out.push(JSON.parse(line) as MemoryDecision);
    }
  }
  return out;
}

const llmOf = (summaries: BatchSummary[]) =>
  summaries.map((s) => s.llm).filter((l): l is BatchLlmSummary => l !== undefined && l !== null);

describe('Step: MigrateBatch with the LLM classifier', () => {
  let server: EmbeddingsServer;
  let sourceUrl: string;
  let targetUrl: string;
  let malformedId: string;
  let contents: Map<string, string>;
  const runtimes: { close(): Promise<void> }[] = [];

  const run = async (
    input: Record<string, unknown>,
  ): Promise<{ result: StepRunResult; stats: EmbeddingsStats }> => {
    server.reset();
    const result = await runSteps({
      sourceUrl,
      targetUrl,
      openAiApiKey: API_KEY,
      openAiBaseUrl: server.baseURL,
      embeddingRetry: RETRY,
      concurrency: 2,
      input: { ...INPUT, ...input },
    });
    runtimes.push(result.runtime);
    return { result, stats: server.stats() };
  };

  beforeAll(async () => {
    server = await startEmbeddingsServer();
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 6, seed: 21 });
    contents = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `SELECT m.id::text AS id FROM memories m JOIN users u ON u.id = m.user_id
          WHERE m.is_deleted IS NOT TRUE AND m.content IS NOT NULL AND m.content <> ''
            AND jsonb_typeof(m.source_metadata) = 'object' AND (m.source_metadata->>'type') IS NULL
          ORDER BY m.id LIMIT 1`,
      );
      malformedId = rows[0]!.id;
      await c.query(`UPDATE memories SET content = $2 || ' ' || content WHERE id::text = $1`, [
        malformedId,
        MALFORMED_CHAT_MARKER,
      ]);
      const all = await c.query<{ id: string; content: string }>(
        'SELECT id::text AS id, content FROM memories WHERE content IS NOT NULL',
      );
      return new Map(all.rows.map((r) => [r.id, r.content]));
    });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await server?.close();
  });

  it('estimates the requests, tokens and cost in a dry run without calling the model', async () => {
    // Act
    const { result, stats } = await run({ dryRun: true });

    // Assess
    const llm = llmOf(await batchSummaries(result));
    const candidates = llm.reduce((n, l) => n + l.candidates, 0);
    expect(stats.chatRequests).toBe(0);
    expect(candidates).toBeGreaterThan(LLM_BATCH_SIZE);
    expect(llm.every((l) => l.estimated && l.model === MODEL)).toBe(true);
    expect(llm.reduce((n, l) => n + l.requests, 0)).toBe(
      llm.reduce((n, l) => n + Math.ceil(l.candidates / LLM_BATCH_SIZE), 0),
    );
    expect(llm.reduce((n, l) => n + l.inputTokens, 0)).toBeGreaterThan(candidates * 5);
    expect(llm.reduce((n, l) => n + (l.estimatedCostUsd ?? 0), 0)).toBeGreaterThan(0);
    const report = await getJson(
      result.runtime.store,
      runLayout(result.run.runId).report.json,
      migrationReportSchema,
    );
    expect(report.classification?.llm).toMatchObject({ model: MODEL, estimated: true, candidates });
    expect(report.classification?.llm?.costUsd).toBeGreaterThan(0);
  });

  describe('a real run', () => {
    let result: StepRunResult;
    let stats: EmbeddingsStats;
    let summaries: BatchSummary[];
    let all: MemoryDecision[];

    beforeAll(async () => {
      server.configure({ failNext429: 1 });
      // run() resets the server first: configure again through the reset by wrapping it.
      const reset = server.reset;
      server.reset = () => {
        reset();
        server.configure({ failNext429: 1 });
      };
      try {
        ({ result, stats } = await run({}));
      } finally {
        server.reset = reset;
      }
      summaries = await batchSummaries(result);
      all = await decisions(result);
    });

    it('sends the unsure memories in requests of at most 50, retrying a throttled one', () => {
      // Assess
      const llm = llmOf(summaries);
      const expected = llm.reduce((n, l) => n + Math.ceil(l.candidates / LLM_BATCH_SIZE), 0);
      expect(stats.served429).toBe(1);
      expect(stats.chatRequests).toBe(expected + 1);
      expect(llm.reduce((n, l) => n + l.retries, 0)).toBe(1);
      expect(llm.every((l) => !l.estimated)).toBe(true);
    });

    it("records the model's choice as llm:<model>, and the target rows follow it", async () => {
      // Prepare
      const byLlm = all.filter((d) => d.rule === `llm:${MODEL}`);
      const ledger = await withClient(targetUrl, async (c) => {
        const { rows } = await c.query<{ source_id: string; module: string }>(
          `SELECT source_id, module FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated'`,
        );
        return new Map(rows.map((r) => [r.source_id, r.module]));
      });

      // Assess
      expect(byLlm.length).toBe(llmOf(summaries).reduce((n, l) => n + l.decided, 0));
      expect(byLlm.length).toBeGreaterThan(LLM_BATCH_SIZE);
      for (const d of byLlm) {
        expect(d.module).toBe(chatModuleFor(contents.get(d.sourceId) as string, MODULE_IDS));
        expect(d.evidence).toMatch(new RegExp(`^${MODEL} chose ${d.module}; offline \\w+:`));
        expect(ledger.get(d.sourceId)).toBe(d.module);
      }
    });

    it('keeps the offline decision for every memory of a malformed answer', () => {
      // Prepare
      const llm = llmOf(summaries);
      const marked = all.find((d) => d.sourceId === malformedId);

      // Assess
      expect(stats.chatMalformed).toBe(1);
      expect(llm.reduce((n, l) => n + l.malformed, 0)).toBe(1);
      expect(marked?.status).toBe('migrated');
      expect(marked?.rule).not.toMatch(/^llm:/);
      const fellBack = llm.reduce((n, l) => n + l.fellBack, 0);
      expect(fellBack).toBeGreaterThan(1);
      expect(fellBack).toBeLessThanOrEqual(LLM_BATCH_SIZE);
      expect(
        all.filter((d) => d.status === 'migrated' && d.confidence !== 1 && !d.rule?.startsWith('llm:')),
      ).toHaveLength(fellBack);
    });
  });
});
