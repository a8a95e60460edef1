import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODULE_IDS } from '../../functions/core/types.js';
import { createMigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { restore } from '../../functions/steps/restore.js';
import { FileRunStore } from '../../functions/store/run-store.js';
import { generateBigMemory } from '../generator/bigmemory-generator.js';
import { type DataApiServer, startDataApiServer } from '../harness/data-api-server.js';
import { createDatabase, freshDatabases } from '../harness/databases.js';
import { tableChecksum, withClient } from '../support/checksums.js';
import { runSteps } from '../support/run-steps.js';

const RESOURCE_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:bigmemory';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bigmemory-admin';
const INPUT = { preserveEmbeddings: true, batchSize: 150, createUsers: true, snapshot: 'none' };

const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

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
  const runtimes: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl: pgTargetUrl } = await freshDatabases());
    apiTargetUrl = await createDatabase('federated');
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 12, seed: 7 });
    server = await startDataApiServer({
      serverUrl: sourceUrl,
      resourceArn: RESOURCE_ARN,
      secretArn: SECRET_ARN,
    });
    client = new RDSDataClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    client?.destroy();
    await server?.close();
  });

  const dataApi = () => ({
    client,
    source: { resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: databaseOf(sourceUrl) },
    target: { resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: databaseOf(apiTargetUrl) },
  });

  it('writes the same rows as the pg driver, verifies, and a rerun changes nothing', async () => {
    // Arrange: the pg driver's result is the reference
    const reference = await runSteps({ sourceUrl, targetUrl: pgTargetUrl, input: INPUT });
    runtimes.push(reference.runtime);

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
