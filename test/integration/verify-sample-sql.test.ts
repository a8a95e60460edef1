import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { type SampleRule, sampleRule } from '../../functions/core/verify-sample.js';
import { inSampleSql } from '../../functions/db/verification-queries.js';

const KEYS = 20_000;

describe('Function: inSampleSql', () => {
  let url: string;

  beforeAll(async () => {
    ({ sourceUrl: url } = await freshDatabases());
  });

  /** The keys of KEYS uuid-shaped ids the rule draws, in key order. */
  const drawnBy = (rule: SampleRule) =>
    withClient(url, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id FROM (SELECT md5(g::text)::uuid::text AS id FROM generate_series(1, ${KEYS}) g) k
          WHERE ${inSampleSql(rule, 'id')} ORDER BY id`,
      );
      return rows.map((r) => r.id);
    });

  it('draws about the asked share, the same keys for the same run, others for another', async () => {
    // Act
    const drawn = await drawnBy(sampleRule('run-a', 1000, KEYS));
    const again = await drawnBy(sampleRule('run-a', 1000, KEYS));
    const other = await drawnBy(sampleRule("run-o'brien", 1000, KEYS));

    // Assess
    expect(drawn.length).toBeGreaterThan(850);
    expect(drawn.length).toBeLessThan(1150);
    expect(again).toEqual(drawn);
    expect(other.length).toBeGreaterThan(850);
    expect(other.filter((id) => drawn.includes(id)).length).toBeLessThan(150);
  });

  it('draws a larger sample as a superset of a smaller one of the same run', async () => {
    // Act
    const small = await drawnBy(sampleRule('run-b', 200, KEYS));
    const large = await drawnBy(sampleRule('run-b', 2000, KEYS));

    // Assess
    expect(small.length).toBeGreaterThan(0);
    expect(small.every((id) => large.includes(id))).toBe(true);
    expect(large.length).toBeGreaterThan(small.length * 5);
  });

  it('draws everything when the sample is the source or larger, nothing for 0', async () => {
    expect(await drawnBy(sampleRule('run-c', KEYS, KEYS))).toHaveLength(KEYS);
    expect(await drawnBy(sampleRule('run-c', 0, KEYS))).toHaveLength(0);
  });
});
