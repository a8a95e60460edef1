import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import type { VerificationResult } from '../../functions/core/verification.js';
import { introspectSource } from '../../functions/db/source-schema.js';
import { verifyMigration } from '../../functions/engine/verify.js';
import { deletesSummarySchema, verificationResultSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };

interface LinkedProject {
  projectSourceId: string;
  projectTargetId: string;
  /** Target ids of the tasks whose project_id names it. */
  tasks: string[];
}

/**
 * Projects with linked tasks whose link cannot move to another project: no other project of the
 * user answers to any name the tasks use, and no task names another project by id.
 */
async function linkedProjects(sourceUrl: string, targetUrl: string): Promise<LinkedProject[]> {
  const links = await withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ project_source_id: string; project_id: string; tasks: string[] }>(
      `SELECT metadata->>'project_source_id' AS project_source_id, metadata->>'project_id' AS project_id,
              array_agg(id ORDER BY id) AS tasks
         FROM work_memories WHERE metadata ? 'project_source_id'
        GROUP BY 1, 2 ORDER BY 1`,
    );
    return rows;
  });
  const unique = await withClient(sourceUrl, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `SELECT p.id::text FROM memories p
        WHERE p.source_metadata->>'type' = 'project'
          AND NOT EXISTS (
            SELECT 1 FROM memories q
             WHERE q.user_id = p.user_id AND q.id <> p.id AND q.source_metadata->>'type' = 'project'
               AND (lower(q.source_metadata->>'projectName') = lower(p.source_metadata->>'projectName')
                    OR lower(q.title) = lower(p.source_metadata->>'projectName')))`,
    );
    return new Set(rows.map((r) => r.id));
  });
  return links
    .filter((l) => unique.has(l.project_source_id))
    .map((l) => ({ projectSourceId: l.project_source_id, projectTargetId: l.project_id, tasks: l.tasks }));
}

async function projectIdsOf(targetUrl: string, taskIds: string[]): Promise<(string | null)[]> {
  return withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ project_id: string | null; project_source_id: string | null }>(
      `SELECT metadata->>'project_id' AS project_id, metadata->>'project_source_id' AS project_source_id
         FROM work_memories WHERE id = ANY($1::text[]) ORDER BY id`,
      [taskIds],
    );
    expect(rows).toHaveLength(taskIds.length);
    return rows.flatMap((r) => [r.project_id, r.project_source_id]);
  });
}

describe('Every project_id in the target resolves', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1200, users: 6, seed: 61 });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
    expect((first.outputs.verify as VerificationResult).ok).toBe(true);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  async function verify(): Promise<VerificationResult> {
    const runtime = closers[0] as Awaited<ReturnType<typeof runSteps>>['runtime'];
    const source = await runtime.sourcePool();
    return verifyMigration(
      { source, target: await runtime.targetPool(), schema: await introspectSource(source) },
      { preserveEmbeddings: true, sampleSize: 0 },
    );
  }

  it('an incremental rerun clears the project_id of unchanged tasks whose project was soft-deleted or removed', async () => {
    // Prepare: one project soft-deleted, another hard-deleted; their tasks stay as they are
    const candidates = await linkedProjects(sourceUrl, targetUrl);
    expect(candidates.length).toBeGreaterThanOrEqual(2);
    const [softDeleted, removed] = candidates as [LinkedProject, LinkedProject];
    await withClient(sourceUrl, async (c) => {
      await c.query('UPDATE memories SET is_deleted = true, updated_at = now() WHERE id = $1', [
        softDeleted.projectSourceId,
      ]);
      await c.query('DELETE FROM memory_relations WHERE source_memory_id = $1 OR target_memory_id = $1', [
        removed.projectSourceId,
      ]);
      await c.query('DELETE FROM memories WHERE id = $1', [removed.projectSourceId]);
    });
    const tasks = [...softDeleted.tasks, ...removed.tasks];
    expect((await projectIdsOf(targetUrl, tasks)).every((v) => v !== null)).toBe(true);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, incremental: true } });
    closers.push(rerun.runtime);

    // Assess
    expect(await projectIdsOf(targetUrl, tasks)).toEqual(tasks.flatMap(() => [null, null]));
    const deletes = await getJson(
      rerun.runtime.store,
      runLayout(rerun.run.runId).deletes,
      deletesSummarySchema,
    );
    expect(deletes.projectIdsCleared).toBe(tasks.length);
    const markdown = (await rerun.runtime.store.get(runLayout(rerun.run.runId).report.markdown)).toString();
    expect(markdown).toContain(`| Tasks whose project was removed: project_id cleared | ${tasks.length} |`);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    const verification = await getJson(
      rerun.runtime.store,
      runLayout(rerun.run.runId).verification,
      verificationResultSchema,
    );
    expect(verification.checks.find((c) => c.name === 'project_ids')).toMatchObject({ ok: true });
  });

  it('Verify names a task whose project_id resolves to no migrated project', async () => {
    // Prepare: a linked task's project_id pointed at nothing
    const task = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ id: string; original_id: string }>(
        `UPDATE work_memories SET metadata = jsonb_set(metadata, '{project_id}', '"no-such-project"')
          WHERE id = (SELECT id FROM work_memories WHERE metadata ? 'project_source_id' ORDER BY id LIMIT 1)
          RETURNING id, metadata->>'original_id' AS original_id`,
      );
      return rows[0]!;
    });

    // Act
    const result = await verify();

    // Assess
    expect(result.ok).toBe(false);
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['project_ids']);
    const check = result.checks.find((c) => c.name === 'project_ids');
    expect(check?.samples).toEqual([`work:${task.original_id} -> no-such-project`]);
    expect(check?.detail).toContain('1 of');
  });
});
