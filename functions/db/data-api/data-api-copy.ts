/**
 * The Data API has no COPY. Rows go in by BatchExecuteStatement (one INSERT, many parameter sets,
 * sized under the service's 4 MiB request limit); rows come out of a cursor FETCHed in pages sized
 * under its 1 MiB response limit, and each row is re-encoded as binary COPY fields so the readers
 * above decode one format whatever the driver.
 */
import {
  BatchExecuteStatementCommand,
  ExecuteStatementCommand,
  type Field,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { MigrationError } from '../../errors.js';
import { decodeVector, encodeField, type PgBinaryType } from '../pg-binary.js';
import type { DataApiSession } from './data-api-pool.js';
import { arrayLiteral, binaryTypeOf, binaryValueOf } from './data-api-values.js';

const REQUEST_BUDGET_BYTES = 3 * 1024 * 1024;
// A value longer than this travels ahead of its row, in pieces of this many UTF-16 units.
const PIECE_UNITS = 512 * 1024;
const RESPONSE_BUDGET_BYTES = 640 * 1024;
const MAX_PAGE_ROWS = 1000;

const CASTS: Record<PgBinaryType, string> = {
  text: '',
  uuid: '::uuid',
  int4: '::int4',
  int8: '::int8',
  float8: '::float8',
  bool: '::bool',
  timestamp: '::timestamp',
  timestamptz: '::timestamptz',
  jsonb: '::jsonb',
  'text[]': '::text[]',
  vector: '::vector',
};

function vectorText(value: unknown): string {
  const floats = Buffer.isBuffer(value) ? decodeVector(value) : (value as ArrayLike<number>);
  // Each float4 prints as the shortest double that is exactly it, which parses back to the same float4.
  return `[${Array.from(floats).join(',')}]`;
}

function fieldOf(type: PgBinaryType, value: unknown): Field {
  if (value === null || value === undefined) return { isNull: true };
  switch (type) {
    case 'int4':
      return { longValue: Number(value) };
    case 'float8':
      return { doubleValue: Number(value) };
    case 'bool':
      return { booleanValue: Boolean(value) };
    case 'int8':
      return { stringValue: String(value) };
    case 'timestamp':
    case 'timestamptz': {
      const date = value instanceof Date ? value : new Date(Number(value));
      return { stringValue: date.toISOString() };
    }
    case 'jsonb':
      return { stringValue: typeof value === 'string' ? value : JSON.stringify(value) };
    case 'text[]':
      return { stringValue: arrayLiteral(value as unknown[]) };
    case 'vector':
      return { stringValue: vectorText(value) };
    default:
      return { stringValue: String(value) };
  }
}

function approximateBytes(fields: readonly Field[]): number {
  let n = 16;
  for (const f of fields)
    n += 24 + (f.stringValue?.length ?? 0) * 1.1 + (f.blobValue ? f.blobValue.length * 1.4 : 0);
  return n;
}

/** `into` is the COPY's own `table (columns)`; the values are cast to each column's binary type. */
export async function copyRowsInDataApi(
  session: DataApiSession,
  into: string,
  types: readonly PgBinaryType[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const placeholders = types.map((type, i) => `:p${i + 1}${CASTS[type]}`).join(', ');
  const sql = `INSERT INTO ${into} VALUES (${placeholders})`;
  let sets: SqlParameter[][] = [];
  let bytes = 0;
  const flush = async () => {
    if (sets.length === 0) return;
    await session.client.send(
      new BatchExecuteStatementCommand({
        ...session.target,
        sql,
        parameterSets: sets,
        transactionId: session.transactionId,
      }),
    );
    sets = [];
    bytes = 0;
  };
  for (const row of rows) {
    const fields = types.map((type, i) => fieldOf(type, row[i]));
    const size = approximateBytes(fields);
    if (size > REQUEST_BUDGET_BYTES) {
      await flush();
      await insertLongRow(session, into, types, fields);
      continue;
    }
    if (sets.length > 0 && bytes + size > REQUEST_BUDGET_BYTES) await flush();
    sets.push(fields.map((value, i) => ({ name: `p${i + 1}`, value })));
    bytes += size;
  }
  await flush();
}

/** Pieces of `text`, never splitting a surrogate pair (a lone half is not valid text to send). */
function piecesOf(text: string): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + PIECE_UNITS);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last < 0xdc00) end -= 1;
    pieces.push(text.slice(at, end));
    at = end;
  }
  return pieces;
}

