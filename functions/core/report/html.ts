/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts or external assets) that
 * opens straight from S3 or a laptop. Every string from the data is escaped, and a
 * Content-Security-Policy forbids scripts besides, since evidence and content come from users.
 */
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
  runBadge,
} from './formatting.js';
import type { MigrationReport, SampleDecision } from './model.js';
import { searchSectionHtml } from './search-section.js';

const MODULE_COLOURS: Record<string, string> = {
  work: '#2563eb',
  personal: '#db2777',
  technical: '#059669',
  learning: '#d97706',
  communication: '#7c3aed',
  creative: '#dc2626',
};

const STYLE = `
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--ok:#047857;--bad:#b91c1c;--warn:#b45309}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1360px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:0 0 8px;word-break:break-all}h2{font-size:19px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
.badges{margin:8px 0 4px}.badge{display:inline-block;padding:3px 10px;border-radius:999px;font-weight:600;font-size:13px;margin-right:6px;color:#fff}
.badge.dry{background:var(--warn)}.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}
.meta{color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}.card .n{font-size:24px;font-weight:700}.card .l{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;margin:8px 0 16px;font-size:14px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:break-word}th{background:#f3f4f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:1px 4px;border-radius:4px;white-space:nowrap}
pre.json{background:#f3f4f6;color:var(--fg);white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0;font-size:12px}td details{border:none;padding:0;margin:0}
code.wrap{white-space:normal;overflow-wrap:anywhere}td.bar-cell{width:35%}
code.id{white-space:normal;word-break:break-all;font-size:11.5px}td.content{width:38%}
.mark{font-weight:700}.mark.ok{color:var(--ok)}.mark.bad{color:var(--bad)}.mark.skip{color:var(--muted)}
.identity{padding:10px 14px;border-radius:8px;background:#fff;border-left:4px solid var(--muted)}.identity.ok{border-color:var(--ok)}.identity.bad{border-color:var(--bad)}
.error{background:#fef2f2;border:1px solid #fecaca;border-radius:10px;padding:14px 18px}
.bar{height:10px;background:#c7d2fe;border-radius:5px;min-width:1px}
details{background:#fff;border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:6px 12px}summary{cursor:pointer;font-weight:600}
.note{color:var(--muted);font-size:13px;font-style:italic}pre{background:#111827;color:#f9fafb;padding:10px 14px;border-radius:8px;overflow-x:auto}
svg{max-width:900px;display:block}svg text{font:13px system-ui,sans-serif;fill:#1f2937}pre code{background:none;color:inherit;padding:0}
`;

/** Escapes text for element content and double- or single-quoted attributes alike. */
function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;
const code = (text: string) => `<code>${e(text)}</code>`;
const wrappingCode = (text: string) => `<code class="wrap">${e(text)}</code>`;

/** Text marks, not emoji: they render in any font, headless browsers and print included. */
function mark(ok: boolean | null, skipped = false): string {
  if (skipped) return '<span class="mark skip" title="skipped">–</span>';
  if (ok === null) return '<span class="mark skip" title="not judged">?</span>';
  return ok ? '<span class="mark ok" title="ok">✔</span>' : '<span class="mark bad" title="failed">✘</span>';
}

const LONG_TABLE_ROWS = 15;
const SHOWN_ROWS = 10;
/** JSON longer than this is folded: its start is shown, the whole behind a click. */
const JSON_INLINE_LENGTH = 80;

/** A value of a verification check: short JSON inline, long JSON folded and pretty-printed. */
function valueCell(value: unknown): string {
  if (value === null || typeof value !== 'object') return e(formatValue(value));
  const inline = JSON.stringify(value, null, 1).replace(/\s*\n\s*/g, ' ');
  if (inline.length <= JSON_INLINE_LENGTH) return wrappingCode(inline);
  return `<details><summary>${e(inline.slice(0, 40))}…</summary><pre class="json">${e(JSON.stringify(value, null, 2))}</pre></details>`;
}

