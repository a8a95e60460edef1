import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };

describe('Project links follow their memories', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 800, users: 6, seed: 47 });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('a linked task soft-deleted or re-categorised in the source leaves no stale link, and reruns verify', async () => {
    // Prepare: two tasks linked to their projects; one is soft-deleted, the other stops being a task
    const tasks = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ task: string }>(
        `SELECT substr(source_key, length('project:') + 1) AS task FROM ${LEDGER_SCHEMA}.relationship_ledger
          WHERE source_key LIKE 'project:%' AND status = 'migrated' ORDER BY source_key LIMIT 2`,
      );
      return rows.map((r) => r.task);
    });
    expect(tasks).toHaveLength(2);
    await withClient(sourceUrl, async (c) => {
      await c.query('UPDATE memories SET is_deleted = true, updated_at = now() WHERE id = $1', [tasks[0]]);
      await c.query(
        `UPDATE memories SET source_metadata = '{"category": "personal"}'::jsonb, updated_at = now() WHERE id = $1`,
        [tasks[1]],
      );
    });

    // Act: an incremental rerun, then a full one
    const incremental = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, incremental: true } });
    closers.push(incremental.runtime);
    const full = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(full.runtime);

    // Assess
    expect((incremental.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect((full.outputs.verify as { ok: boolean }).ok).toBe(true);
    const dangling = await withClient(targetUrl, (c) =>
      c.query(
        `SELECT l.source_key FROM ${LEDGER_SCHEMA}.relationship_ledger l
          WHERE l.status = 'migrated' AND NOT EXISTS (SELECT 1 FROM memory_relationships r WHERE r.id = l.target_id)`,
      ),
    );
    expect(dangling.rows).toEqual([]);
  });
});
