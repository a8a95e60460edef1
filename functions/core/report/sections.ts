/**
 * The report's sections, built once from the report data: every title, table, chart and sentence
 * that report.md and report.html show. Pure: the same report always gives the same sections.
 */
import type { ClassificationSection } from './classification.js';
import {
  formatConfidence,
  formatCount,
  formatDuration,
  formatEmbeddingApis,
  formatOptional,
  formatPercent,
  formatRate,
  formatRateBudget,
  formatUsd,
  formatValue,
} from './formatting.js';
import type { MigrationReport, SampleDecision } from './model.js';
import { searchSection } from './search-section.js';
import {
  type Block,
  code,
  columns,
  heading,
  note,
  type ReportDocument,
  type ReportHeader,
  type ReportSection,
  type Text,
  table,
  text,
} from './section-model.js';

const section = (title: string, blocks: Block[]): ReportSection => ({ title, blocks });

/** Label / value rows. */
const facts = (rows: Text[][], tiles = false): Block =>
  table(columns(['', ''], [1]), rows, tiles ? { tiles: true } : {});

/** A bold label, a mark and a sentence: an identity that holds or not. */
const verdict = (label: string, ok: boolean | null, statement: Text): Block =>
  text([{ strong: label }, ' ', { mark: ok }, ' ', statement], { verdict: ok });

function header(r: MigrationReport): ReportHeader {
  return {
    title: `Migration report — ${r.run.runId}`,
    dryRun: r.run.dryRun,
    succeeded: r.run.status === 'succeeded',
    timing: `Started ${r.run.startedAt} · finished ${r.run.finishedAt} · took ${formatDuration(r.timings.measured.wallMs)}`,
    options: Object.entries(r.run.options).map(([k, v]) => `${k}=${formatValue(v)}`),
    command: r.commands
      ? { line: r.commands.rerun, note: 'with SOURCE_DATABASE_URL and DATABASE_URL as for this run' }
      : null,
  };
}

function failure(r: MigrationReport): ReportSection[] {
  if (!r.error) return [];
  const step: Text = r.error.step ? [' in step ', { strong: r.error.step }] : '';
  return [
    {
      title: 'What failed',
      alarm: true,
      blocks: [
        {
          kind: 'alert',
          paragraphs: [
            [{ strong: r.error.name }, step, ': ', r.error.message],
            [{ strong: 'What to do:' }, ' ', r.error.hint],
          ],
        },
      ],
    },
  ];
}

function summaryRows(r: MigrationReport): Text[][] {
  const dry = r.run.dryRun;
  const rows: Text[][] = [];
  if (r.source) {
    rows.push([
      'Source memories (live / deleted)',
      `${formatCount(r.source.liveMemories)} / ${formatCount(r.source.deletedMemories)}`,
    ]);
    rows.push([
      'Source users / relations',
      `${formatCount(r.source.users)} / ${formatCount(r.source.relations)}`,
    ]);
    if (r.source.futureUpdated)
      rows.push([
        'Source memories updated after the source clock’s now',
        formatCount(r.source.futureUpdated),
      ]);
  }
  rows.push(['Batches', formatCount(r.totals.batches)]);
  rows.push(['Memories read', formatCount(r.totals.read)]);
  if (r.totals.unchanged) rows.push(['Unchanged since migrated (skipped)', formatCount(r.totals.unchanged)]);
  rows.push([dry ? 'Would migrate' : 'Migrated', formatCount(r.totals.migrated)]);
  rows.push([dry ? 'Would reject' : 'Rejected', formatCount(r.totals.rejected)]);
  rows.push(['Repairs applied', formatCount(r.totals.repaired)]);
  if (r.load) {
    const { inserted, upserted, moved, withdrawn } = r.load;
    rows.push([
      'Loaded (inserted / upserted / moved module / withdrawn)',
      [inserted, upserted, moved, withdrawn].map(formatCount).join(' / '),
    ]);
  }
  if (r.deletes) {
    const d = r.deletes;
    rows.push([
      `Deleted in the source: ${dry ? 'would remove' : 'removed'} memories / relationships / users${d.kept ? ' (kept: --keep-deleted)' : ''}`,
      [d.memories, d.relationships, d.users].map(formatCount).join(' / '),
    ]);
    if (d.projectIdsCleared > 0)
      rows.push(['Tasks whose project was removed: project_id cleared', formatCount(d.projectIdsCleared)]);
  }
  if (r.users) rows.push(['Users', formatCount(r.users.total)]);
  if (r.relationships)
    rows.push([
      dry ? 'Relationships that would migrate' : 'Relationships migrated',
      formatCount(r.relationships.migrated),
    ]);
  if (r.verification)
    rows.push(['Verification', [{ mark: r.verification.ok }, r.verification.ok ? ' passed' : ' failed']]);
  return rows;
}

