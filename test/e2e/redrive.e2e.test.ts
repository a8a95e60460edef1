import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { runLayout } from '../../functions/core/run-options.js';
import { hintFor } from '../../functions/error-contract.js';
import type { ReportResult } from '../../functions/steps/report.js';
import { S3RunStore } from '../../functions/store/run-store.js';
import { runLocalMigration, type StoreChoice } from '../../scripts/cli/local-migration.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };

/**
 * A failure a user can come back from: one range fails past its retries (its database write keeps
 * hitting a serialization failure, a transient error), the execution fails at the Map and a failure
 * report says so; once the cause is gone, running it again under the same execution name — the
 * local counterpart of a redrive — finishes the job, and the target equals a clean run's.
 */
describe('End to end: a failed Map range, fixed and resumed', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let cleanTargetUrl: string;
  let storeChoice: StoreChoice;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    ({ targetUrl: cleanTargetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 500, users: 5, seed: 41 });
    const s3 = makeS3Client(services().s3Endpoint);
    const bucket = await createBucket(s3);
    storeChoice = { store: new S3RunStore(s3, bucket), bucket, s3 };
  }, 120_000);

  /** Makes every write of one memory's CMI row fail as a serialization failure (transient) would. */
  async function poisonOneMemory(url: string): Promise<string> {
    const { rows } = await withClient(sourceUrl, (c) =>
      c.query<{ id: string }>(
        'SELECT id::text AS id FROM memories WHERE NOT is_deleted ORDER BY id OFFSET 250 LIMIT 1',
      ),
    );
    const poisoned = targetMemoryId(rows[0]!.id);
    await withClient(url, async (c) => {
      await c.query(`CREATE FUNCTION fail_one_memory() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW."remoteMemoryId" = '${poisoned}' THEN
            RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
          END IF;
          RETURN NEW;
        END $$`);
      await c.query(
        'CREATE TRIGGER fail_one_memory BEFORE INSERT OR UPDATE ON memory_index FOR EACH ROW EXECUTE FUNCTION fail_one_memory()',
      );
    });
    return poisoned;
  }

  const run = (executionName: string, target: string, input: Record<string, unknown> = INPUT) =>
    runLocalMigration({
      sourceUrl,
      targetUrl: target,
      input,
      storeChoice,
      concurrency: 2,
      executionName,
      progress: false,
      retryIntervalMs: 0,
    });

  it('fails at the Map with a report, then resumes to the same target as a clean run', async () => {
    // Prepare: every write of one memory's CMI row fails as a serialization failure would
    const poisoned = await poisonOneMemory(targetUrl);

    // Act: the run fails; the cause is fixed; the same execution runs again
    const failed = await run('redrive-me', targetUrl);
    const failureReport = JSON.parse(
      (await storeChoice.store.get(runLayout('redrive-me').report.json)).toString(),
    ) as { run: { status: string }; error: { name: string; hint: string }; totals: { migrated: number } };
    await withClient(targetUrl, (c) => c.query('DROP TRIGGER fail_one_memory ON memory_index'));
    const resumed = await run('redrive-me', targetUrl);
    const clean = await run('clean-run', cleanTargetUrl);

    // Assess
    expect(failed).toMatchObject({ status: 'FAILED', error: 'TransientDatabaseError' });
    expect(failureReport.run.status).toBe('failed');
    expect(failureReport.error.name).toBe('TransientDatabaseError');
    expect(failureReport.error.hint).toBe(hintFor('TransientDatabaseError'));
    expect(failureReport.error.hint).toMatch(/redrive the failed execution/);
    // The ranges that did not fail committed before the Map failed.
    expect(failureReport.totals.migrated).toBeGreaterThan(0);
    expect(resumed.status, resumed.cause).toBe('SUCCEEDED');
    expect(clean.status, clean.cause).toBe('SUCCEEDED');
    expect((resumed.output as ReportResult).accounting).toEqual((clean.output as ReportResult).accounting);
    const cmi = await withClient(targetUrl, (c) =>
      c.query('SELECT 1 FROM memory_index WHERE "remoteMemoryId" = $1', [poisoned]),
    );
    expect(cmi.rowCount).toBe(1);
    expect(await targetChecksums(targetUrl)).toEqual(await targetChecksums(cleanTargetUrl));
  }, 240_000);

  it('with a tolerated failure, succeeds and lists the failed range and its memories as not migrated', async () => {
    // Prepare
    const { targetUrl: partialTargetUrl } = await freshDatabases();
    const poisoned = await poisonOneMemory(partialTargetUrl);

    // Act
    const result = await run('partial-run', partialTargetUrl, { ...INPUT, toleratedFailureCount: 1 });

    // Assess
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const report = JSON.parse(
      (await storeChoice.store.get(runLayout('partial-run').report.json)).toString(),
    ) as {
      run: { status: string };
      notMigrated: { memories: number; ranges: { index: number; memories: number }[] };
      accounting: { holds: boolean; statement: string };
      verification: { ok: boolean };
    };
    expect(report.run.status).toBe('succeeded');
    expect(report.verification.ok).toBe(true);
    expect(report.notMigrated.ranges).toHaveLength(1);
    expect(report.notMigrated.memories).toBe(report.notMigrated.ranges[0]?.memories);
    expect(report.notMigrated.memories).toBeGreaterThan(0);
    expect(report.accounting.holds).toBe(true);
    expect(report.accounting.statement).toContain(`${report.notMigrated.memories} not migrated`);
    const markdown = (await storeChoice.store.get(runLayout('partial-run').report.markdown)).toString();
    expect(markdown).toContain('## Not migrated');
    const missing = await withClient(partialTargetUrl, (c) =>
      c.query('SELECT 1 FROM memory_index WHERE "remoteMemoryId" = $1', [poisoned]),
    );
    expect(missing.rowCount).toBe(0);
    const output = result.output as ReportResult;
    expect((output.accounting?.migrated ?? 0) + (output.accounting?.rejected ?? 0)).toBe(
      (output.accounting?.liveSourceMemories ?? 0) - report.notMigrated.memories,
    );
  }, 240_000);
});
