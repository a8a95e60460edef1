import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseArrayLiteral } from 'postgres-array';
import { z } from 'zod';
import pg from '../../functions/db/pg/driver.js';
import { databaseNameOf, databaseUrl } from './templates.js';

/**
 * An emulation of the RDS Data API (Aurora PostgreSQL) over a real PostgreSQL server, speaking the
 * REST-JSON protocol of `@aws-sdk/client-rds-data`: point the client's `endpoint` at it.
 */
export interface DataApiServer {
  endpoint: string;
  close(): Promise<void>;
  stats(): { requests: number; transactionsOpen: number };
}

export interface DataApiServerOptions {
  /** postgresql:// URL of the server; the request's `database` field replaces its database name. */
  serverUrl: string;
  resourceArn: string;
  secretArn: string;
  /** default 1 MiB (1_048_576): JSON size of the records of one response */
  maxResponseBytes?: number;
  /** default 4 MiB: size of one request body */
  maxRequestBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;
const DEFAULT_MAX_REQUEST_BYTES = 4 * 1_048_576;
/** The real service's limit for one row, whatever the response limit. */
const MAX_RECORD_BYTES = 65_536;
const POOL_SIZE = 10;

// ---------------------------------------------------------------------------------------------
// Errors, shaped as the SDK's restJson1 deserializer expects them

const ERROR_STATUS = {
  BadRequestException: 400,
  DatabaseErrorException: 400,
  ForbiddenException: 403,
  NotFoundException: 404,
  InternalServerErrorException: 500,
} as const;

type ErrorName = keyof typeof ERROR_STATUS;

class DataApiError extends Error {
  constructor(
    readonly errorType: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string): DataApiError => new DataApiError('BadRequestException', message);

function toDataApiError(error: unknown): DataApiError {
  if (error instanceof DataApiError) return error;
  // The real service's shape for PostgreSQL errors; callers parse the SQLState out of it.
  if (error instanceof pg.DatabaseError)
    return badRequest(`ERROR: ${error.message}; SQLState: ${error.code}`);
  const message = error instanceof Error ? error.message : String(error);
  return new DataApiError('InternalServerErrorException', message);
}

/** Errors after which a pooled connection cannot be trusted and must not go back to the pool. */
const isConnectionFault = (error: unknown): boolean =>
  !(error instanceof DataApiError || error instanceof pg.DatabaseError);

// ---------------------------------------------------------------------------------------------
// Requests

const wireField = z.object({
  isNull: z.boolean().optional(),
  booleanValue: z.boolean().optional(),
  longValue: z.number().optional(),
  // Smithy's JSON writes non-finite doubles as strings.
  doubleValue: z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).optional(),
  stringValue: z.string().optional(),
  blobValue: z.string().optional(),
  arrayValue: z.unknown().optional(),
});

type WireField = z.infer<typeof wireField>;

const TYPE_HINT_CASTS = {
  DATE: 'date',
  DECIMAL: 'numeric',
  JSON: 'jsonb',
  TIME: 'time',
  TIMESTAMP: 'timestamp',
  UUID: 'uuid',
} as const;

const sqlParameter = z.object({
  name: z.string().min(1),
  value: wireField.optional(),
  typeHint: z.enum(['DATE', 'DECIMAL', 'JSON', 'TIME', 'TIMESTAMP', 'UUID']).optional(),
});

type SqlParameter = z.infer<typeof sqlParameter>;

const secretRequest = z.object({ resourceArn: z.string(), secretArn: z.string() });

const executeRequest = secretRequest.extend({
  database: z.string().optional(),
  sql: z.string(),
  parameters: z.array(sqlParameter).optional(),
  transactionId: z.string().optional(),
  includeResultMetadata: z.boolean().optional(),
  continueAfterTimeout: z.boolean().optional(),
  formatRecordsAs: z.enum(['NONE', 'JSON']).optional(),
});

type ExecuteRequest = z.infer<typeof executeRequest>;

const batchExecuteRequest = secretRequest.extend({
  database: z.string().optional(),
  sql: z.string(),
  parameterSets: z.array(z.array(sqlParameter)).optional(),
  transactionId: z.string().optional(),
});

const beginRequest = secretRequest.extend({ database: z.string().optional() });

const endTransactionRequest = secretRequest.extend({ transactionId: z.string() });

function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest(z.prettifyError(parsed.error));
  return parsed.data;
}