function summary(r: MigrationReport): ReportSection {
  const t = r.rejectThresholds;
  return section('Summary', [
    facts(summaryRows(r), true),
    verdict('Accounting:', r.accounting.holds, r.accounting.statement),
    ...(t ? [verdict('Reject thresholds:', t.ok, t.statement)] : []),
  ]);
}

function modules(r: MigrationReport): ReportSection {
  const max = Math.max(1, ...r.modules.map((m) => m.count));
  return section('Modules', [
    table(
      columns(['Module', 'Memories', 'Share', ''], [1, 2], { bar: 3 }),
      r.modules.map((m) => [m.module, formatCount(m.count), formatPercent(m.percent), { bar: m.percent }]),
      {
        chart: {
          title: 'Memories per module',
          bars: r.modules.map((m) => ({
            label: m.module,
            share: m.count / max,
            tone: m.module,
            caption: `${formatCount(m.count)} · ${formatPercent(m.percent)}`,
          })),
        },
      },
    ),
  ]);
}

function llmPass(llm: NonNullable<ClassificationSection['llm']>): string {
  const cost = llm.costUsd === null ? 'unknown price' : `$${llm.costUsd.toFixed(4)}`;
  return llm.estimated
    ? `LLM pass (${llm.model}), estimate: ${llm.candidates} unclear memories in ${llm.requests} requests, ~${llm.inputTokens + llm.outputTokens} tokens, ${cost}.`
    : `LLM pass (${llm.model}): ${llm.candidates} unclear memories, ${llm.decided} placed by the model, ${llm.fellBack} kept their offline decision (${llm.malformed} malformed answers), ${llm.requests} requests.`;
}

export function classificationHealth(c: ClassificationSection): ReportSection {
  return section('Classification health', [
    ...(c.warning ? [text([{ strong: 'Warning:' }, ' ', c.warning], { warning: true })] : []),
    text(
      `Fallback: ${c.fallback.count} of ${c.decided} (${c.fallback.percent}%). Decided by: ${c.byKind.map((k) => `${k.kind} ${k.percent}%`).join(', ')}.`,
    ),
    table(
      columns(['Confidence', 'Memories'], [1]),
      c.confidenceHistogram.map((b) => [`${b.from.toFixed(1)}–${b.to.toFixed(1)}`, String(b.count)]),
    ),
    table(
      columns(
        ['Module', 'Memories', `Predicted by the dry run${c.predictedBy ? ` (${c.predictedBy})` : ''}`],
        [1, 2],
      ),
      c.modules.map((m) => [
        code(m.module),
        String(m.count),
        m.predicted === null ? '–' : String(m.predicted),
      ]),
    ),
    ...(c.llm ? [text(llmPass(c.llm))] : []),
  ]);
}

function ruleHits(r: MigrationReport): ReportSection {
  if (r.ruleHits.length === 0) return section('Rule hits', [text('No rule fired.')]);
  const top = Math.max(1, ...r.ruleHits.map((h) => h.count));
  return section('Rule hits', [
    table(
      columns(['Rule', 'Hits', 'Share', ''], [1, 2], { bar: 3 }),
      r.ruleHits.map((h) => [
        code(h.rule),
        formatCount(h.count),
        formatPercent(h.percent),
        { bar: (h.count / top) * 100 },
      ]),
    ),
  ]);
}

function decisionTable(decisions: SampleDecision[], rejected: boolean): Block {
  return table(
    columns(
      ['Source id', 'Rule', 'Evidence', 'Confidence', rejected ? 'Detail' : 'Repairs', 'Content'],
      [3],
      {
        wide: 5,
      },
    ),
    decisions.map((d) => [
      code(d.sourceId, 'anywhere'),
      d.rule ? code(d.rule) : '—',
      d.evidence ? code(d.evidence, 'words') : '—',
      formatConfidence(d.confidence),
      rejected ? (d.detail ?? '—') : d.repairs.join(', ') || '—',
      d.snippet ? d.snippet : { note: '(empty)' },
    ]),
  );
}

function samples(r: MigrationReport): ReportSection {
  const groups: Block[] = r.samples.map(({ module, decisions }) =>
    decisions.length === 0
      ? { kind: 'group', title: `${module} (no memories)`, open: false, blocks: [] }
      : {
          kind: 'group',
          title: `${module} (${decisions.length})`,
          open: true,
          blocks: [decisionTable(decisions, false)],
        },
  );
  for (const { reason, decisions } of r.rejectSamples) {
    groups.push({
      kind: 'group',
      title: `Rejected: ${reason} (${decisions.length})`,
      open: false,
      blocks: [decisionTable(decisions, true)],
    });
  }
  return section('Sample decisions', groups);
}