function table(
  headers: string[],
  rows: string[][],
  numeric: number[] = [],
  barColumn = -1,
  wideColumn = -1,
): string {
  const cls = (i: number) =>
    numeric.includes(i)
      ? ' class="n"'
      : i === barColumn
        ? ' class="bar-cell"'
        : i === wideColumn
          ? ' class="content"'
          : '';
  const head = headers.map((h, i) => `<th${cls(i)}>${h}</th>`).join('');
  const tr = (r: string[]) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`;
  // Key/value tables have no column titles: an empty header row would only add a grey stripe.
  const thead = headers.some((h) => h !== '') ? `<thead><tr>${head}</tr></thead>` : '';
  const shown = rows.length > LONG_TABLE_ROWS ? rows.slice(0, SHOWN_ROWS) : rows;
  const first = `<table>${thead}<tbody>\n${shown.map(tr).join('\n')}\n</tbody></table>`;
  if (shown.length === rows.length) return first;
  // A long table shows its top rows; the rest wait behind a click instead of pushing the page on.
  const rest = rows.slice(SHOWN_ROWS);
  return `${first}<details><summary>${rest.length} more rows</summary><table>${thead}<tbody>\n${rest.map(tr).join('\n')}\n</tbody></table></details>`;
}

const slug = (title: string) => title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
const section = (title: string, body: string) =>
  `<section id="${slug(title)}"><h2>${e(title)}</h2>\n${body}\n</section>`;
const card = (value: string, label: string) =>
  `<div class="card"><div class="n">${value}</div><div class="l">${e(label)}</div></div>`;

function header(r: MigrationReport): string {
  const badges = [
    r.run.dryRun ? '<span class="badge dry">DRY RUN</span>' : '',
    r.run.status === 'succeeded'
      ? '<span class="badge ok">SUCCEEDED</span>'
      : '<span class="badge bad">FAILED</span>',
  ].join('');
  const options = Object.entries(r.run.options)
    .map(([k, v]) => code(`${k}=${formatValue(v)}`))
    .join(' ');
  return `<header><h1>Migration report — ${e(r.run.runId)}</h1>
<div class="badges">${badges}</div>
<div class="meta">Started ${e(r.run.startedAt)} · finished ${e(r.run.finishedAt)} · took ${e(formatDuration(r.timings.measured.wallMs))}</div>
${options ? `<div class="meta">Options: ${options}</div>` : ''}
${r.commands ? `<div class="meta">Command: ${wrappingCode(r.commands.rerun)} <span class="note">(with SOURCE_DATABASE_URL and DATABASE_URL as for this run)</span></div>` : ''}</header>`;
}

function errorSection(r: MigrationReport): string {
  if (!r.error) return '';
  const step = r.error.step ? ` in step <strong>${e(r.error.step)}</strong>` : '';
  return section(
    'What failed',
    `<div class="error"><p><strong>${e(r.error.name)}</strong>${step}: ${e(r.error.message)}</p><p><strong>What to do:</strong> ${e(r.error.hint)}</p></div>`,
  );
}

function summary(r: MigrationReport): string {
  const cards = [
    r.source ? card(formatCount(r.source.liveMemories), 'live source memories') : '',
    card(formatCount(r.totals.read), 'memories read'),
    ...(r.totals.unchanged ? [card(formatCount(r.totals.unchanged), 'unchanged, skipped')] : []),
    card(formatCount(r.totals.migrated), r.run.dryRun ? 'would migrate' : 'migrated'),
    card(formatCount(r.totals.rejected), r.run.dryRun ? 'would reject' : 'rejected'),
    card(formatCount(r.totals.repaired), 'repairs applied'),
    r.users ? card(formatCount(r.users.total), 'users') : '',
    r.relationships
      ? card(
          formatCount(r.relationships.migrated),
          r.run.dryRun ? 'relationships would migrate' : 'relationships migrated',
        )
      : '',
    r.verification ? card(mark(r.verification.ok), 'verification') : '',
  ].join('');
  const identityClass = r.accounting.holds === null ? '' : r.accounting.holds ? ' ok' : ' bad';
  const load = r.load
    ? table(
        ['Inserted', 'Upserted', 'Moved module', 'Withdrawn'],
        [[r.load.inserted, r.load.upserted, r.load.moved, r.load.withdrawn].map(formatCount)],
        [0, 1, 2, 3],
      )
    : '';
  return section(
    'Summary',
    `<div class="cards">${cards}</div>
<p class="identity${identityClass}"><strong>Accounting:</strong> ${mark(r.accounting.holds)} ${e(r.accounting.statement)}</p>${thresholdLine(r)}${load}`,
  );
}

function thresholdLine(r: MigrationReport): string {
  const t = r.rejectThresholds;
  if (!t) return '';
  return `<p class="identity${t.ok ? ' ok' : ' bad'}"><strong>Reject thresholds:</strong> ${mark(t.ok)} ${e(t.statement)}</p>`;
}

function moduleChart(r: MigrationReport): string {
  const rowHeight = 34;
  const labelWidth = 130;
  const barWidth = 560;
  const max = Math.max(1, ...r.modules.map((m) => m.count));
  const rows = r.modules.map((m, i) => {
    const y = i * rowHeight + 8;
    const w = m.count === 0 ? 0 : Math.max(2, Math.round((m.count / max) * barWidth));
    const colour = MODULE_COLOURS[m.module] ?? '#6b7280';
    return (
      `<text x="${labelWidth - 10}" y="${y + 17}" text-anchor="end">${e(m.module)}</text>` +
      `<rect x="${labelWidth}" y="${y}" width="${barWidth}" height="24" rx="4" fill="#f3f4f6"/>` +
      `<rect x="${labelWidth}" y="${y}" width="${w}" height="24" rx="4" fill="${colour}"/>` +
      `<text x="${labelWidth + barWidth + 10}" y="${y + 17}">${e(formatCount(m.count))} · ${e(formatPercent(m.percent))}</text>`
    );
  });
  const height = r.modules.length * rowHeight + 12;
  const width = labelWidth + barWidth + 150;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Memories per module">${rows.join('')}</svg>`;
}

