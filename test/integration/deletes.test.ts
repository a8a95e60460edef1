import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { introspectSource } from '../../functions/db/source-schema.js';
import { verifyMigration } from '../../functions/engine/verify.js';
import { deletesSummarySchema, verificationResultSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };

interface Deleted {
  userId: string;
  targetUserId: string;
  memoryIds: string[];
  relationId: string;
}

/** Module, CMI and ledger rows the target holds for these source memories. */
async function targetRowsOf(targetUrl: string, sourceIds: string[]): Promise<number> {
  const targetIds = sourceIds.map((id) => targetMemoryId(id));
  const modules = MODULE_IDS.map((m) => `SELECT id FROM "${m}_memories"`).join(' UNION ALL ');
  return withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM (${modules}) m WHERE m.id = ANY($1::text[]))
            + (SELECT count(*) FROM memory_index WHERE "remoteMemoryId" = ANY($1::text[]))
            + (SELECT count(*) FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = ANY($2::text[])) AS n`,
      [targetIds, sourceIds],
    );
    return Number(rows[0]?.n);
  });
}

describe('Deletes in the source reach the target', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 8, seed: 23 });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  /** A plain rerun, and the deletes its Plan carried over. */
  async function rerunWithDeletes() {
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);
    const deletes = await getJson(
      rerun.runtime.store,
      runLayout(rerun.run.runId).deletes,
      deletesSummarySchema,
    );
    return { rerun, deletes };
  }

  /** Hard-deletes one user with its memories and relations, one other memory, and one relation. */
  async function deleteInSource(): Promise<Deleted> {
    const created = await withClient(targetUrl, async (t) => {
      const { rows } = await t.query<{ source_user_id: string; target_user_id: string }>(
        `SELECT source_user_id, target_user_id FROM ${LEDGER_SCHEMA}.user_map WHERE created_by_run IS NOT NULL`,
      );
      return new Map(rows.map((r) => [r.source_user_id, r.target_user_id]));
    });
    return withClient(sourceUrl, async (c) => {
      const { rows: users } = await c.query<{ id: string }>(
        `SELECT user_id::text AS id FROM memories WHERE user_id::text = ANY($1::text[])
          GROUP BY user_id ORDER BY count(*), user_id LIMIT 1`,
        [[...created.keys()]],
      );
      const userId = users[0]!.id;
      const { rows: memories } = await c.query<{ id: string }>(
        `DELETE FROM memories WHERE user_id = $1 AND is_deleted IS NOT TRUE RETURNING id::text`,
        [userId],
      );
      await c.query(`DELETE FROM memories WHERE user_id = $1`, [userId]);
      await c.query(
        `DELETE FROM memory_relations WHERE user_id = $1 OR source_memory_id = ANY($2::uuid[]) OR target_memory_id = ANY($2::uuid[])`,
        [userId, memories.map((m) => m.id)],
      );
      await c.query(`DELETE FROM users WHERE id = $1`, [userId]);
      const { rows: other } = await c.query<{ id: string }>(
        `DELETE FROM memories WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE
            AND NOT EXISTS (SELECT 1 FROM memory_relations r WHERE r.source_memory_id = memories.id OR r.target_memory_id = memories.id)
          ORDER BY id LIMIT 1) RETURNING id::text`,
      );
      const { rows: relation } = await c.query<{ id: string }>(
        `DELETE FROM memory_relations WHERE id = (SELECT id FROM memory_relations ORDER BY id LIMIT 1) RETURNING id::text`,
      );
      const targetUserId = created.get(userId)!;
      return {
        userId,
        targetUserId,
        memoryIds: [...memories.map((m) => m.id), other[0]!.id],
        relationId: relation[0]!.id,
      };
    });
  }

  it('a rerun removes hard-deleted memories, relations and users, reports them, and verifies', async () => {
    // Prepare
    const deleted = await deleteInSource();
    expect(await targetRowsOf(targetUrl, deleted.memoryIds)).toBeGreaterThan(0);

    // Act
    const { rerun, deletes } = await rerunWithDeletes();

    // Assess
    expect(deletes).toMatchObject({ memories: deleted.memoryIds.length, users: 1, usersKept: 0 });
    expect(deletes.relationships).toBeGreaterThanOrEqual(1);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    const markdown = (await rerun.runtime.store.get(runLayout(rerun.run.runId).report.markdown)).toString();
    expect(markdown).toContain(
      `| Deleted in the source: removed memories / relationships / users | ${deletes.memories} /`,
    );
    expect(await targetRowsOf(targetUrl, deleted.memoryIds)).toBe(0);
    await withClient(targetUrl, async (c) => {
      const left = await c.query(
        `SELECT (SELECT count(*) FROM users WHERE id = $1) AS users,
                (SELECT count(*) FROM ${LEDGER_SCHEMA}.user_map WHERE source_user_id = $2) AS mappings,
                (SELECT count(*) FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE source_key = $3) AS relation_ledger,
                (SELECT count(*) FROM memory_relationships r JOIN ${LEDGER_SCHEMA}.relationship_ledger l ON l.target_id = r.id
                  WHERE l.source_key = $3) AS relationships`,
        [deleted.targetUserId, deleted.userId, `relation:${deleted.relationId}`],
      );
      expect(left.rows[0]).toEqual({ users: '0', mappings: '0', relation_ledger: '0', relationships: '0' });
    });
  });

  it('an incremental run removes them too; with keepDeleted they stay and Verify counts them', async () => {
    // Prepare: a soft delete that does not touch updated_at, and a hard delete
    const { soft, hard } = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id DESC LIMIT 2`,
      );
      await c.query(`UPDATE memories SET is_deleted = true WHERE id = $1`, [rows[0]!.id]);
      await c.query(`DELETE FROM memories WHERE id = $1`, [rows[1]!.id]);
      return { soft: rows[0]!.id, hard: rows[1]!.id };
    });

    // Act: first a run that keeps them, then an incremental run
    const keeping = await runSteps({
      sourceUrl,
      targetUrl,
      input: { ...INPUT, incremental: true, keepDeleted: true },
    });
    closers.push(keeping.runtime);
    const keptRows = await targetRowsOf(targetUrl, [soft, hard]);
    const strict = await verifyMigration(
      {
        source: await keeping.runtime.sourcePool(),
        target: await keeping.runtime.targetPool(),
        schema: await introspectSource(await keeping.runtime.sourcePool()),
      },
      { preserveEmbeddings: true, sampleSize: 0 },
    );
    const incremental = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, incremental: true } });
    closers.push(incremental.runtime);

    // Assess
    expect((keeping.outputs.verify as { ok: boolean }).ok).toBe(true);
    const keptCheck = (
      await getJson(
        keeping.runtime.store,
        runLayout(keeping.run.runId).verification,
        verificationResultSchema,
      )
    ).checks.find((c) => c.name === 'deleted_in_source');
    expect(keptCheck).toMatchObject({ ok: true, actual: 2 });
    expect(keptRows).toBeGreaterThanOrEqual(4);
    expect(strict.checks.find((c) => c.name === 'deleted_in_source')).toMatchObject({ ok: false, actual: 2 });
    expect(strict.ok).toBe(false);
    const deletes = await getJson(
      incremental.runtime.store,
      runLayout(incremental.run.runId).deletes,
      deletesSummarySchema,
    );
    expect(deletes).toMatchObject({ memories: 2 });
    expect((incremental.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetRowsOf(targetUrl, [soft, hard])).toBe(0);
  });
  it('finds a delete that an insert balanced: as many keys as before, not the same ones', async () => {
    // Prepare: one memory and one relation replaced by copies under new ids
    const { memoryId, relationId } = await withClient(sourceUrl, async (c) => {
      const { rows: memory } = await c.query<{ id: string }>(
        `DELETE FROM memories WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE
            AND NOT EXISTS (SELECT 1 FROM memory_relations r WHERE r.source_memory_id = memories.id OR r.target_memory_id = memories.id)
          ORDER BY id DESC LIMIT 1) RETURNING id::text`,
      );
      await c.query(
        `CREATE TEMP TABLE copy AS SELECT * FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id LIMIT 1;
         UPDATE copy SET id = gen_random_uuid();
         INSERT INTO memories SELECT * FROM copy;`,
      );
      const { rows: relation } = await c.query<{ id: string }>(
        `WITH gone AS (DELETE FROM memory_relations WHERE id = (SELECT id FROM memory_relations ORDER BY id DESC LIMIT 1)
                       RETURNING *)
         INSERT INTO memory_relations SELECT gen_random_uuid(), user_id, source_memory_id, target_memory_id,
                relation_type, strength, metadata, created_at FROM gone
         RETURNING (SELECT id::text FROM gone) AS id`,
      );
      return { memoryId: memory[0]!.id, relationId: relation[0]!.id };
    });
    expect(await targetRowsOf(targetUrl, [memoryId])).toBeGreaterThan(0);

    // Act
    const { rerun, deletes } = await rerunWithDeletes();

    // Assess
    expect(deletes).toMatchObject({ memories: 1, relationships: 1 });
    expect(await targetRowsOf(targetUrl, [memoryId])).toBe(0);
    await withClient(targetUrl, async (c) => {
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE source_key = $1`,
        [`relation:${relationId}`],
      );
      expect(rows[0]).toEqual({ n: 0 });
    });
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
  });
});
