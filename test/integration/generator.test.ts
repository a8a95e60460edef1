import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratorSummary, generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createDatabase, dropDatabase, freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/harness/templates.js';
import type { Row } from '../../functions/db/port.js';

const MEMORIES = 10_000;
const USERS = 200;
const SEED = 20_240_601;

async function rows<T extends Row>(url: string, text: string): Promise<T[]> {
  return (await withClient(url, (client) => client.query<T>(text))).rows;
}

async function scalar(url: string, text: string): Promise<number> {
  const [row] = await rows<{ value: string | number }>(url, text);
  return Number(row?.value);
}

/** Per-table checksums computed by the server; embeddings through their binary form. */
async function checksums(url: string): Promise<Record<string, string>> {
  const [row] = await rows<Record<string, string>>(
    url,
    `SELECT
       (SELECT md5(string_agg(md5((u.id, u.token, u.email, u.password, u.is_active,
          extract(epoch FROM u.created_at), extract(epoch FROM u.updated_at))::text), '' ORDER BY u.id))
          FROM users u) AS users,
       (SELECT md5(string_agg(md5((m.id, m.user_id, m.content, m.content_hash, m.title, m.summary, m.tags,
          m.source, m.source_metadata, extract(epoch FROM m.created_at), extract(epoch FROM m.updated_at),
          extract(epoch FROM m.accessed_at), m.access_count, m.is_deleted,
          md5(vector_send(m.embedding)))::text), '' ORDER BY m.id)) FROM memories m) AS memories,
       (SELECT md5(string_agg(md5((r.id, r.user_id, r.source_memory_id, r.target_memory_id, r.relation_type,
          r.strength, r.metadata, extract(epoch FROM r.created_at))::text), '' ORDER BY r.id))
          FROM memory_relations r) AS relations`,
  );
  return row as Record<string, string>;
}

// Memories decided by nothing but their text or tags: no `type`, no `category`.
const NO_METADATA_SIGNAL = `jsonb_typeof(source_metadata) = 'object'
  AND NOT source_metadata ? 'type' AND NOT source_metadata ? 'category'`;