function modules(r: MigrationReport): string {
  return section(
    'Modules',
    moduleChart(r) +
      table(
        ['Module', 'Memories', 'Share'],
        r.modules.map((m) => [e(m.module), formatCount(m.count), formatPercent(m.percent)]),
        [1, 2],
      ),
  );
}

const bar = (percent: number) =>
  `<div class="bar" style="width:${Math.min(100, Math.max(0, percent))}%"></div>`;

function ruleHits(r: MigrationReport): string {
  if (r.ruleHits.length === 0) return section('Rule hits', '<p>No rule fired.</p>');
  const top = Math.max(1, ...r.ruleHits.map((h) => h.count));
  return section(
    'Rule hits',
    table(
      ['Rule', 'Hits', 'Share', ''],
      r.ruleHits.map((h) => [
        code(h.rule),
        formatCount(h.count),
        formatPercent(h.percent),
        bar((h.count / top) * 100),
      ]),
      [1, 2],
      3,
    ),
  );
}

function decisionTable(decisions: SampleDecision[], rejected: boolean): string {
  // The content is what a person reads first: its column keeps a fair share of the width.
  return table(
    ['Source id', 'Rule', 'Evidence', 'Confidence', rejected ? 'Detail' : 'Repairs', 'Content'],
    decisions.map((d) => [
      `<code class="id">${e(d.sourceId)}</code>`,
      d.rule ? code(d.rule) : '—',
      d.evidence ? wrappingCode(d.evidence) : '—',
      formatConfidence(d.confidence),
      e(rejected ? (d.detail ?? '—') : d.repairs.join(', ') || '—'),
      d.snippet ? e(d.snippet) : '<span class="note">(empty)</span>',
    ]),
    [3],
    -1,
    5,
  );
}

function samples(r: MigrationReport): string {
  const parts = r.samples.map(({ module, decisions }) =>
    decisions.length === 0
      ? `<details><summary>${e(module)} (no memories)</summary></details>`
      : `<details open><summary>${e(module)} (${decisions.length})</summary>${decisionTable(decisions, false)}</details>`,
  );
  for (const { reason, decisions } of r.rejectSamples) {
    parts.push(
      `<details><summary>Rejected: ${e(reason)} (${decisions.length})</summary>${decisionTable(decisions, true)}</details>`,
    );
  }
  return section('Sample decisions', parts.join('\n'));
}

function rejectsAndRepairs(r: MigrationReport): string {
  const rejects =
    r.rejectsByReason.length === 0
      ? '<p>No memory was rejected.</p>'
      : table(
          ['Reason', 'Memories'],
          r.rejectsByReason.map((x) => [code(x.reason), formatCount(x.count)]),
          [1],
        );
  const repairs =
    r.repairsByRule.length === 0
      ? '<p>No repair was needed.</p>'
      : table(
          ['Repair', 'Memories'],
          r.repairsByRule.map((x) => [code(x.rule), formatCount(x.count)]),
          [1],
        );
  return section('Rejects by reason', rejects) + section('Repairs by rule', repairs);
}

