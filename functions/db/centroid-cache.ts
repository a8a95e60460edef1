import { z } from 'zod';
import type { ModuleCentroidAccumulatorJson } from '../core/centroids.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { escapeLiteral } from './pg/escape.js';
import { type Database, inTransaction } from './port.js';
import { readWideJson } from './wide-json.js';

// A dry run leaves the ledger as it finds it: before any real run there is none; from before the
// cache, no table; from before the cache kept samples, no column. Each reads as nothing cached.
const NO_CACHE_YET = new Set(['42P01', '3F000', '42703']);
const nothingCached = (error: unknown) => {
  if (NO_CACHE_YET.has((error as { code?: string }).code ?? '')) return null;
  throw error;
};
const TABLE = `${LEDGER_SCHEMA}.centroid_cache`;
// The row that says the sample was cached, whatever its modules: a sample may confirm none.
const HEADER = '';
// The sample as cacheCentroids writes it; anything else (an older cache) counts as unknown.
const sampleSchema = z.object({ rows: z.array(z.string()), offers: z.array(z.string()) });

interface CacheRow {
  sample_key: string;
  module: string;
  count: number;
  sum: Buffer;
  dimensions: number;
  max_samples: number;
}

/** The sample a real run computed centroids from, and what each of its memories offered them. */
export interface CachedSample {
  /** The sample's rows hashed, with the rules' and the vectors' versions (see steps/plan.ts). */
  sampleKey: string;
  centroids: ModuleCentroidAccumulatorJson;
  /** `<id>:<row hash>` of each sampled memory, and its offer (core/centroid-sample.ts); null: unknown. */
  sample: { rows: string[]; offers: string[] } | null;
}

/**
 * The one sample the last real run cached: the same sampled rows under the same rules give the same
 * sums, so a rerun need not read their vectors. One row per module, its sums as float64 bytes,
 * keeps every row small enough for the Data API; the header row holds the sample itself.
 */
export async function cachedSample(target: Database): Promise<CachedSample | null> {
  let rows: CacheRow[];
  try {
    ({ rows } = await target.query<CacheRow>(
      `SELECT sample_key, module, count, sum, dimensions, max_samples FROM ${TABLE}`,
    ));
  } catch (error) {
    return nothingCached(error);
  }
  const header = rows.find((r) => r.module === HEADER);
  if (!header) return null;
  const modules: ModuleCentroidAccumulatorJson['modules'] = {};
  for (const row of rows) {
    if (row.module === HEADER || row.sample_key !== header.sample_key) continue;
    const sum = new Float64Array(
      row.sum.buffer.slice(row.sum.byteOffset, row.sum.byteOffset + row.sum.byteLength),
    );
    modules[row.module] = { count: row.count, sum: [...sum] };
  }
  const sample = await readWideJson(target, {
    table: TABLE,
    key: `w.sample_key || '/' || w.module`,
    column: 'sample',
    where: `w.module = ${escapeLiteral(HEADER)} AND w.sample_key = ${escapeLiteral(header.sample_key)}`,
  }).catch(nothingCached);
  return {
    sampleKey: header.sample_key,
    centroids: {
      version: 1,
      dimensions: header.dimensions,
      maxSamplesPerModule: header.max_samples,
      modules,
    },
    sample: sampleSchema.safeParse(sample).data ?? null,
  };
}

/** Keeps this sample's centroids as the only cached ones, all of them or none. */
export async function cacheCentroids(target: Database, cached: CachedSample): Promise<void> {
  const { sampleKey, centroids } = cached;
  const entries = Object.entries(centroids.modules).flatMap(([module, entry]) =>
    entry ? [{ module, ...entry }] : [],
  );
  const modules = [HEADER, ...entries.map((e) => e.module)];
  const counts = [0, ...entries.map((e) => e.count)];
  const sums = [Buffer.alloc(0), ...entries.map((e) => Buffer.from(Float64Array.from(e.sum).buffer))];
  await inTransaction(target, async (session) => {
    await session.query(`DELETE FROM ${TABLE}`);
    for (const [i, module] of modules.entries()) {
      await session.query(
        `INSERT INTO ${TABLE} (sample_key, module, count, sum, dimensions, max_samples, sample)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
        [
          sampleKey,
          module,
          counts[i],
          sums[i],
          centroids.dimensions,
          centroids.maxSamplesPerModule,
          module === HEADER && cached.sample ? JSON.stringify(cached.sample) : null,
        ],
      );
    }
  });
}
