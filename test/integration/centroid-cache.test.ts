import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
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

  it("an edit that leaves a sampled memory's label and vector alone keeps them", async () => {
    // Prepare
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET updated_at = now(), access_count = access_count + 1 WHERE id = ${FIRST_SAMPLED}`,
      ),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).toBe(MARK);
    expect(centroids.modules).toEqual(first.modules);
  });

  async function expectComputedAgainAfter(change: string): Promise<void> {
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) => c.query(`UPDATE memories SET ${change} WHERE id = ${FIRST_SAMPLED}`));

    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).not.toBe(MARK);
    const cached = await withClient(targetUrl, (c) =>
      c.query<{ n: number }>(
        `SELECT count(DISTINCT sample_key)::int AS n FROM ${LEDGER_SCHEMA}.centroid_cache`,
      ),
    );
    expect(cached.rows[0]?.n).toBe(1);
  }

  it("a change to a sampled memory's vector computes them again", async () => {
    await expectComputedAgainAfter(
      // The source marks an edit by its time; the skip test reads no vector (docs/design.md).
      'embedding = (SELECT embedding FROM memories WHERE embedding IS NOT NULL ORDER BY id DESC LIMIT 1), updated_at = now()',
    );
  });

  it("a change to a sampled memory's label computes them again", async () => {
    // Prepare: a type rule labels it surely, whatever it was
    await withClient(sourceUrl, (c) =>
      c.query(`UPDATE memories SET source_metadata = '{"type": "code"}' WHERE id = ${FIRST_SAMPLED}`),
    );
    const labelled = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(labelled.runtime);

    // Act and assess: technical to personal
    await expectComputedAgainAfter(`source_metadata = '{"type": "journal"}'`);
  });
});
