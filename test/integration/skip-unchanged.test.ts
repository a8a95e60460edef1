import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import type { VerificationResult } from '../../functions/core/verification.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { written } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };
const GENERATED = { memories: 600, users: 8, seed: 23 };

interface ReportTotals {
  totals: { read: number; unchanged?: number; migrated: number; rejected: number };
  relationships: {
    read: number;
    migrated: number;
    skipped: number;
    withdrawn: number;
    holds: boolean;
  } | null;
  load: { inserted: number; upserted: number; moved: number; withdrawn: number } | null;
  accounting: { holds: boolean | null };
}

const reportOf = (result: StepRunResult) =>
  getJson(result.runtime.store, runLayout(result.run.runId).report.json, written<ReportTotals>());

interface LedgerRow {
  module: string | null;
  rule: string | null;
  run_id: string;
}

async function ledgerRows(url: string): Promise<Map<string, LedgerRow>> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<LedgerRow & { source_id: string }>(
      `SELECT source_id, module, rule, run_id FROM ${LEDGER_SCHEMA}.memory_ledger`,
    );
    return new Map(rows.map((r) => [r.source_id, { module: r.module, rule: r.rule, run_id: r.run_id }]));
  });
}

async function relationshipLedger(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ row: string }>(
      `SELECT concat_ws('|', source_key, status, reason, target_id, run_id) AS row
         FROM ${LEDGER_SCHEMA}.relationship_ledger ORDER BY source_key`,
    );
    return rows.map((r) => r.row);
  });
}

