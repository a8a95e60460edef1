import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataApiServer, startDataApiServer } from '../../dev/harness/data-api-server.js';
import { createDatabase, dropDatabase } from '../../dev/harness/databases.js';
import { copyRowsIn } from '../../functions/db/copy-stream.js';
import { DataApiPool } from '../../functions/db/data-api/data-api-pool.js';
import type { KeyedRead } from '../../functions/db/keyed-read.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import { decodeTuple, type PgBinaryType } from '../../functions/db/pg-binary.js';
import { type Database, inTransaction, type Tuple } from '../../functions/db/port.js';
import { MigrationError } from '../../functions/errors.js';

const RESOURCE_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:bigmemory';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bigmemory-admin';

const COLUMNS: { name: string; type: PgBinaryType; sql: string }[] = [
  { name: 'id', type: 'uuid', sql: 'uuid PRIMARY KEY' },
  { name: 'body', type: 'text', sql: 'text' },
  { name: 'n4', type: 'int4', sql: 'int4' },
  { name: 'n8', type: 'int8', sql: 'int8' },
  { name: 'f8', type: 'float8', sql: 'float8' },
  { name: 'flag', type: 'bool', sql: 'bool' },
  { name: 'at', type: 'timestamp', sql: 'timestamp(3)' },
  { name: 'atz', type: 'timestamptz', sql: 'timestamptz' },
  { name: 'doc', type: 'jsonb', sql: 'jsonb' },
  { name: 'tags', type: 'text[]', sql: 'text[]' },
  { name: 'vec', type: 'vector', sql: 'vector(3)' },
];
const TYPES = COLUMNS.map((c) => c.type);

/** Rows that exercise every type the migration moves, NULLs and non-ASCII text included. */
const ROWS: unknown[][] = [
  [
    '00000000-0000-4000-8000-000000000001',
    'plain',
    1,
    2n,
    0.5,
    true,
    new Date('2024-01-02T03:04:05.678Z'),
    new Date('2024-01-02T03:04:05.678Z'),
    { a: 1 },
    ['x', 'y'],
    new Float32Array([0.25, -1, 3]),
  ],
  [
    '00000000-0000-4000-8000-000000000002',
    'Zürich — 東京 🙂',
    -7,
    // The largest int8 the RDS Data API returns exactly: its JSON carries int8 as a number.
    9_007_199_254_740_991n,
    -1e-300,
    false,
    new Date('1999-12-31T23:59:59.999Z'),
    new Date('2030-06-30T12:00:00.000Z'),
    { nested: { list: [1, 'two'] } },
    [],
    new Float32Array([0, 0, 1]),
  ],
  ['00000000-0000-4000-8000-000000000003', null, null, null, null, null, null, null, null, null, null],
];

const TABLE = 'port_contract';
const SELECT = `SELECT ${COLUMNS.map((c) => c.name).join(', ')} FROM ${TABLE} ORDER BY id`;

function keyedRead(): KeyedRead {
  return {
    from: `${TABLE} t`,
    alias: 't',
    key: 't.id',
    keyType: 'uuid',
    columns: COLUMNS.map((c) => ({ sql: `t.${c.name}`, type: c.type })),
    where: 'true',
    orderBy: 't.id',
  };
}

const decoded = (tuples: Tuple[]) => tuples.map((t) => decodeTuple(TYPES, t));

interface Adapter {
  name: string;
  open(url: string): Promise<{ database: Database; close(): Promise<void> }>;
  textCopy: boolean;
}

let dataApi: { server: DataApiServer; client: RDSDataClient } | undefined;

const ADAPTERS: Adapter[] = [
  {
    name: 'pg',
    textCopy: true,
    async open(url) {
      const database = openPgDatabase({ connectionString: url, max: 2 });
      return { database, close: () => database.end() };
    },
  },
  {
    name: 'RDS Data API',
    textCopy: false,
    async open(url) {
      dataApi ??= await (async () => {
        const server = await startDataApiServer({
          serverUrl: url,
          resourceArn: RESOURCE_ARN,
          secretArn: SECRET_ARN,
        });
        const client = new RDSDataClient({
          endpoint: server.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        });
        return { server, client };
      })();
      const database = new DataApiPool(dataApi.client, {
        resourceArn: RESOURCE_ARN,
        secretArn: SECRET_ARN,
        database: decodeURIComponent(new URL(url).pathname.slice(1)),
      });
      return { database, close: () => database.end() };
    },
  },
];

afterAll(async () => {
  dataApi?.client.destroy();
  await dataApi?.server.close();
});

