import { createHash } from 'node:crypto';
import {
  accumulateSample,
  changedSamplePositions,
  sampleOffer,
  sampleRowId,
} from '../core/centroid-sample.js';
import { ModuleCentroidAccumulator, type ModuleCentroidAccumulatorJson } from '../core/centroids.js';
import { rulesVersion } from '../core/fingerprint.js';
import type { CompiledRules } from '../core/rules.js';
import type { SourceMemory } from '../core/types.js';
import { type CachedSample, cacheCentroids, cachedSample } from '../db/centroid-cache.js';
import type { Database } from '../db/port.js';
import { readSampleRows } from '../db/source-fingerprints.js';
import { type KeyRange, readSourceRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';

export interface CentroidSampleInput {
  rules: CompiledRules;
  schema: SourceSchema;
  /** Stretches of the key space, the first `perStretch` live memories of each sampled. */
  stretches: readonly KeyRange[];
  perStretch: number;
  /** A dry run caches nothing. */
  dryRun: boolean;
}

// More changed rows than this and the sample is read again whole: one read of every row then
// costs about what reading the changed ones by key would.
const CHANGED_SHARE_READ_ALONE = 0.25;

/**
 * Module centroids from the confidently classified memories of the sample (docs/design.md,
 * "Classification"), and from the cache where they cannot differ (docs/design.md, "Skipping what
 * is done"): a sample whose rows hash alike under the same rules, or whose changed rows still offer
 * what they offered (core/centroid-sample.ts), has the cached sums, and only the changed rows are
 * read. Otherwise the sample is read whole; the stretches are read concurrently but added in key
 * order, so the sums do not depend on which read finished first.
 */
export async function sampleCentroids(
  source: Database,
  target: Database,
  input: CentroidSampleInput,
): Promise<ModuleCentroidAccumulatorJson> {
  const rows = await readSampleRows(source, input.schema, input.stretches, input.perStretch);
  const sampleKey = [
    createHash('md5').update(rows.join(',')).digest('hex'),
    rulesVersion(input.rules),
    input.schema.embeddingDimensions ?? 'any',
  ].join(':');
  const cached = await cachedSample(target);
  // The cached sums pass the accumulator's own checks (shape, dimensions) before they are used.
  if (cached) cached.centroids = ModuleCentroidAccumulator.fromJSON(cached.centroids).toJSON();
  if (cached?.sampleKey === sampleKey) return cached.centroids;
  const reused = cached && (await offersUnchanged(source, input, cached, sampleKey, rows)) ? cached : null;
  const { centroids, offers } = reused
    ? { centroids: reused.centroids, offers: reused.sample?.offers ?? null }
    : await readWhole(source, input, rows);
  if (!input.dryRun) {
    await cacheCentroids(target, { sampleKey, centroids, sample: offers ? { rows, offers } : null });
  }
  return centroids;
}

interface Computed {
  centroids: ModuleCentroidAccumulatorJson;
  /** Each sampled row's offer, when the rows read are those hashed (no write came between). */
  offers: string[] | null;
}

/** Whether the cached sums stand for this sample: the same memories, the changed ones offering the same. */
async function offersUnchanged(
  source: Database,
  input: CentroidSampleInput,
  cached: CachedSample,
  sampleKey: string,
  rows: readonly string[],
): Promise<boolean> {
  const versions = (key: string) => key.slice(key.indexOf(':'));
  if (!cached.sample || versions(cached.sampleKey) !== versions(sampleKey)) return false;
  const changed = changedSamplePositions(cached.sample.rows, rows);
  if (!changed || changed.length > rows.length * CHANGED_SHARE_READ_ALONE) return false;
  const ids = changed.map((i) => sampleRowId(rows[i] as string));
  const memories = new Map((await readMemories(source, input.schema, ids)).map((m) => [m.id, m]));
  const dimensions = input.schema.embeddingDimensions;
  return changed.every((position, k) => {
    const memory = memories.get(ids[k] as string);
    const offered = memory && sampleOffer(memory, input.rules, dimensions).offer;
    return offered === cached.sample?.offers[position];
  });
}

async function readWhole(
  source: Database,
  input: CentroidSampleInput,
  rows: readonly string[],
): Promise<Computed> {
  const stretches = await Promise.all(
    input.stretches.map(async (range) => {
      const client = await source.connect();
      try {
        return await readSourceRange(client, input.schema, range, { limit: input.perStretch });
      } finally {
        client.release();
      }
    }),
  );
  const memories = stretches.flat();
  const { centroids, offers } = accumulateSample(memories, input.rules, input.schema.embeddingDimensions);
  const aligned =
    memories.length === rows.length && memories.every((m, i) => m.id === sampleRowId(rows[i] as string));
  return { centroids, offers: aligned ? offers : null };
}

async function readMemories(source: Database, schema: SourceSchema, ids: string[]): Promise<SourceMemory[]> {
  const client = await source.connect();
  try {
    return await readSourceRange(client, schema, { index: 0, fromKey: null, toKey: null }, { ids });
  } finally {
    client.release();
  }
}
