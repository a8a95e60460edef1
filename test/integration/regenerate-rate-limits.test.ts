import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { type EmbeddingsServer, startEmbeddingsServer } from '../../dev/harness/embeddings-server.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import type { MigrationReport } from '../../functions/core/report/model.js';
import { runLayout } from '../../functions/core/run-options.js';
import { batchSummarySchema, migrationReportSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// About 20,000 tokens to embed: at 60,000 a minute, ~20 s with the workers waiting for the budget.
const TPM = 60_000;
const RPM = 600;

describe('Regenerate under the account rate limit', () => {
  let server: EmbeddingsServer;
  let result: StepRunResult;
  let report: MigrationReport;
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    // A private server: its limits would slow every other file's requests.
    server = await startEmbeddingsServer({
      tokensPerMinute: TPM,
      requestsPerMinute: RPM,
    });
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 800, users: 10, seed: 22 });
    result = await runSteps({
      sourceUrl,
      targetUrl,
      openAiApiKey: 'sk-rate-limits-test',
      openAiBaseUrl: server.baseURL,
      concurrency: 4,
      input: { batchSize: 100, createUsers: true, embeddingTpm: TPM, embeddingRpm: RPM },
    });
    report = await getJson(
      result.runtime.store,
      runLayout(result.run.runId).report.json,
      migrationReportSchema,
    );
  }, 120_000);

  afterAll(async () => {
    await result?.runtime.close();
    await server?.close();
  });

  it('shares the budget over the four workers, waiting for it instead of meeting 429s', async () => {
    // Prepare
    const layout = runLayout(result.run.runId);
    const keys = await result.runtime.store.list(layout.batchesPrefix);
    const batches = await Promise.all(
      keys.map((key) => getJson(result.runtime.store, key, batchSummarySchema)),
    );

    // Assess: every batch embedded, none refused
    expect(batches).toHaveLength(8);
    expect(batches.every((b) => (b.embedding?.inputs ?? 0) > 0)).toBe(true);
    const stats = server.stats();
    expect(stats.servedRateLimited).toBe(0);
    expect(report.embeddings).toMatchObject({
      mode: 'regenerate',
      limitTokensPerMinute: TPM,
      limitRequestsPerMinute: RPM,
      rateLimited: stats.servedRateLimited,
      tokens: stats.tokens,
    });
    expect(report.embeddings?.paceWaitMs).toBeGreaterThan(0);
    // The workers start from an empty budget and so never pass the limit, and keep close to it.
    expect(report.embeddings?.tokensPerMinute).toBeLessThanOrEqual(TPM);
    expect(report.embeddings?.tokensPerMinute).toBeGreaterThan(TPM * 0.5);
  });

  it('names the budget in the report a person reads', async () => {
    // Act
    const markdown = (await result.runtime.store.get(runLayout(result.run.runId).report.markdown)).toString();

    // Assess
    expect(markdown).toMatch(
      /Rate budget \| 60,000 tokens, 600 requests a minute; reached [\d,]+ tokens\/min/,
    );
  });

  it('says in a dry run how long the estimated tokens take at the budget', async () => {
    // Act: 1,200 tokens a minute, so the ~20,000 estimated tokens take over 15 minutes (every
    // memory: the run above migrated them all, and a dry run too skips what is unchanged)
    const dry = await runSteps({
      sourceUrl,
      targetUrl,
      openAiApiKey: 'sk-rate-limits-test',
      openAiBaseUrl: server.baseURL,
      input: { batchSize: 100, dryRun: true, embeddingTpm: 1200, forceReprocess: true },
    });
    const markdown = (await dry.runtime.store.get(runLayout(dry.run.runId).report.markdown)).toString();
    await dry.runtime.close();

    // Assess
    expect(markdown).toMatch(
      /Rate budget \| 1,200 tokens, 3,000 requests a minute; the estimated tokens take at least (1[5-9]|2\d) min/,
    );
  });
});
