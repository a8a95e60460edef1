import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { dropDatabase, freshDatabases } from '../../dev/harness/databases.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { loadRules } from '../../functions/core/rules.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database } from '../../functions/db/port.js';
import { planKeyRanges } from '../../functions/db/range-planner.js';
import { introspectSource } from '../../functions/db/source-schema.js';
import { loadUserMapping, migrateUsers } from '../../functions/db/user-migration.js';
import { migrateBatch } from '../../functions/engine/migrate-batch.js';
import { type RebuildCmiProgress, rebuildCmi } from '../../functions/engine/rebuild-cmi.js';

const RUN_ID = 'rebuild-cmi-test-run';

/** md5 over every CMI row in id order: equal means byte-identical rows. */
async function cmiChecksum(db: Database): Promise<string> {
  const { rows } = await db.query<{ n: string; md5: string }>(
    "SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS md5 FROM memory_index t",
  );
  return `${rows[0]?.n}:${rows[0]?.md5}`;
}

const parseVector = (text: string) => text.slice(1, -1).split(',').map(Number);

// Federated Memory's own formulas (docs/design.md, "The CMI formulas"), written out again here rather than imported, so the
// test would catch the CMI code drifting from them.
const cut = (text: string, length: number) =>
  text.length > length ? `${text.substring(0, length)}...` : text;
function federatedKeywords(content: string): string[] {
  const words = content
    .toLowerCase()
    .split(/\W+/)
    .filter((w) => w.length > 3);
  return [...new Set(words)].slice(0, 10);
}

