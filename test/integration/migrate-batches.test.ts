import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { PgDatabase } from '../../functions/db/pg/pg-database.js';

const INPUT = { preserveEmbeddings: true, batchSize: 200, createUsers: true };

interface Row {
  id: string;
  content: string;
  emb: string | null;
  created: string;
  updated: string;
  accessed: string | null;
  access_count: number;
}

const ts = (col: string) => `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;

describe('Engine: migrating memories batch by batch', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const runtimes: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1_500, users: 30, seed: 42 });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
  });

  async function migrate(): Promise<void> {
    const { runtime } = await runSteps({ sourceUrl, targetUrl, input: INPUT, batchesOnly: true });
    runtimes.push(runtime);
  }

  it('preserves content, embeddings bit-exact, timestamps to the ms, access counts, tags and metadata', async () => {
    // Act
    await migrate();

    // Assess
    const source = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<Row & { tags: string[] | null; meta: unknown }>(
        `SELECT id::text, content, md5(vector_send(embedding)) AS emb,
                ${ts("created_at AT TIME ZONE 'UTC'")} AS created, ${ts("updated_at AT TIME ZONE 'UTC'")} AS updated,
                ${ts("coalesce(accessed_at, updated_at) AT TIME ZONE 'UTC'")} AS accessed, access_count, tags, source_metadata AS meta
           FROM memories WHERE NOT is_deleted`,
      );
      return new Map(rows.map((r) => [r.id, r]));
    });
    const target = await withClient(targetUrl, async (c) => {
      const out = new Map<string, Row & { metadata: Record<string, unknown> }>();
      for (const m of MODULE_IDS) {
        const { rows } = await c.query<Row & { metadata: Record<string, unknown> }>(
          `SELECT id, content, md5(vector_send(embedding)) AS emb, ${ts('"createdAt"')} AS created,
                  ${ts('"updatedAt"')} AS updated, ${ts('"lastAccessed"')} AS accessed, "accessCount" AS access_count, metadata
             FROM "${m}_memories"`,
        );
        for (const r of rows) out.set(String(r.metadata.original_id), r);
      }
      return out;
    });
    let compared = 0;
    for (const [id, s] of source) {
      const t = target.get(id);
      if (!t) continue; // rejected rows are checked by the accounting test
      compared++;
      expect(t.id).toBe(targetMemoryId(id));
      expect(t.content).toBe(s.content);
      expect(t.emb).toBe(s.emb);
      expect([t.created, t.updated, t.accessed]).toEqual([s.created, s.updated, s.accessed]);
      expect(t.access_count).toBe(s.access_count);
      expect(t.metadata.original_tags).toEqual(s.tags ?? []);
      if (s.meta && typeof s.meta === 'object' && !Array.isArray(s.meta)) {
        for (const [key, value] of Object.entries(s.meta)) expect(t.metadata[key]).toEqual(value);
      }
      expect(t.metadata.migrated_from).toBe('bigmemory');
    }
    expect(compared).toBeGreaterThan(1_300);
  });

  it('excludes soft-deleted memories and accounts for every live one as migrated or rejected with a reason', async () => {
    const live = await withClient(sourceUrl, (c) =>
      c.query<{ id: string; is_deleted: boolean }>('SELECT id::text, is_deleted FROM memories'),
    );
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ source_id: string; status: string; reason: string | null }>(
        `SELECT source_id, status, reason FROM ${LEDGER_SCHEMA}.memory_ledger`,
      ),
    );
    const byId = new Map(ledger.rows.map((r) => [r.source_id, r]));
    const deleted = live.rows.filter((r) => r.is_deleted);
    expect(deleted.length).toBeGreaterThan(0);
    for (const d of deleted) expect(byId.has(d.id)).toBe(false);
    const liveRows = live.rows.filter((r) => !r.is_deleted);
    expect(ledger.rows.length).toBe(liveRows.length);
    for (const r of liveRows) {
      const entry = byId.get(r.id);
      expect(entry).toBeDefined();
      if (entry?.status === 'rejected') expect(entry.reason).toBeTruthy();
    }
    const deletedIds = deleted.map((d) => targetMemoryId(d.id));
    const leaked = await withClient(targetUrl, async (c) => {
      let n = 0;
      for (const m of MODULE_IDS) {
        const { rows } = await c.query(`SELECT 1 FROM "${m}_memories" WHERE id = ANY($1::text[])`, [
          deletedIds,
        ]);
        n += rows.length;
      }
      return n;
    });
    expect(leaked).toBe(0);
  });

  it('gives identical target checksums over three consecutive runs, with no duplicates', async () => {
    // Prepare
    const first = await targetChecksums(targetUrl);

    // Act
    await migrate();
    const second = await targetChecksums(targetUrl);
    await migrate();
    const third = await targetChecksums(targetUrl);

    // Assess
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    const dupes = await withClient(targetUrl, (c) =>
      c.query(`SELECT "remoteMemoryId" FROM memory_index GROUP BY "remoteMemoryId" HAVING count(*) > 1`),
    );
    expect(dupes.rows).toEqual([]);
  });

  it('moves a reclassified memory to its new module with no stale copy and its CMI row following', async () => {
    // Prepare: a memory outside work becomes a project (type project → work)
    const moved = await withClient(targetUrl, (c) =>
      c.query<{ source_id: string; module: string; target_id: string }>(
        `SELECT source_id, module, target_id FROM ${LEDGER_SCHEMA}.memory_ledger
          WHERE status = 'migrated' AND module <> 'work' ORDER BY source_id LIMIT 1`,
      ),
    );
    const before = moved.rows[0]!;
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = '{"type": "project", "projectName": "Moved"}'::jsonb,
                updated_at = updated_at + interval '1 second' WHERE id = $1`,
        [before.source_id],
      ),
    );

    // Act
    await migrate();

    // Assess
    await withClient(targetUrl, async (c) => {
      const old = await c.query(`SELECT 1 FROM "${before.module}_memories" WHERE id = $1`, [
        before.target_id,
      ]);
      expect(old.rows).toEqual([]);
      const now = await c.query<{ metadata: { type: string } }>(
        `SELECT metadata FROM work_memories WHERE id = $1`,
        [before.target_id],
      );
      expect(now.rows[0]?.metadata.type).toBe('project');
      const cmi = await c.query<{ moduleId: string }>(
        `SELECT "moduleId" FROM memory_index WHERE "remoteMemoryId" = $1`,
        [before.target_id],
      );
      expect(cmi.rows).toEqual([{ moduleId: 'work' }]);
      const ledger = await c.query(`SELECT module FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = $1`, [
        before.source_id,
      ]);
      expect(ledger.rows).toEqual([{ module: 'work' }]);
    });
  });
});

