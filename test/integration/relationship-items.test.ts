import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { type KeyRange, rangePredicate } from '../../functions/db/source-reader.js';
import { written } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// Enough relations for several relationship items (an item holds at least 1,000).
const GENERATED = { memories: 4000, users: 8, seed: 41 };
const INPUT = { preserveEmbeddings: true, batchSize: 500, snapshot: 'none' };

interface ReportRelationships {
  relationships: {
    read: number;
    migrated: number;
    skipped: number;
    holds: boolean;
    itemsKept: number;
    items: number;
    resolved: number;
    relations: { read: number; migrated: number; skipped: number };
    projectLinks: { read: number; migrated: number; skipped: number };
  };
}

const relationshipsOf = async (result: StepRunResult) =>
  (
    await getJson(
      result.runtime.store,
      runLayout(result.run.runId).report.json,
      written<ReportRelationships>(),
    )
  ).relationships;

/** The run's relation items (project-link items aside) that hold a relation with one of `memoryIds` at an end. */
async function itemsTouching(sourceUrl: string, result: StepRunResult, memoryIds: readonly string[]) {
  const items = await getJson(
    result.runtime.store,
    runLayout(result.run.runId).relationshipRanges,
    z.array(
      z.looseObject({
        kind: z.string(),
        index: z.number(),
        fromKey: z.string().nullable(),
        toKey: z.string().nullable(),
      }),
    ),
  );
  const relationItems = items.filter((i) => i.kind === 'relations') as (KeyRange & { kind: string })[];
  const linkItems = items.length - relationItems.length;
  const idType = result.run.sourceSchema.relationIdType ?? 'text';
  const touching = await withClient(sourceUrl, async (c) => {
    const out: number[] = [];
    for (const item of relationItems) {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM memory_relations
          WHERE ${rangePredicate(item, idType)}
            AND (source_memory_id::text = ANY($1::text[]) OR target_memory_id::text = ANY($1::text[]))`,
        [memoryIds],
      );
      if ((rows[0]?.n ?? 0) > 0) out.push(item.index);
    }
    return out;
  });
  return { relationItems: relationItems.length, linkItems, touching };
}

/** What the relationship ledger holds for keys of one kind (`relation:` or `project:`), as a report totals it. */
async function ledgerTotals(targetUrl: string, prefix: string) {
  const { migrated, skipped } = await withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ migrated: number; skipped: number }>(
      `SELECT count(*) FILTER (WHERE status = 'migrated')::int AS migrated,
              count(*) FILTER (WHERE status = 'skipped')::int AS skipped
         FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE starts_with(source_key, $1)`,
      [prefix],
    );
    return rows[0] ?? { migrated: 0, skipped: 0 };
  });
  return { migrated, skipped, read: migrated + skipped };
}

/**
 * A live memory, neither a task nor a project, that is an end of exactly one relation: the first in
 * key order, or the last (past the centroids' sample, which takes the start of each stretch of the
 * key space).
 */
async function memoryWithOneRelation(sourceUrl: string, order: 'ASC' | 'DESC' = 'ASC'): Promise<string> {
  return withClient(sourceUrl, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `SELECT m.id::text AS id FROM memories m
         JOIN memory_relations r ON m.id IN (r.source_memory_id, r.target_memory_id)
        WHERE m.is_deleted IS NOT TRUE
          AND coalesce(m.source_metadata->>'type', '') NOT IN ('task', 'project')
        GROUP BY m.id HAVING count(*) = 1 ORDER BY m.id ${order} LIMIT 1`,
    );
    return rows[0]!.id;
  });
}

describe('A relationship item keeps its outcome while nothing at its relations\u2019 ends changed', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, ...GENERATED });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('a memory written again redoes only the items whose relations reach it', async () => {
    // Prepare: a new updated_at rewrites the memory, and nothing its centroids depend on
    const edited = await memoryWithOneRelation(sourceUrl);
    await withClient(sourceUrl, (c) =>
      c.query('UPDATE memories SET updated_at = now() WHERE id::text = $1', [edited]),
    );

    // Act
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);

    // Assess: only that memory was written; every item but the relation item reaching it kept its
    // outcome (the memory is no task and no project, so no link can change)
    const rewritten = await withClient(targetUrl, (c) =>
      c.query<{ source_id: string }>(
        `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1`,
        [again.run.runId],
      ),
    );
    expect(rewritten.rows.map((r) => r.source_id)).toEqual([edited]);
    const { relationItems, linkItems, touching } = await itemsTouching(sourceUrl, again, [edited]);
    expect(relationItems).toBeGreaterThan(2);
    expect(linkItems).toBeGreaterThan(0);
    expect(touching).toHaveLength(1);
    const relationships = await relationshipsOf(again);
    expect(relationships.itemsKept).toBe(relationItems + linkItems - 1);
    // In that item only the one relation reaching it was resolved again; the others stood, and
    // the totals are what the ledger holds
    expect(relationships.resolved).toBe(1);
    expect(relationships.relations).toMatchObject(await ledgerTotals(targetUrl, 'relation:'));
    expect(relationships.holds).toBe(true);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);
  });

  it('a memory gone from the source redoes the items whose relations reach it, and their rows go', async () => {
    // Prepare
    const gone = await memoryWithOneRelation(sourceUrl, 'DESC');
    await withClient(sourceUrl, (c) =>
      c.query('UPDATE memories SET is_deleted = true, updated_at = now() WHERE id::text = $1', [gone]),
    );

    // Act
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);

    // Assess: the removal was noted, and the items kept are exactly those that reach no memory this
    // run removed or wrote
    const changed = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ source_id: string; removed: boolean }>(
        `SELECT source_id, false AS removed FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1
         UNION ALL SELECT source_id, true FROM ${LEDGER_SCHEMA}.memory_removals WHERE run_id = $1`,
        [again.run.runId],
      );
      return rows;
    });
    expect(changed.filter((r) => r.removed).map((r) => r.source_id)).toEqual([gone]);
    const { relationItems, linkItems, touching } = await itemsTouching(
      sourceUrl,
      again,
      changed.map((r) => r.source_id),
    );
    expect((await itemsTouching(sourceUrl, again, [gone])).touching).toHaveLength(1);
    const relationships = await relationshipsOf(again);
    expect(relationships.itemsKept).toBe(relationItems + linkItems - touching.length);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);
    const { targetUrl: cleanUrl } = await freshDatabases();
    const clean = await runSteps({ sourceUrl, targetUrl: cleanUrl, input: INPUT });
    closers.push(clean.runtime);
    expect(await targetChecksums(targetUrl)).toEqual(await targetChecksums(cleanUrl));
  });
});

describe('A project-link item is resolved again when a change can move one of its links', () => {
  let sourceUrl: string;
  let targetUrl: string;
  // A task that names, by id alone, a memory the source does not hold yet.
  const namedLater = '5a0c3f52-7d1e-4b6a-9c2f-0e8b1d4a6f73';
  let taskNamingLater: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1500, users: 6, seed: 43 });
    taskNamingLater = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `UPDATE memories SET source_metadata = (source_metadata - 'projectName') || jsonb_build_object('projectId', $1::text)
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE AND source_metadata->>'type' = 'task'
                       ORDER BY id DESC LIMIT 1)
          RETURNING id::text AS id`,
        [namedLater],
      );
      return rows[0]!.id;
    });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  /** What the relationship ledger holds for a task's link: its status and reason. */
  const linkOf = (task: string) =>
    withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ status: string; reason: string | null }>(
        `SELECT status, reason FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE source_key = $1`,
        [`project:${task}`],
      );
      return rows[0];
    });

  /**
   * Reruns, then migrates the same source into a new target: the two must hold the same rows. Only
   * the tasks the change reached are resolved again, and the link totals are what the ledger holds.
   */
  async function rerunMatchesAFreshRun(): Promise<void> {
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);
    const { targetUrl: cleanUrl } = await freshDatabases();
    const clean = await runSteps({ sourceUrl, targetUrl: cleanUrl, input: INPUT });
    closers.push(clean.runtime);
    expect(await targetChecksums(targetUrl)).toEqual(await targetChecksums(cleanUrl));
    const relationships = await relationshipsOf(again);
    const [resolvedAgain, links] = [relationships.resolved, relationships.projectLinks];
    expect(resolvedAgain).toBeGreaterThan(0);
    expect(resolvedAgain).toBeLessThan(links.read / 4);
    expect(links).toMatchObject(await ledgerTotals(targetUrl, 'project:'));
  }

  it('a project that is one no more drops the link of a task that found it by name', async () => {
    // Prepare: a task that names its project by name alone
    const { task, project } = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ task: string; project: string }>(
        `SELECT t.id::text AS task, p.id::text AS project FROM memories t
           JOIN memories p ON p.user_id = t.user_id AND p.source_metadata->>'type' = 'project'
                          AND p.source_metadata->>'projectName' = t.source_metadata->>'projectName'
          WHERE t.source_metadata->>'type' = 'task' AND t.source_metadata->>'projectId' IS NULL
            AND t.is_deleted IS NOT TRUE AND p.is_deleted IS NOT TRUE
          ORDER BY t.id LIMIT 1`,
      );
      return rows[0]!;
    });
    expect((await linkOf(task))?.status).toBe('migrated');
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = jsonb_set(source_metadata, '{type}', '"note"'), updated_at = now()
          WHERE id::text = $1`,
        [project],
      ),
    );

    // Act + Assess
    await rerunMatchesAFreshRun();
    expect((await linkOf(task))?.status).toBe('skipped');
  });

  it('a task that names no project any more loses its link', async () => {
    // Prepare: a linked task, its references taken away
    const task = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ key: string }>(
        `SELECT source_key AS key FROM ${LEDGER_SCHEMA}.relationship_ledger
          WHERE source_key LIKE 'project:%' AND status = 'migrated' ORDER BY source_key LIMIT 1`,
      );
      return rows[0]!.key.slice('project:'.length);
    });
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = source_metadata - 'projectId' - 'projectName', updated_at = now()
          WHERE id::text = $1`,
        [task],
      ),
    );

    // Act + Assess
    await rerunMatchesAFreshRun();
    expect(await linkOf(task)).toBeUndefined();
  });

  it('a note that becomes the project a task names links that task', async () => {
    // Prepare: a task whose project name no project holds, and a note of the same user
    const { task, note, name } = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ task: string; note: string; name: string }>(
        `SELECT t.id::text AS task, n.id::text AS note, t.source_metadata->>'projectName' AS name
           FROM memories t JOIN memories n ON n.user_id = t.user_id
          WHERE t.source_metadata->>'projectName' LIKE 'Retired Initiative %' AND t.is_deleted IS NOT TRUE
            AND n.is_deleted IS NOT TRUE AND n.embedding IS NOT NULL
            AND coalesce(n.source_metadata->>'type', '') NOT IN ('task', 'project')
          ORDER BY t.id, n.id LIMIT 1`,
      );
      return rows[0]!;
    });
    expect((await linkOf(task))?.status).toBe('skipped');
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = jsonb_build_object('type', 'project', 'projectName', $2::text),
                updated_at = now() WHERE id::text = $1`,
        [note, name],
      ),
    );

    // Act + Assess
    await rerunMatchesAFreshRun();
    expect((await linkOf(task))?.status).toBe('migrated');
  });

  it('a memory that appears under an id a task names, whatever its kind, reaches that task', async () => {
    // Prepare: a note of the task's user, copied under the id the task names
    const before = await linkOf(taskNamingLater);
    await withClient(sourceUrl, (c) =>
      c.query(
        `INSERT INTO memories (id, user_id, content, embedding, source_metadata, created_at, updated_at)
         SELECT $1::uuid, n.user_id, 'A note filed under an old project id', n.embedding, '{"type": "note"}', now(), now()
           FROM memories n JOIN memories t ON t.user_id = n.user_id AND t.id::text = $2
          WHERE n.embedding IS NOT NULL ORDER BY n.id LIMIT 1`,
        [namedLater, taskNamingLater],
      ),
    );

    // Act + Assess: the link's outcome moved, as a fresh run has it
    await rerunMatchesAFreshRun();
    expect(await linkOf(taskNamingLater)).not.toEqual(before);
  });
});
