import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { withClient } from '../../dev/support/checksums.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { hintFor } from '../../functions/error-contract.js';
import {
  type BundledApp,
  bundledHandlers,
  loadBundledApp,
  withFunctionEnvironment,
} from '../../functions/local/bundled-functions.js';
import {
  type LocalStateEvent,
  type LocalTaskHandler,
  runLocalExecution,
} from '../../functions/local/local-execution.js';
import type { ReportResult } from '../../functions/steps/report.js';
import { S3RunStore } from '../../functions/store/run-store.js';

/**
 * The synthesized state machine run locally with every task bound to the esbuild bundle `cdk
 * deploy` uploads, not to the TypeScript handlers: the error names Step Functions matches are the
 * ones the bundles throw.
 */
describe('End to end: the state machine through the deployed bundles', () => {
  let app: BundledApp;
  let store: S3RunStore;
  let bucket: string;
  let sourceUrl: string;
  let targetUrl: string;
  let localEnvironment: Record<string, string>;
  const pending: Promise<unknown>[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 600, users: 6, seed: 18 });
    const s3 = makeS3Client(services().s3Endpoint);
    bucket = await createBucket(s3);
    store = new S3RunStore(s3, bucket);
    // One Map child at a time, so the injected failure meets exactly one batch.
    app = loadBundledApp({ bucket, context: { 'bigmemory-migration:maxConcurrency': 1 } });
    // What a deployed function gets from Secrets Manager and from AWS itself.
    localEnvironment = {
      SOURCE_DATABASE_URL: sourceUrl,
      DATABASE_URL: targetUrl,
      AWS_ENDPOINT_URL: services().s3Endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(pending);
  });

  async function execute(
    input: Record<string, unknown>,
    executionName: string,
    wrap: (handlers: Record<string, LocalTaskHandler>) => void = () => undefined,
  ) {
    const events: LocalStateEvent[] = [];
    const handlers: Record<string, LocalTaskHandler> = bundledHandlers(app, executionName);
    wrap(handlers);
    const result = await withFunctionEnvironment(app, localEnvironment, () =>
      runLocalExecution({
        definition: app.definition,
        handlers,
        input,
        bucket,
        s3Client: makeS3Client(services().s3Endpoint),
        executionName,
        retryIntervalMs: 0,
        onStateEvent: (event) => events.push(event),
        failureReport: handlers.Report,
      }),
    );
    const retried = (state: string) =>
      events.filter((event) => event.type === 'StateRetried' && event.state.name === state);
    const failed = (state: string) =>
      events.flatMap((event) =>
        event.type === 'StateFailed' && event.state.name === state ? [event.Error] : [],
      );
    return { result, retried, failed };
  }

  it('migrates everything and survives a connection terminated mid-batch by retrying it by name', async () => {
    // Prepare: the second batch's write waits on a lock the test holds, and the test terminates
    // the waiting connection (what a database failover or restart does to a Lambda's connection)
    const thrown: string[] = [];
    let batches = 0;
    const injectOnSecondBatch = (handlers: Record<string, LocalTaskHandler>) => {
      const bundle = handlers.MigrateBatch as LocalTaskHandler;
      handlers.MigrateBatch = async (event) => {
        batches += 1;
        if (batches !== 2) return bundle(event);
        return withClient(targetUrl, async (locker) => {
          const { rows: me } = await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE memory_index IN ACCESS EXCLUSIVE MODE');
          const call = bundle(event).catch((error: Error) => {
            thrown.push(error.name);
            throw error;
          });
          pending.push(call.catch(() => undefined));
          const waiting = await waitForLockWaiter(targetUrl, Number(me[0]?.pid));
          await locker.query('SELECT pg_terminate_backend($1)', [waiting]);
          await locker.query('ROLLBACK');
          return call;
        });
      };
    };

    // Act
    const { result, retried, failed } = await execute(
      { preserveEmbeddings: true, batchSize: 150, verifySliceSize: 300 },
      'bundles-terminated',
      injectOnSecondBatch,
    );

    // Assess
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(thrown).toEqual(['TransientDatabaseError']);
    expect(failed('MigrateBatch')).toEqual(['TransientDatabaseError']);
    expect(retried('MigrateBatch')).toHaveLength(1);
    expect(retried('MigrateBatch')[0]?.type === 'StateRetried' && retried('MigrateBatch')[0]).toMatchObject({
      retry: { attempt: 1, retrier: { ErrorEquals: expect.arrayContaining(['TransientDatabaseError']) } },
    });
    expect(batches).toBeGreaterThan(3);
    const output = result.output as ReportResult;
    expect(output.status).toBe('succeeded');
    const live = await withClient(sourceUrl, (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM memories WHERE NOT is_deleted'),
    );
    expect(output.accounting?.migrated).toBeGreaterThan(0);
    expect((output.accounting?.migrated ?? 0) + (output.accounting?.rejected ?? 0)).toBe(
      Number(live.rows[0]?.n),
    );
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated'`,
      ),
    );
    expect(Number(ledger.rows[0]?.n)).toBe(output.accounting?.migrated);
    const cmi = await withClient(targetUrl, (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM memory_index'),
    );
    expect(Number(cmi.rows[0]?.n)).toBe(output.accounting?.migrated);
    // Every function closed its pools as it finished: a frozen container holds no connection.
    expect(await otherConnections(sourceUrl)).toBe(0);
    expect(await otherConnections(targetUrl)).toBe(0);
  }, 240_000);

  it('fails a bad input without retrying it, and the failure report gives the input hint', async () => {
    // Act
    const { result, retried, failed } = await execute({ batchSize: 0 }, 'bundles-bad-input');

    // Assess
    expect(result).toMatchObject({ status: 'FAILED', error: 'InvalidInputError' });
    expect(result.cause).toMatch(/batchSize/);
    expect(failed('Preflight')).toEqual(['InvalidInputError']);
    expect(retried('Preflight')).toEqual([]);
    const report = JSON.parse((await store.get(runLayout('bundles-bad-input').report.json)).toString()) as {
      error: { name: string; hint: string };
    };
    expect(report.error.name).toBe('InvalidInputError');
    expect(report.error.hint).toBe(hintFor('InvalidInputError'));
    expect(report.error.hint).toMatch(/Correct the execution input/);
  }, 120_000);
});

/**
 * Connections to the database besides the asking one, once those just closed have gone (a backend
 * leaves pg_stat_activity a moment after its client hangs up).
 */
async function otherConnections(url: string): Promise<number> {
  return withClient(url, async (client) => {
    let count = Number.NaN;
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      count = rows[0]?.n ?? Number.NaN;
      if (count === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return count;
  });
}

/** The connection that waits for a lock `holder` holds: the batch's write, blocked. */
async function waitForLockWaiter(url: string, holder: number): Promise<number> {
  return withClient(url, async (client) => {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const { rows } = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
        [holder],
      );
      if (rows[0]) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no connection of the batch ever waited on the lock');
  });
}
