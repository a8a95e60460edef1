/**
 * report.md: the report for a terminal, a pull request or a ticket, rendered from the sections.
 * Text from the data (evidence, details, content snippets) is escaped so it can neither break a
 * table nor inject HTML into a Markdown viewer.
 */
import { checkMark, formatValue, runBadge, textBar } from './formatting.js';
import type { MigrationReport } from './model.js';
import type { Block, ReportHeader, ReportSection, TableSpec, Text } from './section-model.js';
import { reportSections } from './sections.js';

/** Escapes table-breaking and HTML-significant characters; backslash-escapes Markdown emphasis. */
function md(content: string): string {
  return content
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/([`*[\]])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

/** Inline code: Markdown inside is literal, so only backticks, pipes and line breaks need care. */
function code(content: string): string {
  return `\`${content.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}\``;
}

function inline(t: Text): string {
  if (typeof t === 'string') return md(t);
  if (Array.isArray(t)) return t.map(inline).join('');
  const part = t as Exclude<Text, string | readonly Text[]>;
  if ('code' in part) return code(part.code);
  if ('strong' in part) return `**${inline(part.strong)}**`;
  if ('note' in part) return `_${inline(part.note)}_`;
  if ('mark' in part) return checkMark(part.mark, part.skipped);
  if ('bar' in part) return `\`${textBar(part.bar)}\``;
  if ('value' in part) return md(formatValue(part.value));
  return part.lines.map(inline).join(' — ');
}

function table(spec: TableSpec): string[] {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    row(spec.columns.map((c) => md(c.title))),
    row(spec.columns.map((c) => (c.numeric ? '---:' : '---'))),
    ...spec.rows.map((r) => row(r.map(inline))),
    '',
  ];
}

function block(b: Block): string[] {
  switch (b.kind) {
    case 'table':
      return table(b.table);
    case 'text':
      return [`${b.warning ? '> ' : ''}${inline(b.text)}`, ''];
    case 'note':
      return [`_${inline(b.text)}_`, ''];
    case 'heading':
      return [`### ${md(b.text)}`, ''];
    case 'group':
      return [`### ${md(b.title)}`, '', ...b.blocks.flatMap(block)];
    case 'alert':
      return b.paragraphs.flatMap((p) => [inline(p), '']);
    case 'steps':
      return [
        ...b.steps.flatMap((step) => [
          `- ${md(step.text)}`,
          ...(step.code ? ['', `  \`\`\`${step.language ?? 'sh'}`, `  ${step.code}`, '  ```', ''] : []),
        ]),
        '',
      ];
  }
}

function section(s: ReportSection): string[] {
  return [`## ${s.alarm ? '❌ ' : ''}${md(s.title)}`, '', ...s.blocks.flatMap(block)];
}

function header(h: ReportHeader, badge: string): string[] {
  return [
    `# ${md(h.title)}`,
    '',
    `**${badge}**`,
    '',
    md(h.timing),
    '',
    ...(h.options.length > 0 ? [`Options: ${h.options.map(code).join(' ')}`, ''] : []),
    ...(h.command ? [`Command (${md(h.command.note)}): ${code(h.command.line)}`, ''] : []),
  ];
}

/** Renders one section alone: a report's part for a message or a test. */
export function renderSectionMarkdown(s: ReportSection): string {
  return section(s).join('\n');
}

export function renderReportMarkdown(report: MigrationReport): string {
  const { header: h, sections } = reportSections(report);
  return [...header(h, runBadge(report)), ...sections.flatMap(section)]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()
    .concat('\n');
}