async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the limit: answering mid-upload makes the client see a reset socket
  // instead of the error.
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw badRequest('Request size exceeds the limit');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('The request body is not valid JSON');
  }
}

// ---------------------------------------------------------------------------------------------
// Named placeholders (:name) to PostgreSQL's positional ones ($n)

interface Placeholder {
  name: string;
  start: number;
  end: number;
}

const IDENTIFIER_START = /[A-Za-z_\u0080-\uffff]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const PARAMETER_NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

const isIdentifierPart = (char: string | undefined): boolean =>
  char !== undefined && IDENTIFIER_PART.test(char);

function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const char = sql[i];
    if (backslashEscapes && char === '\\') i += 2;
    else if (char === quote && sql[i + 1] === quote) i += 2;
    else if (char === quote) return i + 1;
    else i += 1;
  }
  return sql.length;
}

/** E'...' strings are the only ones where a backslash escapes the quote. */
const isEscapeString = (sql: string, quoteAt: number): boolean =>
  (sql[quoteAt - 1] === 'E' || sql[quoteAt - 1] === 'e') && !isIdentifierPart(sql[quoteAt - 2]);

function skipBlockComment(sql: string, start: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = start;
  do {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
    } else i += 1;
  } while (depth > 0 && i < sql.length);
  return i;
}

function skipLineComment(sql: string, start: number): number {
  const end = sql.indexOf('\n', start);
  return end < 0 ? sql.length : end + 1;
}

/** Past a $tag$...$tag$ body, or one character on when `start` opens none (a `$1`, say). */
function skipDollarQuoted(sql: string, start: number): number {
  // `a$b$` is an identifier, not a quote.
  if (isIdentifierPart(sql[start - 1])) return start + 1;
  DOLLAR_TAG.lastIndex = start;
  const tag = DOLLAR_TAG.exec(sql)?.[0];
  if (tag === undefined) return start + 1;
  const end = sql.indexOf(tag, start + tag.length);
  return end < 0 ? sql.length : end + tag.length;
}

function placeholderAt(sql: string, colon: number): Placeholder | undefined {
  if (!IDENTIFIER_START.test(sql[colon + 1] ?? '')) return undefined;
  PARAMETER_NAME.lastIndex = colon + 1;
  const name = PARAMETER_NAME.exec(sql)?.[0];
  return name === undefined ? undefined : { name, start: colon, end: colon + 1 + name.length };
}

function findPlaceholders(sql: string): Placeholder[] {
  const found: Placeholder[] = [];
  let i = 0;
  while (i < sql.length) {
    const char = sql[i];
    const next = sql[i + 1];
    if (char === "'") i = skipQuoted(sql, i, "'", isEscapeString(sql, i));
    else if (char === '"') i = skipQuoted(sql, i, '"', false);
    else if (char === '-' && next === '-') i = skipLineComment(sql, i);
    else if (char === '/' && next === '*') i = skipBlockComment(sql, i);
    else if (char === '$') i = skipDollarQuoted(sql, i);
    // `::` is a cast: neither of its colons opens a placeholder.
    else if (char === ':' && next === ':') i += 2;
    else if (char === ':') {
      const placeholder = placeholderAt(sql, i);
      if (placeholder) found.push(placeholder);
      i = placeholder?.end ?? i + 1;
    } else i += 1;
  }
  return found;
}

function toPgValue(field: WireField | undefined): unknown {
  if (field === undefined || field.isNull) return null;
  if (field.arrayValue !== undefined) throw badRequest('Array parameters are not supported.');
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return Number(field.doubleValue);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue, 'base64');
  return null;
}

interface Statement {
  text: string;
  values: unknown[];
}