describe('Function: rebuildCmi', () => {
  let urls: { sourceUrl: string; targetUrl: string };
  let source: Database;
  let target: Database;
  let moduleRows: number;

  beforeAll(async () => {
    urls = await freshDatabases();
    await generateBigMemory({ databaseUrl: urls.sourceUrl, memories: 2_000, users: 40, seed: 23 });
    source = openPgDatabase({ connectionString: urls.sourceUrl, max: 2 });
    target = openPgDatabase({ connectionString: urls.targetUrl, max: 2 });
    const schema = await introspectSource(source);
    await migrateUsers({ source, target, runId: RUN_ID, dryRun: false, createUsers: true });
    const rules = loadRules();
    for (const range of await planKeyRanges(source, { batchSize: 400 })) {
      await migrateBatch(
        { source, target, schema, rules, resolveUsers: (ids) => loadUserMapping(target, ids) },
        { runId: RUN_ID, range, dryRun: false },
      );
    }
    const counts = await Promise.all(
      MODULE_IDS.map((m) => target.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${m}_memories"`)),
    );
    moduleRows = counts.reduce((sum, r) => sum + (r.rows[0]?.n ?? 0), 0);
  });

  afterAll(async () => {
    await Promise.all([source?.end(), target?.end()]);
    if (urls) await Promise.all([dropDatabase(urls.sourceUrl), dropDatabase(urls.targetUrl)]);
  });

  it('does nothing on a freshly migrated target', async () => {
    // Prepare
    const before = await cmiChecksum(target);

    // Act
    const result = await rebuildCmi({ target });

    // Assess
    expect(result).toMatchObject({
      scanned: 0,
      created: 0,
      updated: 0,
      removedOrphans: 0,
      skippedMissingUser: 0,
    });
    expect(await cmiChecksum(target)).toBe(before);
  });

  it('restores deleted CMI rows exactly as the batches wrote them, page by page', async () => {
    // Prepare
    const before = await cmiChecksum(target);
    const deleted = await target.query(
      `DELETE FROM memory_index WHERE id IN (SELECT id FROM memory_index ORDER BY md5(id) LIMIT 37)`,
    );
    const progress: RebuildCmiProgress[] = [];

    // Act
    const result = await rebuildCmi({ target }, { batchSize: 5, onProgress: (p) => progress.push(p) });

    // Assess
    expect(deleted.rowCount).toBe(37);
    expect(result).toMatchObject({ scanned: 37, created: 37, updated: 0, removedOrphans: 0 });
    expect(await cmiChecksum(target)).toBe(before);
    expect(progress.length).toBeGreaterThanOrEqual(8);
    expect(progress.at(-1)?.scanned).toBeGreaterThan(0);
  });

  it('removes a CMI row whose module row is gone', async () => {
    // Prepare
    const before = await cmiChecksum(target);
    await target.query(
      `INSERT INTO memory_index ("id", "userId", "moduleId", "remoteMemoryId", "title", "updatedAt")
       SELECT 'orphan-entry', "userId", 'work', 'no-such-memory', 'gone', now() FROM memory_index LIMIT 1`,
    );

    // Act
    const result = await rebuildCmi({ target });

    // Assess
    expect(result.removedOrphans).toBe(1);
    expect(await cmiChecksum(target)).toBe(before);
  });

  it('restores a missing CMI row beside an orphan of the same module, though their counts matched', async () => {
    // Prepare: one work row loses its CMI row and a work entry names no memory, so the module's
    // counts are equal until the orphan goes
    const before = await cmiChecksum(target);
    await target.query(
      `DELETE FROM memory_index WHERE id = (SELECT id FROM memory_index WHERE "moduleId" = 'work' ORDER BY id LIMIT 1)`,
    );
    await target.query(
      `INSERT INTO memory_index ("id", "userId", "moduleId", "remoteMemoryId", "title", "updatedAt")
       SELECT 'orphan-entry-2', "userId", 'work', 'no-such-memory-2', 'gone', now() FROM memory_index LIMIT 1`,
    );

    // Act
    const result = await rebuildCmi({ target });

    // Assess
    expect(result).toMatchObject({ scanned: 1, created: 1, removedOrphans: 1 });
    expect(await cmiChecksum(target)).toBe(before);
  });

  it('re-derives every row with `all`, leaving them unchanged', async () => {
    // Prepare
    const before = await cmiChecksum(target);

    // Act
    const result = await rebuildCmi({ target }, { all: true, batchSize: 300 });

    // Assess
    expect(result).toMatchObject({ scanned: moduleRows, created: 0, updated: moduleRows, removedOrphans: 0 });
    expect(await cmiChecksum(target)).toBe(before);
  });

  it("writes CMI rows that equal Federated Memory's formulas", async () => {
    // Prepare
    await target.query('DELETE FROM memory_index');
    await rebuildCmi({ target });
    const { rows } = await target.query<{
      content: string;
      metadata: Record<string, unknown>;
      embedding: string | null;
      userId: string;
      module_access: number;
      cmi_user: string;
      title: string;
      summary: string;
      keywords: string[];
      categories: string[];
      importanceScore: number;
      accessCount: number;
      cmi_embedding: string | null;
    }>(
      `SELECT m.content, m.metadata, m.embedding::text AS embedding, m."userId", m."accessCount" AS module_access,
              c."userId" AS cmi_user, c.title, c.summary, c.keywords, c.categories, c."importanceScore",
              c."accessCount", c.embedding::text AS cmi_embedding
         FROM (${MODULE_IDS.map((m) => `SELECT '${m}' AS module, * FROM "${m}_memories"`).join(' UNION ALL ')}) m
         JOIN memory_index c ON c."moduleId" = m.module AND c."remoteMemoryId" = m.id
        ORDER BY md5(m.id) LIMIT 200`,
    );

    // Assess
    expect(rows.length).toBe(200);
    for (const row of rows) {
      expect(row.cmi_user).toBe(row.userId);
      expect(row.title).toBe(cut(row.content.split('\n')[0] ?? '', 50));
      expect(row.summary).toBe(cut(row.content, 100));
      expect(row.keywords).toEqual(federatedKeywords(row.content));
      const categories = row.metadata.categories;
      expect(row.categories).toEqual(Array.isArray(categories) ? categories : []);
      const importance = row.metadata.importanceScore;
      expect(row.importanceScore).toBe(typeof importance === 'number' && importance !== 0 ? importance : 0.5);
      expect(row.accessCount).toBe(row.module_access);
      if (row.embedding === null) {
        expect(row.cmi_embedding).toBeNull();
        continue;
      }
      const full = parseVector(row.embedding);
      const reduced = parseVector(row.cmi_embedding as string);
      expect(reduced.length).toBe(512);
      // The system's reduceDimensions: means of groups of 3, scaled to unit length.
      const means = Array.from(
        { length: 512 },
        (_, i) => ((full[3 * i] as number) + (full[3 * i + 1] as number) + (full[3 * i + 2] as number)) / 3,
      );
      const magnitude = Math.sqrt(means.reduce((n, v) => n + v * v, 0));
      for (let i = 0; i < reduced.length; i++)
        expect(reduced[i]).toBeCloseTo((means[i] as number) / magnitude, 6);
    }
  });

  it('indexes rows Federated Memory wrote itself and skips rows whose user does not exist', async () => {
    // Prepare
    await target.query(
      `INSERT INTO users (id, token, email, "updatedAt") VALUES ('native-user', 'native-token', 'native@example.com', now())`,
    );
    await target.query(
      `INSERT INTO learning_memories (id, "userId", content, metadata, "accessCount", "createdAt", "updatedAt") VALUES
         ('native-1', 'native-user', E'Reading notes\\nabout vector databases and indexes',
          '{"categories": ["reading"], "importanceScore": 0.9}', 3, '2024-05-01 10:00:00.123', '2024-05-02 10:00:00.456'),
         ('native-2', 'no-such-user', 'a memory of a user who was deleted', '{}', 0, now(), now())`,
    );

    // Act
    const result = await rebuildCmi({ target });

    // Assess
    expect(result).toMatchObject({ scanned: 2, created: 1, skippedMissingUser: 1 });
    const { rows } = await target.query(
      `SELECT "moduleId", title, summary, keywords, categories, "importanceScore", "accessCount",
              to_char("createdAt", 'YYYY-MM-DD HH24:MI:SS.MS') AS created, embedding
         FROM memory_index WHERE "remoteMemoryId" = 'native-1'`,
    );
    expect(rows).toEqual([
      {
        moduleId: 'learning',
        title: 'Reading notes',
        summary: 'Reading notes\nabout vector databases and indexes',
        keywords: ['reading', 'notes', 'about', 'vector', 'databases', 'indexes'],
        categories: ['reading'],
        importanceScore: 0.9,
        accessCount: 3,
        created: '2024-05-01 10:00:00.123',
        embedding: null,
      },
    ]);
  });
});
