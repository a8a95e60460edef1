import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { type DataApiServer, startDataApiServer } from '../../dev/harness/data-api-server.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { tableChecksum, withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { DataApiPool } from '../../functions/db/data-api/data-api-pool.js';
import { rebuildCmi } from '../../functions/engine/rebuild-cmi.js';
import { createMigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { restore } from '../../functions/steps/restore.js';
import { FileRunStore } from '../../functions/store/run-store.js';

const RESOURCE_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:bigmemory';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bigmemory-admin';
const INPUT = { preserveEmbeddings: true, batchSize: 150, createUsers: true, snapshot: 'none' };

const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

const targetOf = (url: string) => ({
  resourceArn: RESOURCE_ARN,
  secretArn: SECRET_ARN,
  database: databaseOf(url),
});

/** The emulator in front of the test cluster, and the real SDK client pointed at it. */
async function startEmulator(serverUrl: string): Promise<{ server: DataApiServer; client: RDSDataClient }> {
  const server = await startDataApiServer({ serverUrl, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN });
  const client = new RDSDataClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return { server, client };
}

const MIGRATE_CLI = fileURLToPath(new URL('../../scripts/migrate-bigmemory.ts', import.meta.url));

/** The local runner's CLI in a child process (the emulator answers from this one, so not spawnSync). */
async function migrateCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  try {
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', MIGRATE_CLI, ...args], {
      env: { ...inherited, ...env },
      timeout: 120_000,
    });
    return { code: 0, ...out };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// The migrated rows, whichever driver wrote them: module tables, CMI and relationships by their
// deterministic ids (the users table holds creation times of its own, so it is compared by count).
async function migratedChecksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (client) => {
    const out: Record<string, string> = {};
    for (const module of MODULE_IDS) out[module] = await tableChecksum(client, `"${module}_memories"`);
    out.cmi = await tableChecksum(
      client,
      `(SELECT "moduleId", "remoteMemoryId", "userId", embedding, title, summary, keywords, categories, "importanceScore" FROM memory_index)`,
      '"moduleId", "remoteMemoryId"',
    );
    out.relationships = await tableChecksum(
      client,
      `(SELECT "sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId", "relationshipType", strength, metadata FROM memory_relationships)`,
      '"sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId", "relationshipType"',
    );
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    out.users = String(rows[0]?.n);
    return out;
  });
}

