import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import type { ReportResult } from '../../functions/steps/report.js';
import { S3RunStore } from '../../functions/store/run-store.js';
import { runLocalMigration, type StoreChoice } from '../../scripts/cli/local-migration.js';

// Trust auth ignores the password, so it can be planted in the URLs and looked for everywhere.
const PASSWORD = 'pw-Sup3r-s3cret-4e2e';
const withPassword = (url: string) =>
  url.replace('postgresql://postgres@', `postgresql://postgres:${PASSWORD}@`);

describe('End to end: the synthesized state machine run locally', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let storeChoice: StoreChoice;
  const logs: string[] = [];
  const restore: (() => void)[] = [];

  beforeAll(async () => {
    const urls = await freshDatabases();
    sourceUrl = withPassword(urls.sourceUrl);
    targetUrl = withPassword(urls.targetUrl);
    expect(sourceUrl).toContain(PASSWORD);
    await generateBigMemory({ databaseUrl: urls.sourceUrl, memories: 1_200, users: 15, seed: 99 });
    const s3 = makeS3Client(services().s3Endpoint);
    const bucket = await createBucket(s3);
    storeChoice = { store: new S3RunStore(s3, bucket), bucket, s3 };
    // Capture every line written while the pipeline runs (Powertools logs to stdout).
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        logs.push(String(chunk));
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => {
        stream.write = write;
      });
    }
  });

  afterAll(() => {
    for (const r of restore) r();
  });

  async function allObjects(prefix: string): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const key of await storeChoice.store.list(prefix)) out.set(key, await storeChoice.store.get(key));
    return out;
  }

  const executionResults: string[] = [];
  const run = async (
    input: Record<string, unknown>,
    executionName: string,
    urls = { sourceUrl, targetUrl },
  ) => {
    const result = await runLocalMigration({
      ...urls,
      input,
      storeChoice,
      concurrency: 2,
      executionName,
      progress: false,
    });
    executionResults.push(JSON.stringify(result));
    return result;
  };

  it('a dry run writes its report and leaves the target byte-identical', async () => {
    // Prepare
    const before = await targetChecksums(targetUrl);

    // Act
    const result = await run({ dryRun: true, preserveEmbeddings: true, batchSize: 200 }, 'e2e-dry-run');

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(await targetChecksums(targetUrl)).toEqual(before);
    const ledger = await withClient(targetUrl, (c) =>
      c.query(`SELECT to_regnamespace('${LEDGER_SCHEMA}') AS s`),
    );
    expect(ledger.rows[0].s).toBeNull();
    const output = result.output as ReportResult;
    expect(output.dryRun).toBe(true);
    const layout = runLayout('e2e-dry-run');
    const report = JSON.parse((await storeChoice.store.get(layout.report.json)).toString()) as {
      totals: { migrated: number; rejected: number };
    };
    expect(report.totals.migrated + report.totals.rejected).toBe(output.accounting?.liveSourceMemories);
    const decisions = gunzipSync(await storeChoice.store.get(layout.report.decisions))
      .toString()
      .trim()
      .split('\n');
    expect(decisions).toHaveLength(output.accounting?.liveSourceMemories ?? -1);
    expect(JSON.parse(decisions[0] ?? '{}')).toHaveProperty('rule');
    expect((await storeChoice.store.get(layout.report.html)).toString()).toContain('<svg');
  });

  it('a real run reconciles the target and its report agrees with the database', async () => {
    // Act
    const result = await run({ preserveEmbeddings: true, batchSize: 200 }, 'e2e-migration');

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as ReportResult;
    const counts = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger GROUP BY status`,
      );
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    });
    const live = await withClient(sourceUrl, (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM memories WHERE NOT is_deleted'),
    );
    expect((counts.migrated ?? 0) + (counts.rejected ?? 0)).toBe(Number(live.rows[0]?.n));
    expect(output.accounting).toEqual({
      liveSourceMemories: Number(live.rows[0]?.n),
      migrated: counts.migrated,
      rejected: counts.rejected,
    });
    const layout = runLayout('e2e-migration');
    const verification = JSON.parse((await storeChoice.store.get(layout.verification)).toString()) as {
      ok: boolean;
      checks: { name: string; ok: boolean }[];
    };
    expect(verification.checks.filter((c) => !c.ok)).toEqual([]);
    const report = JSON.parse((await storeChoice.store.get(layout.report.json)).toString()) as {
      totals: { migrated: number; rejected: number };
    };
    expect(report.totals.migrated).toBe(counts.migrated);
    const moduleRows = await withClient(targetUrl, (c) =>
      c.query<{ n: string }>(`SELECT count(*) AS n FROM memory_index`),
    );
    expect(Number(moduleRows.rows[0]?.n)).toBe(counts.migrated);
  });

  it('an unreachable target ends in a failure report and a failed execution with a named error', async () => {
    // Prepare: a port nothing listens on
    const unreachable = targetUrl.replace(/:(\d+)\//, ':1/');

    // Act
    const result = await run({ preserveEmbeddings: true }, 'e2e-unreachable', {
      sourceUrl,
      targetUrl: unreachable,
    });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('PreflightError');
    expect(result.cause).toMatch(/Cannot connect to the target database/);
    const report = JSON.parse(
      (await storeChoice.store.get(runLayout('e2e-unreachable').report.json)).toString(),
    );
    expect(report.run.status).toBe('failed');
    expect(report.error.name).toBe('PreflightError');
    const markdown = (await storeChoice.store.get(runLayout('e2e-unreachable').report.markdown)).toString();
    expect(markdown).toMatch(/PreflightError/);
  });

  it('invalid rules are refused before anything is written, with a failure report naming the error', async () => {
    // Prepare: a rules file that routes to a module the target's registry does not have
    const before = await targetChecksums(targetUrl);
    const layout = runLayout('e2e-bad-rules');
    await storeChoice.store.put(
      'inputs/bad-rules.json',
      JSON.stringify({ typeRules: { project: 'nowhere' } }),
    );

    // Act
    const result = await run(
      { preserveEmbeddings: true, dryRun: true, rules: `s3://${storeChoice.bucket}/inputs/bad-rules.json` },
      'e2e-bad-rules',
    );

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('PreflightError');
    expect(await targetChecksums(targetUrl)).toEqual(before);
    const report = JSON.parse((await storeChoice.store.get(layout.report.json)).toString());
    expect(report.error.name).toBe('PreflightError');
    expect(report.error.message).toMatch(/module "nowhere" \(typeRules\.project\)/);
  });

  it('never lets a database password reach a log line, an execution output or a report object', async () => {
    const objects = await allObjects('');
    expect(objects.size).toBeGreaterThan(10);
    for (const [key, body] of objects) {
      const text = key.endsWith('.gz') ? gunzipSync(body).toString() : body.toString();
      expect(text, key).not.toContain(PASSWORD);
    }
    expect(logs.length).toBeGreaterThan(5);
    expect(logs.join('')).not.toContain(PASSWORD);
    // Execution outputs and failure causes (the unreachable-target run's included).
    expect(executionResults.length).toBeGreaterThanOrEqual(4);
    expect(executionResults.join('\n')).not.toContain(PASSWORD);
  });
});
