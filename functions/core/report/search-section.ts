/**
 * The report's "Search equivalence" section: the recall figures, recall by module (a chart of
 * routed recall with exact recall as a tick) and the memories most often lost by routing.
 */
import { recallLine, type SearchRecallResult } from '../search-recall.js';
import { formatCount } from './formatting.js';
import { maskCredentials } from './redaction.js';
import { code, columns, heading, type ReportSection, table, text } from './section-model.js';

const TITLE = 'Search equivalence';
const f3 = (n: number) => n.toFixed(3);

function snippetOf(content: string | undefined): string {
  return content ? maskCredentials(content.replace(/\s+/g, ' ').trim()) : '';
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

const quality = (recall: number) => (recall >= 0.95 ? 'good' : recall >= 0.8 ? 'fair' : 'poor');

export function searchSection(s: SearchRecallResult | null): ReportSection[] {
  if (!s) return [];
  const byModule = table(
    columns(['Module', 'Source hits', 'Exact', 'Routed', ''], [1, 2, 3], { bar: 4 }),
    s.byModule.map((m) => [
      m.module,
      formatCount(m.expected),
      f3(m.exactRecall),
      f3(m.routedRecall),
      { bar: m.routedRecall * 100 },
    ]),
    {
      chart: {
        title: 'Recall by module',
        bars: s.byModule.map((m) => ({
          label: m.module,
          share: m.routedRecall,
          tick: m.exactRecall,
          tone: quality(m.routedRecall),
          caption: `routed ${f3(m.routedRecall)} · exact ${f3(m.exactRecall)}`,
        })),
      },
    },
  );
  return [
    {
      title: TITLE,
      blocks: [
        text(intro(s)),
        table(columns(['', `recall@${s.k}`, `nDCG@${s.k}`], [1, 2]), [
          ['Exact', f3(s.exact.recall), f3(s.exact.ndcg)],
          ['Routed', f3(s.routed.recall), f3(s.routed.ndcg)],
        ]),
        heading('Recall by module'),
        byModule,
        heading('Recall by user size'),
        table(
          columns(
            [
              'Live memories',
              'Users',
              'Queries',
              'Exact recall',
              'Routed recall',
              'Exact nDCG',
              'Routed nDCG',
            ],
            [1, 2, 3, 4, 5, 6],
          ),
          s.byBucket.map((b) => [
            b.bucket,
            formatCount(b.users),
            formatCount(b.queries),
            f3(b.exact.recall),
            f3(b.routed.recall),
            f3(b.exact.ndcg),
            f3(b.routed.ndcg),
          ]),
        ),
        heading('Most often lost by routing'),
        s.routingLosses.length === 0
          ? text('Routing lost no memory the exact search found.')
          : table(
              columns(['Source id', 'Module', 'Lost in', 'Content'], [2], { wide: 3 }),
              s.routingLosses.map((l) => [
                code(l.sourceId, 'anywhere'),
                l.module,
                formatCount(l.lostIn),
                snippetOf(l.snippet),
              ]),
            ),
      ],
    },
  ];
}