function users(r: MigrationReport): string {
  const u = r.users;
  if (!u) return section('Users', '<p>The users step did not run.</p>');
  let body =
    `<p>${formatCount(u.total)} source users: ${formatCount(u.mapped)} with a target user (${formatCount(u.created)} created), ${formatCount(u.unmapped)} unmapped.</p>` +
    table(
      ['Decision', 'Users'],
      u.byDecision.map((d) => [code(d.decision), formatCount(d.count)]),
      [1],
    );
  if (u.conflictCount > 0) {
    body += `<h3>Conflicts (${formatCount(u.conflictCount)})</h3>`;
    body += table(
      ['Source user', 'Decision', 'Detail'],
      u.conflicts.map((c) => [code(c.sourceUserId), code(c.decision), e(c.detail)]),
    );
    if (u.conflicts.length < u.conflictCount)
      body += `<p class="note">First ${formatCount(u.conflicts.length)} listed.</p>`;
  }
  return section('Users', body);
}

function relationships(r: MigrationReport): string {
  const x = r.relationships;
  if (!x) return section('Relationships', '<p>The relationship step did not run.</p>');
  const row = (label: string, p: { read: number; migrated: number; skipped: number }) => [
    label,
    formatCount(p.read),
    formatCount(p.migrated),
    formatCount(p.skipped),
  ];
  let body = table(
    ['', 'Read', r.run.dryRun ? 'Would migrate' : 'Migrated', r.run.dryRun ? 'Would skip' : 'Skipped'],
    [
      row('Memory relations', x.relations),
      row('Project links', x.projectLinks),
      row('<strong>Total</strong>', x),
    ],
    [1, 2, 3],
  );
  const source =
    x.sourceRelations === null ? '' : ` (source holds ${formatCount(x.sourceRelations)} relations)`;
  const [migrated, skipped] = r.run.dryRun ? ['would migrate', 'would be skipped'] : ['migrated', 'skipped'];
  body += `<p class="identity${x.holds ? ' ok' : ' bad'}"><strong>Accounting:</strong> ${mark(x.holds)} ${formatCount(x.read)} read ${x.holds ? '=' : '≠'} ${formatCount(x.migrated)} ${migrated} + ${formatCount(x.skipped)} ${skipped}${e(source)}</p>`;
  if (x.skippedByReason.length > 0) {
    body += table(
      ['Skipped because', 'Count'],
      x.skippedByReason.map((s) => [code(s.reason), formatCount(s.count)]),
      [1],
    );
  }
  if (x.byType.length > 0)
    body += table(
      ['Type', 'Count'],
      x.byType.map((t) => [code(t.type), formatCount(t.count)]),
      [1],
    );
  return section('Relationships', body);
}

function cmi(r: MigrationReport): string {
  if (!r.cmi) return '';
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
      [0, 1, 2, 3, 4, 5, 6],
    ),
  );
}

function verification(r: MigrationReport): string {
  if (!r.verification) return r.run.dryRun ? '' : section('Verification', '<p>Verification did not run.</p>');
  return section(
    'Verification',
    table(
      ['', 'Check', 'Expected', 'Actual', 'Detail'],
      r.verification.checks.map((c) => [
        mark(c.ok, c.skipped),
        code(c.name),
        valueCell(c.expected),
        valueCell(c.actual),
        e(c.detail ?? '') +
          (c.samples.length > 0 ? `<br><span class="note">e.g. ${c.samples.map(code).join(' ')}</span>` : ''),
      ]),
    ),
  );
}

function notMigrated(r: MigrationReport): string {
  if (!r.notMigrated) return '';
  return section(
    'Not migrated',
    `<p>${formatCount(r.notMigrated.memories)} live memories in ${r.notMigrated.ranges.length} key range(s) whose batch failed: the run tolerated it (toleratedFailurePercentage / toleratedFailureCount). A rerun migrates them.</p>` +
      table(
        ['Range', 'After key', 'Up to key', 'Memories'],
        r.notMigrated.ranges.map((range) => [
          String(range.index),
          range.fromKey === null ? '(start)' : code(range.fromKey),
          range.toKey === null ? '(end)' : code(range.toKey),
          formatCount(range.memories),
        ]),
        [0, 3],
      ),
  );
}