function compileStatement(sql: string, parameters: SqlParameter[] = []): Statement {
  const byName = new Map<string, SqlParameter>();
  for (const parameter of parameters) if (!byName.has(parameter.name)) byName.set(parameter.name, parameter);
  const numbers = new Map<string, number>();
  const values: unknown[] = [];
  let text = '';
  let copied = 0;
  for (const { name, start, end } of findPlaceholders(sql)) {
    const parameter = byName.get(name);
    if (!parameter) throw badRequest(`No value specified for parameter: ${name}`);
    let number = numbers.get(name);
    if (number === undefined) {
      values.push(toPgValue(parameter.value));
      number = values.length;
      numbers.set(name, number);
    }
    const cast = parameter.typeHint
      ? `::${TYPE_HINT_CASTS[parameter.typeHint]}`
      : `::${parameterType(parameter.value)}`;
    text += `${sql.slice(copied, start)}$${number}${cast}`;
    copied = end;
  }
  return { text: text + sql.slice(copied), values };
}

/**
 * The service binds each value with a type of its own (JDBC-style): a string arrives as varchar,
 * not as pg's "unknown", so SQL that stores one in a uuid, jsonb or timestamp column must cast it
 * or send a type hint. Typing the parameters here keeps the driver honest about that.
 */
function parameterType(value: SqlParameter['value']): string {
  const field = value as Record<string, unknown>;
  if (field.isNull) return 'unknown';
  if ('longValue' in field) return 'int8';
  if ('doubleValue' in field) return 'float8';
  if ('booleanValue' in field) return 'bool';
  if ('blobValue' in field) return 'bytea';
  return 'varchar';
}

// ---------------------------------------------------------------------------------------------
// Results to Fields

type ArrayValue =
  | { longValues: (number | null)[] }
  | { doubleValues: (number | string | null)[] }
  | { booleanValues: (boolean | null)[] }
  | { stringValues: (string | null)[] }
  | { arrayValues: ArrayValue[] };

type Field =
  | { isNull: true }
  | { longValue: number }
  | { doubleValue: number | string }
  | { booleanValue: boolean }
  | { stringValue: string }
  | { blobValue: string }
  | { arrayValue: ArrayValue };

interface Column {
  name: string;
  typeName: string;
  /** Element type name of an array column. */
  elementType?: string;
}

type ArrayElement = string | null | ArrayElement[];

const LONG_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);
const DOUBLE_TYPES = new Set(['float4', 'float8']);

