import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BatchSummary, MemoryDecision } from '../../functions/core/batch.js';
import type { RebuildCmiResult } from '../../functions/core/cmi.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import type { RelationshipBatchSummary } from '../../functions/core/relationships.js';
import { renderReportHtml } from '../../functions/core/report/html.js';
import { renderReportMarkdown } from '../../functions/core/report/markdown.js';
import {
  buildMigrationReport,
  type ReportInput,
  SAMPLES_PER_MODULE,
} from '../../functions/core/report/model.js';
import {
  ESTIMATED_LOAD_MS_PER_MEMORY,
  ESTIMATED_SNAPSHOT_MS_PER_MEMORY,
} from '../../functions/core/report/timings.js';
import type { ModuleId } from '../../functions/core/types.js';
import { USER_DECISION_KINDS } from '../../functions/core/user-decisions.js';
import type { VerificationResult } from '../../functions/core/verification.js';
import type { UsersSummary } from '../../functions/db/user-migration.js';

// The report reads structural copies of the step outputs; these assignments fail to compile when
// a step's output drifts away from what the report expects.
type Assignable<T, U extends T> = U;
type _Batches = Assignable<ReportInput['batches'][number], BatchSummary>;
type _Users = Assignable<NonNullable<ReportInput['users']>, UsersSummary>;
type _Relationships = Assignable<ReportInput['relationships'][number], RelationshipBatchSummary>;
type _Cmi = Assignable<NonNullable<ReportInput['cmi']>, RebuildCmiResult>;
type _Verification = Assignable<NonNullable<ReportInput['verification']>, VerificationResult>;

/** A decision as sampled; `snippet` is optional content the batch step may add. */
type SampledDecision = MemoryDecision & { snippet?: string };

function decision(module: ModuleId, n: number, overrides: Partial<SampledDecision> = {}): SampledDecision {
  return {
    sourceId: `mem-${module}-${n}`,
    userId: 'user-1',
    status: 'migrated',
    module,
    rule: `category:${module}`,
    evidence: `source_metadata.category="${module}"`,
    confidence: 1,
    ...overrides,
  };
}

function batch(index: number, overrides: Partial<BatchSummary> = {}): BatchSummary {
  return {
    index,
    read: 100,
    migrated: 98,
    rejected: 2,
    byModule: { work: 60, technical: 38 },
    byRule: { 'type:project': 40, 'tag:code': 38, fallback: 22 },
    rejectsByReason: { empty_content: 2 },
    repairsByRule: { tags_null: 5 },
    load: null,
    embedding: null,
    samples: [
      decision('work', index * 10 + 1),
      decision('work', index * 10 + 2),
      decision('work', index * 10 + 3),
      decision('technical', index * 10 + 1),
      {
        ...decision('work', index * 10 + 9),
        status: 'rejected',
        reason: 'empty_content',
        detail: 'content is empty',
      },
    ],
    timings: { readMs: 40, embedMs: 0, prepareMs: 60, loadMs: 0 },
    ...overrides,
  };
}

const users: UsersSummary = {
  dryRun: true,
  total: 12,
  byDecision: {
    mapped: 1,
    matched_token: 6,
    created: 3,
    conflict_email_merged: 0,
    conflict_email_skipped: 1,
    conflict_token_skipped: 0,
    missing_email_placeholder: 0,
    missing_email_skipped: 1,
    not_found_skipped: 0,
  },
  created: 3,
  mapped: 10,
  unmapped: 2,
  conflicts: [
    {
      sourceUserId: 'u-7',
      decision: 'conflict_email_skipped',
      detail: 'email a@example.com belongs to fed-3',
    },
    { sourceUserId: 'u-9', decision: 'missing_email_skipped', detail: 'target requires an email' },
  ],
  conflictCount: 2,
};

