import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import type { PlannedRange } from '../../functions/db/memory-ranges.js';
import { keyRangesSchema, written } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// 1,200 memories in ranges of 50: enough recorded ranges for a rerun to hand them out together.
// Without centroids, an edit changes no other memory's decision: a run reads what was edited.
const INPUT = { preserveEmbeddings: true, batchSize: 50, snapshot: 'none', centroidClassification: false };
const GENERATED = { memories: 1200, users: 12, seed: 31 };

interface ReportTotals {
  totals: { read: number; unchanged?: number; migrated: number; rejected: number };
  load: { moved: number } | null;
  accounting: { holds: boolean | null };
}

const reportOf = (result: StepRunResult) =>
  getJson(result.runtime.store, runLayout(result.run.runId).report.json, written<ReportTotals>());

const itemsOf = (result: StepRunResult) =>
  getJson(
    result.runtime.store,
    runLayout(result.run.runId).memoryRanges,
    written<PlannedRange[]>(keyRangesSchema),
  );

/** Edits the content of every `every`-th live memory (in key order); returns how many. */
async function editEvery(sourceUrl: string, every: number, offset: number): Promise<number> {
  return withClient(sourceUrl, async (c) => {
    const { rowCount } = await c.query(
      `UPDATE memories SET content = content || ' (edited)', updated_at = now()
        WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM memories
                                      WHERE is_deleted IS NOT TRUE) k WHERE n % ${every} = ${offset})`,
    );
    return rowCount ?? 0;
  });
}

/** Copies `n` live memories at random under new keys (the table's default id); returns how many. */
async function insertCopies(sourceUrl: string, n: number): Promise<number> {
  return withClient(sourceUrl, async (c) => {
    const { rowCount } = await c.query(
      `INSERT INTO memories (user_id, content, embedding, tags, source, source_metadata)
       SELECT user_id, content || ' (copy)', embedding, tags, source, source_metadata
         FROM memories WHERE is_deleted IS NOT TRUE ORDER BY random() LIMIT ${n}`,
    );
    return rowCount ?? 0;
  });
}

/**
 * How many memories each of a run's transactions wrote: memories written in one transaction share
 * its now(), the ledger's updated_at.
 */
