import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { dropDatabase, freshDatabases } from '../../dev/harness/databases.js';
import { defaultModuleRegistry, DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { loadRules } from '../../functions/core/rules.js';
import {
  CHECK_NAMES,
  FingerprintTally,
  type VerificationCheck,
  type VerificationResult,
} from '../../functions/core/verification.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase, type PgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database, DatabaseSession } from '../../functions/db/port.js';
import { planKeyRanges, planUserRanges, verifySlicesOf } from '../../functions/db/range-planner.js';
import type { KeyRange } from '../../functions/db/source-reader.js';
import { introspectSource, type SourceSchema } from '../../functions/db/source-schema.js';
import { loadUserMapping, migrateUsers } from '../../functions/db/user-migration.js';
import { searchSamples } from '../../functions/db/verification-queries.js';
import { migrateBatch } from '../../functions/engine/migrate-batch.js';
import { migrateRelationships } from '../../functions/engine/migrate-relationships.js';
import { verifyFingerprints, verifyMigration } from '../../functions/engine/verify.js';
import { MigrationError } from '../../functions/errors.js';

const RUN_ID = 'verify-test-run';

interface Subject {
  sourceId: string;
  targetId: string;
  module: string;
}

describe('Function: verifyMigration', () => {
  let urls: { sourceUrl: string; targetUrl: string };
  let source: Database;
  let target: PgDatabase;
  let schema: SourceSchema;
  let subject: Subject;

  const verify = (preserveEmbeddings = true): Promise<VerificationResult> =>
    verifyMigration({ source, target, schema }, { preserveEmbeddings, sampleSize: 20 });

  const check = (result: VerificationResult, name: VerificationCheck['name']): VerificationCheck => {
    const found = result.checks.find((c) => c.name === name);
    if (!found) throw new Error(`no ${name} check in the result`);
    return found;
  };

  const failedChecks = (result: VerificationResult) => result.checks.filter((c) => !c.ok).map((c) => c.name);

  /** Runs `tamper`, verifies, then puts the saved rows back so the next test starts clean. */
  async function withTampering(tamper: string[], restore: string[]): Promise<VerificationResult> {
    await target.query('CREATE SCHEMA IF NOT EXISTS tamper');
    for (const sql of tamper) await target.query(sql);
    try {
      return await verify();
    } finally {
      for (const sql of restore) await target.query(sql);
      await target.query('DROP SCHEMA tamper CASCADE');
    }
  }

  beforeAll(async () => {
    urls = await freshDatabases();
    await generateBigMemory({ databaseUrl: urls.sourceUrl, memories: 2_000, users: 40, seed: 11 });
    source = openPgDatabase({ connectionString: urls.sourceUrl, max: 3 });
    target = openPgDatabase({ connectionString: urls.targetUrl, max: 3 });
    schema = await introspectSource(source);
    await migrateUsers({ source, target, runId: RUN_ID, dryRun: false, createUsers: true });
    const rules = loadRules();
    for (const range of await planKeyRanges(source, { batchSize: 250 })) {
      await migrateBatch(
        { source, target, schema, rules, resolveUsers: (ids) => loadUserMapping(target, ids) },
        { runId: RUN_ID, range, dryRun: false },
      );
    }
    const { rows } = await target.query<Subject>(
      `SELECT l.source_id AS "sourceId", l.target_id AS "targetId", l.module
         FROM ${LEDGER_SCHEMA}.memory_ledger l JOIN work_memories m ON m.id = l.target_id
        WHERE l.status = 'migrated' AND m.embedding IS NOT NULL ORDER BY l.source_id LIMIT 1`,
    );
    subject = rows[0] as Subject;
  });

  afterAll(async () => {
    await Promise.all([source?.end(), target?.end()]);
    if (urls) await Promise.all([dropDatabase(urls.sourceUrl), dropDatabase(urls.targetUrl)]);
  });

  it('reports the relationship check as not run before the relationship step', async () => {
    // Act
    const result = await verify();

    // Assess
    expect(check(result, 'relationships')).toMatchObject({ ok: true, skipped: true });
    expect(check(result, 'relationships').detail).toMatch(/^not run/);
    expect(result.counts.relationships).toBeNull();
  });

  it('passes every check on a migrated dataset, accounting for the generator’s defects', async () => {
    // Prepare
    const deps = { source, target, schema };
    const relationRanges = await planKeyRanges(source, { batchSize: 1_000, table: 'memory_relations' });
    for (const range of relationRanges) {
      await migrateRelationships(deps, { runId: RUN_ID, kind: 'relations', range, dryRun: false });
    }
    for (const range of await planUserRanges(source, { memoriesPerRange: 500 })) {
      await migrateRelationships(deps, { runId: RUN_ID, kind: 'project-links', range, dryRun: false });
    }
    const { rows: live } = await source.query<{ live: number; deleted: number }>(
      'SELECT count(*) FILTER (WHERE NOT is_deleted)::int AS live, count(*) FILTER (WHERE is_deleted)::int AS deleted FROM memories',
    );

    // Act
    const result = await verify();

    // Assess
    expect(failedChecks(result)).toEqual([]);
    expect(result.ok).toBe(true);
    const counts = result.counts;
    expect(counts.sourceMemories).toBe(live[0]?.live);
    expect(counts.sourceDeleted).toBe(live[0]?.deleted);
    expect(counts.sourceDeleted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
    expect(counts.migrated + counts.rejected).toBe(counts.sourceMemories);
    expect(counts.compared).toBe(counts.migrated);
    expect(Object.values(counts.byModule).reduce((a, b) => a + b, 0)).toBe(counts.migrated);
    expect(counts.cmiRows).toBe(counts.migrated);
    expect(counts.stale).toBe(0);
    expect(counts.searchSamples).toBe(20);
    expect(counts.relationships?.source).toBeGreaterThan(0);
    expect(counts.relationships?.skipped).toBeGreaterThan(0);
    expect(counts.relationships?.missing).toBe(0);
  });

  it('samples the search smoke test as the whole join would, also when few candidates have an embedding', async () => {
    // Prepare: the first migrated memories with an embedding, in hash order of their source id
    const firstWithEmbedding = (client: DatabaseSession) =>
      client
        .query<{ source_id: string }>(
          `SELECT l.source_id FROM ${LEDGER_SCHEMA}.memory_ledger l
             JOIN (${MODULE_IDS.map((m) => `SELECT id FROM "${m}_memories" WHERE embedding IS NOT NULL`).join(' UNION ALL ')}) m
               ON m.id = l.target_id
            WHERE l.status = 'migrated' ORDER BY hashtextextended(l.source_id, 0), l.source_id LIMIT 20`,
        )
        .then((r) => r.rows.map((row) => row.source_id));
    const client = await target.connect();
    try {
      await client.query('BEGIN');
      const before = await firstWithEmbedding(client);
      const sampled = await searchSamples(client, defaultModuleRegistry(), 20);
      // Embeddings gone from most of the first candidates: too few of them are left to sample.
      for (const m of MODULE_IDS) {
        await client.query(
          `UPDATE "${m}_memories" SET embedding = NULL WHERE id IN (
             SELECT target_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated'
              ORDER BY hashtextextended(source_id, 0), source_id LIMIT 70)`,
        );
      }
      const after = await firstWithEmbedding(client);

      // Act
      const resampled = await searchSamples(client, defaultModuleRegistry(), 20);

      // Assess
      expect(sampled.map((s) => s.sourceId)).toEqual(before);
      expect(before).toHaveLength(20);
      expect(resampled.map((s) => s.sourceId)).toEqual(after);
      expect(after).toHaveLength(20);
      expect(after.filter((id) => before.includes(id)).length).toBeLessThan(20);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('gives the same checks in the same order on pools of one connection each', async () => {
    // Prepare
    const single = {
      source: openPgDatabase({ connectionString: urls.sourceUrl, max: 1 }),
      target: openPgDatabase({ connectionString: urls.targetUrl, max: 1 }),
    };

    try {
      // Act
      const [wide, narrow] = await Promise.all([
        verify(),
        verifyMigration({ ...single, schema }, { preserveEmbeddings: true, sampleSize: 20 }),
      ]);

      // Assess
      expect(narrow.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
      expect(narrow).toEqual(wide);
    } finally {
      await Promise.all([single.source.end(), single.target.end()]);
    }
  });

  it('names the check a database failure stopped, once every other check has let go of its connection', async () => {
    // Prepare
    const ledger = `${LEDGER_SCHEMA}.relationship_ledger`;
    await target.query(`ALTER TABLE ${ledger} RENAME TO relationship_ledger_away`);

    // Act
    const failure = await verify().then(
      () => null,
      (error: unknown) => error,
    );
    const idle = {
      total: target.pool.totalCount,
      idle: target.pool.idleCount,
      waiting: target.pool.waitingCount,
    };
    await target.query(`ALTER TABLE ${LEDGER_SCHEMA}.relationship_ledger_away RENAME TO relationship_ledger`);

    // Assess
    expect(failure).toBeInstanceOf(MigrationError);
    expect((failure as MigrationError).context).toMatchObject({
      step: 'verify',
      check: 'relationships',
      code: '42P01',
    });
    expect(idle.waiting).toBe(0);
    expect(idle.idle).toBe(idle.total);
  });

  it('tallies the same checksums slice by slice as over the whole key space, mismatches included', async () => {
    // Prepare: one changed content, and one changed timestamp in the last slice
    const { rows } = await target.query<Subject>(
      `SELECT l.source_id AS "sourceId", l.target_id AS "targetId", l.module
         FROM ${LEDGER_SCHEMA}.memory_ledger l
        WHERE l.status = 'migrated' ORDER BY l.source_id DESC LIMIT 1`,
    );
    const late = rows[0] as Subject;
    await target.query('CREATE SCHEMA tamper');
    const tamper = [
      `CREATE TABLE tamper.content AS SELECT id, content FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
      `UPDATE ${subject.module}_memories SET content = content || ' (edited)' WHERE id = '${subject.targetId}'`,
      `CREATE TABLE tamper.times AS SELECT id, "updatedAt" FROM ${late.module}_memories WHERE id = '${late.targetId}'`,
      `UPDATE ${late.module}_memories SET "updatedAt" = "updatedAt" + interval '1 ms' WHERE id = '${late.targetId}'`,
    ];
    for (const sql of tamper) await target.query(sql);
    const deps = { source, target, schema };
    try {
      const slices = verifySlicesOf(await planKeyRanges(source, { batchSize: 250 }), 3);

      // Act
      const whole = await verifyFingerprints(deps, { preserveEmbeddings: true, range: null });
      const sliced = new FingerprintTally({ preserveEmbeddings: true });
      for (const slice of slices) {
        sliced.absorb(await verifyFingerprints(deps, { preserveEmbeddings: true, range: slice }));
      }
      const result = await verifyMigration(deps, {
        preserveEmbeddings: true,
        sampleSize: 5,
        fingerprints: sliced.summary(),
      });

      // Assess
      expect(slices.length).toBeGreaterThanOrEqual(3);
      expect(sliced.summary()).toEqual(whole);
      expect(whole.compared).toBe(result.counts.migrated);
      expect(whole.content).toMatchObject({
        count: 1,
        samples: [expect.stringMatching(`^${subject.sourceId}: `)],
      });
      expect(whole.timestamps).toMatchObject({
        count: 1,
        samples: [expect.stringMatching(`^${late.sourceId}: updatedAt`)],
      });
      expect(whole.embedding.count).toBe(0);
      expect(failedChecks(result)).toEqual(['content_checksums', 'timestamps']);
    } finally {
      await target.query(
        `UPDATE ${subject.module}_memories m SET content = s.content FROM tamper.content s WHERE m.id = s.id`,
      );
      await target.query(
        `UPDATE ${late.module}_memories m SET "updatedAt" = s."updatedAt" FROM tamper.times s WHERE m.id = s.id`,
      );
      await target.query('DROP SCHEMA tamper CASCADE');
    }
  });

  it('a sampled Verify compares the same memories whether it selects them in one read, or page by page with the run’s written ids inline, held or asked per page', async () => {
    // Prepare: the run wrote only the first 300 memories (the others carry an earlier run's id),
    // and one of them differs in the target
    const { rows: firsts } = await target.query<{ source_id: string }>(
      `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated' ORDER BY source_id LIMIT 300`,
    );
    const writtenIds = firsts.map((r) => r.source_id);
    await target.query(
      `UPDATE ${LEDGER_SCHEMA}.memory_ledger SET run_id = 'earlier-run' WHERE NOT (source_id = ANY($1::text[]))`,
      [writtenIds],
    );
    await target.query('CREATE SCHEMA tamper');
    await target.query(
      `CREATE TABLE tamper.content AS SELECT id, content FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
    );
    await target.query(
      `UPDATE ${subject.module}_memories SET content = content || ' (edited)' WHERE id = '${subject.targetId}'`,
    );
    const deps = { source, target, schema };
    const select = { runId: RUN_ID, rate: 0.05 };
    const tallied = (
      selectionLimits?: { inline: number; held: number; oneRead: number },
      range = null as KeyRange | null,
    ) =>
      verifyFingerprints(deps, {
        preserveEmbeddings: true,
        range,
        select,
        ...(selectionLimits ? { selectionLimits } : {}),
      });
    try {
      // Act
      const oneRead = await tallied();
      const inline = await tallied({ inline: 1000, held: 1000, oneRead: 10 });
      const held = await tallied({ inline: 10, held: 1000, oneRead: 10 });
      const perPage = await tallied({ inline: 10, held: 10, oneRead: 10 });
      const sliced = new FingerprintTally({ preserveEmbeddings: true });
      for (const slice of verifySlicesOf(await planKeyRanges(source, { batchSize: 250 }), 3)) {
        sliced.absorb(await tallied(undefined, slice));
      }

      // Assess
      expect(writtenIds).toContain(subject.sourceId);
      expect(inline.compared).toBeGreaterThan(300);
      expect(inline.compared).toBeLessThan(500);
      expect(inline.content).toMatchObject({
        count: 1,
        samples: [expect.stringMatching(`^${subject.sourceId}: `)],
      });
      expect(oneRead).toEqual(inline);
      expect(sliced.summary()).toEqual(inline);
      expect(held).toEqual(inline);
      expect(perPage).toEqual(inline);
    } finally {
      await target.query(
        `UPDATE ${subject.module}_memories m SET content = s.content FROM tamper.content s WHERE m.id = s.id`,
      );
      await target.query('DROP SCHEMA tamper CASCADE');
      await target.query(`UPDATE ${LEDGER_SCHEMA}.memory_ledger SET run_id = $1`, [RUN_ID]);
    }
  });

  it('fails content_checksums, and only it, when one target content changes', async () => {
    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT id, content FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
        `UPDATE ${subject.module}_memories SET content = content || ' (edited)' WHERE id = '${subject.targetId}'`,
      ],
      [`UPDATE ${subject.module}_memories m SET content = s.content FROM tamper.saved s WHERE m.id = s.id`],
    );

    // Assess
    expect(failedChecks(result)).toEqual(['content_checksums']);
    expect(check(result, 'content_checksums')).toMatchObject({ expected: 0, actual: 1 });
    expect(check(result, 'content_checksums').detail).toContain(
      `1 of ${result.counts.compared} migrated memories differ`,
    );
    expect(check(result, 'content_checksums').samples?.[0]).toMatch(
      new RegExp(`^${subject.sourceId}: content md5`),
    );
  });

  it('fails the cmi check, naming the memory, when its CMI row is deleted', async () => {
    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT * FROM memory_index WHERE "remoteMemoryId" = '${subject.targetId}'`,
        `DELETE FROM memory_index WHERE "remoteMemoryId" = '${subject.targetId}'`,
      ],
      ['INSERT INTO memory_index SELECT * FROM tamper.saved'],
    );

    // Assess
    expect(failedChecks(result)).toContain('cmi');
    expect(failedChecks(result).filter((n) => n !== 'cmi' && n !== 'search_smoke')).toEqual([]);
    const cmi = check(result, 'cmi');
    expect(cmi.detail).toMatch(
      /work: \d+ module rows, \d+ CMI rows \(1 missing, 0 wrong user, 0 in a wrong module\)/,
    );
    expect(cmi.samples).toEqual([`work:${subject.sourceId} has no CMI row`]);
  });

  it('fails the cmi check when a memory also has a CMI row in another module', async () => {
    // Act
    const result = await withTampering(
      [
        `INSERT INTO memory_index ("id", "userId", "moduleId", "remoteMemoryId", "updatedAt")
         SELECT 'stray-entry', "userId", 'personal', "remoteMemoryId", now() FROM memory_index
          WHERE "remoteMemoryId" = '${subject.targetId}'`,
      ],
      [`DELETE FROM memory_index WHERE id = 'stray-entry'`],
    );

    // Assess
    expect(failedChecks(result)).toEqual(['cmi']);
    expect(check(result, 'cmi').detail).toContain('1 in a wrong module');
    expect(check(result, 'cmi').samples).toEqual([`work:${subject.sourceId} also has a CMI row in personal`]);
  });

  it('fails the cmi check when a memory’s CMI row names another user than its module row', async () => {
    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.cmi AS SELECT id, "userId" FROM memory_index WHERE "remoteMemoryId" = '${subject.targetId}'`,
        `UPDATE memory_index SET "userId" = (SELECT u.id FROM users u JOIN memory_index c ON c."userId" <> u.id
            WHERE c."remoteMemoryId" = '${subject.targetId}' ORDER BY u.id LIMIT 1)
          WHERE "remoteMemoryId" = '${subject.targetId}'`,
      ],
      [`UPDATE memory_index c SET "userId" = t."userId" FROM tamper.cmi t WHERE c.id = t.id`],
    );

    // Assess
    expect(failedChecks(result).filter((n) => n !== 'search_smoke')).toEqual(['cmi']);
    expect(check(result, 'cmi').detail).toContain('1 wrong user');
    expect(check(result, 'cmi').samples?.[0]).toMatch(
      new RegExp(`^work:${subject.sourceId} has a CMI row of user `),
    );
  });

  it('fails accounting, naming the memory, when its ledger row is deleted', async () => {
    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT * FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = '${subject.sourceId}'`,
        `DELETE FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = '${subject.sourceId}'`,
      ],
      [`INSERT INTO ${LEDGER_SCHEMA}.memory_ledger SELECT * FROM tamper.saved`],
    );

    // Assess
    expect(failedChecks(result)).toContain('accounting');
    const accounting = check(result, 'accounting');
    expect(accounting.samples).toEqual([subject.sourceId]);
    expect(accounting.detail).toMatch(
      /^1 of \d+ live source memories are neither migrated nor rejected with a reason/,
    );
    expect(result.counts.unaccounted).toBe(1);
  });

  it('fails rejects_have_reasons and accounting when a reject loses its reason', async () => {
    // Prepare
    const { rows } = await target.query<{ source_id: string }>(
      `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'rejected' ORDER BY source_id LIMIT 1`,
    );
    const rejected = rows[0]?.source_id as string;

    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT source_id, reason FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = '${rejected}'`,
        `UPDATE ${LEDGER_SCHEMA}.memory_ledger SET reason = NULL WHERE source_id = '${rejected}'`,
      ],
      [
        `UPDATE ${LEDGER_SCHEMA}.memory_ledger l SET reason = s.reason FROM tamper.saved s WHERE l.source_id = s.source_id`,
      ],
    );

    // Assess
    expect(failedChecks(result)).toEqual(['accounting', 'rejects_have_reasons']);
    expect(check(result, 'rejects_have_reasons').samples).toEqual([rejected]);
  });

  it('fails embedding_checksums when one embedding is altered, and checks only dimensions when embeddings were regenerated', async () => {
    // Prepare
    const delta = `('[0.001,' || repeat('0,', 1534) || '0]')::vector`;
    const tamper = [
      `CREATE TABLE tamper.saved AS SELECT id, embedding FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
      `UPDATE ${subject.module}_memories SET embedding = embedding + ${delta} WHERE id = '${subject.targetId}'`,
    ];
    const restore = [
      `UPDATE ${subject.module}_memories m SET embedding = s.embedding FROM tamper.saved s WHERE m.id = s.id`,
    ];

    // Act
    const preserved = await withTampering(tamper, restore);
    await target.query('CREATE SCHEMA tamper');
    for (const sql of tamper) await target.query(sql);
    const regenerated = await verify(false).finally(async () => {
      for (const sql of restore) await target.query(sql);
      await target.query('DROP SCHEMA tamper CASCADE');
    });

    // Assess
    expect(failedChecks(preserved)).toEqual(['embedding_checksums']);
    expect(check(preserved, 'embedding_checksums').samples?.[0]).toMatch(
      new RegExp(`^${subject.sourceId}: embedding bytes differ`),
    );
    // Regenerated embeddings are only checked for their dimension: the altered one passes, and
    // the memories this preserve-mode run left without an embedding are what the check flags.
    const { rows } = await target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger l
        WHERE l.status = 'migrated' AND EXISTS (SELECT 1 FROM work_memories m WHERE m.id = l.target_id AND m.embedding IS NULL
           UNION ALL SELECT 1 FROM personal_memories m WHERE m.id = l.target_id AND m.embedding IS NULL
           UNION ALL SELECT 1 FROM technical_memories m WHERE m.id = l.target_id AND m.embedding IS NULL
           UNION ALL SELECT 1 FROM learning_memories m WHERE m.id = l.target_id AND m.embedding IS NULL
           UNION ALL SELECT 1 FROM communication_memories m WHERE m.id = l.target_id AND m.embedding IS NULL
           UNION ALL SELECT 1 FROM creative_memories m WHERE m.id = l.target_id AND m.embedding IS NULL)`,
    );
    expect(regenerated.counts.embeddingMismatches).toBe(rows[0]?.n);
    expect(check(regenerated, 'embedding_checksums').samples ?? []).not.toContainEqual(
      expect.stringContaining(subject.sourceId),
    );
    for (const sample of check(regenerated, 'embedding_checksums').samples ?? []) {
      expect(sample).toMatch(/regenerated embedding has no dimensions, expected 1536/);
    }
  });

  it('fails module_counts when a migrated row is missing, not when an unrelated row is present', async () => {
    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT * FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
        `DELETE FROM ${subject.module}_memories WHERE id = '${subject.targetId}'`,
        `INSERT INTO personal_memories (id, "userId", content, "updatedAt")
         SELECT 'native-memory', "userId", 'written by Federated Memory itself', now() FROM tamper.saved`,
      ],
      [
        `DELETE FROM personal_memories WHERE id = 'native-memory'`,
        `INSERT INTO ${subject.module}_memories SELECT * FROM tamper.saved`,
      ],
    );

    // Assess
    expect(failedChecks(result)).toContain('module_counts');
    const modules = check(result, 'module_counts');
    expect(modules.detail).toMatch(/^work: ledger says (\d+) migrated, table holds \d+ of them/);
    expect(modules.samples).toEqual([`work:${subject.sourceId}`]);
    const expected = modules.expected as Record<string, number>;
    const actual = modules.actual as Record<string, number>;
    expect(actual.work).toBe((expected.work ?? 0) - 1);
    expect(actual.personal).toBe(expected.personal);
    expect(check(result, 'content_checksums').samples?.[0]).toContain('is missing from work_memories');
  });

  it('fails on a memory soft-deleted after its migration that is still in the target, unless it is kept', async () => {
    // Prepare
    await source.query('UPDATE memories SET is_deleted = true WHERE id = $1', [subject.sourceId]);

    // Act
    const [strict, keeping] = await Promise.all([
      verify(),
      verifyMigration(
        { source, target, schema },
        { preserveEmbeddings: true, sampleSize: 0, keepDeleted: true },
      ),
    ]).finally(() =>
      source.query('UPDATE memories SET is_deleted = false WHERE id = $1', [subject.sourceId]),
    );

    // Assess
    expect(strict.ok).toBe(false);
    expect(strict.counts.stale).toBe(1);
    expect(check(strict, 'accounting')).toMatchObject({ ok: true });
    expect(check(strict, 'accounting').detail).toContain(
      `1 ledger row(s) are stale (1 source memories soft-deleted since, 0 gone), e.g. ${subject.sourceId}`,
    );
    expect(check(strict, 'deleted_in_source')).toMatchObject({
      ok: false,
      actual: 1,
      samples: [subject.sourceId],
    });
    expect(check(keeping, 'deleted_in_source')).toMatchObject({ ok: true, actual: 1 });
  });

  it('fails the relationships check when a migrated relationship row is gone', async () => {
    // Prepare
    const { rows } = await target.query<{ source_key: string; target_id: string }>(
      `SELECT source_key, target_id FROM ${LEDGER_SCHEMA}.relationship_ledger
        WHERE status = 'migrated' AND source_key LIKE 'relation:%' ORDER BY source_key LIMIT 1`,
    );
    const relation = rows[0] as { source_key: string; target_id: string };

    // Act
    const result = await withTampering(
      [
        `CREATE TABLE tamper.saved AS SELECT * FROM memory_relationships WHERE id = '${relation.target_id}'`,
        `DELETE FROM memory_relationships WHERE id = '${relation.target_id}'`,
      ],
      ['INSERT INTO memory_relationships SELECT * FROM tamper.saved'],
    );

    // Assess
    expect(failedChecks(result)).toEqual(['relationships']);
    expect(check(result, 'relationships').samples).toEqual([relation.source_key]);
    expect(check(result, 'relationships').detail).toContain(
      '1 migrated relation(s) are not in memory_relationships',
    );
  });
});
