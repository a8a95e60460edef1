import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import {
  ModuleCentroidAccumulator,
  type ModuleCentroidAccumulatorJson,
} from '../../functions/core/centroids.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };
// The first live memory in key order is always in the sample.
const FIRST_SAMPLED = '(SELECT id FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id LIMIT 1)';

const centroidsOf = async (result: StepRunResult): Promise<ModuleCentroidAccumulatorJson> =>
  ModuleCentroidAccumulator.fromJSON(
    await getJson(result.runtime.store, runLayout(result.run.runId).centroids, z.unknown()),
  ).toJSON();

// A sample limit no run sets: a run whose centroids show it took them from the cache.
const MARK = 99_999;

/** Marks the cached centroids, so a run that shows the mark took the cache. */
async function tamperWithCache(targetUrl: string): Promise<void> {
  await withClient(targetUrl, (c) =>
    c.query(`UPDATE ${LEDGER_SCHEMA}.centroid_cache SET max_samples = ${MARK}`),
  );
}

describe('Centroids are taken from the cache while their sample is unchanged', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let first: ModuleCentroidAccumulatorJson;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 8, seed: 29 });
    const run = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(run.runtime);
    first = await centroidsOf(run);
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('a rerun over the same sample takes the cached centroids', async () => {
    // Prepare
    expect(Object.keys(first.modules).length).toBeGreaterThan(0);
    await tamperWithCache(targetUrl);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).toBe(MARK);
    expect(centroids.modules).toEqual(first.modules);
  });

  it("an edit that leaves a sampled memory's label and vector alone keeps the cached centroids", async () => {
    // Prepare
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET updated_at = now(), access_count = access_count + 1, content = content || ' (edited)'
          WHERE id = ${FIRST_SAMPLED}`,
      ),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess: the sample's rows changed, but not what they offer the centroids, so the cached sums
    // stand; no memory a centroid placed is processed again: the run wrote the edited memory alone
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).toBe(MARK);
    expect(centroids.modules).toEqual(first.modules);
    const written = await withClient(targetUrl, (c) =>
      c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1`,
        [rerun.run.runId],
      ),
    );
    expect(written.rows[0]?.n).toBe(1);
    await expectOneCachedSample();

    // and the next run over the same rows finds the sample as this one left it
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);
    expect((await centroidsOf(again)).maxSamplesPerModule).toBe(MARK);
  });

  it('a new vector for a sampled memory computes the centroids again, as a fresh run would', async () => {
    // Prepare: the first confidently labelled sampled memory's vector, reversed
    const offering = await withClient(sourceUrl, (c) =>
      c.query<{ id: string }>(
        `SELECT id::text AS id FROM memories WHERE is_deleted IS NOT TRUE AND embedding IS NOT NULL
          AND source_metadata->>'type' IS NOT NULL ORDER BY id LIMIT 1`,
      ),
    );
    const id = offering.rows[0]?.id as string;
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET embedding = (SELECT array_agg(x ORDER BY i DESC) FROM unnest(embedding::real[]) WITH ORDINALITY AS v(x, i))::vector,
                updated_at = now() WHERE id = $1`,
        [id],
      ),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);
    const clean = await runSteps({ sourceUrl, targetUrl: await createTarget(), input: INPUT });
    closers.push(clean.runtime);

    // Assess
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).not.toBe(MARK);
    expect(centroids.modules).not.toEqual(first.modules);
    expect(centroids).toEqual(await centroidsOf(clean));
    await expectOneCachedSample();
  });

  it("a change to a sampled memory's label computes other centroids", async () => {
    // Prepare: a type rule labels it surely, whatever it was
    await withClient(sourceUrl, (c) =>
      c.query(`UPDATE memories SET source_metadata = '{"type": "code"}' WHERE id = ${FIRST_SAMPLED}`),
    );
    const labelled = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(labelled.runtime);
    const before = await centroidsOf(labelled);
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) =>
      c.query(`UPDATE memories SET source_metadata = '{"type": "journal"}' WHERE id = ${FIRST_SAMPLED}`),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess: technical to personal
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).not.toBe(MARK);
    expect(centroids.modules.technical).not.toEqual(before.modules.technical);
    expect(centroids.modules.personal).not.toEqual(before.modules.personal);
    await expectOneCachedSample();
  });

  it('a dry run over a ledger from before the cache kept samples computes the centroids afresh', async () => {
    // Prepare: the cache as an older version left it, and a sampled memory edited
    await withClient(targetUrl, (c) =>
      c.query(`ALTER TABLE ${LEDGER_SCHEMA}.centroid_cache DROP COLUMN sample`),
    );
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET updated_at = now(), content = content || ' (again)' WHERE id = ${FIRST_SAMPLED}`,
      ),
    );

    // Act
    const dry = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, dryRun: true } });
    closers.push(dry.runtime);

    // Assess: it read the sample whole and left the ledger as it was
    const centroids = await centroidsOf(dry);
    expect(Object.keys(centroids.modules).length).toBeGreaterThan(0);
    const columns = await withClient(targetUrl, (c) =>
      c.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'centroid_cache' AND column_name = 'sample'`,
        [LEDGER_SCHEMA],
      ),
    );
    expect(columns.rowCount).toBe(0);
  });

  async function expectOneCachedSample(): Promise<void> {
    const cached = await withClient(targetUrl, (c) =>
      c.query<{ n: number }>(
        `SELECT count(DISTINCT sample_key)::int AS n FROM ${LEDGER_SCHEMA}.centroid_cache`,
      ),
    );
    expect(cached.rows[0]?.n).toBe(1);
  }
});
