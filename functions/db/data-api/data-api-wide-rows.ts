/**
 * The Data API refuses any result row over 64 KB, so one long memory (a pasted document, a large
 * metadata object) would fail its whole batch. A keyed read therefore runs with its wide values
 * blanked in rows that might not fit, and those values are then read by the row's key in pieces and
 * put back: the reader above gets every row whole, in order, as binary COPY fields.
 */
import { type KeyedRead, limitClause } from '../keyed-read.js';
import { encodeField, type PgBinaryType } from '../pg-binary.js';
import { dataApiTuples } from './data-api-copy.js';
import type { DataApiSession } from './data-api-pool.js';

// The limit counts the record as JSON, where escaping can double text: rows whose wide values
// together reach this many bytes are read in pieces.
const ROW_BUDGET_BYTES = 30_000;
// A piece travels as bytea (base64 in the response): 32 KiB stays well inside the row limit.
const PIECE_BYTES = 32 * 1024;
const FITS = '__bm_fits';

/** The read with each wide value NULL where the row may not fit, then the fit flag and the key. */
function wideRowsQuery(read: KeyedRead): string {
  const wide = read.columns.filter((c) => c.wide);
  const size = wide.map((c) => `coalesce(${c.wideBytes ?? `octet_length(${c.wide})`}, 0)`).join(' + ') || '0';
  const select = read.columns.map((c) =>
    c.wide ? `CASE WHEN ${read.alias}.${FITS} THEN ${c.sql} END` : c.sql,
  );
  return `SELECT ${select.join(', ')}, ${read.alias}.${FITS}, (${read.key})::text
    FROM (SELECT ${read.alias}.*, (${size}) < ${ROW_BUDGET_BYTES} AS ${FITS}
            FROM ${read.from} WHERE ${read.where}) ${read.alias}
    ORDER BY ${read.orderBy}${limitClause(read)}`;
}

function valueFromText(type: PgBinaryType, text: string): unknown {
  switch (type) {
    case 'text':
    case 'jsonb':
      return text;
    case 'vector':
    case 'text[]':
      // pgvector's text form is a JSON array; text[] values are read as array_to_json.
      return JSON.parse(text);
    default:
      throw new TypeError(`a ${type} column cannot be read in pieces`);
  }
}

/** The row's wide values, each as one binary COPY field, read in pieces by the row's key. */
async function readWideFields(
  session: DataApiSession,
  read: KeyedRead,
  key: string,
): Promise<Map<number, Buffer | null>> {
  const wide = read.columns.flatMap((c, index) => (c.wide ? [{ index, type: c.type, text: c.wide }] : []));
  const bytesOf = (text: string) => `convert_to(${text}, 'UTF8')`;
  const where = `WHERE ${read.key} = $1::${read.keyType}`;
  const { rows } = await session.query<Record<string, number | null>>(
    `SELECT ${wide.map((w, j) => `octet_length(${bytesOf(w.text)}) AS l${j}`).join(', ')} FROM ${read.from} ${where}`,
    [key],
  );
  const lengths = rows[0];
  if (!lengths) throw new Error(`row ${key} was gone before its wide values were read`);
  const fields = new Map<number, Buffer | null>();
  for (const [j, w] of wide.entries()) {
    const length = lengths[`l${j}`];
    if (length === null || length === undefined) {
      fields.set(w.index, null);
      continue;
    }
    const pieces: Buffer[] = [];
    for (let from = 1; from <= length; from += PIECE_BYTES) {
      const { rows: piece } = await session.query<{ piece: Buffer }>(
        `SELECT substring(${bytesOf(w.text)} FROM $2::int4 FOR $3::int4) AS piece FROM ${read.from} ${where}`,
        [key, from, PIECE_BYTES],
      );
      pieces.push(piece[0]?.piece ?? Buffer.alloc(0));
    }
    fields.set(w.index, encodeField(w.type, valueFromText(w.type, Buffer.concat(pieces).toString('utf8'))));
  }
  return fields;
}

/**
 * The keyed read's rows through the Data API, whole. The pieces are read between the cursor's
 * pages, inside the cursor's transaction: the REPEATABLE READ snapshot its own transaction takes,
 * or the caller's.
 */
export async function* keyedTuplesThroughDataApi(
  session: DataApiSession,
  read: KeyedRead,
): AsyncGenerator<(Buffer | null)[]> {
  const width = read.columns.length;
  for await (const tuple of dataApiTuples(session, wideRowsQuery(read))) {
    const fields = tuple.slice(0, width);
    if (tuple[width]?.[0] !== 1) {
      const key = tuple[width + 1]?.toString('utf8') ?? '';
      for (const [index, field] of await readWideFields(session, read, key)) fields[index] = field;
    }
    yield fields;
  }
}
