import { decodeTuple } from './pg-binary.js';
import type { Database } from './port.js';

/**
 * One row's JSON value that may outgrow the RDS Data API's 64 KB row limit (a record's inputs),
 * read as a keyed read, which that driver takes in pieces when the row would not fit; null when no
 * row matches or the value is NULL. `key` is an expression unique to a row of `table` (alias `w`),
 * and `where` selects at most one row.
 */
export async function readWideJson(
  db: Database,
  read: { table: string; key: string; column: string; where: string },
): Promise<unknown | null> {
  const session = await db.connect();
  try {
    let text: string | null = null;
    await session.readKeyed(
      {
        from: `${read.table} w`,
        alias: 'w',
        key: read.key,
        keyType: 'text',
        columns: [{ sql: `w.${read.column}::text`, type: 'text', wide: `w.${read.column}::text` }],
        where: `(${read.where}) AND w.${read.column} IS NOT NULL`,
        orderBy: read.key,
        limit: 1,
      },
      (fields) => {
        text = decodeTuple(['text'], fields)[0] as string | null;
      },
    );
    return text === null ? null : JSON.parse(text);
  } finally {
    session.release();
  }
}