describe('Engine: batch commits and the server commit setting', () => {
  it('commits batches and relationships without leaving synchronous_commit off on pooled connections', async () => {
    // Prepare: a target database whose sessions commit synchronously (the test cluster's own
    // default is off), so a setting that leaked out of a batch's transaction would show
    const { sourceUrl, targetUrl } = await freshDatabases();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 6, seed: 7 });
    const database = new URL(targetUrl).pathname.slice(1);
    await withClient(targetUrl, (c) => c.query(`ALTER DATABASE "${database}" SET synchronous_commit = on`));

    // Act
    const { runtime } = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, batchSize: 50 } });

    // Assess: every connection the loaders used is back in the pool with the database's setting
    try {
      const database = await runtime.targetPool();
      if (!(database instanceof PgDatabase))
        throw new Error('the local runtime reaches the target through pg');
      const pool = database.pool;
      const idle = pool.idleCount;
      const clients = await Promise.all(Array.from({ length: idle }, () => pool.connect()));
      const settings = await Promise.all(
        clients.map(
          async (c) =>
            (await c.query<{ v: string }>('SELECT current_setting($1) AS v', ['synchronous_commit'])).rows[0]
              ?.v,
        ),
      );
      for (const c of clients) c.release();
      expect(idle).toBeGreaterThan(1);
      expect(settings).toEqual(Array(idle).fill('on'));
      const migrated = await withClient(targetUrl, (c) =>
        c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger`),
      );
      expect(migrated.rows[0]?.n).toBeGreaterThan(250);
    } finally {
      await runtime.close();
    }
  });
});
