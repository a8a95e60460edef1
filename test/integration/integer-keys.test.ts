import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { verificationResultSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// Small batches and slices: many ranges, so keys such as 9 and 10 fall in different ones.
const INPUT = { preserveEmbeddings: true, batchSize: 40, verifySliceSize: 120, snapshot: 'none' };

/**
 * Rekeys a generated BigMemory by bigint, as installations made with a serial key are: memories
 * numbered in creation order, relation ends and tasks' `projectId` following them (dangling ends
 * to a number no memory has).
 */
const TO_BIGINT_KEYS = [
  `CREATE TABLE key_map AS SELECT id AS old, row_number() OVER (ORDER BY created_at, id) AS new FROM memories`,
  `ALTER TABLE memories ADD COLUMN new_id bigint`,
  `UPDATE memories m SET new_id = k.new FROM key_map k WHERE k.old = m.id`,
  `UPDATE memories m SET source_metadata = jsonb_set(m.source_metadata, '{projectId}', to_jsonb(k.new::text))
     FROM key_map k WHERE jsonb_typeof(m.source_metadata) = 'object' AND m.source_metadata->>'projectId' = k.old::text`,
  `ALTER TABLE memory_relations ADD COLUMN source_key bigint, ADD COLUMN target_key bigint`,
  `UPDATE memory_relations r SET
     source_key = coalesce((SELECT new FROM key_map WHERE old = r.source_memory_id), 999999),
     target_key = coalesce((SELECT new FROM key_map WHERE old = r.target_memory_id), 999999)`,
  `ALTER TABLE memory_relations DROP COLUMN source_memory_id, DROP COLUMN target_memory_id`,
  `ALTER TABLE memory_relations RENAME COLUMN source_key TO source_memory_id`,
  `ALTER TABLE memory_relations RENAME COLUMN target_key TO target_memory_id`,
  `ALTER TABLE memories DROP COLUMN id`,
  `ALTER TABLE memories RENAME COLUMN new_id TO id`,
  `ALTER TABLE memories ADD PRIMARY KEY (id)`,
  `DROP TABLE key_map`,
  'ANALYZE',
];

describe('A BigMemory keyed by integers', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const runs: StepRunResult[] = [];

  const verification = (run: StepRunResult) =>
    getJson(run.runtime.store, runLayout(run.run.runId).verification, verificationResultSchema);

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 8, seed: 23 });
    await withClient(sourceUrl, async (c) => {
      for (const sql of TO_BIGINT_KEYS) await c.query(sql);
    });
  });

  afterAll(async () => {
    await Promise.all(runs.map((r) => r.runtime.close()));
  });

  it('migrates, verifies slice by slice and reruns unchanged, though text order is not number order', async () => {
    // Prepare
    const live = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ n: number; relations: number; linked: number }>(
        `SELECT (SELECT count(*)::int FROM memories WHERE NOT is_deleted) AS n,
                (SELECT count(*)::int FROM memory_relations) AS relations,
                (SELECT count(*)::int FROM memories WHERE source_metadata->>'projectId' ~ '^[0-9]+$') AS linked`,
      );
      return rows[0]!;
    });

    // Act
    runs.push(await runSteps({ sourceUrl, targetUrl, input: INPUT, concurrency: 2 }));
    const checksums = await targetChecksums(targetUrl);
    runs.push(await runSteps({ sourceUrl, targetUrl, input: INPUT, concurrency: 2 }));

    // Assess
    const [first, second] = await Promise.all(runs.map(verification));
    for (const result of [first, second]) {
      if (!result) throw new Error('a run stored no verification');
      expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
      expect(result.counts.migrated + result.counts.rejected).toBe(live.n);
      expect(result.counts.compared).toBe(result.counts.migrated);
      expect(result.counts.relationships?.source).toBe(live.relations);
      expect(result.counts.relationships?.migrated).toBeGreaterThan(0);
    }
    expect(runs[0]?.outputs.plan).toMatchObject({ verifySliceCount: 5 });
    expect(live.linked).toBeGreaterThan(0);
    expect(await targetChecksums(targetUrl)).toEqual(checksums);
    const ledger = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ numeric: number; total: number; links: number }>(
        `SELECT count(*) FILTER (WHERE source_id ~ '^[0-9]+$')::int AS numeric, count(*)::int AS total,
                (SELECT count(*)::int FROM memory_relationships WHERE "relationshipType" = 'belongs_to') AS links
           FROM ${LEDGER_SCHEMA}.memory_ledger`,
      );
      return rows[0]!;
    });
    expect(ledger.numeric).toBe(ledger.total);
    expect(ledger.links).toBeGreaterThan(0);
  });

  it('carries deletes over, merging keys in text order, not number order', async () => {
    // Prepare: keys 9 and 10 sort apart as text; one is removed, the other soft-deleted.
    const deleted = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE id IN (9, 10, 100) AND NOT is_deleted ORDER BY id`,
      );
      await c.query('DELETE FROM memory_relations WHERE source_memory_id = 9 OR target_memory_id = 9');
      await c.query('DELETE FROM memories WHERE id = 9');
      await c.query('UPDATE memories SET is_deleted = true WHERE id IN (10, 100)');
      return rows.map((r) => r.id);
    });
    const gone = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = ANY($1::text[]) AND status = 'migrated'`,
        [deleted],
      );
      return rows[0]?.n ?? 0;
    });
    expect(gone).toBeGreaterThan(0);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT, concurrency: 2 });
    runs.push(rerun);

    // Assess
    expect(rerun.outputs.plan).toMatchObject({ deletes: { memories: gone } });
    const result = await verification(rerun);
    expect(result?.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
    const left = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = ANY($1::text[])`,
        [deleted],
      );
      return rows[0]?.n ?? 0;
    });
    expect(left).toBe(0);
  });
});
