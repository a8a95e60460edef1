import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratorSummary, generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, dropDatabase, freshDatabases } from '../../dev/harness/databases.js';
import { tableChecksum, withClient } from '../../dev/support/checksums.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import type { RelationshipBatchSummary } from '../../functions/core/relationships.js';
import { RELATIONSHIP_SKIP_REASONS } from '../../functions/core/relationships.js';
import { loadRules } from '../../functions/core/rules.js';
import { LEDGER_DDL, LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import { openPgSession } from '../../functions/db/pg/pg-session.js';
import type { Database, Queryable } from '../../functions/db/port.js';
import { planKeyRanges, planUserRanges } from '../../functions/db/range-planner.js';
import { readLedgerEnds } from '../../functions/db/relationship-loader.js';
import type { KeyRange } from '../../functions/db/source-reader.js';
import { introspectSource, type SourceSchema } from '../../functions/db/source-schema.js';
import { loadUserMapping, migrateUsers } from '../../functions/db/user-migration.js';
import { migrateBatch } from '../../functions/engine/migrate-batch.js';
import { migrateRelationships } from '../../functions/engine/migrate-relationships.js';

const BATCH_SIZE = 250;
const RELATION_BATCH_SIZE = 100;

interface LedgerRow {
  source_key: string;
  status: string;
  reason: string | null;
  target_id: string | null;
}

describe('Engine: migrating relationships and project–task links', () => {
  let source: Database;
  let target: Database;
  let schema: SourceSchema;
  let generated: GeneratorSummary;
  let memoryRanges: KeyRange[];
  let userRanges: KeyRange[];
  let relationRanges: KeyRange[];
  let run = 0;

  async function migrateMemories(runId: string, into: Database = target): Promise<void> {
    const target = into;
    await migrateUsers({ source, target, runId, dryRun: false, createUsers: true });
    const rules = loadRules();
    for (const range of memoryRanges) {
      await migrateBatch(
        { source, target, schema, rules, resolveUsers: (ids) => loadUserMapping(target, ids) },
        { runId, range, dryRun: false },
      );
    }
  }

  async function migrateLinks(
    runId: string,
    order: 'forward' | 'reverse' = 'forward',
    into: Database = target,
  ): Promise<RelationshipBatchSummary[]> {
    const summaries: RelationshipBatchSummary[] = [];
    const deps = { source, target: into, schema };
    const relations = order === 'forward' ? relationRanges : [...relationRanges].reverse();
    for (const range of relations) {
      summaries.push(
        (await migrateRelationships(deps, { runId, kind: 'relations', range, dryRun: false })).summary,
      );
    }
    for (const range of userRanges) {
      summaries.push(
        (await migrateRelationships(deps, { runId, kind: 'project-links', range, dryRun: false })).summary,
      );
    }
    return summaries;
  }

  async function fullRun(order: 'forward' | 'reverse' = 'forward'): Promise<RelationshipBatchSummary[]> {
    run++;
    const runId = `run-${run}`;
    await migrateMemories(runId);
    return migrateLinks(runId, order);
  }

  const ledger = (url = targetUrl) =>
    withClient(url, async (c) => {
      const { rows } = await c.query<LedgerRow>(
        `SELECT source_key, status, reason, target_id FROM ${LEDGER_SCHEMA}.relationship_ledger ORDER BY source_key`,
      );
      return rows;
    });

  const relationshipChecksums = (url = targetUrl) =>
    withClient(url, async (c) => ({
      relationships: await tableChecksum(c, 'memory_relationships'),
      work: await tableChecksum(c, '"work_memories"'),
    }));

  /**
   * Races the first relation range's batch against another session. On a fresh target holding the
   * memories, `intrude` writes in the other session's open transaction (it is given the range's
   * first migrated ledger row of the main target); the batch starts, and once it waits on that
   * transaction's locks the other session commits. Returns the batch's summary and the fresh target.
   */
  async function raceFirstRelationRange(
    runId: string,
    intrude: (blocker: Queryable, mine: LedgerRow) => Promise<void>,
  ): Promise<{ summary: RelationshipBatchSummary; otherUrl: string; mine: LedgerRow }> {
    const { targetUrl: otherUrl } = await freshDatabases();
    const other = openPgDatabase({ connectionString: otherUrl, max: 3 });
    const { session: blocker, close: closeBlocker } = await openPgSession(otherUrl);
    try {
      await migrateMemories(runId, other);
      const range = relationRanges[0] as KeyRange;
      // uuids order as their hex text does, so the range's keys are those at or below its bound
      const inRange = (r: LedgerRow) =>
        r.source_key.startsWith('relation:') && r.source_key.slice('relation:'.length) <= String(range.toKey);
      const mine = (await ledger()).find((r) => r.status === 'migrated' && inRange(r)) as LedgerRow;
      await blocker.query('BEGIN');
      await intrude(blocker, mine);
      const batch = migrateRelationships(
        { source, target: other, schema },
        { runId, kind: 'relations', range, dryRun: false },
      );
      await waitForLockWait(otherUrl);
      await blocker.query('COMMIT');
      const { summary } = await batch;
      return { summary, otherUrl, mine };
    } finally {
      await closeBlocker();
      await other.end();
    }
  }

  let sourceUrl: string;
  let targetUrl: string;
  let firstSummaries: RelationshipBatchSummary[];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    generated = await generateBigMemory({ databaseUrl: sourceUrl, memories: 2_000, users: 12, seed: 7 });
    source = openPgDatabase({ connectionString: sourceUrl, max: 3 });
    target = openPgDatabase({ connectionString: targetUrl, max: 3 });
    schema = await introspectSource(source);
    memoryRanges = await planKeyRanges(source, { batchSize: BATCH_SIZE });
    userRanges = await planUserRanges(source, { memoriesPerRange: BATCH_SIZE });
    relationRanges = await planKeyRanges(source, {
      table: 'memory_relations',
      batchSize: RELATION_BATCH_SIZE,
    });
    firstSummaries = await fullRun();
  });

  afterAll(async () => {
    await Promise.all([source?.end(), target?.end()]);
  });

  it('counts a dry run from the source alone, writing nothing', async () => {
    // Prepare
    const { sourceUrl: drySource, targetUrl: dryTarget } = await freshDatabases();
    await generateBigMemory({ databaseUrl: drySource, memories: 400, users: 5, seed: 7 });
    const dry = {
      source: openPgDatabase({ connectionString: drySource }),
      target: openPgDatabase({ connectionString: dryTarget }),
    };
    try {
      const drySchema = await introspectSource(dry.source);
      const ranges = await planKeyRanges(dry.source, { table: 'memory_relations', batchSize: 1_000 });

      // Act
      const summaries = [];
      for (const range of ranges) {
        summaries.push(
          (
            await migrateRelationships(
              { ...dry, schema: drySchema },
              { runId: 'dry', kind: 'relations', range, dryRun: true },
            )
          ).summary,
        );
      }

      // Assess
      const read = summaries.reduce((n, s) => n + s.read, 0);
      const accounted = summaries.reduce(
        (n, s) => n + s.migrated + Object.values(s.skippedByReason).reduce((a, b) => a + b, 0),
        0,
      );
      expect(read).toBe(240);
      expect(accounted).toBe(read);
      const ledgerSchema = await withClient(dryTarget, (c) =>
        c.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [LEDGER_SCHEMA]),
      );
      expect(ledgerSchema.rows).toEqual([]);
      const rows = await withClient(dryTarget, (c) =>
        c.query('SELECT count(*)::int AS n FROM memory_relationships'),
      );
      expect(rows.rows[0].n).toBe(0);
    } finally {
      await Promise.all([dry.source.end(), dry.target.end()]);
    }
  });

  it('accounts for every source relation as migrated or skipped with a known reason', async () => {
    // Prepare
    const sourceIds = await withClient(sourceUrl, (c) =>
      c.query<{ id: string }>('SELECT id::text FROM memory_relations'),
    );

    // Act
    const rows = await ledger();

    // Assess
    const byKey = new Map(rows.map((r) => [r.source_key, r]));
    expect(sourceIds.rows).toHaveLength(generated.relations);
    for (const { id } of sourceIds.rows) {
      const entry = byKey.get(`relation:${id}`);
      expect(entry, id).toBeDefined();
      if (entry?.status === 'skipped') expect(RELATIONSHIP_SKIP_REASONS).toContain(entry.reason);
      else expect(entry?.status).toBe('migrated');
    }
    const relationRows = rows.filter((r) => r.source_key.startsWith('relation:'));
    const migrated = relationRows.filter((r) => r.status === 'migrated');
    const reasons = new Set(relationRows.filter((r) => r.status === 'skipped').map((r) => r.reason));
    for (const planted of ['self_relation', 'duplicate', 'target_missing'])
      expect(reasons).toContain(planted);
    expect([...reasons].some((r) => r === 'source_deleted' || r === 'target_deleted')).toBe(true);
    // Each migrated relation owns exactly one row; no two migrated relations share one.
    const owned = await withClient(targetUrl, (c) =>
      c.query<{ id: string; owner: string }>(
        `SELECT id, metadata->>'original_relation_id' AS owner FROM memory_relationships
          WHERE metadata ? 'original_relation_id'`,
      ),
    );
    expect(owned.rows.length).toBe(migrated.length);
    expect(new Set(migrated.map((m) => m.target_id)).size).toBe(migrated.length);
    const ownerOf = new Map(owned.rows.map((r) => [r.id, r.owner]));
    for (const m of migrated) expect(`relation:${ownerOf.get(m.target_id as string)}`).toBe(m.source_key);
    // The batch summaries add up to the ledger.
    const relationSummaries = firstSummaries.filter((s) => s.kind === 'relations');
    expect(relationSummaries.reduce((n, s) => n + s.read, 0)).toBe(generated.relations);
  });

  it('resolves relations to both ends’ modules and new ids, keeping type and strength', async () => {
    // Prepare
    const sourceRelations = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string; s: string; t: string; type: string; strength: number }>(
        'SELECT id::text, source_memory_id::text AS s, target_memory_id::text AS t, relation_type AS type, strength FROM memory_relations',
      );
      return new Map(rows.map((r) => [r.id, r]));
    });

    // Act
    const rows = await withClient(targetUrl, async (c) => {
      const result = await c.query<{
        owner: string;
        sourceModule: string;
        sourceMemoryId: string;
        targetModule: string;
        targetMemoryId: string;
        relationshipType: string;
        strength: number;
        source_ledger_module: string;
        target_ledger_module: string;
        userId: string;
        source_ledger_user: string;
      }>(
        `SELECT r.metadata->>'original_relation_id' AS owner, r."sourceModule", r."sourceMemoryId", r."targetModule",
                r."targetMemoryId", r."relationshipType", r.strength, r."userId",
                ls.module AS source_ledger_module, lt.module AS target_ledger_module, ls.target_user_id AS source_ledger_user
           FROM memory_relationships r
           JOIN ${LEDGER_SCHEMA}.memory_ledger ls ON ls.target_id = r."sourceMemoryId"
           JOIN ${LEDGER_SCHEMA}.memory_ledger lt ON lt.target_id = r."targetMemoryId"
          WHERE r.metadata ? 'original_relation_id'`,
      );
      return result.rows;
    });

    // Assess
    expect(rows.length).toBeGreaterThan(500);
    let crossModule = 0;
    for (const row of rows) {
      const original = sourceRelations.get(row.owner);
      expect(original).toBeDefined();
      expect(row.sourceMemoryId).toBe(targetMemoryId(original?.s as string));
      expect(row.targetMemoryId).toBe(targetMemoryId(original?.t as string));
      expect(row.relationshipType).toBe(original?.type);
      expect(row.strength).toBe(original?.strength);
      expect([row.sourceModule, row.targetModule]).toEqual([
        row.source_ledger_module,
        row.target_ledger_module,
      ]);
      expect(row.userId).toBe(row.source_ledger_user);
      if (row.sourceModule !== row.targetModule) crossModule++;
    }
    expect(crossModule).toBeGreaterThan(50);
  });

  it('gives tasks their project’s new id and a belongs_to relationship', async () => {
    // Prepare
    const tasks = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string; project_id: string | null; project_name: string | null }>(
        `SELECT id::text, source_metadata->>'projectId' AS project_id, source_metadata->>'projectName' AS project_name
           FROM memories
          WHERE NOT is_deleted AND jsonb_typeof(source_metadata) = 'object' AND source_metadata->>'type' = 'task'
            AND (source_metadata ? 'projectId' OR source_metadata ? 'projectName')`,
      );
      return rows;
    });
    const links = new Map(
      (await ledger()).filter((r) => r.source_key.startsWith('project:')).map((r) => [r.source_key, r]),
    );

    // Act
    const linked = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{
        id: string;
        project_id: string;
        project_source_id: string;
        linked: boolean;
      }>(
        `SELECT m.id, m.metadata->>'project_id' AS project_id, m.metadata->>'project_source_id' AS project_source_id,
                EXISTS (SELECT 1 FROM memory_relationships r
                         WHERE r."sourceMemoryId" = m.id AND r."targetMemoryId" = m.metadata->>'project_id'
                           AND r."relationshipType" = 'belongs_to') AS linked
           FROM work_memories m WHERE m.metadata ? 'project_id'`,
      );
      return new Map(rows.map((r) => [r.id, r]));
    });

    // Assess
    expect(tasks.length).toBeGreaterThan(100);
    let resolved = 0;
    const reasons: Record<string, number> = {};
    for (const task of tasks) {
      const entry = links.get(`project:${task.id}`);
      expect(entry, task.id).toBeDefined();
      if (entry?.status === 'skipped') {
        reasons[entry.reason as string] = (reasons[entry.reason as string] ?? 0) + 1;
        continue;
      }
      resolved++;
      const row = linked.get(targetMemoryId(task.id));
      expect(row, task.id).toBeDefined();
      expect(row?.project_id).toBe(targetMemoryId(row?.project_source_id as string));
      expect(row?.linked).toBe(true);
      if (task.project_id) expect(row?.project_source_id).toBe(task.project_id);
    }
    const named = generated.tasks.id + generated.tasks.name + generated.tasks.id_and_name;
    expect(resolved + sum(reasons)).toBe(tasks.length);
    expect(resolved).toBeGreaterThan(0.8 * named);
    expect(reasons.project_not_found ?? 0).toBeGreaterThanOrEqual(generated.tasks.unknown_name);
    for (const reason of Object.keys(reasons)) {
      expect([
        'project_not_found',
        'project_deleted',
        'project_rejected',
        'task_rejected',
        'self_relation',
      ]).toContain(reason);
    }
  });

  it('is idempotent: a rerun, relation batches in reverse order, changes no row and no ledger status', async () => {
    // Prepare
    const before = await relationshipChecksums();
    const ledgerBefore = statuses(await ledger());

    // Act
    await fullRun('reverse');

    // Assess
    expect(await relationshipChecksums()).toEqual(before);
    const ledgerAfter = statuses(await ledger());
    expect(ledgerAfter).toEqual(ledgerBefore);
    const dupes = await withClient(targetUrl, (c) =>
      c.query(
        `SELECT 1 FROM memory_relationships
          GROUP BY "sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId", "relationshipType" HAVING count(*) > 1`,
      ),
    );
    expect(dupes.rows).toEqual([]);
    for (const m of MODULE_IDS) {
      const orphans = await withClient(targetUrl, (c) =>
        c.query(
          `SELECT 1 FROM memory_relationships r WHERE r."sourceModule" = $1
                  AND NOT EXISTS (SELECT 1 FROM "${m}_memories" x WHERE x.id = r."sourceMemoryId")`,
          [m],
        ),
      );
      expect(orphans.rows, m).toEqual([]);
    }
  });

  it('settles duplicates split across batches the same way whichever batch runs first', async () => {
    // Prepare
    const { targetUrl: otherUrl } = await freshDatabases();
    const other = openPgDatabase({ connectionString: otherUrl, max: 3 });
    try {
      await migrateMemories('reverse-run', other);

      // Act
      const summaries = await migrateLinks('reverse-run', 'reverse', other);

      // Assess
      const [expected, actual] = await Promise.all([
        relationshipChecksums(),
        relationshipChecksums(otherUrl),
      ]);
      expect(actual.relationships).toBe(expected.relationships);
      expect(statuses(await ledger(otherUrl))).toEqual(statuses(await ledger()));
      // This dataset's duplicate pairs fall in different batches: the later batch, run first here,
      // wrote the row that the earlier one then took over.
      expect(summaries.reduce((n, s) => n + (s.displaced ?? 0), 0)).toBeGreaterThan(0);
      const duplicates = summaries.reduce(
        (n, s) => n + (s.skippedByReason.duplicate ?? 0) + (s.displaced ?? 0),
        0,
      );
      expect(duplicates).toBeGreaterThanOrEqual(generated.relationDefects.duplicate);
    } finally {
      await other.end();
    }
  });

  it('upserts the ledger when a concurrent writer ledgers a key while the batch copies it in', async () => {
    // Prepare: another session ledgers one key of the first relation range and holds its
    // transaction open, so the batch's COPY of ledger rows must wait
    const ledgerOneKey = async (blocker: Queryable, mine: LedgerRow) => {
      await blocker.query(
        `INSERT INTO ${LEDGER_SCHEMA}.relationship_ledger (source_key, status, reason, run_id, first_run_id)
         VALUES ($1, 'skipped', 'stale', 'other-run', 'other-run')`,
        [mine.source_key],
      );
    };

    // Act
    const { summary, otherUrl, mine } = await raceFirstRelationRange('race-run', ledgerOneKey);

    // Assess: the batch redid its work through the upsert and owns the key's ledger row
    const rows = await ledger(otherUrl);
    expect(rows.length).toBe(summary.read);
    const expected = new Map(statuses(await ledger()).map((r) => [r[0], r]));
    for (const row of statuses(rows)) expect(row).toEqual(expected.get(row[0] as string));
    expect(rows.find((r) => r.source_key === mine.source_key)?.status).toBe('migrated');
  });

  it('takes over a row another batch inserts between its lock and its upsert, recording that relation as the duplicate', async () => {
    // Prepare: another session writes the row of one relation of the first range, owned by a
    // relation with a higher id, ledgers it and holds its transaction open, so the batch's lock
    // cannot see the row and its upsert must wait for it
    const intruder = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    let r: Record<string, unknown> = {};
    const writeIntruder = async (blocker: Queryable, mine: LedgerRow) => {
      const row = await withClient(targetUrl, (c) =>
        c.query('SELECT * FROM memory_relationships WHERE id = $1', [mine.target_id]),
      );
      r = row.rows[0] as Record<string, unknown>;
      await blocker.query(
        'INSERT INTO memory_relationships SELECT * FROM json_populate_record(NULL::memory_relationships, $1)',
        [{ ...r, strength: 0.5, metadata: { original_relation_id: intruder } }],
      );
      await blocker.query(
        `INSERT INTO ${LEDGER_SCHEMA}.relationship_ledger (source_key, status, target_id, run_id, first_run_id)
         VALUES ($1, 'migrated', $2, 'other-run', 'other-run')`,
        [`relation:${intruder}`, r.id],
      );
    };

    // Act
    const { summary, otherUrl, mine } = await raceFirstRelationRange('takeover-run', writeIntruder);

    // Assess: the lower relation id owns the row; the intruder is ledgered as its duplicate
    expect(summary.displaced).toBe(1);
    const rows = await ledger(otherUrl);
    expect(rows.find((x) => x.source_key === `relation:${intruder}`)).toMatchObject({
      status: 'skipped',
      reason: 'duplicate',
      target_id: null,
    });
    expect(rows.find((x) => x.source_key === mine.source_key)).toMatchObject({
      status: 'migrated',
      target_id: r.id,
    });
    const owner = await withClient(otherUrl, (c) =>
      c.query<{ owner: string }>(
        `SELECT metadata->>'original_relation_id' AS owner FROM memory_relationships WHERE id = $1`,
        [r.id],
      ),
    );
    expect(`relation:${owner.rows[0]?.owner}`).toBe(mine.source_key);
  });

  it('re-resolves a relation whose end moved module, leaving no stale row', async () => {
    // Prepare: a migrated relation whose source end is a plain note outside work becomes a project
    const picked = await withClient(targetUrl, (c) =>
      c.query<{ source_key: string; target_id: string; source_id: string }>(
        `SELECT l.source_key, l.target_id, ml.source_id
           FROM ${LEDGER_SCHEMA}.relationship_ledger l
           JOIN memory_relationships r ON r.id = l.target_id
           JOIN ${LEDGER_SCHEMA}.memory_ledger ml ON ml.target_id = r."sourceMemoryId"
          WHERE l.status = 'migrated' AND l.source_key LIKE 'relation:%' AND r."sourceModule" NOT IN ('work')
          ORDER BY l.source_key LIMIT 1`,
      ),
    );
    const before = picked.rows[0] as { source_key: string; target_id: string; source_id: string };
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = '{"type": "project", "projectName": "Moved"}'::jsonb, updated_at = now()
          WHERE id = $1`,
        [before.source_id],
      ),
    );

    // Act
    await fullRun();

    // Assess
    const after = (await ledger()).find((r) => r.source_key === before.source_key);
    expect(after?.status).toBe('migrated');
    expect(after?.target_id).not.toBe(before.target_id);
    const rows = await withClient(targetUrl, (c) =>
      c.query<{ id: string; sourceModule: string }>(
        `SELECT id, "sourceModule" FROM memory_relationships WHERE id = ANY($1::text[])`,
        [[before.target_id, after?.target_id]],
      ),
    );
    expect(rows.rows).toEqual([{ id: after?.target_id, sourceModule: 'work' }]);
  });
});

/** Until a session of the database waits on a lock (the batch behind the open transaction). */
async function waitForLockWait(url: string): Promise<void> {
  const database = new URL(url).pathname.slice(1);
  for (let tries = 0; tries < 200; tries++) {
    const waiting = await withClient(url, (c) =>
      c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [database]),
    );
    if (waiting.rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no session of the target ever waited on a lock');
}

function statuses(rows: LedgerRow[]): (string | null)[][] {
  return rows.map(({ source_key, status, reason, target_id }) => [source_key, status, reason, target_id]);
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('Function: readLedgerEnds', () => {
  const LEDGER_ROWS = 50_000;
  let targetUrl: string;
  let target: Database;

  beforeAll(async () => {
    targetUrl = await createTarget();
    target = openPgDatabase({ connectionString: targetUrl, max: 2 });
    await target.query(LEDGER_DDL);
    await target.query(
      `INSERT INTO ${LEDGER_SCHEMA}.memory_ledger (source_id, status, module, target_id, target_user_id, run_id, first_run_id)
       SELECT 'memory-' || lpad(i::text, 6, '0'), CASE WHEN i % 10 = 0 THEN 'rejected' ELSE 'migrated' END,
              CASE WHEN i % 10 = 0 THEN NULL ELSE 'work' END, 'target-' || i, 'user-' || (i % 97), 'run', 'run'
         FROM generate_series(1, ${LEDGER_ROWS}) AS i`,
    );
    await target.query(`ANALYZE ${LEDGER_SCHEMA}.memory_ledger`);
  });

  afterAll(async () => {
    await target?.end();
    if (targetUrl) await dropDatabase(targetUrl);
  });

  it('probes the primary key for each end, even for an array the planner would rather scan for', async () => {
    // Prepare: both ends of 1,500 relations, with repeats and ids the ledger does not know
    const ids = [
      'memory-000010',
      'memory-007919',
      ...Array.from(
        { length: 3_000 },
        (_, k) => `memory-${String(((k * 7919) % 60_000) + 1).padStart(6, '0')}`,
      ),
    ];
    const queries: { text: string; values: unknown[] }[] = [];
    const observed = {
      query: (text: string, values: unknown[]) => {
        queries.push({ text, values });
        return target.query(text, values);
      },
    } as unknown as Database;

    // Act
    const ends = await readLedgerEnds(observed, ids);

    // Assess: the answer
    const known = [...new Set(ids)].filter((id) => Number(id.slice('memory-'.length)) <= LEDGER_ROWS);
    expect([...ends.keys()].sort()).toEqual(known.sort());
    expect(ends.get('memory-000010')).toEqual({
      status: 'rejected',
      module: null,
      targetId: 'target-10',
      targetUserId: 'user-10',
    });
    expect(ends.get('memory-007919')).toEqual({
      status: 'migrated',
      module: 'work',
      targetId: 'target-7919',
      targetUserId: `user-${7919 % 97}`,
    });
    // Assess: the plan it ran with
    const [query] = queries;
    expect(queries).toHaveLength(1);
    const { rows } = await target.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query?.text}`, query?.values);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan using memory_ledger_pkey/);
    expect(plan).not.toMatch(/Seq Scan on memory_ledger/);
  });
});
