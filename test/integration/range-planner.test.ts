import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createDatabase } from '../../dev/harness/databases.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database } from '../../functions/db/port.js';
import { planKeyRanges, planUserRanges } from '../../functions/db/range-planner.js';
import { readSourceRange } from '../../functions/db/source-reader.js';
import { introspectSource } from '../../functions/db/source-schema.js';

describe('Function: planKeyRanges', () => {
  let pool: Database;

  beforeAll(async () => {
    const url = await createDatabase('bigmemory');
    await generateBigMemory({ databaseUrl: url, memories: 1_050, users: 8, seed: 5 });
    pool = openPgDatabase({ connectionString: url, max: 2 });
  });

  afterAll(async () => {
    await pool.end();
  });

  it('splits the keys into consecutive ranges of batchSize keys that read every live memory exactly once', async () => {
    // Act
    const ranges = await planKeyRanges(pool, { batchSize: 100 });

    // Assess
    expect(ranges).toHaveLength(11);
    expect(ranges[0]?.fromKey).toBeNull();
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.fromKey).toBe(ranges[i - 1]?.toKey);
    const schema = await introspectSource(pool);
    const client = await pool.connect();
    try {
      const seen: string[] = [];
      for (const range of ranges) {
        const rows = await readSourceRange(client, schema, range);
        expect(rows.length).toBeLessThanOrEqual(100);
        seen.push(...rows.map((r) => r.id));
      }
      const { rows: live } = await client.query<{ id: string }>(
        'SELECT id::text FROM memories WHERE NOT is_deleted',
      );
      expect(seen.length).toBe(live.length);
      expect(new Set(seen)).toEqual(new Set(live.map((r) => r.id)));
    } finally {
      client.release();
    }
  });

  it('reads a sample of a range: the first rows in key order, at most the limit', async () => {
    // Arrange
    const [range] = await planKeyRanges(pool, { batchSize: 100 });
    const schema = await introspectSource(pool);
    const client = await pool.connect();
    try {
      const whole = await readSourceRange(client, schema, range!);

      // Act
      const sample = await readSourceRange(client, schema, range!, { limit: 7 });

      // Assess
      expect(sample.map((m) => m.id)).toEqual(whole.slice(0, 7).map((m) => m.id));
      expect(sample[3]?.embedding).toEqual(whole[3]?.embedding);
    } finally {
      client.release();
    }
  });

  it('plans within a range: the same boundaries the whole-table plan has there', async () => {
    // Prepare
    const schema = await introspectSource(pool);
    const whole = await planKeyRanges(pool, { batchSize: 25 });
    const range = { index: 0, fromKey: whole[3]?.toKey ?? null, toKey: whole[9]?.toKey ?? null };

    // Act
    const within = await planKeyRanges(pool, {
      batchSize: 25,
      within: { range, idType: schema.memoryIdType },
    });

    // Assess
    expect(within.map((r) => [r.fromKey, r.toKey])).toEqual(
      whole.slice(4, 10).map((r) => [r.fromKey, r.toKey]),
    );
    expect(within.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('plans only rows changed since a watermark for incremental runs', async () => {
    // Prepare
    const { rows } = await pool.query<{ max: Date }>('SELECT max(updated_at) AS max FROM memories');
    const watermark = rows[0]!.max;
    await pool.query(
      `UPDATE memories SET updated_at = $1::timestamptz + interval '1 minute'
        WHERE id IN (SELECT id FROM memories ORDER BY id LIMIT 7)`,
      [watermark],
    );

    // Act
    const ranges = await planKeyRanges(pool, { batchSize: 5, changedSince: watermark });

    // Assess: 7 changed rows make two ranges, and reading them with the same filter finds those 7
    expect(ranges).toHaveLength(2);
    const schema = await introspectSource(pool);
    const client = await pool.connect();
    try {
      let read = 0;
      for (const range of ranges)
        read += (await readSourceRange(client, schema, range, { changedSince: watermark })).length;
      const { rows: live } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM memories WHERE updated_at > $1 AND NOT is_deleted`,
        [watermark],
      );
      expect(read).toBe(Number(live[0]?.n));
    } finally {
      client.release();
    }
  });

  it('returns no range for an empty table', async () => {
    const url = await createDatabase('bigmemory');
    const empty = openPgDatabase({ connectionString: url, max: 1 });
    try {
      expect(await planKeyRanges(empty, { batchSize: 100 })).toEqual([]);
    } finally {
      await empty.end();
    }
  });
});

describe('Function: planUserRanges', () => {
  let pool: Database;

  beforeAll(async () => {
    const url = await createDatabase('bigmemory');
    await generateBigMemory({ databaseUrl: url, memories: 1_200, users: 30, seed: 11 });
    pool = openPgDatabase({ connectionString: url, max: 2 });
  });

  afterAll(async () => {
    await pool.end();
  });

  it('splits the users into consecutive ranges of about the given number of memories, every user in exactly one', async () => {
    // Act
    const ranges = await planUserRanges(pool, { memoriesPerRange: 200 });

    // Assess: contiguous, each user once, never a user split, ranges near the size asked for
    expect(ranges[0]?.fromKey).toBeNull();
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.fromKey).toBe(ranges[i - 1]?.toKey);
    const counted = await Promise.all(
      ranges.map(async (range) => {
        const { rows } = await pool.query<{ users: number; memories: number }>(
          `SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS memories FROM memories
            WHERE ($1::uuid IS NULL OR user_id > $1::uuid) AND user_id <= $2::uuid`,
          [range.fromKey, range.toKey],
        );
        return rows[0]!;
      }),
    );
    const { rows: all } = await pool.query<{ users: number; memories: number }>(
      'SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS memories FROM memories',
    );
    expect(counted.reduce((n, c) => n + c.users, 0)).toBe(all[0]?.users);
    expect(counted.reduce((n, c) => n + c.memories, 0)).toBe(all[0]?.memories);
    for (const c of counted.slice(0, -1)) expect(c.memories).toBeGreaterThanOrEqual(200);
    expect(ranges.length).toBeGreaterThan(2);
    expect(ranges.length).toBeLessThanOrEqual(Math.ceil(all[0]!.memories / 200));
  });

  it('plans only users with memories changed since a watermark', async () => {
    // Arrange: one user's memories changed after the watermark
    const watermark = new Date('2100-01-01T00:00:00Z');
    const { rows } = await pool.query<{ user_id: string }>(
      'SELECT user_id::text FROM memories ORDER BY user_id DESC LIMIT 1',
    );
    const userId = rows[0]!.user_id;
    await pool.query(`UPDATE memories SET updated_at = '2100-01-02T00:00:00Z' WHERE user_id = $1`, [userId]);
    try {
      // Act
      const ranges = await planUserRanges(pool, { memoriesPerRange: 200, changedSince: watermark });

      // Assess
      expect(ranges).toEqual([{ index: 0, fromKey: null, toKey: userId }]);
    } finally {
      await pool.query(`UPDATE memories SET updated_at = created_at WHERE user_id = $1`, [userId]);
    }
  });
});
