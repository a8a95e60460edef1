/**
 * The report's "Search equivalence" section, for both renderers: the recall figures, recall by
 * module (a chart in HTML, bars in text) and the memories most often lost by routing. Each renderer
 * passes its own escaping and table helpers, so text from the data is escaped as everywhere else.
 */
import { recallLine, type SearchRecallResult } from '../search-recall.js';
import { formatCount, textBar } from './formatting.js';
import { maskCredentials } from './redaction.js';

const TITLE = 'Search equivalence';
const f3 = (n: number) => n.toFixed(3);

function snippetOf(text: string | undefined): string {
  return text ? maskCredentials(text.replace(/\s+/g, ' ').trim()) : '';
}

function intro(s: SearchRecallResult): string {
  const asked =
    s.queryKind === 'neighbours'
      ? `${formatCount(s.queries)} queries (memories asking for their ${s.k} nearest neighbours) from ${formatCount(s.users)} users`
      : `${formatCount(s.queries)} query texts from ${formatCount(s.users)} users`;
  const gate =
    s.minRecall === undefined
      ? 'No gate (minRecall not set).'
      : `Gate: exact recall@${s.k} ≥ ${s.minRecall} — ${s.passed ? 'passed' : 'FAILED'}.`;
  const rejected =
    s.rejectedHits > 0
      ? ` ${formatCount(s.rejectedHits)} source hits were rejected memories and are not counted.`
      : '';
  return `${recallLine(s)}. ${asked}, checked in ${s.seconds.toFixed(1)} s. Exact: every module table of the user; routed: Federated Memory's route (the query reduced to the CMI, the top ${s.routed.modulesPerQuery} modules by the CMI, then those modules searched). ${gate}${rejected}`;
}

interface MarkdownHelpers {
  md(text: string): string;
  table(headers: string[], rows: string[][], align?: ('l' | 'r')[]): string[];
}

export function searchSectionMarkdown(s: SearchRecallResult | null, h: MarkdownHelpers): string[] {
  if (!s) return [];
  const body = [h.md(intro(s)), ''];
  body.push(
    ...h.table(
      ['', `recall@${s.k}`, `nDCG@${s.k}`],
      [
        ['Exact', f3(s.exact.recall), f3(s.exact.ndcg)],
        ['Routed', f3(s.routed.recall), f3(s.routed.ndcg)],
      ],
      ['l', 'r', 'r'],
    ),
    '### Recall by module',
    '',
    ...h.table(
      ['Module', 'Source hits', 'Exact', 'Routed', ''],
      s.byModule.map((m) => [
        h.md(m.module),
        formatCount(m.expected),
        f3(m.exactRecall),
        f3(m.routedRecall),
        `\`${textBar(m.routedRecall * 100)}\``,
      ]),
      ['l', 'r', 'r', 'r', 'l'],
    ),
    '### Recall by user size',
    '',
    ...h.table(
      ['Live memories', 'Users', 'Queries', 'Exact recall', 'Routed recall', 'Exact nDCG', 'Routed nDCG'],
      s.byBucket.map((b) => [
        h.md(b.bucket),
        formatCount(b.users),
        formatCount(b.queries),
        f3(b.exact.recall),
        f3(b.routed.recall),
        f3(b.exact.ndcg),
        f3(b.routed.ndcg),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  if (s.routingLosses.length > 0) {
    body.push(
      '### Most often lost by routing',
      '',
      ...h.table(
        ['Source id', 'Module', 'Lost in', 'Content'],
        s.routingLosses.map((l) => [
          h.md(l.sourceId),
          h.md(l.module),
          formatCount(l.lostIn),
          h.md(snippetOf(l.snippet)),
        ]),
        ['l', 'l', 'r', 'l'],
      ),
    );
  }
  return [`## ${TITLE}`, '', ...body];
}

interface HtmlHelpers {
  e(text: string): string;
  table(headers: string[], rows: string[][], numeric?: number[]): string;
  section(title: string, body: string): string;
}

/** Routed recall per module as bars, exact recall as a tick: the gap is what routing loses. */
function recallChart(s: SearchRecallResult, e: (text: string) => string): string {
  const rowHeight = 34;
  const labelWidth = 150;
  const barWidth = 520;
  const rows = s.byModule.map((m, i) => {
    const y = i * rowHeight + 8;
    const routed = Math.round(m.routedRecall * barWidth);
    const exact = Math.round(m.exactRecall * barWidth);
    const colour = m.routedRecall >= 0.95 ? '#86efac' : m.routedRecall >= 0.8 ? '#fde68a' : '#fca5a5';
    return (
      `<text x="${labelWidth - 10}" y="${y + 17}" text-anchor="end">${e(m.module)}</text>` +
      `<rect x="${labelWidth}" y="${y}" width="${barWidth}" height="24" rx="4" fill="#f3f4f6"/>` +
      `<rect x="${labelWidth}" y="${y}" width="${routed}" height="24" rx="4" fill="${colour}"/>` +
      `<rect x="${labelWidth + Math.max(0, exact - 2)}" y="${y - 2}" width="2" height="28" fill="#111827"/>` +
      `<text x="${labelWidth + barWidth + 10}" y="${y + 17}">routed ${f3(m.routedRecall)} · exact ${f3(m.exactRecall)}</text>`
    );
  });
  const height = s.byModule.length * rowHeight + 12;
  const width = labelWidth + barWidth + 220;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Recall by module">${rows.join('')}</svg>`;
}

export function searchSectionHtml(s: SearchRecallResult | null, h: HtmlHelpers): string {
  if (!s) return '';
  const { e } = h;
  const figures = h.table(
    ['', `recall@${s.k}`, `nDCG@${s.k}`],
    [
      ['Exact', f3(s.exact.recall), f3(s.exact.ndcg)],
      ['Routed', f3(s.routed.recall), f3(s.routed.ndcg)],
    ],
    [1, 2],
  );
  const buckets = h.table(
    ['Live memories', 'Users', 'Queries', 'Exact recall', 'Routed recall', 'Exact nDCG', 'Routed nDCG'],
    s.byBucket.map((b) => [
      e(b.bucket),
      formatCount(b.users),
      formatCount(b.queries),
      f3(b.exact.recall),
      f3(b.routed.recall),
      f3(b.exact.ndcg),
      f3(b.routed.ndcg),
    ]),
    [1, 2, 3, 4, 5, 6],
  );
  const losses =
    s.routingLosses.length === 0
      ? '<p>Routing lost no memory the exact search found.</p>'
      : h.table(
          ['Source id', 'Module', 'Lost in', 'Content'],
          s.routingLosses.map((l) => [
            `<code>${e(l.sourceId)}</code>`,
            e(l.module),
            formatCount(l.lostIn),
            e(snippetOf(l.snippet)),
          ]),
          [2],
        );
  return h.section(
    TITLE,
    `<p>${e(intro(s))}</p>\n${figures}\n<h3>Recall by module</h3>\n${recallChart(s, e)}\n<h3>Recall by user size</h3>\n${buckets}\n<h3>Most often lost by routing</h3>\n${losses}`,
  );
}
