import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database } from '../../functions/db/port.js';
import { InvalidInputError, MigrationLockedError } from '../../functions/errors.js';
import { rollbackRun } from '../../functions/snapshot/run-rollback.js';
import { rollback } from '../../functions/steps/rollback.js';

const PRE_EXISTING_USER = 'pre-existing-federated-user';
const PRE_EXISTING_MEMORY = 'pre-existing-work-memory';

/** A Federated Memory user with a module row and its CMI row, as a live install has before any migration. */
async function seedPreExistingRows(targetUrl: string): Promise<void> {
  await withClient(targetUrl, async (c) => {
    await c.query(
      `INSERT INTO users (id, token, email, "passwordHash", name, "isActive", "createdAt", "updatedAt")
       VALUES ($1, 'federated-only-token', 'federated-only@example.com', NULL, 'federated', true, now(), now())`,
      [PRE_EXISTING_USER],
    );
    await c.query(
      `INSERT INTO work_memories (id, "userId", content, metadata, "updatedAt")
       VALUES ($1, $2, 'written in Federated Memory before the migration', '{}', now())`,
      [PRE_EXISTING_MEMORY, PRE_EXISTING_USER],
    );
    await c.query(
      `INSERT INTO memory_index (id, "userId", "moduleId", "remoteMemoryId", title, "updatedAt")
       VALUES ('pre-existing-cmi', $1, 'work', $2, 'written in Federated Memory', now())`,
      [PRE_EXISTING_USER, PRE_EXISTING_MEMORY],
    );
  });
}

describe('Function: rollbackRun', () => {
  let urls: { sourceUrl: string; targetUrl: string };
  let target: Database;

  beforeAll(async () => {
    urls = await freshDatabases();
    await generateBigMemory({
      databaseUrl: urls.sourceUrl,
      memories: 600,
      users: 20,
      seed: 41,
      targetDatabaseUrl: urls.targetUrl,
      targetCollisions: { sameToken: 4, sameEmail: 0 },
    });
    await seedPreExistingRows(urls.targetUrl);
    target = openPgDatabase({ connectionString: urls.targetUrl, max: 2 });
  });

  afterAll(async () => {
    await target?.end();
  });

  it('leaves the target byte-identical to before the run, pre-existing rows included', async () => {
    // Prepare
    const before = await targetChecksums(urls.targetUrl);
    const { runtime, run } = await runSteps({
      ...urls,
      runId: 'rollback-first-run',
      input: { preserveEmbeddings: true, batchSize: 200 },
    });
    const matched = await withClient(urls.targetUrl, (c) =>
      c.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.user_map WHERE created_by_run IS NULL AND target_user_id IS NOT NULL`,
      ),
    );
    expect(Number(matched.rows[0]?.n)).toBeGreaterThanOrEqual(4);
    expect(await targetChecksums(urls.targetUrl)).not.toEqual(before);

    // Act
    const result = await rollback(runtime, { runId: run.runId });
    await runtime.close();

    // Assess
    expect(await targetChecksums(urls.targetUrl)).toEqual(before);
    expect(result.removed.users).toBeGreaterThan(0);
    expect(result.removed.cmiRows).toBe(Object.values(result.removed.moduleRows).reduce((a, b) => a + b, 0));
    expect(result.removed.relationships).toBeGreaterThan(0);
    expect(result.keptUpdated).toEqual({ memories: 0, relationships: 0 });
    expect(result.snapshot).toMatch(/backups\/migration-\d{8}-\d{6}/);
    const ledger = await withClient(urls.targetUrl, async (c) => ({
      status: (await c.query(`SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`, [run.runId]))
        .rows[0]?.status,
      memories: (await c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.memory_ledger`)).rowCount,
      lock: (await c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.lock`)).rowCount,
    }));
    expect(ledger).toEqual({ status: 'rolled_back', memories: 0, lock: 0 });
  });

  it('removes only what the later of two runs created and reports what it updated', async () => {
    // Prepare: run A migrates; one source memory changes and one is added; run B picks both up
    const first = await runSteps({ ...urls, runId: 'rollback-run-a', input: { preserveEmbeddings: true } });
    await first.runtime.close();
    const afterA = await targetChecksums(urls.targetUrl);
    await withClient(urls.sourceUrl, async (c) => {
      await c.query(
        `UPDATE memories SET content = content || ' (edited)', updated_at = now()
          WHERE id = (SELECT id FROM memories WHERE NOT is_deleted AND content IS NOT NULL ORDER BY id LIMIT 1)`,
      );
      await c.query(
        `INSERT INTO memories (user_id, content, source_metadata, embedding)
         SELECT user_id, 'a memory written between the runs', '{"category": "learning"}', embedding
           FROM memories WHERE embedding IS NOT NULL ORDER BY id LIMIT 1`,
      );
    });
    const second = await runSteps({ ...urls, runId: 'rollback-run-b', input: { preserveEmbeddings: true } });
    await second.runtime.close();

    // Act
    const report = await rollbackRun({ target, runId: 'rollback-run-b' });

    // Assess
    expect(report.removed.moduleRows.learning).toBe(1);
    expect(report.removed.cmiRows).toBe(1);
    expect(report.keptUpdated.memories).toBeGreaterThan(0);
    const now = await targetChecksums(urls.targetUrl);
    expect(now.memory_relationships).toBe(afterA.memory_relationships);
    expect(now['"users"']).toBe(afterA['"users"']);
  });

  it('refuses an unknown run and a run that still holds the lock', async () => {
    // Prepare
    await target.query(`INSERT INTO ${LEDGER_SCHEMA}.lock (run_id) VALUES ('rollback-run-a')`);

    // Act
    const unknown = await rollbackRun({ target, runId: 'no-such-run' }).catch((e: unknown) => e);
    const locked = await rollbackRun({ target, runId: 'rollback-run-a' }).catch((e: unknown) => e);
    const forced = await rollbackRun({ target, runId: 'rollback-run-a', force: true });

    // Assess
    expect(unknown).toBeInstanceOf(InvalidInputError);
    expect((unknown as Error).message).toMatch(/No run "no-such-run".*rollback-run-b/);
    expect(locked).toBeInstanceOf(MigrationLockedError);
    expect((locked as Error).message).toMatch(/--force/);
    expect(forced.previousStatus).toBe('succeeded');
    const left = await target.query(`SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.lock`);
    expect(left.rows[0]?.n).toBe(0);
  });
});
