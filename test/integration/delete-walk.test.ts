import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { propagateDeletes } from '../../functions/db/delete-propagation.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase, type PgDatabase } from '../../functions/db/pg/pg-database.js';
import { introspectSource, type SourceSchema } from '../../functions/db/source-schema.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };
const DRY = { runId: 'run-delete-walk', dryRun: true, keepDeleted: false };

/** The ledger keys whose source memory is gone or soft-deleted, found by reading both sides whole. */
async function goneByBruteForce(sourceUrl: string, targetUrl: string): Promise<string[]> {
  const live = await withClient(sourceUrl, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `SELECT id::text AS id FROM memories WHERE is_deleted IS NOT TRUE`,
    );
    return new Set(rows.map((r) => r.id));
  });
  const ledger = await withClient(targetUrl, async (c) => {
    const { rows } = await c.query<{ source_id: string }>(
      `SELECT source_id FROM ${LEDGER_SCHEMA}.memory_ledger`,
    );
    return rows.map((r) => r.source_id);
  });
  return ledger.filter((id) => !live.has(id)).sort();
}

describe('Deletes carried over after a failed run, whose ledger holds only its first ranges', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let source: PgDatabase;
  let target: PgDatabase;
  let schema: SourceSchema;
  /** Source ids in key order; the ledger keeps those before `cut`, as a run killed there leaves it. */
  let ids: string[];
  let migrated: Set<string>;
  let cut: number;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 6, seed: 41 });
    const run = await runSteps({ sourceUrl, targetUrl, input: INPUT, batchesOnly: true });
    await run.runtime.close();
    source = openPgDatabase({ connectionString: sourceUrl, max: 3 });
    target = openPgDatabase({ connectionString: targetUrl, max: 3 });
    schema = await introspectSource(source);
    const ledger = await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ source_id: string; status: string }>(
        `SELECT source_id, status FROM ${LEDGER_SCHEMA}.memory_ledger ORDER BY source_id COLLATE "C"`,
      );
      return rows;
    });
    ids = ledger.map((r) => r.source_id);
    migrated = new Set(ledger.filter((r) => r.status === 'migrated').map((r) => r.source_id));
    // A cut inside a key prefix, with two keys of it past the cut: once the test deletes the key
    // before the cut, the ledger holds fewer keys under that prefix than the source, one of them gone.
    const prefix = (id: string | undefined) => id?.slice(0, 2);
    const splits = (at: number) =>
      migrated.has(ids[at - 1] as string) &&
      prefix(ids[at - 1]) === prefix(ids[at]) &&
      prefix(ids[at]) === prefix(ids[at + 1]);
    cut = Math.floor(ids.length * 0.8);
    while (cut < ids.length - 2 && !splits(cut)) cut += 1;
    expect(splits(cut)).toBe(true);
    await withClient(targetUrl, (c) =>
      c.query(`DELETE FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id COLLATE "C" >= $1`, [ids[cut]]),
    );
  });

  afterAll(async () => {
    await Promise.all([source?.end(), target?.end()]);
  });

  it('finds nothing gone when the source only holds more than the ledger', async () => {
    // Act
    const summary = await propagateDeletes(source, target, schema, DRY);

    // Assess
    expect(await goneByBruteForce(sourceUrl, targetUrl)).toEqual([]);
    expect(summary).toMatchObject({ memories: 0, rejectedForgotten: 0 });
  });

  it('finds the memories deleted among the ranges the failed run wrote, and only those', async () => {
    // Prepare: a hard delete just before the cut (in the prefix it splits), a soft delete far from
    // it, and a hard delete past the cut, which the ledger never held
    const nearCut = ids[cut - 1] as string;
    const farFromCut = ids.find((id) => migrated.has(id) && id.slice(0, 2) !== nearCut.slice(0, 2)) as string;
    const pastCut = ids.at(-1) as string;
    await withClient(sourceUrl, async (c) => {
      await c.query(
        `DELETE FROM memory_relations WHERE source_memory_id = ANY($1::uuid[]) OR target_memory_id = ANY($1::uuid[])`,
        [[nearCut, pastCut]],
      );
      await c.query(`DELETE FROM memories WHERE id = ANY($1::uuid[])`, [[nearCut, pastCut]]);
      await c.query(`UPDATE memories SET is_deleted = true WHERE id = $1::uuid`, [farFromCut]);
    });

    // Act
    const summary = await propagateDeletes(source, target, schema, DRY);

    // Assess
    const expected = await goneByBruteForce(sourceUrl, targetUrl);
    expect(expected).toEqual([nearCut, farFromCut].sort());
    expect(summary.memories + summary.rejectedForgotten).toBe(expected.length);
    expect([...summary.samples].sort()).toEqual(expected);
  });
});
