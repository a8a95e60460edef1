/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts or external assets) that
 * opens straight from S3 or a laptop. Every string from the data is escaped, and a
 * Content-Security-Policy forbids scripts besides, since evidence and content come from users.
 */
import {
  formatConfidence,
  formatCount,
  formatDuration,
  formatOptional,
  formatPercent,
  formatRate,
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
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:0 0 8px;word-break:break-all}h2{font-size:19px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
.badges{margin:8px 0 4px}.badge{display:inline-block;padding:3px 10px;border-radius:999px;font-weight:600;font-size:13px;margin-right:6px;color:#fff}
.badge.dry{background:var(--warn)}.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}
.meta{color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}.card .n{font-size:24px;font-weight:700}.card .l{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;margin:8px 0 16px;font-size:14px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}th{background:#f3f4f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:1px 4px;border-radius:4px;white-space:nowrap}
code.wrap{white-space:normal;overflow-wrap:anywhere}td.bar-cell{width:35%}
.mark{font-weight:700}.mark.ok{color:var(--ok)}.mark.bad{color:var(--bad)}.mark.skip{color:var(--muted)}
.identity{padding:10px 14px;border-radius:8px;background:#fff;border-left:4px solid var(--muted)}.identity.ok{border-color:var(--ok)}.identity.bad{border-color:var(--bad)}
.error{background:#fef2f2;border:1px solid #fecaca;border-radius:10px;padding:14px 18px}
.bar{height:10px;background:#c7d2fe;border-radius:5px;min-width:1px}
details{background:#fff;border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:6px 12px}summary{cursor:pointer;font-weight:600}
.note{color:var(--muted);font-size:13px;font-style:italic}pre{background:#111827;color:#f9fafb;padding:10px 14px;border-radius:8px;overflow-x:auto}
svg text{font:13px system-ui,sans-serif;fill:#1f2937}pre code{background:none;color:inherit;padding:0}
`;

/** Escapes text for element content and double- or single-quoted attributes alike. */
export function escapeHtml(text: string): string {
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

function table(headers: string[], rows: string[][], numeric: number[] = [], barColumn = -1): string {
  const cls = (i: number) =>
    numeric.includes(i) ? ' class="n"' : i === barColumn ? ' class="bar-cell"' : '';
  const head = headers.map((h, i) => `<th${cls(i)}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`).join('\n');
  // Key/value tables have no column titles: an empty header row would only add a grey stripe.
  const thead = headers.some((h) => h !== '') ? `<thead><tr>${head}</tr></thead>` : '';
  return `<table>${thead}<tbody>\n${body}\n</tbody></table>`;
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
${options ? `<div class="meta">Options: ${options}</div>` : ''}</header>`;
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
<p class="identity${identityClass}"><strong>Accounting:</strong> ${mark(r.accounting.holds)} ${e(r.accounting.statement)}</p>${load}`,
  );
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
  return table(
    ['Source id', 'Rule', 'Evidence', 'Confidence', rejected ? 'Detail' : 'Repairs', 'Content'],
    decisions.map((d) => [
      code(d.sourceId),
      d.rule ? code(d.rule) : '—',
      d.evidence ? wrappingCode(d.evidence) : '—',
      formatConfidence(d.confidence),
      e(rejected ? (d.detail ?? '—') : d.repairs.join(', ') || '—'),
      e(d.snippet ?? ''),
    ]),
    [3],
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
    ['', 'Read', 'Migrated', 'Skipped'],
    [
      row('Memory relations', x.relations),
      row('Project links', x.projectLinks),
      row('<strong>Total</strong>', x),
    ],
    [1, 2, 3],
  );
  const source =
    x.sourceRelations === null ? '' : ` (source holds ${formatCount(x.sourceRelations)} relations)`;
  body += `<p class="identity${x.holds ? ' ok' : ' bad'}"><strong>Accounting:</strong> ${mark(x.holds)} ${formatCount(x.read)} read ${x.holds ? '=' : '≠'} ${formatCount(x.migrated)} migrated + ${formatCount(x.skipped)} skipped${e(source)}</p>`;
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
        e(formatValue(c.expected)),
        e(formatValue(c.actual)),
        e(c.detail ?? '') +
          (c.samples.length > 0 ? `<br><span class="note">e.g. ${c.samples.map(code).join(' ')}</span>` : ''),
      ]),
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
    rows.push([
      'Estimated requests / tokens',
      `${formatOptional(x.estimatedRequests)} / ${formatOptional(x.estimatedTokens)}`,
    ]);
    rows.push(['Estimated cost', formatUsd(x.estimatedCostUsd)]);
  } else {
    rows.push(['Cost', '$0 (no API calls)']);
  }
  return section('Embeddings and cost', table(['', ''], rows));
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
      `${p.measuredMsPerMemory} ms measured + ${p.loadMsPerMemory} ms load per memory, ${p.concurrency} at a time.</p>` +
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
${ruleHits(report)}
${samples(report)}
${rejectsAndRepairs(report)}
${users(report)}
${relationships(report)}
${cmi(report)}
${verification(report)}
${searchSectionHtml(report.search, { e, table, section })}
${embeddings(report)}
${timings(report)}
${nextSteps(report)}
</main></body>
</html>
`;
}
