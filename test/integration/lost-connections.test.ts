import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { FileRunStore } from '../../functions/store/run-store.js';
import { runLocalMigration } from '../../scripts/cli/local-migration.js';

const INPUT = { preserveEmbeddings: true, batchSize: 40, snapshot: 'none' };

/** Ends every other session of the run's two databases, as pg_terminate_backend by an operator. */
async function terminateSessions(urls: string[]): Promise<number> {
  let ended = 0;
  for (const url of urls) {
    ended += await withClient(url, async (c) => {
      const { rows } = await c.query<{ n: string }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      return Number(rows[0]?.n);
    });
  }
  return ended;
}

describe('Lost connections mid-run', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let cleanTargetUrl: string;
  // A lost connection that reaches no listener is an uncaught exception: in the CLI, the end.
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    ({ sourceUrl, targetUrl } = await freshDatabases());
    cleanTargetUrl = await createTarget();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1_500, users: 12, seed: 61 });
  });

  afterAll(() => {
    process.off('uncaughtException', onUncaught);
  });

  const run = async (url: string, name: string) =>
    runLocalMigration({
      sourceUrl,
      targetUrl: url,
      input: INPUT,
      storeChoice: {
        store: new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-lost-'))),
        bucket: 'local-run-store',
      },
      concurrency: 2,
      executionName: name,
      progress: false,
    });

  it('retries through terminated sessions, closes the run, releases the lock and converges', {
    timeout: 300_000,
  }, async () => {
    // Prepare: a clean run into another target, for its checksums
    const clean = await run(cleanTargetUrl, 'lost-clean');
    expect(clean.status).toBe('SUCCEEDED');

    // Act: terminate both databases' sessions again and again while the batches run
    const migration = run(targetUrl, 'lost-terminated');
    let settled = false;
    void migration.finally(() => {
      settled = true;
    });
    let terminated = 0;
    let rounds = 0;
    while (!settled && rounds < 6) {
      const written = await withClient(targetUrl, (c) =>
        c
          .query<{ n: string }>(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger`)
          .then((r) => Number(r.rows[0]?.n))
          .catch(() => 0),
      );
      if (written > 0) {
        terminated += await terminateSessions([sourceUrl, targetUrl]);
        rounds++;
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const result = await migration;

    // Assess
    expect(terminated).toBeGreaterThan(0);
    expect(uncaught).toEqual([]);
    expect(result.status, JSON.stringify(result)).toBe('SUCCEEDED');
    const ledger = await withClient(targetUrl, async (c) => ({
      lock: (await c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.lock`)).rowCount,
      status: (
        await c.query<{ status: string }>(
          `SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = 'lost-terminated'`,
        )
      ).rows[0]?.status,
    }));
    expect(ledger).toEqual({ lock: 0, status: 'succeeded' });
    expect(await targetChecksums(targetUrl)).toEqual(await targetChecksums(cleanTargetUrl));
  });
});
