import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { inProcessMigrationStack } from '../../infra/migration-app.js';

const context = {
  functionName: 'bundle-test',
  awsRequestId: 'local',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

/**
 * The functions exactly as `cdk deploy` uploads them (esbuild ESM bundles made by the synth), run by
 * Node against the harness: catches what source-level tests cannot, such as a dependency that does
 * not survive bundling or a JSON import the bundler drops.
 */
describe('End to end: the deployed Lambda bundles', () => {
  let handlerFile: (name: string) => string;
  let bucket: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    const stack = inProcessMigrationStack({ bundle: true });
    const assembly = (stack.node.root as import('aws-cdk-lib').App).synth();
    const template = assembly.getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: string } } }>;
    };
    handlerFile = (name) => {
      const entry = Object.entries(template.Resources).find(
        // The logical id is the construct path plus an 8-digit hash: `Verify` must not find `VerifySlice`.
        ([id, r]) =>
          r.Type === 'AWS::Lambda::Function' && new RegExp(`^Functions${name}[0-9A-F]{8}$`).test(id),
      );
      const key = entry?.[1].Properties.Code?.S3Key;
      if (!key) throw new Error(`no bundled function ${name}`);
      return `${assembly.directory}/asset.${key.split('.')[0]}/index.mjs`;
    };
    const { sourceUrl, targetUrl } = await freshDatabases();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 500, users: 5, seed: 3 });
    const s3 = makeS3Client(services().s3Endpoint);
    bucket = await createBucket(s3);
    // What the stack gives a function, with URLs instead of secret ARNs (the local fallback).
    Object.assign(process.env, {
      SOURCE_DATABASE_URL: sourceUrl,
      DATABASE_URL: targetUrl,
      RUN_BUCKET: bucket,
      AWS_ENDPOINT_URL: services().s3Endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
  }, 120_000);

  afterAll(() => {
    process.env = savedEnv;
  });

  it('run the whole pipeline from their bundles and reconcile', async () => {
    // Prepare
    const call = async (name: string, event: unknown) => {
      const { handler } = (await import(handlerFile(name))) as {
        // biome-ignore lint/suspicious/noExplicitAny: each state's result is checked by the assertions below
        handler: (e: unknown, c: Context) => Promise<any>;
      };
      return handler(event, context);
    };
    const s3 = makeS3Client(services().s3Endpoint);
    const items = async (key: string) =>
      JSON.parse(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
      );

    // Act: the states in order, as the state machine calls them
    const run = await call('Preflight', {
      input: { preserveEmbeddings: true, batchSize: 200, verifySliceSize: 200 },
      executionName: 'bundles',
    });
    const snapshot = await call('Snapshot', { run });
    await call('Users', { run });
    const plan = await call('Plan', { run });
    const embeddingBatches = await call('EmbeddingBatches', { run, plan });
    for (const range of await items(plan.rangesKey)) await call('MigrateBatch', { run, range });
    for (const range of await items(plan.relationRangesKey))
      await call('MigrateRelationships', { run, range });
    await call('RebuildCmi', { run });
    const slices = await items(plan.verifySlicesKey);
    for (const range of slices) await call('VerifySlice', { run, range });
    const verify = await call('Verify', { run, plan });
    const unfinished = await call('Verify', {
      run,
      plan: { ...plan, verifySliceCount: slices.length + 1 },
    }).then(
      () => null,
      (error: Error) => error,
    );
    const report = await call('Report', { run, plan });

    // Assess
    expect(snapshot.logical.directory).toMatch(/^backups\/migration-/);
    // Preserved embeddings: the Batch API step has nothing to send.
    expect(embeddingBatches).toMatchObject({ api: 'sync', pending: false, batches: 0 });
    expect(slices.length).toBeGreaterThan(1);
    expect(unfinished?.message).toContain(`Verify slice ${slices.length} left no result`);
    expect(verify).toMatchObject({ ok: true });
    expect(report.status).toBe('succeeded');
    expect(report.accounting.migrated + report.accounting.rejected).toBe(
      report.accounting.liveSourceMemories,
    );
    expect(report.report.html).toBe(`s3://${bucket}/runs/bundles/report.html`);
  }, 300_000);
});