describe('Function: generateBigMemory', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let summary: GeneratorSummary;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases({ target: 'older' }));
    summary = await generateBigMemory({
      databaseUrl: sourceUrl,
      targetDatabaseUrl: targetUrl,
      memories: MEMORIES,
      users: USERS,
      seed: SEED,
      usersWithoutEmail: true,
      targetCollisions: { sameToken: 3, sameEmail: 2 },
    });
  });

  afterAll(async () => {
    await Promise.all([dropDatabase(sourceUrl), dropDatabase(targetUrl)]);
  });

  describe('determinism', () => {
    const extra: string[] = [];
    afterAll(async () => {
      await Promise.all(extra.map((url) => dropDatabase(url)));
    });

    it('writes identical tables for the same seed and different ones for another seed', async () => {
      // Prepare
      const [sameSeedUrl, otherSeedUrl] = await Promise.all([
        createDatabase('bigmemory'),
        createDatabase('bigmemory'),
      ]);
      extra.push(sameSeedUrl, otherSeedUrl);
      const shape = { memories: MEMORIES, users: USERS, usersWithoutEmail: true };

      // Act
      await generateBigMemory({ databaseUrl: sameSeedUrl, seed: SEED, ...shape });
      await generateBigMemory({ databaseUrl: otherSeedUrl, seed: SEED + 1, ...shape });
      const [first, again, other] = await Promise.all([sourceUrl, sameSeedUrl, otherSeedUrl].map(checksums));

      // Assess
      expect(again).toEqual(first);
      expect(other?.users).not.toBe(first?.users);
      expect(other?.memories).not.toBe(first?.memories);
      expect(other?.relations).not.toBe(first?.relations);
    });
  });

  it('writes the requested rows and a summary that matches the tables', async () => {
    // Assess
    expect(await scalar(sourceUrl, 'SELECT count(*) AS value FROM memories')).toBe(MEMORIES);
    expect(await scalar(sourceUrl, 'SELECT count(*) AS value FROM users')).toBe(USERS);
    expect(await scalar(sourceUrl, 'SELECT count(*) AS value FROM memory_relations')).toBe(summary.relations);
    expect(await scalar(sourceUrl, 'SELECT count(*) AS value FROM memories WHERE is_deleted')).toBe(
      summary.softDeleted.memories,
    );
    expect(await scalar(sourceUrl, 'SELECT count(*) AS value FROM memories WHERE embedding IS NULL')).toBe(
      summary.nullEmbeddings,
    );
    expect(Object.values(summary.signals).reduce((a, b) => a + b, 0)).toBe(MEMORIES);
    expect(summary.memoriesPerSecond).toBeGreaterThan(0);
  });

  it('decides modules by type, mixed-case and aliased category, tags and content words', async () => {
    // Assess
    const [signals] = await rows<Record<string, number>>(
      sourceUrl,
      `SELECT
         count(*) FILTER (WHERE source_metadata->>'type' = 'project')::int AS projects,
         count(*) FILTER (WHERE source_metadata->>'type' = 'task')::int AS tasks,
         count(DISTINCT source_metadata->>'category') FILTER (
           WHERE lower(trim(source_metadata->>'category')) = 'work')::int AS work_spellings,
         count(*) FILTER (WHERE source_metadata->>'category' = 'Personal ')::int AS padded_category,
         count(*) FILTER (WHERE source_metadata->>'category' = 'Tech')::int AS alias_category,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags @> ARRAY['code', 'typescript'])::int AS code_tags,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags @> ARRAY['family'])::int AS family_tags,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags = '{}'
           AND content LIKE 'Subject:%' AND content LIKE '%Regards%')::int AS email_content,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags = '{}' AND content LIKE '%function %')::int AS code_content,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags = '{}' AND content ILIKE '%lecture%')::int AS learning_content
       FROM memories`,
    );
    expect(signals?.projects).toBeGreaterThan(100);
    expect(signals?.tasks).toBeGreaterThan(500);
    expect(signals?.work_spellings).toBeGreaterThanOrEqual(3);
    for (const key of [
      'padded_category',
      'alias_category',
      'code_tags',
      'family_tags',
      'email_content',
      'code_content',
      'learning_content',
    ]) {
      expect(signals?.[key], key).toBeGreaterThan(0);
    }
    expect(summary.signals.ambiguous).toBeGreaterThan(0);
  });

  it('includes ambiguous memories: no signal, an unknown category, conflicting words', async () => {
    // Assess
    const [ambiguous] = await rows<Record<string, number>>(
      sourceUrl,
      `SELECT
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND tags = '{}' AND content IN ('ok', 'Check later', 'Remember this.'))::int AS no_signal,
         count(*) FILTER (WHERE source_metadata->>'category' IN ('misc', 'Other', 'General', 'uncategorized', 'Inbox'))::int AS unknown_category,
         count(*) FILTER (WHERE ${NO_METADATA_SIGNAL} AND content LIKE '%poem about debugging%')::int AS conflicting
       FROM memories`,
    );
    expect(ambiguous?.no_signal).toBeGreaterThan(0);
    expect(ambiguous?.unknown_category).toBeGreaterThan(0);
    expect(ambiguous?.conflicting).toBeGreaterThan(0);
  });

  it('links tasks to projects of the same user by projectId and by projectName', async () => {
    // Assess
    const [links] = await rows<Record<string, number>>(
      sourceUrl,
      `WITH projects AS (SELECT id, user_id, is_deleted, source_metadata->>'projectName' AS name
                        FROM memories WHERE source_metadata->>'type' = 'project'),
            tasks AS (SELECT user_id, source_metadata AS m FROM memories WHERE source_metadata->>'type' = 'task')
       SELECT
         count(*) FILTER (WHERE p_id.id IS NOT NULL AND NOT t.m ? 'projectName')::int AS by_id_only,
         count(*) FILTER (WHERE p_name.id IS NOT NULL AND NOT t.m ? 'projectId')::int AS by_name_only,
         count(*) FILTER (WHERE p_id.id IS NOT NULL AND p_id.id = p_name.id)::int AS by_both,
         count(*) FILTER (WHERE t.m ? 'projectName' AND p_name.id IS NULL)::int AS unknown_name,
         count(*) FILTER (WHERE p_id.is_deleted OR p_name.is_deleted)::int AS deleted_project,
         count(*) FILTER (WHERE p_id.id IS NOT NULL AND p_id.user_id <> t.user_id)::int AS other_user
       FROM tasks t
       LEFT JOIN projects p_id ON p_id.id::text = t.m->>'projectId'
       LEFT JOIN projects p_name ON p_name.name = t.m->>'projectName' AND p_name.user_id = t.user_id`,
    );
    expect(links?.by_id_only).toBeGreaterThan(0);
    expect(links?.by_name_only).toBeGreaterThan(0);
    expect(links?.by_both).toBeGreaterThan(0);
    expect(links?.unknown_name).toBeGreaterThan(0);
    expect(links?.deleted_project).toBeGreaterThan(0);
    expect(links?.other_user).toBe(0);
  });

  it('soft-deletes about 5% of memories, projects included', async () => {
    // Assess
    const share = await scalar(sourceUrl, 'SELECT avg(is_deleted::int) AS value FROM memories');
    const deletedProjects = await scalar(
      sourceUrl,
      `SELECT count(*) AS value FROM memories WHERE is_deleted AND source_metadata->>'type' = 'project'`,
    );
    expect(share).toBeGreaterThan(0.04);
    expect(share).toBeLessThan(0.06);
    expect(deletedProjects).toBeGreaterThan(0);
  });

  it('writes typed relations within one user, with strengths in [0, 1] and every defect kind', async () => {
    // Assess
    const [relations] = await rows<Record<string, number>>(
      sourceUrl,
      `SELECT
         count(DISTINCT relation_type)::int AS types,
         count(*) FILTER (WHERE strength < 0 OR strength > 1 OR strength IS NULL)::int AS bad_strength,
         count(*) FILTER (WHERE source_memory_id = target_memory_id)::int AS self,
         count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = r.target_memory_id))::int AS dangling,
         count(*) FILTER (WHERE EXISTS (SELECT 1 FROM memories m WHERE m.is_deleted
           AND m.id IN (r.source_memory_id, r.target_memory_id)))::int AS deleted_end,
         count(*) FILTER (WHERE s.user_id <> t.user_id)::int AS cross_user,
         count(*) FILTER (WHERE s.user_id = t.user_id AND r.source_memory_id <> r.target_memory_id)::int AS within_user
       FROM memory_relations r
       LEFT JOIN memories s ON s.id = r.source_memory_id
       LEFT JOIN memories t ON t.id = r.target_memory_id`,
    );
    const duplicates = await scalar(
      sourceUrl,
      `SELECT count(*) AS value FROM (SELECT 1 FROM memory_relations
         GROUP BY source_memory_id, target_memory_id, relation_type HAVING count(*) > 1) d`,
    );
    expect(relations?.types).toBeGreaterThanOrEqual(5);
    expect(relations?.bad_strength).toBe(0);
    expect(relations?.self).toBe(summary.relationDefects.self);
    expect(relations?.dangling).toBe(summary.relationDefects.dangling);
    expect(relations?.deleted_end).toBe(summary.relationDefects.deletedEnd);
    expect(relations?.self).toBeGreaterThan(0);
    expect(relations?.dangling).toBeGreaterThan(0);
    expect(relations?.deleted_end).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    // Relations join one user's memories, as BigMemory makes them.
    expect(relations?.cross_user).toBe(0);
    expect(relations?.within_user).toBeGreaterThan(summary.relations / 2);
  });

  it('writes inactive users, users without email and UUID tokens', async () => {
    // Assess
    const [users] = await rows<Record<string, number>>(
      sourceUrl,
      `SELECT count(*) FILTER (WHERE NOT is_active)::int AS inactive,
              count(*) FILTER (WHERE email IS NULL)::int AS without_email,
              count(*) FILTER (WHERE token !~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')::int AS odd_tokens,
              count(DISTINCT user_id)::int AS owners
       FROM users LEFT JOIN (SELECT DISTINCT user_id FROM memories) m ON m.user_id = users.id`,
    );
    expect(users?.inactive).toBeGreaterThan(0);
    expect(users?.without_email).toBeGreaterThan(0);
    expect(users?.odd_tokens).toBe(0);
    expect(users?.owners).toBeGreaterThan(USERS / 2);
  });

  it('pre-creates target users with the same token and with the same email but another token', async () => {
    // Prepare
    const sourceUsers = await rows<{ id: string; token: string; email: string | null }>(
      sourceUrl,
      'SELECT id::text, token, email FROM users',
    );
    const targetUsers = await rows<{ id: string; token: string; email: string }>(
      targetUrl,
      'SELECT id, token, email FROM "users"',
    );

    // Act
    const byToken = new Map(sourceUsers.map((u) => [u.token, u]));
    const byEmail = new Map(sourceUsers.map((u) => [u.email, u]));
    const sameToken = targetUsers.filter((t) => byToken.has(t.token));
    const sameEmailOnly = targetUsers.filter((t) => !byToken.has(t.token) && byEmail.has(t.email));

    // Assess
    expect(sameToken).toHaveLength(3);
    expect(sameToken.every((t) => byToken.get(t.token)?.id !== t.id)).toBe(true);
    expect(sameEmailOnly).toHaveLength(2);
  });

  it('writes 1536-d unit embeddings that lean toward their module, a few NULL', async () => {
    // Prepare
    const sample = await rows<{ dims: number; norm: number }>(
      sourceUrl,
      `SELECT vector_dims(embedding) AS dims, vector_norm(embedding) AS norm FROM memories
       WHERE embedding IS NOT NULL ORDER BY id LIMIT 200`,
    );
    const nullShare = await scalar(sourceUrl, 'SELECT avg((embedding IS NULL)::int) AS value FROM memories');

    // Act: place code-tagged and family-tagged memories by the nearer of the two groups' centroids.
    const placement = await scalar(
      sourceUrl,
      `WITH tagged AS (
         SELECT CASE WHEN tags @> ARRAY['code'] THEN 'technical' ELSE 'personal' END AS module, embedding
         FROM memories WHERE ${NO_METADATA_SIGNAL} AND embedding IS NOT NULL
           AND (tags @> ARRAY['code'] OR tags @> ARRAY['family'])),
       centroids AS (SELECT module, avg(embedding) AS c FROM tagged GROUP BY module)
       SELECT avg((t.module = (SELECT module FROM centroids ORDER BY c <=> t.embedding LIMIT 1))::int) AS value
       FROM tagged t`,
    );

    // Assess
    expect(sample.every((s) => s.dims === 1536 && Math.abs(s.norm - 1) < 1e-5)).toBe(true);
    expect(nullShare).toBeGreaterThan(0);
    expect(nullShare).toBeLessThan(0.01);
    expect(placement).toBeGreaterThan(0.95);
  });

  it('plants rare row defects: non-object metadata, NULL tags, NULL and empty content, unknown user', async () => {
    // Assess
    const [defects] = await rows<Record<string, number>>(
      sourceUrl,
      `SELECT count(*) FILTER (WHERE jsonb_typeof(source_metadata) = 'array')::int AS metadata_array,
              count(*) FILTER (WHERE jsonb_typeof(source_metadata) = 'string')::int AS metadata_string,
              count(*) FILTER (WHERE tags IS NULL)::int AS tags_null,
              count(*) FILTER (WHERE content IS NULL)::int AS content_null,
              count(*) FILTER (WHERE content = '')::int AS content_empty,
              count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id))::int AS orphan_user,
              count(*) FILTER (WHERE created_at > updated_at)::int AS updated_before_created
       FROM memories m`,
    );
    for (const kind of [
      'metadata_array',
      'metadata_string',
      'tags_null',
      'content_null',
      'content_empty',
      'orphan_user',
    ]) {
      expect(defects?.[kind], kind).toBeGreaterThan(0);
      expect(defects?.[kind], kind).toBeLessThan(10);
    }
    expect(defects?.updated_before_created).toBe(0);
  });
});