describe('Reruns skip what is done', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let liveMemories: number;
  let firstRun: StepRunResult;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, ...GENERATED });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(first.runtime);
    liveMemories = first.run.sourceCounts.liveMemories;
    firstRun = first;
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it('leaves an unchanged source alone: nothing read, nothing written, the accounting whole', async () => {
    // Prepare
    const before = await targetChecksums(targetUrl);
    const ledgerBefore = await ledgerRows(targetUrl);
    const relationshipsBefore = await relationshipLedger(targetUrl);
    expect(relationshipsBefore.length).toBeGreaterThan(0);

    // Act
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);

    // Assess
    const report = await reportOf(again);
    expect(report.totals).toMatchObject({ read: 0, migrated: 0, rejected: 0, unchanged: liveMemories });
    expect(report.load).toBeNull();
    expect(report.accounting.holds).toBe(true);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(await ledgerRows(targetUrl)).toEqual(ledgerBefore);
    // Relations resolved as before were not written either: their ledger rows name the first run.
    // Project links too. (Duplicates are resolved again each run: the relation they lost to may
    // have gone.)
    const relationsOf = (rows: string[]) => rows.filter((r) => !r.includes('|duplicate|'));
    const relations = relationsOf(await relationshipLedger(targetUrl));
    expect(relations.filter((r) => r.startsWith('relation:')).length).toBeGreaterThan(0);
    expect(relations.filter((r) => r.startsWith('project:')).length).toBeGreaterThan(0);
    expect(relations).toEqual(relationsOf(relationshipsBefore));
    expect(await targetChecksums(targetUrl)).toEqual(before);
    // Every relationship item kept the outcome the first run recorded, and reports its totals.
    const items = await withClient(targetUrl, (c) =>
      c.query<{ run_id: string; n: number }>(
        `SELECT run_id, count(*)::int AS n FROM ${LEDGER_SCHEMA}.relationship_items GROUP BY run_id`,
      ),
    );
    const planned = (again.outputs.plan as { relationBatchCount: number }).relationBatchCount;
    expect(items.rows).toEqual([{ run_id: firstRun.run.runId, n: planned }]);
    // Every memory range was confirmed by its record, which the first run left.
    const ranges = await withClient(targetUrl, (c) =>
      c.query<{ run_id: string; n: number }>(
        `SELECT run_id, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ranges GROUP BY run_id`,
      ),
    );
    // The first run's batches recorded one range each; the rerun's items hold several.
    const recorded = (firstRun.outputs.plan as { batchCount: number }).batchCount;
    expect((again.outputs.plan as { batchCount: number }).batchCount).toBeLessThan(recorded);
    expect(ranges.rows).toEqual([{ run_id: firstRun.run.runId, n: recorded }]);
    const firstRelationships = (await reportOf(firstRun)).relationships;
    expect(report.relationships).toMatchObject({
      read: firstRelationships?.read,
      migrated: firstRelationships?.migrated,
      skipped: firstRelationships?.skipped,
      withdrawn: 0,
      holds: true,
    });
  });

  it('redoes a memory whose embedding became NULL, though its updated_at did not move', async () => {
    // Prepare
    const id = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `UPDATE memories SET embedding = NULL
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE AND embedding IS NOT NULL ORDER BY id LIMIT 1 OFFSET 17)
          RETURNING id::text`,
      );
      return rows[0]!.id;
    });

    // Act
    const again = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    closers.push(again.runtime);

    // Assess: that memory was read and written again; beside it only memories placed by the
    // centroids, which its vector no longer feeds
    const report = await reportOf(again);
    const rewritten = [...(await ledgerRows(targetUrl))].filter(([, l]) => l.run_id === again.run.runId);
    expect(rewritten.map(([sourceId]) => sourceId)).toContain(id);
    for (const [sourceId, l] of rewritten) {
      if (sourceId !== id) expect(l.rule).toMatch(/^(centroid|fallback):/);
    }
    expect(report.totals.read).toBe(rewritten.length);
    expect(report.totals.unchanged).toBe(liveMemories - rewritten.length);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);
    // A memory written again may resolve its relations differently: no relationship item kept an
    // earlier outcome.
    const items = await withClient(targetUrl, (c) =>
      c.query<{ run_id: string }>(`SELECT DISTINCT run_id FROM ${LEDGER_SCHEMA}.relationship_items`),
    );
    expect(items.rows).toEqual([{ run_id: again.run.runId }]);
    // Its range was settled again by this run (every range here: at this size every memory is in
    // the centroids' sample, so the centroids changed too).
    const ranges = await withClient(targetUrl, (c) =>
      c.query<{ mine: number; all: number }>(
        `SELECT count(*) FILTER (WHERE run_id = $1)::int AS mine, count(*)::int AS all FROM ${LEDGER_SCHEMA}.memory_ranges`,
        [again.run.runId],
      ),
    );
    expect(ranges.rows[0]?.all).toBe((firstRun.outputs.plan as { batchCount: number }).batchCount);
    expect(ranges.rows[0]?.mine).toBe(ranges.rows[0]?.all);
  });

  it('--force-reprocess processes every memory again, project links following their tasks', async () => {
    const linkedTasks = () =>
      withClient(targetUrl, async (c) => {
        const { rows: tables } = await c.query<{ name: string }>(
          `SELECT table_name AS name FROM information_schema.tables
            WHERE table_schema = 'public' AND table_name LIKE '%\\_memories'`,
        );
        const { rows } = await c.query<{ n: number }>(
          `SELECT (${tables.map((t) => `(SELECT count(*) FROM "${t.name}" WHERE metadata ? 'project_id')`).join(' + ')})::int AS n`,
        );
        return rows[0]!.n;
      });
    const linkedBefore = await linkedTasks();
    expect(linkedBefore).toBeGreaterThan(0);

    const again = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, forceReprocess: true } });
    closers.push(again.runtime);

    // The tasks were written again without their project_id: the links were written again too.
    expect(await linkedTasks()).toBe(linkedBefore);

    const report = await reportOf(again);
    expect(report.totals.read).toBe(liveMemories);
    expect(report.totals.unchanged).toBe(0);
    expect(report.load?.upserted).toBe(report.totals.migrated);
  });

  it('a sampled Verify catches a corrupted memory in its sample; --verify full always does', async () => {
    // Prepare: one migrated memory's content changed behind the migration's back
    await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ module: string; target_id: string }>(
        `SELECT module, target_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated' ORDER BY source_id LIMIT 1`,
      );
      const row = rows[0]!;
      await c.query(`UPDATE "${row.module}_memories" SET content = content || ' (edited)' WHERE id = $1`, [
        row.target_id,
      ]);
    });
    const verification = async (result: Promise<StepRunResult>) => {
      const error = await result.then(
        () => null,
        (e: unknown) => e as Error,
      );
      return error;
    };

    // Act: a sample of none misses it; a sample as large as the source has it; full has it
    const missed = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, verifySample: 0 } });
    closers.push(missed.runtime);
    const sampled = await verification(
      runSteps({ sourceUrl, targetUrl, input: { ...INPUT, verifySample: liveMemories } }),
    );
    const full = await verification(
      runSteps({ sourceUrl, targetUrl, input: { ...INPUT, verifySample: 0, verify: 'full' } }),
    );

    // Assess
    const missedResult = await getJson(
      missed.runtime.store,
      runLayout(missed.run.runId).verification,
      written<VerificationResult & { scope?: unknown }>(),
    );
    expect(missedResult.counts.compared).toBe(0);
    expect(missedResult.scope).toEqual({ mode: 'sampled', sample: 0 });
    expect(sampled?.name).toBe('VerificationError');
    expect(sampled?.message).toMatch(/content/);
    expect(full?.name).toBe('VerificationError');
    expect(full?.message).toMatch(/content/);
  });
  it('a rules change moves exactly the memories whose module changes, as a clean run with those rules files them', async () => {
    // Prepare: the memories of the commonest metadata type go to another module now
    const before = await ledgerRows(targetUrl);
    const byType = new Map<string, { count: number; module: string }>();
    for (const l of before.values()) {
      if (!l.rule?.startsWith('type:') || !l.module) continue;
      const key = l.rule.slice('type:'.length);
      byType.set(key, { count: (byType.get(key)?.count ?? 0) + 1, module: l.module });
    }
    const [type, { module }] = [...byType].sort(([, a], [, b]) => b.count - a.count)[0]!;
    const dir = await mkdtemp(join(tmpdir(), 'bm-rules-'));
    const rulesFile = join(dir, 'rules.json');
    const elsewhere = module === 'creative' ? 'learning' : 'creative';
    await writeFile(rulesFile, JSON.stringify({ typeRules: { [type]: elsewhere } }));
    const input = { ...INPUT, rules: pathToFileURL(rulesFile).href };

    // Act
    const again = await runSteps({ sourceUrl, targetUrl, input });
    closers.push(again.runtime);

    // Assess: the moves are exactly the ledger's module changes, and the target is what a single
    // clean run with the new rules makes of the same source
    const after = await ledgerRows(targetUrl);
    const changed = [...after].filter(([id, l]) => before.get(id)?.module !== l.module);
    expect(changed.length).toBeGreaterThanOrEqual(byType.get(type)!.count);
    for (const [id, l] of before)
      if (l.rule === `type:${type}`) expect(after.get(id)?.module).toBe(elsewhere);
    expect((await reportOf(again)).load?.moved).toBe(changed.length);
    expect((again.outputs.verify as { ok: boolean }).ok).toBe(true);

    const clean = await freshDatabases();
    await withClient(sourceUrl, async (from) => {
      const { rows } = await from.query<{ id: string }>(
        'SELECT id::text FROM memories WHERE embedding IS NULL AND is_deleted IS NOT TRUE',
      );
      await generateBigMemory({ databaseUrl: clean.sourceUrl, ...GENERATED });
      await withClient(clean.sourceUrl, (to) =>
        to.query('UPDATE memories SET embedding = NULL WHERE id::text = ANY($1::text[])', [
          rows.map((r) => r.id),
        ]),
      );
    });
    const single = await runSteps({ sourceUrl: clean.sourceUrl, targetUrl: clean.targetUrl, input });
    closers.push(single.runtime);
    const { '"users"': _users, ...migrated } = await targetChecksums(targetUrl);
    const { '"users"': _cleanUsers, ...cleanMigrated } = await targetChecksums(clean.targetUrl);
    expect(migrated).toEqual(cleanMigrated);
  });
});
