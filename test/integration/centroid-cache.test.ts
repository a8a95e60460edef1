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

const centroidsOf = async (result: StepRunResult): Promise<ModuleCentroidAccumulatorJson> =>
  ModuleCentroidAccumulator.fromJSON(
    await getJson(result.runtime.store, runLayout(result.run.runId).centroids, z.unknown()),
  ).toJSON();

/** Marks the cached centroids (a sample limit no run set), so a run that shows the mark took the cache. */
async function tamperWithCache(targetUrl: string): Promise<void> {
  await withClient(targetUrl, (c) =>
    c.query(`UPDATE ${LEDGER_SCHEMA}.centroid_cache SET max_samples = max_samples + 1`),
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
    expect(centroids.maxSamplesPerModule).toBe(first.maxSamplesPerModule + 1);
    expect(centroids.modules).toEqual(first.modules);
  });

  it('a change to a sampled memory computes them again', async () => {
    // Prepare: the first live memory in key order is always in the sample
    await tamperWithCache(targetUrl);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET content = content || ' (edited)'
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id LIMIT 1)`,
      ),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess
    const centroids = await centroidsOf(rerun);
    expect(centroids.maxSamplesPerModule).toBe(first.maxSamplesPerModule);
    const cached = await withClient(targetUrl, (c) =>
      c.query<{ n: number }>(
        `SELECT count(DISTINCT sample_key)::int AS n FROM ${LEDGER_SCHEMA}.centroid_cache`,
      ),
    );
    expect(cached.rows[0]?.n).toBe(1);
  });
});