describe('RDS Data API driver: the whole migration through the Data API', () => {
  let sourceUrl: string;
  let pgTargetUrl: string;
  let apiTargetUrl: string;
  let server: DataApiServer;
  let client: RDSDataClient;
  let reference: Awaited<ReturnType<typeof runSteps>>;
  const runtimes: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl: pgTargetUrl } = await freshDatabases());
    apiTargetUrl = await createTarget();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 12, seed: 7 });
    // The pg driver's result is the reference.
    reference = await runSteps({ sourceUrl, targetUrl: pgTargetUrl, input: INPUT });
    runtimes.push(reference.runtime);
    ({ server, client } = await startEmulator(sourceUrl));
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    client?.destroy();
    await server?.close();
  });

  const dataApi = () => ({ client, source: targetOf(sourceUrl), target: targetOf(apiTargetUrl) });

  it('writes the same rows as the pg driver, verifies, and a rerun changes nothing', async () => {
    // Act
    const first = await runSteps({ sourceUrl, targetUrl: apiTargetUrl, input: INPUT, dataApi: dataApi() });
    runtimes.push(first.runtime);
    const afterFirst = await migratedChecksums(apiTargetUrl);
    const second = await runSteps({ sourceUrl, targetUrl: apiTargetUrl, input: INPUT, dataApi: dataApi() });
    runtimes.push(second.runtime);

    // Assess
    type Report = { accounting: { migrated: number; rejected: number } };
    expect((first.outputs.report as Report).accounting).toEqual(
      (reference.outputs.report as Report).accounting,
    );
    expect((first.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect((second.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(afterFirst).toEqual(await migratedChecksums(pgTargetUrl));
    expect(await migratedChecksums(apiTargetUrl)).toEqual(afterFirst);
    expect(server.stats().requests).toBeGreaterThan(0);
  });

  const cliEnvironment = (targetUrl: string) => ({
    SOURCE_DATA_API_CLUSTER_ARN: RESOURCE_ARN,
    TARGET_DATA_API_CLUSTER_ARN: RESOURCE_ARN,
    SOURCE_DATABASE_SECRET_ARN: SECRET_ARN,
    TARGET_DATABASE_SECRET_ARN: SECRET_ARN,
    SOURCE_DATA_API_DATABASE: databaseOf(sourceUrl),
    TARGET_DATA_API_DATABASE: databaseOf(targetUrl),
    AWS_ENDPOINT_URL_RDS_DATA: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });

  it("migrates through the local runner's CLI when the Data API variables are set, with no database URL", async () => {
    // Arrange
    const targetUrl = await createTarget();
    const reportsDir = await mkdtemp(join(tmpdir(), 'bm-cli-data-api-'));
    const requestsBefore = server.stats().requests;

    // Act
    const run = await migrateCli(
      [
        '--preserve-embeddings',
        '--snapshot',
        'none',
        '--batch-size',
        '150',
        '--verify-slice-size',
        '300',
        '--reports-dir',
        reportsDir,
      ],
      cliEnvironment(targetUrl),
    );

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(await migratedChecksums(targetUrl)).toEqual(await migratedChecksums(pgTargetUrl));
    expect(server.stats().requests).toBeGreaterThan(requestsBefore);
    const [runDir] = await readdir(join(reportsDir, 'runs'));
    const slices = JSON.parse(
      await readFile(join(reportsDir, 'runs', runDir as string, 'plan', 'verify-slices.json'), 'utf8'),
    ) as unknown[];
    expect(slices.length).toBeGreaterThan(1);
    expect(run.stderr).toContain(`verifying`);
    expect(run.stderr).toContain(`${slices.length}/${slices.length} slices`);
  });

  it('refuses, with exit code 2, a CLI run that names the databases both ways', async () => {
    // Act
    const run = await migrateCli(['--source-db', sourceUrl, '--dry-run'], cliEnvironment(apiTargetUrl));

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/named twice.*Give one or the other/);
  });

  it('refuses a logical snapshot before writing anything, naming the snapshots it can take', async () => {
    // Act + Assess
    await expect(
      runSteps({
        sourceUrl,
        targetUrl: apiTargetUrl,
        input: { ...INPUT, snapshot: 'logical' },
        dataApi: dataApi(),
      }),
    ).rejects.toThrow(/"snapshot": "rds".*"snapshot": "none"/);
  });

  it('refuses to restore a logical snapshot through the Data API, naming the ways that work', async () => {
    // Arrange
    const runtime = createMigrationRuntime({
      store: new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-restore-'))),
      sourceUrl: async () => sourceUrl,
      targetUrl: async () => apiTargetUrl,
      dataApi: dataApi(),
    });
    runtimes.push(runtime);
    const before = await migratedChecksums(apiTargetUrl);

    // Act + Assess
    await expect(
      restore(runtime, { snapshot: 's3://bucket/backups/migration-x/', database: 'target' }),
    ).rejects.toThrow(/pg connections only: run npm run migrate:restore/);
    expect(await migratedChecksums(apiTargetUrl)).toEqual(before);
  });
});

describe("RDS Data API driver: rows over the service's 64 KB row and 4 MiB request limits", () => {
  let sourceUrl: string;
  let pgTargetUrl: string;
  let apiTargetUrl: string;
  let server: DataApiServer;
  let client: RDSDataClient;
  const runtimes: { close(): Promise<void> }[] = [];
  // Multi-byte text, quotes, backslashes and newlines: pieces split characters and JSON escapes them.
  const LINE = `Zürich "quoted" \\ back\\slash ✓ ${'x'.repeat(20)}\n`;
  let wideIds: string[] = [];
  const HUGE_LINES = 100_000;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl: pgTargetUrl } = await freshDatabases());
    apiTargetUrl = await createTarget();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 80, users: 4, seed: 11 });
    wideIds = await withClient(sourceUrl, async (db) => {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE NOT is_deleted AND content <> '' AND embedding IS NOT NULL
            AND vector_dims(embedding) = 1536 ORDER BY id LIMIT 4`,
      );
      const [long, metadata, titled, huge] = rows.map((r) => r.id);
      // One long content; one large metadata object with many tags; title and summary that only
      // together exceed the limit; a content of over 5 MB, past the 4 MiB request limit on writes.
      await db.query(`UPDATE memories SET content = repeat($2, 6000), content_hash = NULL WHERE id = $1`, [
        long,
        LINE,
      ]);
      await db.query(
        `UPDATE memories SET source_metadata = coalesce(source_metadata, '{}') || jsonb_build_object('notes', repeat($2, 2500)),
                tags = ARRAY(SELECT 'tag-' || n FROM generate_series(1, 3000) n) WHERE id = $1`,
        [metadata, LINE],
      );
      await db.query(`UPDATE memories SET title = repeat($2, 900), summary = repeat($2, 900) WHERE id = $1`, [
        titled,
        LINE,
      ]);
      await db.query(`UPDATE memories SET content = repeat($2, $3), content_hash = NULL WHERE id = $1`, [
        huge,
        LINE,
        HUGE_LINES,
      ]);
      return rows.map((r) => r.id);
    });
    ({ server, client } = await startEmulator(sourceUrl));
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    client?.destroy();
    await server?.close();
  });

  it('reads and writes them in pieces: the same rows as the pg driver, and the CMI rebuild reads them back', async () => {
    // Arrange: each wide row alone is refused by the service; the pg driver's result is the reference
    const source = new DataApiPool(client, targetOf(sourceUrl));
    for (const id of wideIds) {
      await expect(source.query('SELECT * FROM memories WHERE id = $1::uuid', [id])).rejects.toThrow(
        /size limit/,
      );
    }
    const reference = await runSteps({ sourceUrl, targetUrl: pgTargetUrl, input: INPUT });
    runtimes.push(reference.runtime);

    // Act
    const run = await runSteps({
      sourceUrl,
      targetUrl: apiTargetUrl,
      input: INPUT,
      dataApi: { client, source: targetOf(sourceUrl), target: targetOf(apiTargetUrl) },
    });
    runtimes.push(run.runtime);
    const migrated = await migratedChecksums(apiTargetUrl);
    const rebuilt = await rebuildCmi(
      { target: new DataApiPool(client, targetOf(apiTargetUrl)) as never },
      { all: true },
    );

    // Assess
    type Report = { accounting: { migrated: number; rejected: number } };
    expect((run.outputs.report as Report).accounting).toEqual(
      (reference.outputs.report as Report).accounting,
    );
    expect((run.outputs.verify as { ok: boolean }).ok).toBe(true);
    expect(migrated).toEqual(await migratedChecksums(pgTargetUrl));
    const lengths = await withClient(apiTargetUrl, async (db) => {
      const perModule = MODULE_IDS.map(
        (m) =>
          `SELECT metadata->>'original_id' AS id, length(content) AS content, length(metadata::text) AS metadata FROM "${m}_memories"`,
      ).join(' UNION ALL ');
      const { rows } = await db.query<{ id: string; content: number; metadata: number }>(
        `SELECT * FROM (${perModule}) m WHERE id = ANY($1::text[]) ORDER BY id`,
        [wideIds],
      );
      return rows;
    });
    expect(lengths).toHaveLength(4);
    expect(lengths.find((r) => r.id === wideIds[0])?.content).toBe(LINE.length * 6000);
    expect(lengths.find((r) => r.id === wideIds[3])?.content).toBe(LINE.length * HUGE_LINES);
    expect(Buffer.byteLength(LINE.repeat(HUGE_LINES))).toBeGreaterThan(5 * 1024 * 1024);
    expect(lengths.find((r) => r.id === wideIds[1])?.metadata).toBeGreaterThan(LINE.length * 2500);
    expect(rebuilt.updated).toBe(rebuilt.scanned);
    expect(await migratedChecksums(apiTargetUrl)).toEqual(migrated);
  });
});