async function transactionSizes(targetUrl: string, runId: string): Promise<number[]> {
  const { rows } = await withClient(targetUrl, (c) =>
    c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1 GROUP BY updated_at`,
      [runId],
    ),
  );
  return rows.map((r) => r.n);
}

/** What a clean single run of the source leaves in a new target. */
async function cleanChecksums(
  sourceUrl: string,
  closers: { close(): Promise<void> }[],
  input: Record<string, unknown> = INPUT,
) {
  const cleanUrl = await createTarget();
  const clean = await runSteps({ sourceUrl, targetUrl: cleanUrl, input });
  closers.push(clean.runtime);
  return targetChecksums(cleanUrl);
}

describe('Recorded ranges handed out together', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let rangeCount: number;
  // Memories every run reads again: rejects whose cause may have gone (a user mapped since).
  let retried: number;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, ...GENERATED });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
    rangeCount = (first.outputs.plan as { batchCount: number }).batchCount;
    const unchanged = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(unchanged.runtime);
    retried = (await reportOf(unchanged)).totals.read;
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('a rerun writes only the changed memories of each item, and renews every range it holds', async () => {
    // Prepare: edits spread over every range, and one memory soft-deleted.
    const edited = await editEvery(sourceUrl, 40, 7);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET is_deleted = true
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id LIMIT 1 OFFSET 333)`,
      ),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess: fewer items than ranges, each over consecutive recorded ranges.
    const items = await itemsOf(rerun);
    expect(items.length).toBeLessThan(rangeCount);
    expect(items.every((item) => (item.parts?.length ?? 1) >= 1)).toBe(true);
    expect(items.reduce((n, item) => n + (item.parts?.length ?? 1), 0)).toBe(rangeCount);
    for (const item of items) {
      const parts = item.parts ?? [];
      parts.forEach((part, i) => {
        expect(part.fromKey).toBe(i === 0 ? item.fromKey : parts[i - 1]?.toKey);
      });
      if (parts.length > 0) expect(parts.at(-1)?.toKey).toBe(item.toKey);
    }
    expect(items.some((item) => (item.parts?.length ?? 0) > 1)).toBe(true);
    const report = await reportOf(rerun);
    expect(report.totals.read).toBe(edited + retried);
    expect(report.accounting.holds).toBe(true);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers));

    // Every range's record was renewed: the next run confirms each by its digest alone.
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);
    expect((await reportOf(again)).totals.read).toBe(retried);
    // (A range holding a reject that is always retried is never recorded.)
    const records = await withClient(targetUrl, (c) =>
      c.query<{ run_id: string; n: number }>(
        `SELECT run_id, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ranges GROUP BY run_id`,
      ),
    );
    expect(records.rows.map((r) => r.run_id)).toEqual([rerun.run.runId]);
    expect(records.rows[0]?.n).toBeGreaterThanOrEqual(rangeCount - retried);
  });

  it('an item writes its changed memories at most a batch to a transaction', async () => {
    // Prepare: most memories change, so each item holds more changed memories than a batch.
    const edited = await editEvery(sourceUrl, 5, 0).then(
      async (n) => n + (await editEvery(sourceUrl, 5, 1)) + (await editEvery(sourceUrl, 5, 2)),
    );

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess
    const items = await itemsOf(rerun);
    const sizes = await transactionSizes(targetUrl, rerun.run.runId);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(edited + retried);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(INPUT.batchSize);
    expect(sizes.length).toBeGreaterThan(items.length);
    expect((await reportOf(rerun)).totals.read).toBe(edited + retried);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers));
  });

  it('new memories fall into the recorded ranges: their records hold, and only the new are written', async () => {
    // Prepare: new memories at random keys, which would shift every boundary of a fresh cut.
    const inserted = await insertCopies(sourceUrl, 40);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess: the recorded cut was kept (items of several ranges), and only the new were read.
    const items = await itemsOf(rerun);
    expect(items.some((item) => (item.parts?.length ?? 0) > 1)).toBe(true);
    // The recorded ranges, and one more when a new key fell past the last of them.
    const ranges = items.reduce((n, item) => n + (item.parts?.length ?? 1), 0);
    expect(ranges - rangeCount).toBeGreaterThanOrEqual(0);
    expect(ranges - rangeCount).toBeLessThanOrEqual(1);
    expect((await reportOf(rerun)).totals.read).toBe(inserted + retried);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers));
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);
    expect((await reportOf(again)).totals.read).toBe(retried);
  });

  it('a range grown past half again a batch is cut anew, and no transaction outgrows a batch', async () => {
    // Prepare: about 30 new memories in every range of 50.
    const inserted = await insertCopies(sourceUrl, 700);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess
    const items = await itemsOf(rerun);
    const ranges = items.reduce((n, item) => n + (item.parts?.length ?? 1), 0);
    expect(ranges).toBeGreaterThan(rangeCount);
    const sizes = await transactionSizes(targetUrl, rerun.run.runId);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(inserted + retried);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(INPUT.batchSize);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers));
    // The new cut is recorded: the next run confirms it range by range.
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);
    expect((await reportOf(again)).totals.read).toBe(retried);
    expect((await itemsOf(again)).some((item) => (item.parts?.length ?? 0) > 1)).toBe(true);
  });

  it('a memory deleted for good at a range’s end leaves the recorded cut standing', async () => {
    // Prepare: the memory that ends a recorded range goes from the source, as a purge removes it.
    const before = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(before.runtime);
    const ranges = (await itemsOf(before)).reduce((n, item) => n + (item.parts?.length ?? 1), 0);
    const { rows } = await withClient(targetUrl, (c) =>
      c.query<{ key: string }>(
        `SELECT range_key::jsonb->>1 AS key FROM ${LEDGER_SCHEMA}.memory_ranges
          WHERE range_key::jsonb->>1 IS NOT NULL ORDER BY range_key LIMIT 1 OFFSET 3`,
      ),
    );
    const boundary = rows[0]?.key as string;
    const deleted = await withClient(sourceUrl, (c) =>
      c.query('DELETE FROM memories WHERE id = $1', [boundary]),
    );
    expect(deleted.rowCount).toBe(1);

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(rerun.runtime);

    // Assess: the same cut, still handed out together; the memory is gone from the target, which
    // is what a clean run makes of the source.
    const items = await itemsOf(rerun);
    expect(items.some((item) => (item.parts?.length ?? 0) > 1)).toBe(true);
    expect(items.reduce((n, item) => n + (item.parts?.length ?? 1), 0)).toBe(ranges);
    expect((await reportOf(rerun)).totals.read).toBe(retried);
    const ledgered = await withClient(targetUrl, (c) =>
      c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = $1`, [boundary]),
    );
    expect(ledgered.rowCount).toBe(0);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers));
  });

  it('a rules change moves memories across the transactions of items of several ranges', async () => {
    // Prepare: the memories of the commonest metadata type go to another module now. The rules'
    // version changes, so every memory is decided again, in transactions of a batch's size.
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ rule: string; module: string; n: number }>(
        `SELECT rule, module, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger
          WHERE status = 'migrated' AND rule LIKE 'type:%' GROUP BY rule, module ORDER BY n DESC LIMIT 1`,
      ),
    );
    const { rule, module, n } = ledger.rows[0] ?? { rule: '', module: '', n: 0 };
    expect(n).toBeGreaterThan(0);
    const elsewhere = module === 'creative' ? 'learning' : 'creative';
    const dir = await mkdtemp(join(tmpdir(), 'bm-rules-'));
    const rulesFile = join(dir, 'rules.json');
    await writeFile(rulesFile, JSON.stringify({ typeRules: { [rule.slice('type:'.length)]: elsewhere } }));
    const input = { ...INPUT, rules: pathToFileURL(rulesFile).href };

    // Act
    const rerun = await runSteps({ sourceUrl, targetUrl, input });
    closers.push(rerun.runtime);

    // Assess: every memory of that type moved, items still held several ranges, and the target is
    // what a clean run with the new rules makes of the source.
    const items = await itemsOf(rerun);
    expect(items.some((item) => (item.parts?.length ?? 0) > 1)).toBe(true);
    const moved = await withClient(targetUrl, (c) =>
      c.query<{ module: string; n: number }>(
        `SELECT module, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE rule = $1 GROUP BY module`,
        [rule],
      ),
    );
    expect(moved.rows).toEqual([{ module: elsewhere, n }]);
    expect((await reportOf(rerun)).load?.moved).toBeGreaterThanOrEqual(n);
    expect((rerun.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await targetChecksums(targetUrl)).toEqual(await cleanChecksums(sourceUrl, closers, input));
  });
});
