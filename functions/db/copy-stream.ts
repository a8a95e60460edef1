import type { PgBinaryType } from './pg-binary.js';
import type { DatabaseSession } from './port.js';

/** A table or column name as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The columns as a quoted SQL list: `"id", "userId", …` (the target's names are camelCase). */
export function columnList(columns: readonly { name: string }[]): string {
  return columns.map((c) => `"${c.name}"`).join(', ');
}

/** An upsert's `"col" = EXCLUDED."col", …` for every column but the key columns in `keep`. */
export function excludedSet(columns: readonly { name: string }[], keep: readonly string[]): string {
  return columns
    .filter((c) => !keep.includes(c.name))
    .map((c) => `"${c.name}" = EXCLUDED."${c.name}"`)
    .join(', ');
}

/** The rows into `table`'s named columns, each value written as its column's type. */
export function copyRowsIn(
  session: DatabaseSession,
  table: string,
  columns: readonly { name: string; type: PgBinaryType }[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  return session.copyRowsIn(
    `${table} (${columnList(columns)})`,
    columns.map((c) => c.type),
    rows,
  );
}
