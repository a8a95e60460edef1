import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataApiServer, startDataApiServer } from '../../dev/harness/data-api-server.js';
import { createDatabase, dropDatabase } from '../../dev/harness/databases.js';

const resourceArn = 'arn:aws:rds:us-east-1:123456789012:cluster:test';
const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:test';

function clientFor(server: DataApiServer): RDSDataClient {
  return new RDSDataClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // Failures here are meant to surface at once, not after the SDK's retries.
    maxAttempts: 1,
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('Expected the request to fail, and it succeeded');
  return outcome;
}

describe('RDS Data API emulator', () => {
  let url: string;
  let server: DataApiServer;
  let client: RDSDataClient;

  const execute = (sql: string, more: Partial<ExecuteStatementCommandInput> = {}) =>
    client.send(new ExecuteStatementCommand({ resourceArn, secretArn, sql, ...more }));
  const count = async (table: string): Promise<number | undefined> =>
    (await execute(`SELECT count(*)::int AS n FROM ${table}`)).records?.[0]?.[0]?.longValue;

  beforeAll(async () => {
    url = await createDatabase('empty');
    server = await startDataApiServer({ serverUrl: url, resourceArn, secretArn });
    client = clientFor(server);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    if (url) await dropDatabase(url);
  });

  it('rewrites named parameters, leaving casts, strings, quoted bodies and comments alone', async () => {
    const parameters: SqlParameter[] = [
      { name: 'n', value: { longValue: 21 } },
      { name: 'ts', value: { stringValue: '2024-03-04 05:06:07' }, typeHint: 'TIMESTAMP' },
      { name: 'doc', value: { stringValue: '{"k": "v"}' }, typeHint: 'JSON' },
      { name: 'unused', value: { stringValue: 'ignored' } },
    ];
    const result = await execute(
      `SELECT :n::int + :n::int AS twice,
              pg_typeof(:ts)::text AS ts_type, :ts::text AS ts,
              pg_typeof(:doc)::text AS doc_type, :doc->>'k' AS k,
              ':not_a' AS quoted, ":in_ident" IS NULL AS ident, $$:nor$$ AS dollar,
              $tag$ :nor_this $tag$ AS tagged, E'\\' :x' AS escaped /* :comment /* nested */ :c */
       FROM (SELECT NULL AS ":in_ident") AS t -- :line_comment`,
      { parameters },
    );
    expect(result.records).toEqual([
      [
        { longValue: 42 },
        { stringValue: 'timestamp without time zone' },
        { stringValue: '2024-03-04 05:06:07' },
        { stringValue: 'jsonb' },
        { stringValue: 'v' },
        { stringValue: ':not_a' },
        { booleanValue: true },
        { stringValue: ':nor' },
        { stringValue: ' :nor_this ' },
        { stringValue: "' :x" },
      ],
    ]);
    expect(result.numberOfRecordsUpdated).toBe(0);
  });

  it('rejects a placeholder without a parameter and array parameters', async () => {
    const missing = await rejection(
      execute('SELECT :a, :b', { parameters: [{ name: 'a', value: { longValue: 1 } }] }),
    );
    expect(missing.name).toBe('BadRequestException');
    expect(missing.message).toBe('No value specified for parameter: b');

    const array = await rejection(
      execute('SELECT :a', { parameters: [{ name: 'a', value: { arrayValue: { longValues: [1] } } }] }),
    );
    expect(array.name).toBe('BadRequestException');
    expect(array.message).toBe('Array parameters are not supported.');
  });

  it('answers each column type with its Field and column metadata', async () => {
    await execute(`CREATE TABLE typed (
      i4 int4, i8 int8, f8 float8, b bool, t text, tz timestamptz, j jsonb, tags text[], ints int4[],
      bytes bytea, missing text, special float8)`);
    const inserted = await execute(
      `INSERT INTO typed VALUES (:i4, :i8, :f8, :b, :t, '2024-01-02 03:04:05+02', :j, '{a,"b c",NULL}',
        '{{1,2},{3,4}}', :bytes, :missing, 'NaN')`,
      {
        parameters: [
          { name: 'i4', value: { longValue: -7 } },
          { name: 'i8', value: { longValue: 1_234_567_890_123 } },
          { name: 'f8', value: { doubleValue: 2.5 } },
          { name: 'b', value: { booleanValue: true } },
          { name: 't', value: { stringValue: 'héllo' } },
          { name: 'j', value: { stringValue: '{"a": [1, 2]}' }, typeHint: 'JSON' },
          { name: 'bytes', value: { blobValue: new Uint8Array([0, 1, 254, 255]) } },
          { name: 'missing', value: { isNull: true } },
        ],
      },
    );
    expect(inserted.numberOfRecordsUpdated).toBe(1);
    expect(inserted.records).toBeUndefined();

    const result = await execute('SELECT * FROM typed', { includeResultMetadata: true });
    expect(result.columnMetadata?.map((column) => [column.name, column.typeName])).toEqual([
      ['i4', 'int4'],
      ['i8', 'int8'],
      ['f8', 'float8'],
      ['b', 'bool'],
      ['t', 'text'],
      ['tz', 'timestamptz'],
      ['j', 'jsonb'],
      ['tags', '_text'],
      ['ints', '_int4'],
      ['bytes', 'bytea'],
      ['missing', 'text'],
      ['special', 'float8'],
    ]);
    const [record] = result.records ?? [];
    const bytes = record?.[9]?.blobValue;
    expect(bytes && Buffer.from(bytes)).toEqual(Buffer.from([0, 1, 254, 255]));
    const others: Field[] = [...(record ?? [])];
    others.splice(9, 1);
    expect(others).toEqual([
      { longValue: -7 },
      { longValue: 1_234_567_890_123 },
      { doubleValue: 2.5 },
      { booleanValue: true },
      { stringValue: 'héllo' },
      // Sessions run in UTC, and values are PostgreSQL's own text.
      { stringValue: '2024-01-02 01:04:05+00' },
      { stringValue: '{"a": [1, 2]}' },
      { arrayValue: { stringValues: ['a', 'b c', null] } },
      { arrayValue: { arrayValues: [{ longValues: [1, 2] }, { longValues: [3, 4] }] } },
      { isNull: true },
      { doubleValue: Number.NaN },
    ]);
  });

  it('formats records as JSON on request', async () => {
    const result = await execute("SELECT 1 AS one, 'x' AS x, NULL::int AS nothing, ARRAY[true] AS flags", {
      formatRecordsAs: 'JSON',
    });
    expect(result.records).toBeUndefined();
    expect(JSON.parse(result.formattedRecords ?? '')).toEqual([
      { one: 1, x: 'x', nothing: null, flags: [true] },
    ]);
  });

  it('runs a transaction on one connection, rolled back or committed', async () => {
    await execute('CREATE TABLE moves (id int PRIMARY KEY)');
    const insertTwice = async (transactionId: string | undefined) => {
      await execute('INSERT INTO moves VALUES (1)', { transactionId });
      await execute('INSERT INTO moves VALUES (2)', { transactionId });
    };

    const first = await client.send(new BeginTransactionCommand({ resourceArn, secretArn }));
    await insertTwice(first.transactionId);
    expect(server.stats().transactionsOpen).toBe(1);
    // Not visible outside the transaction until it commits.
    expect(await count('moves')).toBe(0);
    const rolledBack = await client.send(
      new RollbackTransactionCommand({ resourceArn, secretArn, transactionId: first.transactionId }),
    );
    expect(rolledBack.transactionStatus).toBe('Rollback Complete');
    expect(await count('moves')).toBe(0);

    const second = await client.send(new BeginTransactionCommand({ resourceArn, secretArn }));
    await insertTwice(second.transactionId);
    const committed = await client.send(
      new CommitTransactionCommand({ resourceArn, secretArn, transactionId: second.transactionId }),
    );
    expect(committed.transactionStatus).toBe('Transaction Committed');
    expect(await count('moves')).toBe(2);
    expect(server.stats().transactionsOpen).toBe(0);

    const gone = await rejection(execute('SELECT 1', { transactionId: second.transactionId }));
    expect(gone.name).toBe('NotFoundException');
    expect(gone.message).toBe(`Transaction ${second.transactionId} is not found`);
  });

  it('leaves a transaction aborted after a failed statement, as PostgreSQL does', async () => {
    await execute('CREATE TABLE aborted (id int PRIMARY KEY)');
    const { transactionId } = await client.send(new BeginTransactionCommand({ resourceArn, secretArn }));
    await execute('INSERT INTO aborted VALUES (1)', { transactionId });
    await rejection(execute('INSERT INTO aborted VALUES (1)', { transactionId }));
    const next = await rejection(execute('SELECT 1', { transactionId }));
    expect(next.message).toMatch(/SQLState: 25P02$/);
    const commit = await rejection(
      client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })),
    );
    expect(commit.name).toBe('BadRequestException');
    expect(await count('aborted')).toBe(0);
    expect(server.stats().transactionsOpen).toBe(0);
  });

  it('runs a batch once per parameter set', async () => {
    await execute('CREATE TABLE batch (id int PRIMARY KEY, label text)');
    const result = await client.send(
      new BatchExecuteStatementCommand({
        resourceArn,
        secretArn,
        sql: 'INSERT INTO batch VALUES (:id, :label)',
        parameterSets: [1, 2, 3].map((id) => [
          { name: 'id', value: { longValue: id } },
          { name: 'label', value: { stringValue: `row ${id}` } },
        ]),
      }),
    );
    expect(result.updateResults).toEqual([
      { generatedFields: [] },
      { generatedFields: [] },
      { generatedFields: [] },
    ]);
    const rows = await execute('SELECT id, label FROM batch ORDER BY id');
    expect(rows.records?.map((record) => record[1]?.stringValue)).toEqual(['row 1', 'row 2', 'row 3']);

    // A failing set takes the whole batch back.
    const failed = await rejection(
      client.send(
        new BatchExecuteStatementCommand({
          resourceArn,
          secretArn,
          sql: 'INSERT INTO batch VALUES (:id)',
          parameterSets: [
            [{ name: 'id', value: { longValue: 4 } }],
            [{ name: 'id', value: { longValue: 1 } }],
          ],
        }),
      ),
    );
    expect(failed.message).toMatch(/SQLState: 23505$/);
    expect(await count('batch')).toBe(3);
  });

  it('surfaces a PostgreSQL error as BadRequestException with its SQLState', async () => {
    await execute('CREATE TABLE uniq (id int PRIMARY KEY)');
    await execute('INSERT INTO uniq VALUES (1)');
    const error = await rejection(execute('INSERT INTO uniq VALUES (1)'));
    expect(error.name).toBe('BadRequestException');
    expect(error.message).toMatch(/^ERROR: duplicate key value violates unique constraint "uniq_pkey"; /);
    expect(error.message).toMatch(/SQLState: 23505$/);
  });

  it('refuses responses over the size limits', async () => {
    const total = await rejection(execute("SELECT repeat('x', 60000) FROM generate_series(1, 20)"));
    expect(total.name).toBe('BadRequestException');
    expect(total.message).toBe('Database returned more than the allowed response size limit');

    const row = await rejection(execute("SELECT repeat('x', 70000)"));
    expect(row.message).toBe('Database response exceeded size limit');

    const small = await startDataApiServer({
      serverUrl: url,
      resourceArn,
      secretArn,
      maxResponseBytes: 100,
      maxRequestBytes: 1000,
    });
    const smallClient = clientFor(small);
    try {
      const send = (sql: string) =>
        smallClient.send(new ExecuteStatementCommand({ resourceArn, secretArn, sql }));
      await expect(send('SELECT 1')).resolves.toMatchObject({ records: [[{ longValue: 1 }]] });
      const response = await rejection(send("SELECT repeat('x', 200)"));
      expect(response.message).toBe('Database returned more than the allowed response size limit');
      const request = await rejection(send(`SELECT '${'y'.repeat(2000)}'`));
      expect(request.name).toBe('BadRequestException');
      expect(request.message).toBe('Request size exceeds the limit');
    } finally {
      smallClient.destroy();
      await small.close();
    }
  });

  it('rejects the wrong secret or resource', async () => {
    const secret = await rejection(
      client.send(
        new ExecuteStatementCommand({ resourceArn, secretArn: `${secretArn}-other`, sql: 'SELECT 1' }),
      ),
    );
    expect(secret.name).toBe('ForbiddenException');
    expect(secret.message).toContain('is not valid');

    const resource = await rejection(
      client.send(new BeginTransactionCommand({ resourceArn: `${resourceArn}-other`, secretArn })),
    );
    expect(resource.name).toBe('ForbiddenException');
    expect(server.stats().transactionsOpen).toBe(0);
  });

  it('answers malformed requests with errors and keeps serving', async () => {
    const post = async (path: string, body: string, method = 'POST') => {
      const response = await fetch(`${server.endpoint}${path}`, {
        method,
        body: method === 'GET' ? null : body,
      });
      return {
        status: response.status,
        type: response.headers.get('x-amzn-errortype'),
        message: ((await response.json()) as { message: string }).message,
      };
    };
    expect(await post('/Nowhere', '{}')).toMatchObject({ status: 404, type: 'NotFoundException' });
    expect(await post('/Execute', '', 'GET')).toMatchObject({ status: 404, type: 'NotFoundException' });
    expect(await post('/Execute', '{not json')).toMatchObject({ status: 400, type: 'BadRequestException' });
    expect(await post('/Execute', JSON.stringify({ resourceArn, secretArn }))).toMatchObject({
      status: 400,
      type: 'BadRequestException',
    });
    expect((await execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
  });

  it('rolls back open transactions on close', async () => {
    await execute('CREATE TABLE unfinished (id int)');
    const other = await startDataApiServer({ serverUrl: url, resourceArn, secretArn });
    const otherClient = clientFor(other);
    const { transactionId } = await otherClient.send(new BeginTransactionCommand({ resourceArn, secretArn }));
    await otherClient.send(
      new ExecuteStatementCommand({
        resourceArn,
        secretArn,
        sql: 'INSERT INTO unfinished VALUES (1)',
        transactionId,
      }),
    );
    otherClient.destroy();
    await other.close();
    expect(await count('unfinished')).toBe(0);
  });

  it('uses the database a request names', async () => {
    const name = new URL(url).pathname.slice(1);
    const result = await execute('SELECT current_database()', { database: name });
    expect(result.records).toEqual([[{ stringValue: name }]]);
    const missing = await rejection(execute('SELECT 1', { database: 'no_such_database_here' }));
    expect(missing.message).toMatch(/SQLState: 3D000$/);
    expect(server.stats().requests).toBeGreaterThan(10);
  });
});