/** JSON has no NaN or Infinity: Smithy writes them as the very strings PostgreSQL prints. */
function toWireDouble(text: string): number | string {
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

function decodeBytea(text: string): Buffer {
  if (!text.startsWith('\\x')) throw new Error(`bytea not in hex output format: ${text.slice(0, 20)}`);
  return Buffer.from(text.slice(2), 'hex');
}

function toArrayValue(elements: ArrayElement[], elementType: string): ArrayValue {
  if (elements.some(Array.isArray)) {
    return {
      arrayValues: elements.map((element) =>
        toArrayValue(Array.isArray(element) ? element : [element], elementType),
      ),
    };
  }
  const scalars = elements as (string | null)[];
  const each = <T>(convert: (text: string) => T): (T | null)[] =>
    scalars.map((text) => (text === null ? null : convert(text)));
  if (LONG_TYPES.has(elementType)) return { longValues: each(Number) };
  if (DOUBLE_TYPES.has(elementType)) return { doubleValues: each(toWireDouble) };
  if (elementType === 'bool') return { booleanValues: each((text) => text === 't') };
  return { stringValues: scalars };
}

function toField(text: string | null, column: Column): Field {
  if (text === null) return { isNull: true };
  if (column.elementType !== undefined) {
    const elements = parseArrayLiteral(text) as ArrayElement[];
    return { arrayValue: toArrayValue(elements, column.elementType) };
  }
  if (LONG_TYPES.has(column.typeName)) return { longValue: Number(text) };
  if (DOUBLE_TYPES.has(column.typeName)) return { doubleValue: toWireDouble(text) };
  if (column.typeName === 'bool') return { booleanValue: text === 't' };
  if (column.typeName === 'bytea') return { blobValue: decodeBytea(text).toString('base64') };
  return { stringValue: text };
}

function arrayValueToJson(value: ArrayValue): unknown[] {
  if ('arrayValues' in value) return value.arrayValues.map(arrayValueToJson);
  return Object.values(value)[0] as unknown[];
}

function fieldToJson(field: Field): unknown {
  if ('isNull' in field) return null;
  if ('arrayValue' in field) return arrayValueToJson(field.arrayValue);
  return Object.values(field)[0];
}

function checkRecordsSize(records: Field[][], limit: number): void {
  let total = 2; // the brackets
  for (const [index, record] of records.entries()) {
    const size = Buffer.byteLength(JSON.stringify(record));
    if (size > MAX_RECORD_BYTES) throw badRequest('Database response exceeded size limit');
    total += size + (index > 0 ? 1 : 0);
    if (total > limit) throw badRequest('Database returned more than the allowed response size limit');
  }
}

function formatRecordsAsJson(records: Field[][], columns: Column[], limit: number): string {
  const rows = records.map((record) =>
    Object.fromEntries(columns.map((column, index) => [column.name, fieldToJson(record[index]!)])),
  );
  const text = JSON.stringify(rows);
  if (Buffer.byteLength(text) > limit) {
    throw badRequest('Database returned more than the allowed response size limit');
  }
  return text;
}

interface ExecuteResponse {
  records?: Field[][];
  formattedRecords?: string;
  columnMetadata?: { name: string; typeName: string; type: number; label: string; nullable: number }[];
  numberOfRecordsUpdated: number;
  generatedFields: [];
}

/** A multi-statement simple query answers one result per statement: the last one speaks for all. */
function lastResult(raw: pg.QueryArrayResult | pg.QueryArrayResult[]): pg.QueryArrayResult {
  const result = Array.isArray(raw) ? raw.at(-1) : raw;
  if (!result) throw badRequest('The SQL statement is empty');
  return result;
}

// ---------------------------------------------------------------------------------------------
// The emulator

interface OpenTransaction {
  client: pg.PoolClient;
  database: string;
}

// Values stay PostgreSQL's text output: the conversion to Fields goes by type name, as the service does.
const rawText = (value: string): string => value;
const RAW_TEXT_TYPES = {
  getTypeParser: (() => rawText) as unknown as pg.CustomTypesConfig['getTypeParser'],
};

async function prepareConnection(client: pg.ClientBase): Promise<void> {
  // A connection that dies while checked out (a test dropping its database) emits 'error' with
  // nobody listening, which would end the process; the next query on it fails cleanly instead.
  client.on('error', () => {});
  // bytea_output: decodeBytea reads the hex form only.
  await client.query("SET TimeZone = 'UTC'; SET bytea_output = 'hex'");
}

class DataApiEmulator {
  requests = 0;
  private closed = false;
  readonly transactions = new Map<string, OpenTransaction>();
  private readonly pools = new Map<string, pg.Pool>();
  /** Per database, because extension types (vector) get different OIDs in each. */
  private readonly columnTypes = new Map<string, Map<number, Omit<Column, 'name'>>>();
  private readonly defaultDatabase: string;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: DataApiServerOptions) {
    this.defaultDatabase = databaseNameOf(options.serverUrl);
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  readonly operations = new Map<string, (body: unknown) => Promise<unknown>>([
    ['/Execute', (body) => this.executeStatement(body)],
    ['/BatchExecute', (body) => this.batchExecuteStatement(body)],
    ['/BeginTransaction', (body) => this.beginTransaction(body)],
    ['/CommitTransaction', (body) => this.endTransaction(body, 'COMMIT')],
    ['/RollbackTransaction', (body) => this.endTransaction(body, 'ROLLBACK')],
  ]);

  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.transactions.values()];
    this.transactions.clear();
    await Promise.all(
      open.map(async ({ client }) => {
        const broken = await client.query('ROLLBACK').then(
          () => false,
          () => true,
        );
        client.release(broken);
      }),
    );
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.end()));
  }

  private authorize(request: z.infer<typeof secretRequest>): void {
    if (request.resourceArn !== this.options.resourceArn) {
      throw new DataApiError(
        'ForbiddenException',
        `HttpEndpoint is not enabled for resource ${request.resourceArn}`,
      );
    }
    if (request.secretArn !== this.options.secretArn) {
      throw new DataApiError(
        'ForbiddenException',
        `The secret ${request.secretArn} is not valid for resource ${request.resourceArn}`,
      );
    }
  }

  private parse<T extends z.infer<typeof secretRequest>>(schema: z.ZodType<T>, body: unknown): T {
    const request = parseRequest(schema, body);
    this.authorize(request);
    return request;
  }

  private pool(database: string): pg.Pool {
    // A pool made after close() would never be ended.
    if (this.closed) throw new DataApiError('InternalServerErrorException', 'The server is closing');
    let pool = this.pools.get(database);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: databaseUrl(this.options.serverUrl, database),
        max: POOL_SIZE,
        types: RAW_TEXT_TYPES,
        onConnect: prepareConnection,
      });
      // Idle connections the server drops (a test dropping its database) must not end the process.
      pool.on('error', () => {});
      this.pools.set(database, pool);
    }
    return pool;
  }

  private async withPoolClient<T>(database: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool(database).connect();
    let broken = false;
    try {
      return await work(client);
    } catch (error) {
      broken = isConnectionFault(error);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private transaction(transactionId: string): OpenTransaction {
    const transaction = this.transactions.get(transactionId);
    if (!transaction)
      throw new DataApiError('NotFoundException', `Transaction ${transactionId} is not found`);
    return transaction;
  }

  /** The transaction's connection when there is one, else a pooled connection in autocommit. */
  private withStatementClient<T>(
    request: { database?: string; transactionId?: string },
    work: (client: pg.ClientBase, database: string) => Promise<T>,
  ): Promise<T> {
    if (request.transactionId !== undefined) {
      const { client, database } = this.transaction(request.transactionId);
      return work(client, database);
    }
    const database = request.database ?? this.defaultDatabase;
    return this.withPoolClient(database, (client) => work(client, database));
  }

  private async columnsOf(client: pg.ClientBase, database: string, fields: pg.FieldDef[]): Promise<Column[]> {
    let known = this.columnTypes.get(database);
    if (!known) {
      known = new Map();
      this.columnTypes.set(database, known);
    }
    const missing = [...new Set(fields.map((field) => field.dataTypeID))].filter((oid) => !known.has(oid));
    if (missing.length > 0) {
      // On the statement's own connection: a pool connection could deadlock against open transactions.
      const { rows } = await client.query<{ oid: string; typname: string; typcategory: string }>(
        'SELECT oid, typname, typcategory FROM pg_type WHERE oid = ANY($1::oid[])',
        [missing],
      );
      for (const row of rows) {
        const isArray = row.typcategory === 'A' && row.typname.startsWith('_');
        known.set(Number(row.oid), {
          typeName: row.typname,
          ...(isArray ? { elementType: row.typname.slice(1) } : {}),
        });
      }
    }
    return fields.map((field) => ({
      name: field.name,
      ...(known.get(field.dataTypeID) ?? { typeName: 'unknown' }),
    }));
  }

  private async executeStatement(body: unknown): Promise<ExecuteResponse> {
    const request = this.parse(executeRequest, body);
    const statement = compileStatement(request.sql, request.parameters);
    return this.withStatementClient(request, async (client, database) => {
      const result = await runStatement(client, statement);
      const columns = result.fields.length > 0 ? await this.columnsOf(client, database, result.fields) : [];
      return this.toExecuteResponse(result, columns, request);
    });
  }

  private toExecuteResponse(result: pg.QueryArrayResult, columns: Column[], request: ExecuteRequest) {
    const response: ExecuteResponse = {
      numberOfRecordsUpdated: result.command === 'SELECT' ? 0 : (result.rowCount ?? 0),
      generatedFields: [],
    };
    if (result.fields.length === 0) return response;
    const records = result.rows.map((row) =>
      columns.map((column, index) => toField(row[index] as string | null, column)),
    );
    if (request.formatRecordsAs === 'JSON') {
      response.formattedRecords = formatRecordsAsJson(records, columns, this.maxResponseBytes);
    } else {
      checkRecordsSize(records, this.maxResponseBytes);
      response.records = records;
    }
    if (request.includeResultMetadata) {
      response.columnMetadata = columns.map(({ name, typeName }) => ({
        name,
        typeName,
        type: 0,
        label: name,
        nullable: 2,
      }));
    }
    return response;
  }

  private async batchExecuteStatement(body: unknown): Promise<{ updateResults: { generatedFields: [] }[] }> {
    const request = this.parse(batchExecuteRequest, body);
    const sets = request.parameterSets ?? [];
    // Compiled up front, so a missing parameter in the last set writes nothing.
    const statements = (sets.length > 0 ? sets : [[]]).map((set) => compileStatement(request.sql, set));
    const runAll = async (client: pg.ClientBase): Promise<void> => {
      for (const statement of statements) await runStatement(client, statement);
    };
    if (request.transactionId !== undefined) {
      await runAll(this.transaction(request.transactionId).client);
    } else {
      await this.withPoolClient(request.database ?? this.defaultDatabase, (client) =>
        inTransaction(client, () => runAll(client)),
      );
    }
    return { updateResults: sets.map(() => ({ generatedFields: [] })) };
  }

  private async beginTransaction(body: unknown): Promise<{ transactionId: string }> {
    const request = this.parse(beginRequest, body);
    const database = request.database ?? this.defaultDatabase;
    const client = await this.pool(database).connect();
    try {
      await client.query('BEGIN');
    } catch (error) {
      client.release(isConnectionFault(error));
      throw error;
    }
    if (this.closed) {
      // close() has already rolled back the open transactions; pool.end() would wait for this one.
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
      throw new DataApiError('InternalServerErrorException', 'The server is closing');
    }
    const transactionId = randomBytes(48).toString('base64');
    this.transactions.set(transactionId, { client, database });
    return { transactionId };
  }

  private async endTransaction(
    body: unknown,
    command: 'COMMIT' | 'ROLLBACK',
  ): Promise<{ transactionStatus: string }> {
    const request = this.parse(endTransactionRequest, body);
    const { client } = this.transaction(request.transactionId);
    this.transactions.delete(request.transactionId);
    let result: pg.QueryResult;
    try {
      result = await client.query(command);
    } catch (error) {
      client.release(isConnectionFault(error));
      throw error;
    }
    client.release();
    // PostgreSQL answers COMMIT of a failed transaction with a ROLLBACK, not an error; a caller
    // told "committed" would lose writes without a word.
    if (command === 'COMMIT' && result.command === 'ROLLBACK') {
      throw badRequest(
        `Transaction ${request.transactionId} was rolled back, not committed: a statement in it failed`,
      );
    }
    return { transactionStatus: command === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete' };
  }
}

async function runStatement(client: pg.ClientBase, statement: Statement): Promise<pg.QueryArrayResult> {
  const raw: pg.QueryArrayResult | pg.QueryArrayResult[] = await client.query({
    text: statement.text,
    // Without values pg uses the simple protocol, which accepts several statements at once.
    values: statement.values.length > 0 ? statement.values : undefined,
    rowMode: 'array',
  });
  return lastResult(raw);
}

async function inTransaction(client: pg.ClientBase, work: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await work();
    await client.query('COMMIT');
  } catch (error) {
    // The statement's error says what went wrong; a failing ROLLBACK only means the connection
    // is gone, and withPoolClient then discards it.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.destroyed || response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: DataApiError): void {
  sendJson(
    response,
    ERROR_STATUS[error.errorType],
    { message: error.message },
    {
      'x-amzn-errortype': error.errorType,
    },
  );
}

export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const emulator = new DataApiEmulator(options);
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;

  const handle = async (request: IncomingMessage): Promise<unknown> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const operation = request.method === 'POST' ? emulator.operations.get(path) : undefined;
    if (!operation) {
      request.resume();
      throw new DataApiError('NotFoundException', `No operation at ${request.method} ${path}`);
    }
    return operation(await readJsonBody(request, maxRequestBytes));
  };

  const server = createServer((request, response) => {
    emulator.requests += 1;
    handle(request).then(
      (body) => sendJson(response, 200, body),
      (error: unknown) => sendError(response, toDataApiError(error)),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ requests: emulator.requests, transactionsOpen: emulator.transactions.size }),
    close: async () => {
      await emulator.close();
      // The SDK keeps its sockets alive; without this, close() waits for them to time out.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