/** A ranked count table; when there is nothing to count, the sentence `none` or nothing at all. */
function counted(
  titles: [string, string],
  rows: Array<[string, number]>,
  none: string | null = null,
): Block[] {
  if (rows.length === 0) return none === null ? [] : [text(none)];
  return [
    table(
      columns(titles, [1]),
      rows.map(([name, count]) => [code(name), formatCount(count)]),
    ),
  ];
}

function rejectsAndRepairs(r: MigrationReport): ReportSection[] {
  return [
    section('Rejects by reason', [
      ...counted(
        ['Reason', 'Memories'],
        r.rejectsByReason.map((x) => [x.reason, x.count]),
        'No memory was rejected.',
      ),
    ]),
    section('Repairs by rule', [
      ...counted(
        ['Repair', 'Memories'],
        r.repairsByRule.map((x) => [x.rule, x.count]),
        'No repair was needed.',
      ),
    ]),
  ];
}

function users(r: MigrationReport): ReportSection {
  const u = r.users;
  if (!u) return section('Users', [text('The users step did not run.')]);
  const blocks = [
    text(
      `${formatCount(u.total)} source users: ${formatCount(u.mapped)} with a target user (${formatCount(u.created)} created), ${formatCount(u.unmapped)} unmapped.`,
    ),
    ...counted(
      ['Decision', 'Users'],
      u.byDecision.map((d) => [d.decision, d.count]),
    ),
  ];
  if (u.conflictCount > 0) {
    blocks.push(
      heading(`Conflicts (${formatCount(u.conflictCount)})`),
      table(
        columns(['Source user', 'Decision', 'Detail']),
        u.conflicts.map((c) => [code(c.sourceUserId), code(c.decision), c.detail]),
      ),
    );
    if (u.conflicts.length < u.conflictCount)
      blocks.push(note(`First ${formatCount(u.conflicts.length)} listed.`));
  }
  return section('Users', blocks);
}

function relationships(r: MigrationReport): ReportSection {
  const x = r.relationships;
  if (!x) return section('Relationships', [text('The relationship step did not run.')]);
  const dry = r.run.dryRun;
  const row = (label: Text, p: { read: number; migrated: number; skipped: number }): Text[] => [
    label,
    formatCount(p.read),
    formatCount(p.migrated),
    formatCount(p.skipped),
  ];
  const source =
    x.sourceRelations === null ? '' : ` (source holds ${formatCount(x.sourceRelations)} relations)`;
  const blocks = [
    table(
      columns(['', 'Read', dry ? 'Would migrate' : 'Migrated', dry ? 'Would skip' : 'Skipped'], [1, 2, 3]),
      [
        row('Memory relations', x.relations),
        row('Project links', x.projectLinks),
        row({ strong: 'Total' }, x),
      ],
    ),
    verdict(
      'Accounting:',
      x.holds,
      `${formatCount(x.read)} read ${x.holds ? '=' : '≠'} ${formatCount(x.migrated)} ${dry ? 'would migrate' : 'migrated'} + ${formatCount(x.skipped)} ${dry ? 'would be skipped' : 'skipped'}${source}`,
    ),
  ];
  if (!dry && x.resolved < x.read)
    blocks.push(
      note(
        `${formatCount(x.resolved)} of ${formatCount(x.read)} resolved again; the rest stood as an earlier run left them (${formatCount(x.itemsKept)} of ${formatCount(x.items)} items whole).`,
      ),
    );
  blocks.push(
    ...counted(
      ['Skipped because', 'Count'],
      x.skippedByReason.map((k) => [k.reason, k.count]),
    ),
    ...counted(
      ['Type', 'Count'],
      x.byType.map((t) => [t.type, t.count]),
    ),
  );
  return section('Relationships', blocks);
}

function cmi(r: MigrationReport): ReportSection[] {
  const c = r.cmi;
  if (!c) return [];
  const titles = [
    'Scanned',
    'Created',
    'Updated',
    'Orphans removed',
    'Skipped (missing user)',
    'Skipped (id conflict)',
    'Took',
  ];
  return [
    section('Central Memory Index', [
      table(
        columns(
          titles,
          titles.map((_, i) => i),
        ),
        [
          [c.scanned, c.created, c.updated, c.removedOrphans, c.skippedMissingUser, c.skippedIdConflict]
            .map(formatCount)
            .concat(formatDuration(c.durationMs)),
        ],
      ),
    ]),
  ];
}

