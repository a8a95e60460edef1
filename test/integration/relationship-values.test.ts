import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { written } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };

interface ReportJson {
  relationships: { skippedByReason: Array<{ reason: string; count: number }> } | null;
}

describe('Relationships are validated', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const relations: Record<string, string> = {};

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 200, users: 3, seed: 43 });
    await withClient(sourceUrl, async (c) => {
      // Pairs of distinct live memories of one user, with content.
      const { rows: same } = await c.query<{ a: string; b: string; user_id: string }>(
        `SELECT a.id::text AS a, b.id::text AS b, a.user_id::text AS user_id FROM memories a JOIN memories b
            ON a.user_id = b.user_id AND a.id < b.id
          WHERE a.is_deleted IS NOT TRUE AND b.is_deleted IS NOT TRUE AND length(a.content) > 0 AND length(b.content) > 0
          ORDER BY a.id, b.id LIMIT 4`,
      );
      const insert = async (label: string, pair: { a: string; b: string }, strength: string) => {
        const { rows } = await c.query<{ id: string }>(
          `INSERT INTO memory_relations (user_id, source_memory_id, target_memory_id, relation_type, strength)
           SELECT user_id, $1, $2, 'validation_probe', $3::float8 FROM memories WHERE id = $1 RETURNING id::text`,
          [pair.a, pair.b, strength],
        );
        relations[label] = rows[0]!.id;
      };
      await insert('nan', same[0]!, 'NaN');
      await insert('infinity', same[1]!, 'Infinity');
      await insert('negative', same[2]!, '-1');
      await insert('five', same[3]!, '5');
      // Two live memories of different users.
      const { rows: cross } = await c.query<{ a: string; b: string }>(
        `SELECT a.id::text AS a, b.id::text AS b FROM memories a JOIN memories b ON a.user_id <> b.user_id
          WHERE a.is_deleted IS NOT TRUE AND b.is_deleted IS NOT TRUE AND length(a.content) > 0 AND length(b.content) > 0
          ORDER BY a.id, b.id LIMIT 1`,
      );
      await insert('cross_user', cross[0]!, '0.5');
      // A task naming another user's project by its id.
      const { rows: task } = await c.query<{ id: string }>(
        `INSERT INTO memories (user_id, content, embedding, source_metadata)
         SELECT u.id, 'Follow up on the rollout checklist', p.embedding,
                jsonb_build_object('type', 'task', 'projectId', p.id::text)
           FROM memories p JOIN users u ON u.id <> p.user_id
          WHERE p.source_metadata->>'type' = 'project' AND p.is_deleted IS NOT TRUE AND p.embedding IS NOT NULL
          ORDER BY p.id, u.id LIMIT 1
         RETURNING id::text`,
      );
      relations.crossUserTask = task[0]!.id;
    });
  });

  it('rejects NaN/Infinity strengths and cross-user relations, clamps the rest into [0, 1], and the dry run finds the same', async () => {
    // Prepare: the relations whose two live ends belong to different users
    const crossUser = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM memory_relations r
           JOIN memories s ON s.id = r.source_memory_id AND s.is_deleted IS NOT TRUE
           JOIN memories t ON t.id = r.target_memory_id AND t.is_deleted IS NOT TRUE
          WHERE s.user_id <> t.user_id`,
      );
      return rows[0]!.n;
    });
    expect(crossUser).toBeGreaterThanOrEqual(1);
    // …and the tasks that name a live project of another user by its id.
    const crossUserLinks = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM memories t
           JOIN memories p ON p.id::text = t.source_metadata->>'projectId' AND p.is_deleted IS NOT TRUE
          WHERE t.source_metadata->>'type' = 'task' AND t.is_deleted IS NOT TRUE AND p.user_id <> t.user_id`,
      );
      return rows[0]!.n;
    });
    expect(crossUserLinks).toBe(1);

    // Act
    const dry = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, dryRun: true } });
    await dry.runtime.close();
    const real = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    await real.runtime.close();

    // Assess
    for (const run of [dry, real]) {
      const report = await getJson(
        run.runtime.store,
        runLayout(run.run.runId).report.json,
        written<ReportJson>(),
      );
      const skipped = Object.fromEntries(
        (report.relationships?.skippedByReason ?? []).map((s) => [s.reason, s.count]),
      );
      expect(skipped).toMatchObject({ invalid_strength: 2, cross_user: crossUser + crossUserLinks });
      const markdown = (await run.runtime.store.get(runLayout(run.run.runId).report.markdown)).toString();
      expect(markdown).toContain('cross_user');
    }
    expect((real.outputs.verify as { ok: boolean }).ok).toBe(true);
    const rows = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{
        key: string;
        status: string;
        reason: string | null;
        strength: number | null;
        original: number | null;
      }>(
        `SELECT l.source_key AS key, l.status, l.reason, r.strength, (r.metadata->>'original_strength')::float8 AS original
           FROM ${LEDGER_SCHEMA}.relationship_ledger l LEFT JOIN memory_relationships r ON r.id = l.target_id
          WHERE l.source_key = ANY($1::text[])`,
        [
          [
            ...Object.entries(relations)
              .filter(([label]) => label !== 'crossUserTask')
              .map(([, id]) => `relation:${id}`),
            `project:${relations.crossUserTask}`,
          ],
        ],
      );
      return new Map(rows.map((r) => [r.key, r]));
    });
    const of = (label: string) => rows.get(`relation:${relations[label]}`);
    expect(of('nan')).toMatchObject({ status: 'skipped', reason: 'invalid_strength' });
    expect(of('infinity')).toMatchObject({ status: 'skipped', reason: 'invalid_strength' });
    expect(of('negative')).toMatchObject({ status: 'migrated', strength: 0, original: -1 });
    expect(of('five')).toMatchObject({ status: 'migrated', strength: 1, original: 5 });
    expect(of('cross_user')).toMatchObject({ status: 'skipped', reason: 'cross_user', strength: null });
    expect(rows.get(`project:${relations.crossUserTask}`)).toMatchObject({
      status: 'skipped',
      reason: 'cross_user',
      strength: null,
    });
  });
});
