import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { migrationReportSchema } from '../../functions/steps/stored-schemas.js';
import { FileRunStore, getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 200, snapshot: 'none' };

describe('Reject thresholds', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let store: FileRunStore;
  let runs = 0;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    store = new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-thresholds-')));
    // No planted row defects: every reject below is one the test made.
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1_000, users: 10, seed: 7, defects: false });
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  /** Runs every step; returns the error it failed with (or null) and its report. */
  async function migrate(input: Record<string, unknown>) {
    const runId = `thresholds-${++runs}`;
    let error: Error | null = null;
    try {
      const { runtime } = await runSteps({
        sourceUrl,
        targetUrl,
        input: { ...INPUT, ...input },
        store,
        runId,
      });
      closers.push(runtime);
    } catch (e) {
      error = e as Error;
    }
    const report = await getJson(store, runLayout(runId).report.json, migrationReportSchema);
    return { error, report, runId };
  }

  it('fails a run that rejected every memory with RejectThresholdError, and its report says why', async () => {
    // Act: no user exists in the target and none may be created, so every memory is rejected
    const { error, report, runId } = await migrate({ createUsers: false });

    // Assess
    expect(error?.name).toBe('RejectThresholdError');
    expect(error?.message).toMatch(/over the maximum reject ratio of 1%.*unmapped_user/);
    expect(report.run.status).toBe('failed');
    expect(report.error?.name).toBe('RejectThresholdError');
    expect(report.rejectThresholds).toMatchObject({
      ok: false,
      exceeded: 'maxRejectRatio',
      migrated: 0,
      ratio: 1,
      topReasons: [{ reason: 'unmapped_user' }],
    });
    expect(report.rejectThresholds?.rejected).toBe(report.source?.liveMemories);
    const status = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ status: string }>(
        `SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`,
        [runId],
      );
      return rows[0]?.status;
    });
    expect(status).toBe('failed');
  });

  it('never lets a run that migrated nothing succeed, whatever the thresholds allow', async () => {
    // Act
    const { error, report } = await migrate({ createUsers: false, dryRun: true, maxRejectRatio: 1 });

    // Assess
    expect(error?.name).toBe('RejectThresholdError');
    expect(report.rejectThresholds?.exceeded).toBe('nothingMigrated');
  });

  it('passes a run with 0.5% rejects at the default, and fails it past --max-rejects', async () => {
    // Prepare: five blank memories of about a thousand
    const live = await withClient(sourceUrl, async (c) => {
      await c.query(
        `UPDATE memories SET content = '   ' WHERE id IN (SELECT id FROM memories WHERE NOT is_deleted ORDER BY id LIMIT 5)`,
      );
      const { rows } = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM memories WHERE NOT is_deleted',
      );
      return rows[0]!.n;
    });
    expect(5 / live).toBeGreaterThan(0.004);
    expect(5 / live).toBeLessThan(0.006);

    // Act
    const passing = await migrate({});
    const capped = await migrate({ maxRejects: 4 });

    // Assess
    expect(passing.error).toBeNull();
    expect(passing.report.run.status).toBe('succeeded');
    expect(passing.report.rejectThresholds).toMatchObject({ ok: true, rejected: 5, migrated: live - 5 });
    expect(capped.error?.name).toBe('RejectThresholdError');
    expect(capped.report.rejectThresholds).toMatchObject({
      exceeded: 'maxRejects',
      topReasons: [{ reason: 'empty_content', count: 5 }],
    });
  });
});