function input(overrides: Partial<ReportInput> = {}, run: Partial<ReportInput['run']> = {}): ReportInput {
  return {
    run: {
      runId: 'run-2024-06-01',
      dryRun: true,
      status: 'succeeded',
      startedAt: '2024-06-01T10:00:00.000Z',
      finishedAt: '2024-06-01T10:00:03.000Z',
      options: { dryRun: true, preserveEmbeddings: true, batchSize: 500 },
      ...run,
    },
    source: { memories: 310, liveMemories: 300, deletedMemories: 10, users: 12, relations: 40 },
    plan: { batchCount: 3, relationBatchCount: 1, batchSize: 100 },
    users,
    batches: [batch(0), batch(1), batch(2)],
    relationships: [
      {
        index: 0,
        kind: 'relations',
        read: 40,
        migrated: 35,
        skippedByReason: { target_deleted: 3, self_relation: 2 },
        byType: { related: 30, references: 5 },
      },
      {
        index: 0,
        kind: 'project-links',
        read: 10,
        migrated: 9,
        skippedByReason: { project_not_found: 1 },
        byType: { belongs_to: 9 },
      },
    ],
    embeddings: { mode: 'preserve' },
    concurrency: 4,
    ...overrides,
  };
}

describe('Function: buildMigrationReport', () => {
  it('sums totals over batches and states that the accounting identity holds', () => {
    // Prepare
    const data = input();

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.totals).toEqual({
      batches: 3,
      read: 300,
      unchanged: 0,
      migrated: 294,
      rejected: 6,
      repaired: 15,
    });
    expect(report.accounting).toMatchObject({ basis: 'batches', liveSourceMemories: 300, holds: true });
    expect(report.accounting.statement).toBe(
      '300 live source memories = 294 would migrate + 6 would be rejected',
    );
    expect(report.rejectsByReason).toEqual([{ reason: 'empty_content', count: 6 }]);
    expect(report.repairsByRule).toEqual([{ rule: 'tags_null', count: 15 }]);
  });

  it('flags an accounting gap with the number of unaccounted memories', () => {
    // Prepare
    const data = input({
      source: { memories: 320, liveMemories: 310, deletedMemories: 10, users: 12, relations: 40 },
    });

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.accounting.holds).toBe(false);
    expect(report.accounting.statement).toContain('(10 unaccounted)');
  });

  it('takes the identity from verification counts when verification ran', () => {
    // Prepare
    const data = input(
      {
        verification: {
          ok: true,
          checks: [{ name: 'accounting', ok: true, expected: 300, actual: 300 }],
          counts: { sourceMemories: 300, migrated: 294, rejected: 6, unaccounted: 0 },
        },
      },
      { dryRun: false },
    );

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.accounting).toMatchObject({ basis: 'verification', holds: true });
  });

  it('lists all six modules with counts and shares, zero ones included', () => {
    // Prepare
    const data = input();

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.modules.map((m) => m.module)).toEqual([...MODULE_IDS]);
    expect(report.modules.find((m) => m.module === 'work')).toEqual({
      module: 'work',
      count: 180,
      percent: 61.2,
    });
    expect(report.modules.find((m) => m.module === 'creative')).toEqual({
      module: 'creative',
      count: 0,
      percent: 0,
    });
    expect(report.samples.map((s) => s.module)).toEqual([...MODULE_IDS]);
  });

  it('sorts rule hits by count, largest first, ties by name', () => {
    // Prepare
    const data = input({
      batches: [
        batch(0, { byRule: { 'tag:code': 5, fallback: 9, 'category:work': 5 } }),
        batch(1, { byRule: { fallback: 1, 'type:project': 20 } }),
      ],
    });

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.ruleHits.map((h) => [h.rule, h.count])).toEqual([
      ['type:project', 20],
      ['fallback', 10],
      ['category:work', 5],
      ['tag:code', 5],
    ]);
  });

  it('caps sample decisions per module and per reject reason', () => {
    // Prepare: 3 work samples and 1 reject per batch, over 5 batches
    const data = input({ batches: [0, 1, 2, 3, 4].map((i) => batch(i)) });

    // Act
    const report = buildMigrationReport(data);

    // Assess
    const work = report.samples.find((s) => s.module === 'work');
    expect(work?.decisions).toHaveLength(SAMPLES_PER_MODULE);
    expect(work?.decisions[0]?.sourceId).toBe('mem-work-1');
    expect(report.samples.find((s) => s.module === 'technical')?.decisions).toHaveLength(5);
    expect(report.rejectSamples).toEqual([{ reason: 'empty_content', decisions: expect.any(Array) }]);
    expect(report.rejectSamples[0]?.decisions).toHaveLength(5);
  });

  it('projects the real run from the dry run: measured read+prepare plus the load constant over the concurrency, plus the snapshot', () => {
    // Prepare: 300 memories read in 3 × (40 + 60) ms = 1 ms per memory
    const data = input();

    // Act
    const report = buildMigrationReport(data);

    // Assess
    const projected = report.timings.projected;
    expect(projected).toMatchObject({
      estimate: true,
      memories: 300,
      concurrency: 4,
      measuredMsPerMemory: 1,
    });
    expect(projected?.totalMs).toBeCloseTo(
      (300 * (1 + ESTIMATED_LOAD_MS_PER_MEMORY)) / 4 + 300 * ESTIMATED_SNAPSHOT_MS_PER_MEMORY,
      0,
    );
    expect(projected?.note).toMatch(/^Estimate:.*snapshot/);
    const withoutSnapshot = buildMigrationReport({ ...data, realRunSnapshots: false }).timings.projected;
    expect(withoutSnapshot?.totalMs).toBeCloseTo((300 * (1 + ESTIMATED_LOAD_MS_PER_MEMORY)) / 4, 1);
    expect(report.timings.measured).toMatchObject({
      wallMs: 3000,
      readMs: 120,
      prepareMs: 180,
      memoriesPerSecond: 100,
    });
  });

  it('leaves projected timings out of a real run', () => {
    // Prepare
    const data = input({}, { dryRun: false, options: { dryRun: false } });

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.timings.projected).toBeNull();
  });

  it('sums relationship accounting over relations and project links', () => {
    // Prepare
    const data = input();

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.relationships).toMatchObject({
      read: 50,
      migrated: 44,
      skipped: 6,
      holds: true,
      sourceRelations: 40,
      relations: { batches: 1, read: 40, migrated: 35, skipped: 5 },
      projectLinks: { batches: 1, read: 10, migrated: 9, skipped: 1 },
    });
    expect(report.relationships?.skippedByReason[0]).toEqual({ reason: 'target_deleted', count: 3 });
    expect(report.relationships?.byType).toEqual([
      { type: 'related', count: 30 },
      { type: 'belongs_to', count: 9 },
      { type: 'references', count: 5 },
    ]);
  });

  it('writes an error section with a hint for a failed run and masks credentials in the message', () => {
    // Prepare
    const data = input(
      { batches: [batch(0)] },
      {
        dryRun: false,
        status: 'failed',
        error: {
          name: 'TransientDatabaseError',
          message: 'connect ECONNREFUSED postgresql://migrator:s3cret@db.internal:5432/fed',
          step: 'MigrateBatch',
        },
      },
    );

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.error).toMatchObject({ name: 'TransientDatabaseError', step: 'MigrateBatch' });
    expect(report.error?.message).toBe('connect ECONNREFUSED postgresql://migrator:***@db.internal:5432/fed');
    expect(report.error?.hint).toMatch(/redrive the failed execution/);
    expect(report.nextSteps[0]?.text).toBe(report.error?.hint);
    expect(JSON.stringify(report)).not.toContain('s3cret');
  });

  it('gives the same report whatever order the batches arrive in', () => {
    // Prepare
    const forward = input();
    const backward = input({
      batches: [...forward.batches].reverse(),
      relationships: [...forward.relationships].reverse(),
    });

    // Act
    const a = buildMigrationReport(forward);
    const b = buildMigrationReport(backward);

    // Assess
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it('lists every user decision kind and the conflicts', () => {
    // Prepare
    const data = input();

    // Act
    const report = buildMigrationReport(data);

    // Assess
    expect(report.users?.byDecision).toHaveLength(USER_DECISION_KINDS.length);
    expect(report.users?.byDecision[1]).toEqual({ decision: 'matched_token', count: 6 });
    expect(report.users?.conflicts.map((c) => c.sourceUserId)).toEqual(['u-7', 'u-9']);
  });
  it('reports a run that failed before any batch ran', () => {
    // Prepare
    const data: ReportInput = {
      run: {
        runId: 'run-early',
        dryRun: false,
        status: 'failed',
        startedAt: '2024-06-01T10:00:00.000Z',
        finishedAt: '2024-06-01T10:00:01.000Z',
        options: {},
        error: { name: 'MigrationLockedError', message: 'run run-other holds the lock' },
      },
      batches: [],
      relationships: [],
    };

    // Act
    const report = buildMigrationReport(data);
    const markdown = renderReportMarkdown(report);
    const html = renderReportHtml(report);

    // Assess
    expect(report.totals).toEqual({
      batches: 0,
      read: 0,
      unchanged: 0,
      migrated: 0,
      rejected: 0,
      repaired: 0,
    });
    expect(report.accounting.holds).toBeNull();
    expect(report.modules.every((m) => m.count === 0 && m.percent === 0)).toBe(true);
    expect(report.error?.hint).toMatch(/Another run holds the lock/);
    expect(markdown).toContain('The users step did not run.');
    expect(html).toContain('<svg');
  });
});