describe.each(ADAPTERS)('Database port contract: $name adapter', (adapter) => {
  let url: string;
  let database: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    url = await createDatabase('bigmemory');
    ({ database, close } = await adapter.open(url));
    await database.query(`CREATE TABLE ${TABLE} (${COLUMNS.map((c) => `${c.name} ${c.sql}`).join(', ')})`);
    const session = await database.connect();
    try {
      await copyRowsIn(session, TABLE, COLUMNS, ROWS);
    } finally {
      session.release();
    }
  });

  afterAll(async () => {
    await close();
    await dropDatabase(url);
  });

  it('runs a parameterised query and counts the rows it touched', async () => {
    // Act
    const { rows } = await database.query<{ body: string | null }>(
      `SELECT body FROM ${TABLE} WHERE n4 = $1 OR n4 IS NULL ORDER BY id`,
      [-7],
    );
    const update = await database.query(`UPDATE ${TABLE} SET f8 = f8 WHERE n4 > $1`, [-100]);

    // Assess
    expect(rows).toEqual([{ body: 'Zürich — 東京 🙂' }, { body: null }]);
    expect(update.rowCount).toBe(2);
  });

  it('copies rows in and reads them back identically by pushed, pulled and keyed reads', async () => {
    // Act
    const session = await database.connect();
    const pushed: Tuple[] = [];
    const pulled: Tuple[] = [];
    const keyed: Tuple[] = [];
    try {
      const count = await session.copyQueryOut(SELECT, (t) => pushed.push(t));
      for await (const t of session.streamTuples(SELECT)) pulled.push(t);
      await session.readKeyed(keyedRead(), (t) => keyed.push(t));
      expect(count).toBe(ROWS.length);
    } finally {
      session.release();
    }

    // Assess
    expect(decoded(pushed)).toEqual(ROWS);
    expect(decoded(pulled)).toEqual(ROWS);
    expect(decoded(keyed)).toEqual(ROWS);
  });

  it('commits a transaction that succeeds and rolls back one that throws', async () => {
    // Act
    await inTransaction(database, (s) => s.query(`UPDATE ${TABLE} SET body = 'committed' WHERE n4 = 1`));
    const failure = await inTransaction(database, async (s) => {
      await s.query(`UPDATE ${TABLE} SET body = 'rolled back' WHERE n4 = -7`);
      throw new Error('the work failed');
    }).catch((error: unknown) => error);

    // Assess
    const { rows } = await database.query<{ body: string | null }>(
      `SELECT body FROM ${TABLE} WHERE n4 IS NOT NULL ORDER BY id`,
    );
    expect(rows.map((r) => r.body)).toEqual(['committed', 'Zürich — 東京 🙂']);
    expect((failure as Error).message).toBe('the work failed');
  });

  it('keeps one session’s uncommitted writes invisible to another until it commits', async () => {
    // Prepare
    const writer = await database.connect();

    try {
      // Act
      await writer.query('BEGIN');
      await writer.query(`UPDATE ${TABLE} SET n4 = 100 WHERE n4 = 1`);
      const seenOutside = await database.query(`SELECT 1 FROM ${TABLE} WHERE n4 = 100`);
      const seenInside = await writer.query(`SELECT 1 FROM ${TABLE} WHERE n4 = 100`);
      await writer.query('ROLLBACK');

      // Assess
      expect(seenOutside.rows).toHaveLength(0);
      expect(seenInside.rows).toHaveLength(1);
    } finally {
      writer.release();
    }
  });

  it('moves text COPY where the driver has COPY, and refuses it with a named error where not', async () => {
    // Prepare
    const session = await database.connect();
    const copyOut = `COPY (SELECT id, body FROM ${TABLE} ORDER BY id) TO STDOUT`;

    try {
      if (adapter.textCopy) {
        // Act
        await session.query(`CREATE TEMP TABLE copied (id uuid, body text)`);
        const chunks: Buffer[] = [];
        for await (const chunk of session.copyTextOut(copyOut)) chunks.push(chunk);
        async function* again() {
          yield Buffer.concat(chunks);
        }
        await session.copyIn('COPY copied (id, body) FROM STDIN', again());
        const { rows } = await session.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM copied c JOIN ${TABLE} t USING (id) WHERE c.body IS NOT DISTINCT FROM t.body`,
        );

        // Assess
        expect(rows[0]?.n).toBe(ROWS.length);
      } else {
        // Act
        const refusal = await session
          .copyIn('COPY x FROM STDIN', (async function* () {})())
          .catch((error: unknown) => error);

        // Assess
        expect(refusal).toBeInstanceOf(MigrationError);
        expect(() => session.copyTextOut(copyOut)).toThrow(MigrationError);
      }
    } finally {
      session.release();
    }
  });
});
