import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { recordRunEnd } from '../../functions/db/run-ledger.js';
import { heartbeatRunLock, LOCK_STALE_SECONDS, releaseRunLock } from '../../functions/db/run-lock.js';
import { MigrationLockedError } from '../../functions/errors.js';
import { createMigrationRuntime, type MigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { preflight } from '../../functions/steps/preflight.js';
import type { RunContext } from '../../functions/steps/run-context.js';
import { FileRunStore } from '../../functions/store/run-store.js';
import { defaultRunId } from '../../scripts/migrate-bigmemory.js';

const INPUT = { preserveEmbeddings: true, snapshot: 'none' };

describe('Function: acquireRunLock (one writer)', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const runtimes: MigrationRuntime[] = [];

  async function runtime(): Promise<MigrationRuntime> {
    const store = new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-lock-')));
    const r = createMigrationRuntime({
      store,
      sourceUrl: async () => sourceUrl,
      targetUrl: async () => targetUrl,
    });
    runtimes.push(r);
    return r;
  }

  async function finish(r: MigrationRuntime, run: RunContext): Promise<void> {
    const target = await r.targetPool();
    await recordRunEnd(target, run.runId, 'succeeded', {});
    await releaseRunLock(target, run.runId, run.lockHolder);
  }

  const statusOf = (runId: string) =>
    withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ status: string }>(
        `SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`,
        [runId],
      );
      return rows[0]?.status;
    });

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 20, users: 2, seed: 3 });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
  });

  it('gives two runs started in the same millisecond different run ids', () => {
    // Prepare
    const now = new Date('2026-12-04T18:45:08.123Z');

    // Act
    const ids = new Set(Array.from({ length: 50 }, () => defaultRunId('migration', now)));

    // Assess
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^migration-20261204-184508-123-[0-9a-f]{8}$/);
  });

  it('lets exactly one of two runs started together write, 20 times in a row', async () => {
    const [a, b] = [await runtime(), await runtime()];
    for (let round = 0; round < 20; round++) {
      // Prepare: the default run ids of one instant; every other round, both share one --run-id
      const now = new Date();
      const shared = round % 2 === 1;
      const ids = shared
        ? [`shared-${round}`, `shared-${round}`]
        : [defaultRunId('migration', now), defaultRunId('migration', now)];

      // Act
      const outcomes = await Promise.allSettled([
        preflight(a, { input: INPUT, executionName: ids[0]!, executionId: `execution-a-${round}` }),
        preflight(b, { input: INPUT, executionName: ids[1]!, executionId: `execution-b-${round}` }),
      ]);

      // Assess: one run, one lock message, and the ledger shows the winner alone running
      const won = outcomes.flatMap((o, i) =>
        o.status === 'fulfilled' ? [{ run: o.value, r: [a, b][i]! }] : [],
      );
      const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      expect(lost[0], `round ${round}`).toBeInstanceOf(MigrationLockedError);
      expect(lost[0]!.message).toMatch(/holds the migration lock/);
      const running = await withClient(targetUrl, (c) =>
        c.query<{ run_id: string }>(`SELECT run_id FROM ${LEDGER_SCHEMA}.runs WHERE status = 'running'`),
      );
      expect(running.rows.map((r) => r.run_id)).toEqual([won[0]!.run.runId]);
      await finish(won[0]!.r, won[0]!.run);
    }
  });

  it('names a dead holder, takes its lock over only with breakLock and marks its run abandoned', async () => {
    // Prepare: a run killed mid-way — still "running", its lock's heartbeat long silent
    const r = await runtime();
    await withClient(targetUrl, async (c) => {
      await c.query(`INSERT INTO ${LEDGER_SCHEMA}.runs (run_id, status) VALUES ('killed-run', 'running')`);
      await c.query(
        `INSERT INTO ${LEDGER_SCHEMA}.lock (run_id, holder, heartbeat_at)
         VALUES ('killed-run', 'killed-execution', now() - make_interval(secs => $1))`,
        [LOCK_STALE_SECONDS + 60],
      );
    });

    // Act
    const refused = await preflight(r, { input: INPUT, executionName: 'after-kill-1' }).catch(
      (e: Error) => e,
    );
    const taken = await preflight(r, {
      input: { ...INPUT, breakLock: true },
      executionName: 'after-kill-2',
    });

    // Assess
    expect(refused).toBeInstanceOf(MigrationLockedError);
    expect((refused as Error).message).toMatch(/killed-run .*no heartbeat for \d+ s.*--break-lock/);
    expect(await statusOf('killed-run')).toBe('abandoned');
    expect(await statusOf('after-kill-1')).toBeUndefined();
    expect(await statusOf('after-kill-2')).toBe('running');
    // The killed run, come back to life, cannot write any more.
    await expect(heartbeatRunLock(await r.targetPool(), 'killed-execution', 'killed-run')).rejects.toThrow(
      MigrationLockedError,
    );
    await finish(r, taken);
  });

  it('never breaks the lock of a live holder', async () => {
    // Prepare: a holder whose heartbeat is fresh
    const r = await runtime();
    const live = await preflight(r, {
      input: INPUT,
      executionName: 'live-run',
      executionId: 'live-execution',
    });

    // Act
    const refused = await preflight(r, {
      input: { ...INPUT, breakLock: true },
      executionName: 'eager-run',
    }).catch((e: Error) => e);

    // Assess
    expect(refused).toBeInstanceOf(MigrationLockedError);
    expect((refused as Error).message).toMatch(/live-run .*it is running/);
    await expect(
      heartbeatRunLock(await r.targetPool(), 'live-execution', 'live-run'),
    ).resolves.toBeUndefined();
    expect(await statusOf('live-run')).toBe('running');
    await finish(r, live);
  });
});
