/**
 * A target refusing one row rather than the batch: a CHECK constraint, NOT NULL or foreign key of
 * its own, a value it cannot store, or a trigger raising an exception. Real installs add such
 * rules; the row becomes a reject with the server's reason and the rest of its batch commits.
 */

interface ServerError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  message?: string;
}

// 23502 not_null, 23503 foreign_key, 23514 check, 23P01 exclusion; class 22 is a value the column
// cannot hold; P0001 is a trigger's RAISE EXCEPTION. Unique violations (23505) are not here: the
// loader's upsert path handles those.
const ROW_SQLSTATES = new Set(['23502', '23503', '23514', '23P01', 'P0001']);

export function isRowRefusal(error: unknown): boolean {
  const code = (error as ServerError | null)?.code;
  return typeof code === 'string' && (ROW_SQLSTATES.has(code) || code.startsWith('22'));
}

/**
 * The refusal in words safe for a report: the server's code, constraint, table and column. Never
 * the server's DETAIL, which quotes the failing row (content, vectors). A trigger's own message is
 * kept, cut short: it is the only thing naming which rule refused.
 */
export function describeRefusal(error: unknown): string {
  const e = (error ?? {}) as ServerError;
  const parts = [`SQLSTATE ${e.code ?? 'unknown'}`];
  if (e.constraint) parts.push(`constraint "${e.constraint}"`);
  if (e.table) parts.push(`table "${e.table}"`);
  if (e.column) parts.push(`column "${e.column}"`);
  if (e.code === 'P0001' && e.message) parts.push(`trigger: ${e.message.slice(0, 200)}`);
  return `the target refused the row (${parts.join(', ')})`;
}
