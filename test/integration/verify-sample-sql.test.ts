import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { inSample, sampleRule } from '../../functions/core/verify-sample.js';
import { inSampleSql } from '../../functions/db/verification-queries.js';

describe('Function: inSampleSql', () => {
  let sourceUrl: string;
  let ids: string[];

  beforeAll(async () => {
    ({ sourceUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 400, users: 4, seed: 31 });
    ids = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>('SELECT id::text AS id FROM memories');
      return rows.map((r) => r.id);
    });
  });

  it.each([
    ['a third', "run-o'brien-1", 130],
    ['a few', 'run-2', 12],
    ['none', 'run-3', 0],
    ['all', 'run-4', 10_000],
  ])('draws in SQL exactly the memories inSample draws: %s', async (_name, runId, sample) => {
    // Prepare
    const rule = sampleRule(runId, sample, ids.length);
    const expected = ids.filter((id) => inSample(rule, id)).sort();

    // Act
    const drawn = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id::text AS id FROM memories WHERE ${inSampleSql(rule, 'id::text')}`,
      );
      return rows.map((r) => r.id).sort();
    });

    // Assess
    expect(drawn).toEqual(expected);
    if (sample > 0 && sample < ids.length) expect(drawn.length).toBeGreaterThan(0);
  });
});
