import type { ModuleCentroidAccumulatorJson } from '../core/centroids.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { type Database, inTransaction, type Queryable } from './port.js';

// A dry run before any real run finds no ledger; a ledger from before the cache, no table.
const NO_CACHE_YET = new Set(['42P01', '3F000']);
const TABLE = `${LEDGER_SCHEMA}.centroid_cache`;
// The row that says the sample was cached, whatever its modules: a sample may confirm none.
const HEADER = '';

interface CacheRow {
  module: string;
  count: number;
  sum: Buffer;
  dimensions: number;
  max_samples: number;
}

/**
 * The module centroids a real run computed from a sample with this key (see steps/plan.ts): the
 * same sampled rows under the same rules give the same sums, so a rerun need not read their vectors.
 * One row per module, its sums as float64 bytes, keeps every row small enough for the Data API.
 */
export async function cachedCentroids(
  target: Queryable,
  sampleKey: string,
): Promise<ModuleCentroidAccumulatorJson | null> {
  let rows: CacheRow[];
  try {
    ({ rows } = await target.query<CacheRow>(
      `SELECT module, count, sum, dimensions, max_samples FROM ${TABLE} WHERE sample_key = $1`,
      [sampleKey],
    ));
  } catch (error) {
    if (NO_CACHE_YET.has((error as { code?: string }).code ?? '')) return null;
    throw error;
  }
  const header = rows.find((r) => r.module === HEADER);
  if (!header) return null;
  const modules: ModuleCentroidAccumulatorJson['modules'] = {};
  for (const row of rows) {
    if (row.module === HEADER) continue;
    const sum = new Float64Array(
      row.sum.buffer.slice(row.sum.byteOffset, row.sum.byteOffset + row.sum.byteLength),
    );
    modules[row.module] = { count: row.count, sum: [...sum] };
  }
  return { version: 1, dimensions: header.dimensions, maxSamplesPerModule: header.max_samples, modules };
}

/** Keeps this sample's centroids as the only cached ones, all of them or none. */
export async function cacheCentroids(
  target: Database,
  sampleKey: string,
  centroids: ModuleCentroidAccumulatorJson,
): Promise<void> {
  const entries = Object.entries(centroids.modules).flatMap(([module, entry]) =>
    entry ? [{ module, ...entry }] : [],
  );
  const modules = [HEADER, ...entries.map((e) => e.module)];
  const counts = [0, ...entries.map((e) => e.count)];
  const sums = [Buffer.alloc(0), ...entries.map((e) => Buffer.from(Float64Array.from(e.sum).buffer))];
  await inTransaction(target, async (session) => {
    await session.query(`DELETE FROM ${TABLE} WHERE sample_key <> $1`, [sampleKey]);
    for (const [i, module] of modules.entries()) {
      await session.query(
        `INSERT INTO ${TABLE} (sample_key, module, count, sum, dimensions, max_samples)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sample_key, module) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
         dimensions = EXCLUDED.dimensions, max_samples = EXCLUDED.max_samples`,
        [sampleKey, module, counts[i], sums[i], centroids.dimensions, centroids.maxSamplesPerModule],
      );
    }
  });
}
