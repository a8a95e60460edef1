import { Readable } from 'node:stream';
import { createGzip, gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, freshDatabases } from '../../dev/harness/databases.js';
import {
  configureEmbeddingsServer,
  type EmbeddingsServer,
  embeddingFor,
  embeddingsServerStats,
  resetEmbeddingsServer,
  startEmbeddingsServer,
} from '../../dev/harness/embeddings-server.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { withClient } from '../../dev/harness/templates.js';
import type { Row } from '../../functions/db/port.js';

const MODULE_TABLES = [
  'communication_memories',
  'creative_memories',
  'learning_memories',
  'personal_memories',
  'technical_memories',
  'work_memories',
];

async function query<T extends Row>(url: string, text: string, values?: unknown[]) {
  return (await withClient(url, (client) => client.query<T>(text, values))).rows;
}

async function tableNames(url: string): Promise<string[]> {
  const rows = await query<{ table_name: string }>(
    url,
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((row) => row.table_name);
}

async function emailIsNullable(url: string): Promise<string | undefined> {
  const rows = await query<{ is_nullable: string }>(
    url,
    "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'",
  );
  return rows[0]?.is_nullable;
}

const vectorLiteral = (values: ArrayLike<number>): string => `[${Array.from(values).join(',')}]`;

describe('Function: createDatabase', () => {
  const created: string[] = [];
  afterAll(async () => {
    await Promise.all(created.map((url) => dropDatabase(url)));
  });

  it('gives a database where pgvector answers a nearest-neighbour query on 1536-d vectors', async () => {
    // Prepare
    const url = await createDatabase('empty');
    created.push(url);
    const near = embeddingFor('near', 1536);
    const far = embeddingFor('far', 1536);
    await query(url, 'CREATE TABLE items (name text, embedding vector(1536))');
    await query(url, 'INSERT INTO items VALUES ($1, $2), ($3, $4)', [
      'near',
      vectorLiteral(near),
      'far',
      vectorLiteral(far),
    ]);

    // Act
    const rows = await query<{ name: string }>(
      url,
      'SELECT name FROM items ORDER BY embedding <-> $1 LIMIT 1',
      [vectorLiteral(near)],
    );

    // Assess
    expect(rows).toEqual([{ name: 'near' }]);
  });

  it('clones the BigMemory and both real Federated Memory schemas from their templates', async () => {
    // Prepare / Act
    const { sourceUrl, targetUrl } = await freshDatabases({ target: 'newest' });
    const older = await freshDatabases({ target: 'older' });
    created.push(sourceUrl, targetUrl, older.sourceUrl, older.targetUrl);

    // Assess
    expect(await tableNames(sourceUrl)).toEqual(
      expect.arrayContaining(['memories', 'memory_categories', 'memory_relations', 'users']),
    );
    const untouched = [
      'api_keys',
      'refresh_tokens',
      'query_logs',
      'module_stats',
      'sessions',
      '_prisma_migrations',
    ];
    for (const url of [targetUrl, older.targetUrl]) {
      expect(await tableNames(url)).toEqual(
        expect.arrayContaining([...MODULE_TABLES, 'memory_index', 'memory_modules', 'users', ...untouched]),
      );
      // Federated Memory declares lastAccessed NOT NULL in every module table and the CMI.
      expect(
        await query(
          url,
          `SELECT count(*)::int AS n FROM information_schema.columns
            WHERE column_name = 'lastAccessed' AND is_nullable = 'YES' AND table_schema = current_schema()`,
        ),
      ).toEqual([{ n: 0 }]);
    }
    expect(await query(targetUrl, 'SELECT count(*)::int AS n FROM memory_modules')).toEqual([{ n: 8 }]);
    expect(await query(older.targetUrl, 'SELECT count(*)::int AS n FROM memory_modules')).toEqual([{ n: 6 }]);
    expect(await tableNames(targetUrl)).toEqual(
      expect.arrayContaining(['project_management_memories', 'church_memories']),
    );
    expect(await emailIsNullable(targetUrl)).toBe('YES');
    expect(await emailIsNullable(older.targetUrl)).toBe('NO');
  });

  it('gives every call its own database', async () => {
    // Prepare
    const first = await createDatabase('bigmemory');
    const second = await createDatabase('bigmemory');
    created.push(first, second);

    // Act
    await query(first, "INSERT INTO users (token) VALUES ('only-in-first')");

    // Assess
    expect(first).not.toBe(second);
    expect(await query(second, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }]);
  });
});

describe('Function: makeS3Client', () => {
  let client: S3Client;
  let bucket: string;
  beforeAll(async () => {
    client = makeS3Client(services().s3Endpoint);
    bucket = await createBucket(client);
  });
  afterAll(() => client.destroy());

  it('writes and reads back an object', async () => {
    // Prepare
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'hello.txt', Body: 'hello s3' }));

    // Act
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' }));

    // Assess
    expect(await object.Body?.transformToString()).toBe('hello s3');
  });

  it('takes a multipart upload of a gzip stream over 5 MiB', async () => {
    // Prepare: random bytes do not compress, so the gzip stays over the 5 MiB part size.
    const original = Buffer.alloc(7 * 1024 * 1024);
    for (let i = 0; i < original.length; i += 4) original.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const body = Readable.from([original]).pipe(createGzip());

    // Act
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: 'big.gz', Body: body, ContentType: 'application/gzip' },
      partSize: 5 * 1024 * 1024,
    });
    await upload.done();
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.gz' }));

    // Assess
    const stored = Buffer.from(await object.Body!.transformToByteArray());
    expect(stored.length).toBeGreaterThan(5 * 1024 * 1024);
    expect(gunzipSync(stored).equals(original)).toBe(true);
  });
});

