import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable } from './port.js';

// A dry run before any real run finds no ledger; a ledger from before the cache, no table.
const NO_CACHE_YET = new Set(['42P01', '3F000']);

/**
 * The module centroids a real run computed from a sample with this key (see steps/plan.ts): the
 * same sampled rows under the same rules give the same sums, so a rerun need not read their vectors.
 */
export async function cachedCentroids(target: Queryable, sampleKey: string): Promise<unknown | null> {
  try {
    const { rows } = await target.query<{ centroids: unknown }>(
      `SELECT centroids FROM ${LEDGER_SCHEMA}.centroid_cache WHERE sample_key = $1`,
      [sampleKey],
    );
    return rows[0]?.centroids ?? null;
  } catch (error) {
    if (NO_CACHE_YET.has((error as { code?: string }).code ?? '')) return null;
    throw error;
  }
}

/** Keeps this sample's centroids as the only cached ones. */
export async function cacheCentroids(target: Queryable, sampleKey: string, centroids: object): Promise<void> {
  await target.query(
    `WITH stale AS (DELETE FROM ${LEDGER_SCHEMA}.centroid_cache WHERE sample_key <> $1)
     INSERT INTO ${LEDGER_SCHEMA}.centroid_cache (sample_key, centroids) VALUES ($1, $2::jsonb)
     ON CONFLICT (sample_key) DO UPDATE SET centroids = EXCLUDED.centroids`,
    [sampleKey, JSON.stringify(centroids)],
  );
}
