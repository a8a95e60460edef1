import type { Database } from './port.js';
import { changedSincePredicate, type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';

/**
 * The ids of the live source memories a batch of each range would have read (the same range and
 * watermark predicates as the batch's own read), for the ranges a partial run left unmigrated.
 */
export async function liveMemoryIdsInRanges(
  source: Database,
  schema: SourceSchema,
  ranges: KeyRange[],
  changedSince: Date | null,
): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  const client = await source.connect();
  try {
    for (const range of ranges) {
      const { rows } = await client.query<{ id: string }>(
        `SELECT id::text AS id FROM memories
          WHERE ${rangePredicate(range, schema.memoryIdType)}
            AND is_deleted IS NOT TRUE
            AND ${changedSincePredicate(schema, changedSince)}`,
      );
      out.set(
        range.index,
        rows.map((row) => row.id),
      );
    }
  } finally {
    client.release();
  }
  return out;
}
