/**
 * What the report shows, as data both renderings read: sections of titled tables, charts and
 * sentences. The numbers are formatted here once; a renderer only chooses markup and escapes text,
 * so report.md and report.html cannot drift apart in what they say.
 */

/**
 * Inline text. A plain string is text from anywhere (the data included): every renderer escapes
 * it. The other forms say how a piece reads, never how it looks in one format.
 */
export type Text =
  | string
  | readonly Text[]
  | { code: string; wrap?: 'words' | 'anywhere' }
  | { strong: Text }
  | { note: Text }
  /** Ok, failed, not judged (null) or skipped: a check mark. */
  | { mark: boolean | null; skipped?: boolean }
  /** A bar for a share from 0 to 100: text draws it with block characters. */
  | { bar: number }
  /** A check's expected or actual value: numbers and text as they are, anything else as JSON. */
  | { value: unknown }
  /** Short pieces that a wide page puts on separate lines and a table cell joins with a dash. */
  | { lines: readonly Text[] };

export interface Column {
  title: string;
  /** Right-aligned figures. */
  numeric?: boolean;
  /** Gets a fair share of the width: the column a person reads first (content). */
  wide?: boolean;
  /** Holds `{ bar }` cells: the text form of the table's chart. */
  bar?: boolean;
}

/** One bar a table row: `share` of the full width (0 to 1), an optional tick, a caption. */
interface ChartBar {
  label: string;
  share: number;
  tick?: number;
  /** A module id or a quality (`good`, `fair`, `poor`): the HTML picks the colour. */
  tone: string;
  caption: string;
}

export interface ChartSpec {
  title: string;
  bars: ChartBar[];
}

export interface TableSpec {
  columns: Column[];
  rows: Text[][];
  /**
   * A drawn chart of the same rows. Text shows it as the table's bar column; a page that can draw
   * shows the chart and leaves that column out.
   */
  chart?: ChartSpec;
  /** Label / value rows that a page may show as tiles. */
  tiles?: boolean;
}

export type Block =
  | { kind: 'table'; table: TableSpec }
  | { kind: 'text'; text: Text; verdict?: boolean | null; warning?: boolean }
  | { kind: 'note'; text: Text }
  | { kind: 'heading'; text: string }
  /** Blocks under a title that a page may fold; `open` says whether it starts unfolded. */
  | { kind: 'group'; title: string; open: boolean; blocks: Block[] }
  /** What went wrong and what to do: set apart from everything else. */
  | { kind: 'alert'; paragraphs: Text[] }
  | { kind: 'steps'; steps: Array<{ text: string; code?: string; language?: 'sh' | 'json' }> };

export interface ReportSection {
  title: string;
  /** A failure section: text marks its title. */
  alarm?: boolean;
  blocks: Block[];
}

export interface ReportHeader {
  title: string;
  dryRun: boolean;
  succeeded: boolean;
  /** Started / finished / took. */
  timing: string;
  options: string[];
  /** The command that repeats the run, and what it leaves to the environment. */
  command: { line: string; note: string } | null;
}

export interface ReportDocument {
  header: ReportHeader;
  sections: ReportSection[];
}

export const table = (
  columns: Column[],
  rows: Text[][],
  extra: Omit<TableSpec, 'columns' | 'rows'> = {},
): Block => ({ kind: 'table', table: { columns, rows, ...extra } });

export const text = (content: Text, extra: { verdict?: boolean | null; warning?: boolean } = {}): Block => ({
  kind: 'text',
  text: content,
  ...extra,
});

export const heading = (content: string): Block => ({ kind: 'heading', text: content });

export const note = (content: Text): Block => ({ kind: 'note', text: content });

export const code = (content: string, wrap?: 'words' | 'anywhere'): Text =>
  wrap ? { code: content, wrap } : { code: content };

/** Column titles: the `numeric` ones right-aligned, `wide` the content, `bar` the bars. */
export function columns(
  titles: string[],
  numeric: number[] = [],
  more: { wide?: number; bar?: number } = {},
): Column[] {
  return titles.map((title, i) => ({
    title,
    ...(numeric.includes(i) ? { numeric: true } : {}),
    ...(i === more.wide ? { wide: true } : {}),
    ...(i === more.bar ? { bar: true } : {}),
  }));
}
