/**
 * report.md: the report for a terminal, a pull request or a ticket. Text from the data (evidence,
 * details, content snippets) is escaped so it can neither break a table nor inject HTML into a
 * Markdown viewer.
 */
import { classificationMarkdown } from './classification.js';
import {
  checkMark,
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
  runBadge,
  textBar,
} from './formatting.js';
import type { MigrationReport, SampleDecision } from './model.js';
import { searchSectionMarkdown } from './search-section.js';

/** Escapes table-breaking and HTML-significant characters; backslash-escapes Markdown emphasis. */
function md(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/([`*[\]])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

/** Inline code: Markdown inside is literal, so only backticks, pipes and line breaks need care. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}\``;
}

function table(headers: string[], rows: string[][], align: ('l' | 'r')[] = []): string[] {
  const rule = headers.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [
    `| ${headers.join(' | ')} |`,
    `| ${rule.join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ];
}

const section = (title: string, body: string[]) => [`## ${title}`, '', ...body];

function header(r: MigrationReport): string[] {
  const options = Object.entries(r.run.options)
    .map(([k, v]) => code(`${k}=${formatValue(v)}`))
    .join(' ');
  return [
    `# Migration report — ${md(r.run.runId)}`,
    '',
    `**${runBadge(r)}**`,
    '',
    `Started ${md(r.run.startedAt)} · finished ${md(r.run.finishedAt)} · took ${formatDuration(r.timings.measured.wallMs)}`,
    '',
    ...(options ? [`Options: ${options}`, ''] : []),
    ...(r.commands
      ? [`Command (with SOURCE_DATABASE_URL and DATABASE_URL as for this run): ${code(r.commands.rerun)}`, '']
      : []),
  ];
}

function errorSection(r: MigrationReport): string[] {
  if (!r.error) return [];
  return section('❌ What failed', [
    `**${md(r.error.name)}**${r.error.step ? ` in step **${md(r.error.step)}**` : ''}: ${md(r.error.message)}`,
    '',
    `**What to do:** ${md(r.error.hint)}`,
    '',
  ]);
}

function summary(r: MigrationReport): string[] {
  const rows: string[][] = [];
  if (r.source) {
    rows.push([
      'Source memories (live / deleted)',
      `${formatCount(r.source.liveMemories)} / ${formatCount(r.source.deletedMemories)}`,
    ]);
    rows.push([
      'Source users / relations',
      `${formatCount(r.source.users)} / ${formatCount(r.source.relations)}`,
    ]);
    if (r.source.futureUpdated) {
      rows.push([
        'Source memories updated after the source clock’s now',
        formatCount(r.source.futureUpdated),
      ]);
    }
  }
  rows.push(['Batches', formatCount(r.totals.batches)]);
  rows.push(['Memories read', formatCount(r.totals.read)]);
  if (r.totals.unchanged) rows.push(['Unchanged since migrated (skipped)', formatCount(r.totals.unchanged)]);
  rows.push([r.run.dryRun ? 'Would migrate' : 'Migrated', formatCount(r.totals.migrated)]);
  rows.push([r.run.dryRun ? 'Would reject' : 'Rejected', formatCount(r.totals.rejected)]);
  rows.push(['Repairs applied', formatCount(r.totals.repaired)]);
  if (r.load) {
    rows.push([
      'Loaded (inserted / upserted / moved / withdrawn)',
      [r.load.inserted, r.load.upserted, r.load.moved, r.load.withdrawn].map(formatCount).join(' / '),
    ]);
  }
  if (r.deletes) {
    const d = r.deletes;
    rows.push([
      `Deleted in the source: ${r.run.dryRun ? 'would remove' : 'removed'} memories / relationships / users${d.kept ? ' (kept: --keep-deleted)' : ''}`,
      [d.memories, d.relationships, d.users].map(formatCount).join(' / '),
    ]);
    if (d.projectIdsCleared > 0)
      rows.push(['Tasks whose project was removed: project_id cleared', formatCount(d.projectIdsCleared)]);
  }
  if (r.relationships) {
    rows.push([
      r.run.dryRun ? 'Relationships that would migrate' : 'Relationships migrated',
      formatCount(r.relationships.migrated),
    ]);
  }
  if (r.verification) rows.push(['Verification', r.verification.ok ? '✅ passed' : '❌ failed']);
  return section('Summary', [
    ...table(['', ''], rows, ['l', 'r']),
    `**Accounting:** ${checkMark(r.accounting.holds)} ${md(r.accounting.statement)}`,
    '',
    ...(r.rejectThresholds
      ? [`**Reject thresholds:** ${checkMark(r.rejectThresholds.ok)} ${md(r.rejectThresholds.statement)}`, '']
      : []),
  ]);
}

function modules(r: MigrationReport): string[] {
  return section(
    'Modules',
    table(
      ['Module', 'Memories', 'Share', ''],
      r.modules.map((m) => [
        m.module,
        formatCount(m.count),
        formatPercent(m.percent),
        `\`${textBar(m.percent)}\``,
      ]),
      ['l', 'r', 'r', 'l'],
    ),
  );
}

function ruleHits(r: MigrationReport): string[] {
  if (r.ruleHits.length === 0) return section('Rule hits', ['No rule fired.', '']);
  return section(
    'Rule hits',
    table(
      ['Rule', 'Hits', 'Share'],
      r.ruleHits.map((h) => [code(h.rule), formatCount(h.count), formatPercent(h.percent)]),
      ['l', 'r', 'r'],
    ),
  );
}

function decisionRows(decisions: SampleDecision[], withReason: boolean): string[][] {
  return decisions.map((d) => [
    code(d.sourceId),
    d.rule ? code(d.rule) : '—',
    d.evidence ? code(d.evidence) : '—',
    formatConfidence(d.confidence),
    md(withReason ? (d.detail ?? '—') : d.repairs.join(', ') || '—'),
    md(d.snippet ?? ''),
  ]);
}

function samples(r: MigrationReport): string[] {
  const body: string[] = [];
  for (const { module, decisions } of r.samples) {
    body.push(`### ${module}`, '');
    if (decisions.length === 0) body.push('_No memories._', '');
    else
      body.push(
        ...table(
          ['Source id', 'Rule', 'Evidence', 'Confidence', 'Repairs', 'Content'],
          decisionRows(decisions, false),
        ),
      );
  }
  for (const { reason, decisions } of r.rejectSamples) {
    body.push(`### Rejected: ${md(reason)}`, '');
    body.push(
      ...table(
        ['Source id', 'Rule', 'Evidence', 'Confidence', 'Detail', 'Content'],
        decisionRows(decisions, true),
      ),
    );
  }
  return section('Sample decisions', body);
}

function rejectsAndRepairs(r: MigrationReport): string[] {
  const rejects =
    r.rejectsByReason.length === 0
      ? ['No memory was rejected.', '']
      : table(
          ['Reason', 'Memories'],
          r.rejectsByReason.map((x) => [code(x.reason), formatCount(x.count)]),
          ['l', 'r'],
        );
  const repairs =
    r.repairsByRule.length === 0
      ? ['No repair was needed.', '']
      : table(
          ['Repair', 'Memories'],
          r.repairsByRule.map((x) => [code(x.rule), formatCount(x.count)]),
          ['l', 'r'],
        );
  return [...section('Rejects by reason', rejects), ...section('Repairs by rule', repairs)];
}

function users(r: MigrationReport): string[] {
  const u = r.users;
  if (!u) return section('Users', ['The users step did not run.', '']);
  const body = [
    `${formatCount(u.total)} source users: ${formatCount(u.mapped)} with a target user (${formatCount(u.created)} created), ${formatCount(u.unmapped)} unmapped.`,
    '',
    ...table(
      ['Decision', 'Users'],
      u.byDecision.map((d) => [code(d.decision), formatCount(d.count)]),
      ['l', 'r'],
    ),
  ];
  if (u.conflictCount > 0) {
    body.push(`### Conflicts (${formatCount(u.conflictCount)})`, '');
    body.push(
      ...table(
        ['Source user', 'Decision', 'Detail'],
        u.conflicts.map((c) => [code(c.sourceUserId), code(c.decision), md(c.detail)]),
      ),
    );
    if (u.conflicts.length < u.conflictCount)
      body.push(`_First ${formatCount(u.conflicts.length)} listed._`, '');
  }
  return section('Users', body);
}

function relationships(r: MigrationReport): string[] {
  const x = r.relationships;
  if (!x) return section('Relationships', ['The relationship step did not run.', '']);
  const body = [
    ...table(
      ['', 'Read', r.run.dryRun ? 'Would migrate' : 'Migrated', r.run.dryRun ? 'Would skip' : 'Skipped'],
      [
        [
          'Memory relations',
          formatCount(x.relations.read),
          formatCount(x.relations.migrated),
          formatCount(x.relations.skipped),
        ],
        [
          'Project links',
          formatCount(x.projectLinks.read),
          formatCount(x.projectLinks.migrated),
          formatCount(x.projectLinks.skipped),
        ],
        ['**Total**', formatCount(x.read), formatCount(x.migrated), formatCount(x.skipped)],
      ],
      ['l', 'r', 'r', 'r'],
    ),
    `**Accounting:** ${checkMark(x.holds)} ${formatCount(x.read)} read ${x.holds ? '=' : '≠'} ${formatCount(x.migrated)} ${r.run.dryRun ? 'would migrate' : 'migrated'} + ${formatCount(x.skipped)} ${r.run.dryRun ? 'would be skipped' : 'skipped'}` +
      (x.sourceRelations === null ? '' : ` (source holds ${formatCount(x.sourceRelations)} relations)`),
    '',
  ];
  if (x.skippedByReason.length > 0) {
    body.push(
      ...table(
        ['Skipped because', 'Count'],
        x.skippedByReason.map((s) => [code(s.reason), formatCount(s.count)]),
        ['l', 'r'],
      ),
    );
  }
  if (x.byType.length > 0) {
    body.push(
      ...table(
        ['Type', 'Count'],
        x.byType.map((t) => [code(t.type), formatCount(t.count)]),
        ['l', 'r'],
      ),
    );
  }
  return section('Relationships', body);
}

function cmi(r: MigrationReport): string[] {
  if (!r.cmi) return [];
  const c = r.cmi;
  return section(
    'Central Memory Index',
    table(
      [
        'Scanned',
        'Created',
        'Updated',
        'Orphans removed',
        'Skipped (missing user)',
        'Skipped (id conflict)',
        'Took',
      ],
      [
        [c.scanned, c.created, c.updated, c.removedOrphans, c.skippedMissingUser, c.skippedIdConflict]
          .map(formatCount)
          .concat(formatDuration(c.durationMs)),
      ],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
}

function verification(r: MigrationReport): string[] {
  if (!r.verification) return r.run.dryRun ? [] : section('Verification', ['Verification did not run.', '']);
  return section(
    'Verification',
    table(
      ['', 'Check', 'Expected', 'Actual', 'Detail'],
      r.verification.checks.map((c) => [
        checkMark(c.ok, c.skipped),
        code(c.name),
        md(formatValue(c.expected)),
        md(formatValue(c.actual)),
        md(
          [c.detail ?? '', c.samples.length > 0 ? `e.g. ${c.samples.join(', ')}` : '']
            .filter(Boolean)
            .join(' — ') || '—',
        ),
      ]),
    ),
  );
}

function notMigrated(r: MigrationReport): string[] {
  if (!r.notMigrated) return [];
  return section('Not migrated', [
    `${formatCount(r.notMigrated.memories)} live memories in ${r.notMigrated.ranges.length} key range(s) whose batch failed: the run tolerated it (toleratedFailurePercentage / toleratedFailureCount). A rerun migrates them.`,
    '',
    ...table(
      ['Range', 'After key', 'Up to key', 'Memories'],
      r.notMigrated.ranges.map((range) => [
        String(range.index),
        range.fromKey === null ? '(start)' : code(range.fromKey),
        range.toKey === null ? '(end)' : code(range.toKey),
        formatCount(range.memories),
      ]),
      ['r', 'l', 'l', 'r'],
    ),
  ]);
}

function embeddings(r: MigrationReport): string[] {
  const e = r.embeddings;
  if (!e) return [];
  const rows: string[][] = [['Mode', e.mode === 'preserve' ? 'preserve (copied bit for bit)' : 'regenerate']];
  if (e.model) rows.push(['Model', md(e.model)]);
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
    if (e.apiModes) rows.push(['Sync vs Batch API', md(formatEmbeddingApis(e.apiModes, e.api))]);
    if (e.batchInputs !== null) rows.push(['From Batch API output', formatCount(e.batchInputs)]);
  } else {
    rows.push(['Cost', '$0 (no API calls)']);
  }
  return section('Embeddings and cost', table(['', ''], rows));
}

function timings(r: MigrationReport): string[] {
  const t = r.timings.measured;
  const body = table(
    ['Step', 'Time'],
    [
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
    ],
    ['l', 'r'],
  );
  const p = r.timings.projected;
  if (p) {
    body.push(
      '### Projected real run (estimate)',
      '',
      `About **${formatDuration(p.totalMs)}** for ${formatCount(p.memories)} memories (${formatRate(p.memoriesPerSecond)}): ` +
        `${p.measuredMsPerMemory} ms measured + ${p.loadMsPerMemory} ms load per memory, ${p.concurrency} at a time, plus about ${formatDuration(p.snapshotMs)} for the snapshot.`,
      '',
      `_${md(p.note)}_`,
      '',
    );
  }
  return section('Timings', body);
}

function nextSteps(r: MigrationReport): string[] {
  const body: string[] = [];
  for (const step of r.nextSteps) {
    body.push(`- ${md(step.text)}`);
    if (step.code) body.push('', `  \`\`\`${step.language ?? 'sh'}`, `  ${step.code}`, '  ```', '');
  }
  return section('Next steps', [...body, '']);
}

export function renderReportMarkdown(report: MigrationReport): string {
  return [
    ...header(report),
    ...errorSection(report),
    ...summary(report),
    ...modules(report),
    ...(report.classification ? classificationMarkdown(report.classification) : []),
    ...ruleHits(report),
    ...samples(report),
    ...rejectsAndRepairs(report),
    ...users(report),
    ...relationships(report),
    ...cmi(report),
    ...notMigrated(report),
    ...verification(report),
    ...searchSectionMarkdown(report.search, { md, table }),
    ...embeddings(report),
    ...timings(report),
    ...nextSteps(report),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()
    .concat('\n');
}