describe('Function: renderReportMarkdown', () => {
  it('renders the badge, the key tables and the real-run command for a dry run', () => {
    // Prepare
    const report = buildMigrationReport(input());

    // Act
    const markdown = renderReportMarkdown(report);

    // Assess
    expect(markdown).toContain('# Migration report — run-2024-06-01');
    expect(markdown).toContain('**DRY RUN · ✅ SUCCEEDED**');
    expect(markdown).toContain('| Module | Memories | Share |  |');
    expect(markdown).toMatch(/\| work \| 180 \| 61\.2% \| `█+░*` \|/);
    expect(markdown).toContain('| `type:project` | 120 | 40.0% |');
    expect(markdown).toContain('| `empty_content` | 6 |');
    expect(markdown).toContain('## Users');
    expect(markdown).toContain('## Relationships');
    expect(markdown).toContain('### Projected real run (estimate)');
    expect(markdown).toContain('npm run migrate:bigmemory -- --preserve-embeddings\n');
    expect(markdown).toContain('✅ 300 live source memories = 294 would migrate + 6 would be rejected');
  });

  it('shows verification checks with marks and the hint of a failure', () => {
    // Prepare
    const report = buildMigrationReport(
      input(
        {
          verification: {
            ok: false,
            checks: [
              { name: 'accounting', ok: true, expected: 300, actual: 300 },
              { name: 'module_counts', ok: false, expected: 180, actual: 179, detail: 'work differs' },
            ],
            counts: { sourceMemories: 300, migrated: 294, rejected: 6, unaccounted: 0 },
          },
        },
        {
          dryRun: false,
          status: 'failed',
          error: { name: 'VerificationError', message: 'Verification failed: module_counts' },
        },
      ),
    );

    // Act
    const markdown = renderReportMarkdown(report);

    // Assess
    expect(markdown).toContain('**❌ FAILED**');
    expect(markdown).toContain('## ❌ What failed');
    expect(markdown).toContain('| ✅ | `accounting` | 300 | 300 | — |');
    expect(markdown).toContain('| ❌ | `module_counts` | 180 | 179 | work differs |');
    expect(markdown).toContain('**What to do:** The data was written but does not reconcile');
  });

  it('keeps data text from breaking tables or injecting HTML', () => {
    // Prepare
    const evil = decision('work', 1, { sourceId: 'm|1', detail: 'x', repairs: ['tags_null'] });
    const report = buildMigrationReport(
      input({
        users: {
          ...users,
          conflicts: [
            {
              sourceUserId: 'u',
              decision: 'missing_email_skipped',
              detail: '<img src=x onerror=alert(1)> | a',
            },
          ],
        },
      }),
    );
    report.samples[0]?.decisions.push({
      ...report.samples[0].decisions[0]!,
      ...evil,
      repairs: ['tags_null'],
      reason: null,
      detail: null,
      snippet: null,
    });

    // Act
    const markdown = renderReportMarkdown(report);

    // Assess
    expect(markdown).toContain('&lt;img src=x onerror=alert(1)&gt; \\| a');
    expect(markdown).toContain('`m\\|1`');
  });
});

