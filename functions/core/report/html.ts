/**
 * report.html, rendered from the sections: one self-contained page (inline CSS and SVG, no scripts
 * or external assets) that opens straight from S3 or a laptop. Every string from the data is
 * escaped, and a Content-Security-Policy forbids scripts besides, since evidence and content come
 * from users.
 */
import { formatValue, runBadge } from './formatting.js';
import type { MigrationReport } from './model.js';
import type {
  Block,
  ChartSpec,
  Column,
  ReportHeader,
  ReportSection,
  TableSpec,
  Text,
} from './section-model.js';
import { reportSections } from './sections.js';

/** Bar colours by a chart bar's tone: a module, or how good a recall is. */
const TONE_COLOURS: Record<string, string> = {
  work: '#2563eb',
  personal: '#db2777',
  technical: '#059669',
  learning: '#d97706',
  communication: '#7c3aed',
  creative: '#dc2626',
  good: '#86efac',
  fair: '#fde68a',
  poor: '#fca5a5',
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
const CODE_CLASSES = { words: ' class="wrap"', anywhere: ' class="id"' } as const;
const wrappingCode = (content: string) => `<code class="wrap">${e(content)}</code>`;

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

/** A long table shows its top rows; the rest wait behind a click instead of pushing the page on. */
function table(spec: TableSpec): string {
  // A drawn chart stands in for the bar column that text needs.
  const keep = spec.columns.flatMap((c, i) => (spec.chart && c.bar ? [] : [i]));
  const cls = (c: Column) =>
    c.numeric ? ' class="n"' : c.bar ? ' class="bar-cell"' : c.wide ? ' class="content"' : '';
  const cols = keep.map((i) => spec.columns[i] as Column);
  const head = cols.map((c) => `<th${cls(c)}>${e(c.title)}</th>`).join('');
  const tr = (r: Text[]) =>
    `<tr>${keep.map((i) => `<td${cls(spec.columns[i] as Column)}>${inline(r[i] ?? '')}</td>`).join('')}</tr>`;
  // Key/value tables have no column titles: an empty header row would only add a grey stripe.
  const thead = cols.some((c) => c.title !== '') ? `<thead><tr>${head}</tr></thead>` : '';
  const body = (rows: Text[][]) => `<table>${thead}<tbody>\n${rows.map(tr).join('\n')}\n</tbody></table>`;
  const chart = spec.chart ? barChart(spec.chart) : '';
  if (spec.rows.length <= LONG_TABLE_ROWS) return chart + body(spec.rows);
  const rest = spec.rows.slice(SHOWN_ROWS);
  return `${chart}${body(spec.rows.slice(0, SHOWN_ROWS))}<details><summary>${rest.length} more rows</summary>${body(rest)}</details>`;
}

function inline(t: Text): string {
  if (typeof t === 'string') return e(t);
  if (Array.isArray(t)) return t.map(inline).join('');
  const part = t as Exclude<Text, string | readonly Text[]>;
  if ('code' in part) return `<code${part.wrap ? CODE_CLASSES[part.wrap] : ''}>${e(part.code)}</code>`;
  if ('strong' in part) return `<strong>${inline(part.strong)}</strong>`;
  if ('note' in part) return `<span class="note">${inline(part.note)}</span>`;
  if ('mark' in part) return mark(part.mark, part.skipped);
  if ('bar' in part) return `<div class="bar" style="width:${Math.min(100, Math.max(0, part.bar))}%"></div>`;
  if ('value' in part) return valueCell(part.value);
  return part.lines.map(inline).join('<br>');
}

/** One bar a row, with an optional tick (where another figure reaches) and a caption. */
function barChart(chart: ChartSpec): string {
  const rowHeight = 34;
  const labelWidth = 150;
  const barWidth = 540;
  const rows = chart.bars.map((b, i) => {
    const y = i * rowHeight + 8;
    const w = b.share <= 0 ? 0 : Math.max(2, Math.round(Math.min(1, b.share) * barWidth));
    const tick =
      b.tick === undefined
        ? ''
        : `<rect x="${labelWidth + Math.max(0, Math.round(b.tick * barWidth) - 2)}" y="${y - 2}" width="2" height="28" fill="#111827"/>`;
    return (
      `<text x="${labelWidth - 10}" y="${y + 17}" text-anchor="end">${e(b.label)}</text>` +
      `<rect x="${labelWidth}" y="${y}" width="${barWidth}" height="24" rx="4" fill="#f3f4f6"/>` +
      `<rect x="${labelWidth}" y="${y}" width="${w}" height="24" rx="4" fill="${TONE_COLOURS[b.tone] ?? '#6b7280'}"/>` +
      tick +
      `<text x="${labelWidth + barWidth + 10}" y="${y + 17}">${e(b.caption)}</text>`
    );
  });
  const height = chart.bars.length * rowHeight + 12;
  const width = labelWidth + barWidth + 220;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${e(chart.title)}">${rows.join('')}</svg>`;
}

/** Label / value rows as tiles: the figures a person looks for first. */
function tiles(spec: TableSpec): string {
  const tile = ([label, value]: Text[]) =>
    `<div class="card"><div class="n">${inline(value ?? '')}</div><div class="l">${inline(label ?? '')}</div></div>`;
  return `<div class="cards">${spec.rows.map(tile).join('')}</div>`;
}

function block(b: Block): string {
  switch (b.kind) {
    case 'table':
      return b.table.tiles ? tiles(b.table) : table(b.table);
    case 'text': {
      const identity =
        b.verdict === undefined
          ? ''
          : ` class="identity${b.verdict === null ? '' : b.verdict ? ' ok' : ' bad'}"`;
      return `<p${identity}>${inline(b.text)}</p>`;
    }
    case 'note':
      return `<p class="note">${inline(b.text)}</p>`;
    case 'heading':
      return `<h3>${e(b.text)}</h3>`;
    case 'group':
      return `<details${b.open ? ' open' : ''}><summary>${e(b.title)}</summary>${b.blocks.map(block).join('\n')}</details>`;
    case 'alert':
      return `<div class="error">${b.paragraphs.map((p) => `<p>${inline(p)}</p>`).join('')}</div>`;
    case 'steps':
      return `<ul>${b.steps.map((s) => `<li>${e(s.text)}${s.code ? `<pre><code>${e(s.code)}</code></pre>` : ''}</li>`).join('')}</ul>`;
  }
}

const slug = (title: string) => title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
const section = (s: ReportSection) =>
  `<section id="${slug(s.title)}"><h2>${e(s.title)}</h2>\n${s.blocks.map(block).join('\n')}\n</section>`;

function header(h: ReportHeader): string {
  const badges = [
    h.dryRun ? '<span class="badge dry">DRY RUN</span>' : '',
    h.succeeded ? '<span class="badge ok">SUCCEEDED</span>' : '<span class="badge bad">FAILED</span>',
  ].join('');
  const options = h.options.map((o) => `<code>${e(o)}</code>`).join(' ');
  return `<header><h1>${e(h.title)}</h1>
<div class="badges">${badges}</div>
<div class="meta">${e(h.timing)}</div>
${options ? `<div class="meta">Options: ${options}</div>` : ''}
${h.command ? `<div class="meta">Command: ${wrappingCode(h.command.line)} <span class="note">(${e(h.command.note)})</span></div>` : ''}</header>`;
}

export function renderReportHtml(report: MigrationReport): string {
  const { header: h, sections } = reportSections(report);
  const title = `${h.title} (${runBadge(report)})`;
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
${header(h)}
${sections.map(section).join('\n')}
</main></body>
</html>
`;
}