function notMigrated(r: MigrationReport): ReportSection[] {
  const n = r.notMigrated;
  if (!n) return [];
  return [
    section('Not migrated', [
      text(
        `${formatCount(n.memories)} live memories in ${n.ranges.length} key range(s) whose batch failed: the run tolerated it (toleratedFailurePercentage / toleratedFailureCount). A rerun migrates them.`,
      ),
      table(
        columns(['Range', 'After key', 'Up to key', 'Memories'], [0, 3]),
        n.ranges.map((range) => [
          String(range.index),
          range.fromKey === null ? '(start)' : code(range.fromKey),
          range.toKey === null ? '(end)' : code(range.toKey),
          formatCount(range.memories),
        ]),
      ),
    ]),
  ];
}

function verification(r: MigrationReport): ReportSection[] {
  if (!r.verification)
    return r.run.dryRun ? [] : [section('Verification', [text('Verification did not run.')])];
  return [
    section('Verification', [
      table(
        columns(['', 'Check', 'Expected', 'Actual', 'Detail']),
        r.verification.checks.map((c) => {
          const lines: Text[] = [
            ...(c.detail ? [c.detail] : []),
            ...(c.samples.length > 0
              ? [{ note: ['e.g. ', ...c.samples.flatMap((s, i) => (i > 0 ? [' ', code(s)] : [code(s)]))] }]
              : []),
          ];
          return [
            { mark: c.ok, skipped: c.skipped },
            code(c.name),
            { value: c.expected },
            { value: c.actual },
            lines.length > 0 ? { lines } : '—',
          ];
        }),
      ),
    ]),
  ];
}

function embeddings(r: MigrationReport): ReportSection[] {
  const e = r.embeddings;
  if (!e) return [];
  const rows: Text[][] = [['Mode', e.mode === 'preserve' ? 'preserve (copied bit for bit)' : 'regenerate']];
  if (e.model) rows.push(['Model', code(e.model)]);
  if (e.mode === 'regenerate') {
    rows.push(['Requests / tokens', `${formatOptional(e.requests)} / ${formatOptional(e.tokens)}`]);
    rows.push(['Retries / waited', `${formatOptional(e.retries)} / ${formatDuration(e.waitMs)}`]);
    const budget = formatRateBudget(e);
    if (budget !== null) rows.push(['Rate budget', budget]);
    rows.push([
      'Estimated requests / tokens',
      `${formatOptional(e.estimatedRequests)} / ${formatOptional(e.estimatedTokens)}`,
    ]);
    rows.push(['Estimated cost', formatUsd(e.estimatedCostUsd)]);
    if (e.apiModes) rows.push(['Sync vs Batch API', formatEmbeddingApis(e.apiModes, e.api)]);
    if (e.batchInputs !== null) rows.push(['From Batch API output', formatCount(e.batchInputs)]);
  } else {
    rows.push(['Cost', '$0 (no API calls)']);
  }
  return [section('Embeddings and cost', [table(columns(['', '']), rows)])];
}

function timings(r: MigrationReport): ReportSection {
  const t = r.timings.measured;
  const blocks = [
    table(columns(['Step', 'Time'], [1]), [
      ['Wall clock', formatDuration(t.wallMs)],
      ['Read (sum over batches)', formatDuration(t.readMs)],
      ['Embed', formatDuration(t.embedMs)],
      ['Classify + transform', formatDuration(t.prepareMs)],
      ['Load', formatDuration(t.loadMs)],
      ['CMI rebuild', formatDuration(t.cmiMs)],
      ['Throughput (wall clock)', formatRate(t.memoriesPerSecond)],
      ['Throughput (per worker)', formatRate(t.memoriesPerWorkerSecond)],
      ...(t.slowestBatch
        ? [[`Slowest batch (#${t.slowestBatch.index})`, formatDuration(t.slowestBatch.ms)]]
        : []),
    ]),
  ];
  const p = r.timings.projected;
  if (p) {
    blocks.push(
      heading('Projected real run (estimate)'),
      text([
        'About ',
        { strong: formatDuration(p.totalMs) },
        ` for ${formatCount(p.memories)} memories (${formatRate(p.memoriesPerSecond)}): ` +
          `${p.measuredMsPerMemory} ms measured + ${p.loadMsPerMemory} ms load per memory, ${p.concurrency} at a time, plus about ${formatDuration(p.snapshotMs)} for the snapshot.`,
      ]),
      note(p.note),
    );
  }
  return section('Timings', blocks);
}

export function reportSections(report: MigrationReport): ReportDocument {
  return {
    header: header(report),
    sections: [
      ...failure(report),
      summary(report),
      modules(report),
      ...(report.classification ? [classificationHealth(report.classification)] : []),
      ruleHits(report),
      samples(report),
      ...rejectsAndRepairs(report),
      users(report),
      relationships(report),
      ...cmi(report),
      ...notMigrated(report),
      ...verification(report),
      ...searchSection(report.search),
      ...embeddings(report),
      timings(report),
      section('Next steps', [{ kind: 'steps', steps: report.nextSteps }]),
    ],
  };
}