describe('Function: renderReportHtml', () => {
  it('escapes markup in evidence and content and draws the module chart as inline SVG', () => {
    // Prepare
    const hostile = decision('creative', 1, {
      evidence: 'content~/<script>alert("x")</script>/',
      snippet: 'Poem: <b>roses</b> & "violets"',
    });
    const report = buildMigrationReport(
      input({
        batches: [
          batch(0, {
            byModule: { work: 60, technical: 37, creative: 1 },
            samples: [hostile],
          }),
        ],
      }),
    );

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(html).toContain('<svg');
    expect(html).not.toContain('<script');
    expect(html).toContain('content~/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;/');
    expect(html).toContain('Poem: &lt;b&gt;roses&lt;/b&gt; &amp; &quot;violets&quot;');
    expect(html).not.toMatch(/<link|src="http|href="http/);
  });

  it('renders a full sample report that a person can read', () => {
    // Prepare
    const rich = input({
      batches: [0, 1, 2].map((i) =>
        batch(i, {
          byModule: { work: 40, technical: 25, personal: 15, learning: 8, communication: 7, creative: 3 },
          byRule: { 'type:project': 30, 'tag:code': 25, 'category:personal': 15, centroid: 20, fallback: 8 },
          rejectsByReason: { empty_content: 1, unmapped_user: 1 },
          samples: [
            {
              ...decision('work', i, { snippet: 'Ship the Q3 roadmap: migrate billing to the new ledger' }),
            },
            {
              ...decision('technical', i, {
                rule: 'tag:code',
                evidence: 'content~/\\bfunction\\b/',
                confidence: 0.8,
                snippet: 'function parse(x) { return x < 3 && x > 1 }',
              }),
            },
            {
              ...decision('personal', i, {
                rule: 'centroid',
                evidence: 'nearest centroid personal (margin 0.12)',
                confidence: 0.12,
                repairs: ['tags_null'],
              }),
            },
            { ...decision('creative', i, { evidence: '<script>alert(1)</script>' }) },
            {
              ...decision('work', 90 + i),
              status: 'rejected',
              module: 'work',
              reason: 'unmapped_user',
              detail: 'user u-9: missing_email_skipped',
            },
          ],
        }),
      ),
    });
    const report = buildMigrationReport(rich);

    // Act
    const html = renderReportHtml(report);
    writeFileSync('/tmp/report-sample.html', html);
    writeFileSync('/tmp/report-sample.md', renderReportMarkdown(report));

    writeFileSync(
      '/tmp/report-sample-failed.html',
      renderReportHtml(
        buildMigrationReport({
          ...rich,
          run: {
            ...rich.run,
            dryRun: false,
            status: 'failed',
            error: {
              name: 'VerificationError',
              message: 'Verification failed: module_counts',
              step: 'Verify',
            },
          },
          batches: rich.batches.map((b) => ({
            ...b,
            load: { inserted: 90, upserted: 8, moved: 0, withdrawn: 0, path: 'mixed', refused: [] },
          })),
          cmi: {
            scanned: 294,
            created: 290,
            updated: 4,
            removedOrphans: 0,
            skippedMissingUser: 0,
            skippedIdConflict: 0,
            durationMs: 812,
          },
          verification: {
            ok: false,
            checks: [
              { name: 'accounting', ok: true, expected: 300, actual: 300 },
              {
                name: 'module_counts',
                ok: false,
                expected: { work: 120 },
                actual: { work: 119 },
                detail: 'work differs',
                samples: ['mem-work-7'],
              },
              { name: 'relationships', ok: true, skipped: true, detail: 'the relationship step has not run' },
            ],
            counts: { sourceMemories: 300, migrated: 294, rejected: 6, unaccounted: 0 },
          },
          embeddings: {
            mode: 'regenerate',
            model: 'text-embedding-3-small',
            requests: 3,
            tokens: 41_200,
            retries: 1,
            waitMs: 1500,
            estimatedCostUsd: 0.000824,
          },
        }),
      ),
    );

    // Assess
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const heading of [
      'Summary',
      'Modules',
      'Rule hits',
      'Sample decisions',
      'Rejects by reason',
      'Users',
      'Relationships',
      'Timings',
      'Next steps',
    ]) {
      expect(html).toContain(`<h2>${heading}</h2>`);
    }
    expect(html).toContain('npm run migrate:bigmemory -- --preserve-embeddings');
  });
});