/**
 * One row that alone passes the request limit (a memory of several megabytes): each long value
 * goes first, piece by piece, into a temporary table of the transaction, and the INSERT joins the
 * pieces back in place of the parameter. Temporary tables live on the transaction's connection, so
 * this needs one; the batch loader always has it.
 */
async function insertLongRow(
  session: DataApiSession,
  into: string,
  types: readonly PgBinaryType[],
  fields: readonly Field[],
): Promise<void> {
  if (session.transactionId === undefined) {
    throw new MigrationError(
      `a row for ${into} is over the Data API's request limit and there is no transaction to assemble it in`,
      {
        context: { into },
      },
    );
  }
  await session.query(
    'CREATE TEMP TABLE IF NOT EXISTS bm_long_values (slot int4, n int4, piece text) ON COMMIT DROP',
  );
  const values: string[] = [];
  const parameters: SqlParameter[] = [];
  for (const [slot, field] of fields.entries()) {
    const cast = CASTS[types[slot] as PgBinaryType];
    const text = field.stringValue;
    if (text === undefined || text.length <= PIECE_UNITS) {
      values.push(`:p${slot + 1}${cast}`);
      parameters.push({ name: `p${slot + 1}`, value: field });
      continue;
    }
    for (const [n, piece] of piecesOf(text).entries()) {
      await session.query('INSERT INTO bm_long_values VALUES ($1::int4, $2::int4, $3)', [slot, n, piece]);
    }
    values.push(`(SELECT string_agg(piece, '' ORDER BY n) FROM bm_long_values WHERE slot = ${slot})${cast}`);
  }
  await session.client.send(
    new ExecuteStatementCommand({
      ...session.target,
      sql: `INSERT INTO ${into} VALUES (${values.join(', ')})`,
      parameters,
      transactionId: session.transactionId,
    }),
  );
  await session.query('DELETE FROM bm_long_values');
}

let cursorCount = 0;

/**
 * The query's rows as binary COPY fields, a page at a time. A cursor needs a transaction: the
 * session's own if it has one, otherwise a REPEATABLE READ READ ONLY one opened and ended here, so
 * that statements the consumer runs between rows (a wide row's pieces) read the cursor's snapshot.
 */
export async function* dataApiTuples(
  session: DataApiSession,
  query: string,
): AsyncGenerator<(Buffer | null)[]> {
  const own = session.transactionId === undefined;
  const cursor = `bm_cursor_${++cursorCount}`;
  if (own) await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let finished = false;
  try {
    await session.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query}`);
    let pageRows = 50;
    for (;;) {
      const page = await session.query(`FETCH FORWARD ${pageRows} FROM ${cursor}`);
      let largest = 1;
      let types: PgBinaryType[] | undefined;
      for (const record of page.records) {
        types ??= page.columns.map(binaryTypeOf);
        largest = Math.max(largest, approximateBytes(record));
        yield record.map((field, i) => {
          const type = (types as PgBinaryType[])[i] as PgBinaryType;
          const value = binaryValueOf(field, page.columns[i] ?? {}, type);
          return value === null ? null : encodeField(type, value);
        });
      }
      if (page.records.length < pageRows) break;
      pageRows = Math.max(1, Math.min(MAX_PAGE_ROWS, Math.floor(RESPONSE_BUDGET_BYTES / largest)));
    }
    finished = true;
  } finally {
    if (own) {
      // A consumer that stopped early, or a failure, ends the transaction without keeping anything.
      await session.query(finished ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
    } else if (finished) {
      await session.query(`CLOSE ${cursor}`);
    }
  }
}