function embeddings(r: MigrationReport): string {
  const x = r.embeddings;
  if (!x) return '';
  const rows: string[][] = [['Mode', x.mode === 'preserve' ? 'preserve (copied bit for bit)' : 'regenerate']];
  if (x.model) rows.push(['Model', code(x.model)]);
  if (x.mode === 'regenerate') {
    rows.push(['Requests / tokens', `${formatOptional(x.requests)} / ${formatOptional(x.tokens)}`]);
    rows.push(['Retries / waited', `${formatOptional(x.retries)} / ${formatDuration(x.waitMs)}`]);
    const budget = formatRateBudget(x);
    if (budget !== null) rows.push(['Rate budget', budget]);
    rows.push([
      'Estimated requests / tokens',
      `${formatOptional(x.estimatedRequests)} / ${formatOptional(x.estimatedTokens)}`,
    ]);
    rows.push(['Estimated cost', formatUsd(x.estimatedCostUsd)]);
    if (x.apiModes) rows.push(['Sync vs Batch API', e(formatEmbeddingApis(x.apiModes, x.api))]);
    if (x.batchInputs !== null) rows.push(['From Batch API output', formatCount(x.batchInputs)]);
  } else {
    rows.push(['Cost', '$0 (no API calls)']);
  }
  return section('Embeddings and cost', table(['', ''], rows));
}

function classification(r: MigrationReport): string {
  const c = r.classification;
  if (!c) return '';
  const warning = c.warning ? `<p><strong>Warning:</strong> ${e(c.warning)}</p>` : '';
  const kinds = `<p>Fallback: ${c.fallback.count} of ${c.decided} (${c.fallback.percent}%). Decided by: ${e(
    c.byKind.map((k) => `${k.kind} ${k.percent}%`).join(', '),
  )}.</p>`;
  const histogram = table(
    ['Confidence', 'Memories'],
    c.confidenceHistogram.map((b) => [`${b.from.toFixed(1)}–${b.to.toFixed(1)}`, String(b.count)]),
    [1],
  );
  const modules = table(
    ['Module', 'Memories', `Predicted by the dry run${c.predictedBy ? ` (${e(c.predictedBy)})` : ''}`],
    c.modules.map((m) => [code(m.module), String(m.count), m.predicted === null ? '–' : String(m.predicted)]),
    [1, 2],
  );
  const llm = c.llm
    ? `<p>${e(
        c.llm.estimated
          ? `LLM pass (${c.llm.model}), estimate: ${c.llm.candidates} unclear memories in ${c.llm.requests} requests, ~${c.llm.inputTokens + c.llm.outputTokens} tokens, ${c.llm.costUsd === null ? 'unknown price' : `$${c.llm.costUsd.toFixed(4)}`}.`
          : `LLM pass (${c.llm.model}): ${c.llm.candidates} unclear memories, ${c.llm.decided} placed by the model, ${c.llm.fellBack} kept their offline decision (${c.llm.malformed} malformed answers), ${c.llm.requests} requests.`,
      )}</p>`
    : '';
  return section('Classification health', warning + kinds + histogram + modules + llm);
}

function timings(r: MigrationReport): string {
  const t = r.timings.measured;
  const rows = [
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
  ];
  let body = table(['Step', 'Time'], rows, [1]);
  const p = r.timings.projected;
  if (p) {
    body +=
      `<h3>Projected real run (estimate)</h3><p>About <strong>${e(formatDuration(p.totalMs))}</strong> for ${formatCount(p.memories)} memories (${e(formatRate(p.memoriesPerSecond))}): ` +
      `${p.measuredMsPerMemory} ms measured + ${p.loadMsPerMemory} ms load per memory, ${p.concurrency} at a time, plus about ${e(formatDuration(p.snapshotMs))} for the snapshot.</p>` +
      `<p class="note">${e(p.note)}</p>`;
  }
  return section('Timings', body);
}

function nextSteps(r: MigrationReport): string {
  const items = r.nextSteps.map(
    (s) => `<li>${e(s.text)}${s.code ? `<pre><code>${e(s.code)}</code></pre>` : ''}</li>`,
  );
  return section('Next steps', `<ul>${items.join('')}</ul>`);
}

export function renderReportHtml(report: MigrationReport): string {
  const title = `Migration report — ${report.run.runId} (${runBadge(report)})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
${header(report)}
${errorSection(report)}
${summary(report)}
${modules(report)}
${classification(report)}
${ruleHits(report)}
${samples(report)}
${rejectsAndRepairs(report)}
${users(report)}
${relationships(report)}
${cmi(report)}
${notMigrated(report)}
${verification(report)}
${searchSectionHtml(report.search, { e, table, section })}
${embeddings(report)}
${timings(report)}
${nextSteps(report)}
</main></body>
</html>
`;
}
