import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { verificationResultSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 200, snapshot: 'none' };

describe('Incremental runs (the schedule)', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 800, users: 10, seed: 11 });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('migrates only what changed, removes what the source deleted, keeps relationships of a moved memory, and verifies', async () => {
    // Prepare: one memory moves to work, one memory is new, and the new one relates to the moved one
    const { moved, relationsOfMoved } = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ source_id: string; target_id: string }>(
        `SELECT l.source_id, l.target_id FROM ${LEDGER_SCHEMA}.memory_ledger l
          WHERE l.status = 'migrated' AND l.module <> 'work'
            AND EXISTS (SELECT 1 FROM memory_relationships r WHERE r."sourceMemoryId" = l.target_id OR r."targetMemoryId" = l.target_id)
          ORDER BY l.source_id LIMIT 1`,
      );
      const row = rows[0]!;
      const rel = await c.query(
        `SELECT 1 FROM memory_relationships WHERE "sourceMemoryId" = $1 OR "targetMemoryId" = $1`,
        [row.target_id],
      );
      return { moved: row, relationsOfMoved: rel.rows.length };
    });
    const gone = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ source_id: string; target_id: string; module: string }>(
        `SELECT source_id, target_id, module FROM ${LEDGER_SCHEMA}.memory_ledger
          WHERE status = 'migrated' AND source_id <> $1 ORDER BY source_id DESC LIMIT 1`,
        [moved.source_id],
      );
      return rows[0]!;
    });
    const added = await withClient(sourceUrl, async (c) => {
      await c.query(`UPDATE memories SET is_deleted = true, updated_at = now() WHERE id = $1`, [
        gone.source_id,
      ]);
      await c.query(
        `UPDATE memories SET source_metadata = '{"type": "meeting", "status": "open"}'::jsonb, updated_at = now() WHERE id = $1`,
        [moved.source_id],
      );
      const { rows } = await c.query<{ id: string; user_id: string }>(
        `INSERT INTO memories (user_id, content, source_metadata, created_at, updated_at)
         SELECT user_id, 'A brand new note about the quarterly roadmap deadline', '{"category": "Work"}', now(), now()
           FROM memories WHERE id = $1 RETURNING id::text, user_id::text`,
        [moved.source_id],
      );
      const created = rows[0]!;
      await c.query(
        `INSERT INTO memory_relations (user_id, source_memory_id, target_memory_id, relation_type, strength)
         VALUES ($1, $2, $3, 'references', 0.75)`,
        [created.user_id, created.id, moved.source_id],
      );
      return created;
    });

    // Act
    const second = await runSteps({
      sourceUrl,
      targetUrl,
      input: { ...INPUT, incremental: true, verifySliceSize: 300 },
    });
    closers.push(second.runtime);

    // Assess: only the changed rows were read, the verification passed
    expect(second.run.changedSince).not.toBeNull();
    const batches = second.outputs.report as { accounting: { migrated: number; rejected: number } };
    expect(batches.accounting.migrated + batches.accounting.rejected).toBe(2);
    expect((second.outputs.verify as { ok: boolean }).ok).toBe(true);
    // Verify compared every migrated memory, not only the two this run read, in slices of the whole table.
    const verification = await getJson(
      second.runtime.store,
      runLayout(second.run.runId).verification,
      verificationResultSchema,
    );
    expect(second.outputs.plan).toMatchObject({ verifySliceCount: 3 });
    expect(verification.counts.compared).toBe(verification.counts.migrated);
    expect(verification.counts.migrated).toBeGreaterThan(700);
    await withClient(targetUrl, async (c) => {
      const work = await c.query(`SELECT 1 FROM work_memories WHERE id = ANY($1::text[])`, [
        [moved.target_id, targetMemoryId(added.id)],
      ]);
      expect(work.rows).toHaveLength(2);
      const rel = await c.query<{ sourceModule: string; targetModule: string }>(
        `SELECT "sourceModule", "targetModule" FROM memory_relationships WHERE "sourceMemoryId" = $1 OR "targetMemoryId" = $1`,
        [moved.target_id],
      );
      // Its old relationships came back under its new module, plus the new one.
      expect(rel.rows).toHaveLength(relationsOfMoved + 1);
      for (const r of rel.rows) expect([r.sourceModule, r.targetModule]).toContain('work');
      // The memory soft-deleted in the source is gone from the target, its CMI entry and ledger row too.
      const left = await c.query(
        `SELECT (SELECT count(*) FROM "${gone.module}_memories" WHERE id = $1) AS module_rows,
                (SELECT count(*) FROM memory_index WHERE "remoteMemoryId" = $1) AS cmi_rows,
                (SELECT count(*) FROM memory_relationships WHERE "sourceMemoryId" = $1 OR "targetMemoryId" = $1) AS relationships,
                (SELECT count(*) FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = $2) AS ledger_rows`,
        [gone.target_id, gone.source_id],
      );
      expect(left.rows[0]).toEqual({ module_rows: '0', cmi_rows: '0', relationships: '0', ledger_rows: '0' });
    });
  });
});