const SCRIPT = fileURLToPath(new URL('../../scripts/seed-bigmemory.ts', import.meta.url));

function seedCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('Script: seed-bigmemory', () => {
  it('applies the schema to an empty database, seeds it and prints the rate', async () => {
    // Prepare
    const url = await createDatabase('empty');

    // Act
    const run = seedCli(['--database', url, '--schema', '--memories', '600', '--users', '20', '--seed', '3']);

    // Assess
    try {
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^seeded 600 memories in \d+\.\d s \([\d,]+ memories\/s/m);
      expect(await scalar(url, 'SELECT count(*) AS value FROM memories')).toBe(600);
    } finally {
      await dropDatabase(url);
    }
  });

  it('exits 2 with a clear message on a bad argument', () => {
    // Act
    const run = seedCli(['--database', 'postgres://localhost/db', '--memories', 'many']);

    // Assess
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--memories must be a non-negative integer, got "many"');
  });

  it('exits 1 on an unreachable database without printing its password', () => {
    // Act
    const run = seedCli([
      '--database',
      'postgres://seeder:s3cret-pw@127.0.0.1:1/bigmemory',
      '--memories',
      '10',
    ]);

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'cannot connect to the source database postgres://seeder:***@127.0.0.1:1/bigmemory',
    );
    expect(`${run.stdout}${run.stderr}`).not.toContain('s3cret-pw');
  });
});
