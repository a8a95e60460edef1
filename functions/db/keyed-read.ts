import type { PgBinaryType } from './pg-binary.js';

export interface KeyedColumn {
  /** The select-list expression. */
  sql: string;
  type: PgBinaryType;
  /**
   * A value that can outgrow the RDS Data API's 64 KB row limit (content, metadata, vectors): its
   * text form, which that driver reads in pieces when a row would not fit. For `text[]` the text
   * must be JSON (`array_to_json(…)::text`); for a vector, pgvector's own text form.
   */
  wide?: string;
  /** An upper bound of the wide value's size in bytes, where that is cheaper than its text. */
  wideBytes?: string;
}

/**
 * A read of rows that each have a unique key: a select list over `from`, filtered, ordered and
 * limited. Kept in parts rather than as one SQL string so that the Data API driver can wrap it.
 */
export interface KeyedRead {
  /** The FROM item with its alias, e.g. `memories m`. */
  from: string;
  alias: string;
  /** The key expression and its SQL type, e.g. `m.id` and `uuid`. */
  key: string;
  keyType: string;
  columns: readonly KeyedColumn[];
  where: string;
  orderBy: string;
  limit?: number;
}

export const limitClause = (read: KeyedRead) =>
  read.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(read.limit))}`;

/** The read as one SELECT. */
export function keyedQuery(read: KeyedRead): string {
  return `SELECT ${read.columns.map((c) => c.sql).join(', ')} FROM ${read.from}
    WHERE ${read.where} ORDER BY ${read.orderBy}${limitClause(read)}`;
}