describe('Function: startEmbeddingsServer', () => {
  let server: EmbeddingsServer;
  let openai: OpenAI;
  beforeAll(async () => {
    // A private instance: failure knobs on the shared one would hit other files' requests.
    server = await startEmbeddingsServer();
    openai = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 2 });
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('answers the same vector for the same text, equal to embeddingFor', async () => {
    // Act
    const first = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    const again = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha' });

    // Assess
    const alpha = first.data[0]!.embedding;
    expect(alpha).toHaveLength(1536);
    expect(again.data[0]!.embedding).toEqual(alpha);
    expect(Float32Array.from(alpha)).toEqual(embeddingFor('alpha', 1536));
    expect(Float32Array.from(first.data[1]!.embedding)).toEqual(embeddingFor('beta', 1536));
    expect(first.usage.prompt_tokens).toBeGreaterThan(0);
    expect(server.stats()).toMatchObject({ requests: 2, inputs: 3 });
  });

  it('sends the same float32 values as JSON numbers when asked for floats', async () => {
    // Act
    const answer = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'alpha',
      encoding_format: 'float',
    });

    // Assess
    expect(Float32Array.from(answer.data[0]!.embedding)).toEqual(embeddingFor('alpha'));
  });

  it('honours dimensions: 512 with a unit-length vector', async () => {
    // Act
    const answer = await openai.embeddings.create({ model: 'm', input: 'short', dimensions: 512 });

    // Assess
    const vector = answer.data[0]!.embedding;
    expect(vector).toHaveLength(512);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(Float32Array.from(vector)).toEqual(embeddingFor('short', 512));
  });

  it('answers 429 with Retry-After once and the client succeeds on its retry', async () => {
    // Prepare
    server.configure({ failNext429: 1, retryAfterSeconds: 0.05 });

    // Act
    const answer = await openai.embeddings.create({ model: 'm', input: 'throttled' });

    // Assess
    expect(answer.data).toHaveLength(1);
    expect(server.stats()).toMatchObject({ requests: 2, served429: 1, inputs: 1 });
  });

  it('sends the Retry-After header it was given', async () => {
    // Prepare
    server.configure({ failNext429: 1, retryAfterSeconds: 2.5 });

    // Act
    const response = await fetch(`${server.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: 'x' }),
    });

    // Assess
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('2.5');
  });

  it('counts a burst of 5xx answers the client retries through', async () => {
    // Prepare
    server.configure({ failNext5xx: 2, status5xx: 503 });

    // Act
    const answer = await openai.embeddings.create({ model: 'm', input: 'flaky' }, { maxRetries: 3 });

    // Assess
    expect(answer.data).toHaveLength(1);
    expect(server.stats()).toMatchObject({ requests: 3, served5xx: 2 });
  });

  it('fails every request while failAlways is set', async () => {
    // Prepare
    server.configure({ failAlways: 500 });

    // Act
    const failure = openai.embeddings.create({ model: 'm', input: 'doomed' }, { maxRetries: 1 });

    // Assess
    await expect(failure).rejects.toMatchObject({ status: 500 });
    expect(server.stats()).toMatchObject({ requests: 2, servedFailAlways: 2 });
  });

  it('rejects a missing input and more than 2048 inputs with 400', async () => {
    // Act
    const missing = openai.embeddings.create({ model: 'm' } as never);
    const tooMany = openai.embeddings.create({ model: 'm', input: Array.from({ length: 2049 }, () => 'x') });

    // Assess
    await expect(missing).rejects.toMatchObject({ status: 400 });
    await expect(tooMany).rejects.toMatchObject({ status: 400 });
    expect(server.stats()).toMatchObject({ served400: 2, inputs: 0 });
  });

  it('takes knobs and reports counters over HTTP', async () => {
    // Prepare
    await configureEmbeddingsServer(server.baseURL, { failNext5xx: 1 });

    // Act
    const answer = await openai.embeddings.create({ model: 'm', input: 'remote' });
    const stats = await embeddingsServerStats(server.baseURL);
    await resetEmbeddingsServer(server.baseURL);

    // Assess
    expect(answer.data).toHaveLength(1);
    expect(stats).toMatchObject({ requests: 2, served5xx: 1, inputs: 1 });
    expect(server.stats().requests).toBe(0);
  });

  it('is shared with every worker through global setup', async () => {
    // Prepare
    const shared = new OpenAI({ apiKey: 'test', baseURL: services().embeddingsBaseURL });

    // Act
    const answer = await shared.embeddings.create({ model: 'm', input: 'shared' });

    // Assess
    expect(Float32Array.from(answer.data[0]!.embedding)).toEqual(embeddingFor('shared'));
  });
});
