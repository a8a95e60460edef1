import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { InvalidInputError, PreflightError, TransientDatabaseError } from '../../functions/errors.js';
import { localFunctionArn } from '../../functions/local/asl-definition.js';
import {
  type LocalStateEvent,
  type LocalTaskHandler,
  runLocalExecution,
} from '../../functions/local/local-execution.js';
import {
  type AslDefinition,
  loadSynthesizedDefinition,
} from '../../functions/local/state-machine-definition.js';
import { STEP_NAMES } from '../../functions/steps/index.js';

interface Call {
  task: string;
  event: Record<string, unknown>;
}

const RANGES = [
  { index: 0, fromKey: 'a', toKey: 'f' },
  { index: 1, fromKey: 'f', toKey: 'm' },
  { index: 2, fromKey: 'm', toKey: 'z' },
];
const RELATION_RANGES = [
  { index: 0, fromKey: '1', toKey: '5' },
  { index: 1, fromKey: '5', toKey: '9' },
];
const VERIFY_SLICES = [
  { index: 0, fromKey: null, toKey: 'm' },
  { index: 1, fromKey: 'm', toKey: null },
];

/** Test fixtures standing in for the handlers: they record what they get and return tiny results. */
function fixtureHandlers(s3: S3Client, bucket: string, calls: Call[]): Record<string, LocalTaskHandler> {
  const task =
    (
      name: string,
      result: (event: Record<string, unknown>) => unknown | Promise<unknown>,
    ): LocalTaskHandler =>
    async (event) => {
      calls.push({ task: name, event: event as Record<string, unknown> });
      return result(event as Record<string, unknown>);
    };
  // Any other step of the registry (a chained step) records its call and returns nothing to read.
  const others = Object.fromEntries(STEP_NAMES.map((name) => [name, task(name, () => ({}))]));
  return {
    ...others,
    Preflight: task('Preflight', (event) => ({
      runId: 'run-1',
      bucket,
      runPrefix: 'runs/run-1/',
      options: event.input,
      toleratedFailurePercentage: (event.input as { pct?: number }).pct ?? 0,
      toleratedFailureCount: (event.input as { count?: number }).count ?? 0,
    })),
    Snapshot: task('Snapshot', () => ({ mode: 'logical', skipped: false, rds: [], rdsPending: false })),
    Users: task('Users', () => ({ matched: 2, created: 1 })),
    Plan: task('Plan', async () => {
      await putJson(s3, bucket, 'runs/run-1/ranges.json', RANGES);
      await putJson(s3, bucket, 'runs/run-1/relation-ranges.json', RELATION_RANGES);
      await putJson(s3, bucket, 'runs/run-1/verify-slices.json', VERIFY_SLICES);
      return {
        batchCount: RANGES.length,
        rangesKey: 'runs/run-1/ranges.json',
        relationBatchCount: RELATION_RANGES.length,
        relationRangesKey: 'runs/run-1/relation-ranges.json',
        verifySliceCount: VERIFY_SLICES.length,
        verifySlicesKey: 'runs/run-1/verify-slices.json',
      };
    }),
    EmbeddingBatches: task('EmbeddingBatches', () => ({ api: 'sync', pending: false })),
    MigrateBatch: task('MigrateBatch', () => ({ migrated: 10 })),
    MigrateRelationships: task('MigrateRelationships', () => ({ upserted: 3 })),
    RebuildCmi: task('RebuildCmi', () => ({ rows: 30 })),
    VerifySlice: task('VerifySlice', () => ({ compared: 5 })),
    Verify: task('Verify', () => ({ reconciled: true })),
    VerifySearch: task('VerifySearch', () => ({ skipped: false, passed: true })),
    Report: task('Report', (event) =>
      event.failed ? { reportKey: 'runs/run-1/failure.json' } : { reportKey: 'runs/run-1/report.json' },
    ),
    Rollback: task('Rollback', () => ({ runId: 'run-0', removed: {} })),
    Restore: task('Restore', () => ({ database: 'target', tables: [] })),
  };
}

async function putJson(s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));
}

function failing(
  error: Error,
  times: number,
  then: LocalTaskHandler,
  calls: Call[],
  name: string,
): LocalTaskHandler {
  let failures = 0;
  return async (event) => {
    if (failures < times) {
      failures += 1;
      calls.push({ task: name, event: event as Record<string, unknown> });
      throw error;
    }
    return then(event);
  };
}

describe('Function: runLocalExecution', () => {
  let definition: AslDefinition;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = makeS3Client(services().s3Endpoint);
    bucket = await createBucket(s3);
    definition = await loadSynthesizedDefinition({ bucket });
  });

  it('runs the synthesized definition, its tasks named by local function ARNs', () => {
    // Assess
    expect(definition.StartAt).toBe('Mode');
    expect(definition.States.Preflight?.Resource).toBe(localFunctionArn('Preflight'));
    expect(definition.States.Report?.Resource).toBe(localFunctionArn('Report'));
    expect(definition.States.MigrateBatches?.MaxConcurrency).toBe(4);
    expect(definition.States.MigrateBatches?.ItemReader?.Parameters).toEqual({
      Bucket: bucket,
      'Key.$': '$.plan.rangesKey',
    });
  });

  it('runs the chain in order with the payloads of the contract', async () => {
    // Prepare
    const calls: Call[] = [];
    const input = { dryRun: true, batchSize: 500 };

    // Act
    const result = await runLocalExecution({
      definition,
      handlers: fixtureHandlers(s3, bucket, calls),
      input,
      bucket,
      s3Client: s3,
      executionName: 'exec-1',
    });

    // Assess
    expect(result).toEqual({ status: 'SUCCEEDED', output: { reportKey: 'runs/run-1/report.json' } });
    const order = calls.map((call) => call.task).filter((task, i, all) => all[i - 1] !== task);
    expect(order).toEqual([
      'Preflight',
      'Snapshot',
      'Users',
      'Plan',
      'EmbeddingBatches',
      'MigrateBatch',
      'MigrateRelationships',
      'RebuildCmi',
      'VerifySlice',
      'Verify',
      'VerifySearch',
      'Report',
    ]);
    const run = {
      runId: 'run-1',
      bucket,
      runPrefix: 'runs/run-1/',
      options: input,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
    };
    expect(calls[0]?.event).toEqual({
      input,
      executionName: 'exec-1',
      executionId: expect.stringMatching(/:execution:local:exec-1:[0-9a-f-]{36}$/),
    });
    expect(calls.find((call) => call.task === 'Snapshot')?.event).toEqual({ run });
    expect(calls.find((call) => call.task === 'Users')?.event).toEqual({ run });
    expect(calls.find((call) => call.task === 'Verify')?.event).toEqual({
      run,
      plan: expect.objectContaining({
        verifySliceCount: 2,
        verifySlicesKey: 'runs/run-1/verify-slices.json',
      }),
    });
    expect(calls.at(-1)?.event).toEqual({
      run,
      users: { matched: 2, created: 1 },
      plan: expect.objectContaining({ batchCount: 3, rangesKey: 'runs/run-1/ranges.json' }),
      verify: { reconciled: true },
      concurrency: 4,
    });
  });

  it('fans each Distributed Map out over the items Plan wrote to the bucket', async () => {
    // Prepare
    const calls: Call[] = [];

    // Act
    await runLocalExecution({
      definition,
      handlers: fixtureHandlers(s3, bucket, calls),
      input: {},
      bucket,
      s3Client: s3,
    });

    // Assess
    const batches = calls.filter((call) => call.task === 'MigrateBatch').map((call) => call.event);
    expect(batches.map((event) => event.range)).toEqual(expect.arrayContaining(RANGES));
    expect(batches).toHaveLength(RANGES.length);
    expect(batches.every((event) => (event.run as { runId: string }).runId === 'run-1')).toBe(true);
    const relations = calls
      .filter((call) => call.task === 'MigrateRelationships')
      .map((call) => call.event.range);
    expect(relations).toEqual(expect.arrayContaining(RELATION_RANGES));
    expect(relations).toHaveLength(RELATION_RANGES.length);
    const slices = calls.filter((call) => call.task === 'VerifySlice').map((call) => call.event.range);
    expect(slices).toEqual(expect.arrayContaining(VERIFY_SLICES));
    expect(slices).toHaveLength(VERIFY_SLICES.length);
  });

  it('retries a step that fails with a transient error name', async () => {
    // Prepare
    const calls: Call[] = [];
    const events: LocalStateEvent[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    handlers.Users = failing(
      new TransientDatabaseError('connection reset'),
      2,
      handlers.Users!,
      calls,
      'Users',
    );
    handlers.MigrateBatch = failing(
      new TransientDatabaseError('deadlock'),
      1,
      handlers.MigrateBatch!,
      calls,
      'MigrateBatch',
    );

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: {},
      bucket,
      s3Client: s3,
      retryIntervalMs: 0,
      onStateEvent: (event) => events.push(event),
    });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((call) => call.task === 'Users')).toHaveLength(3);
    expect(calls.filter((call) => call.task === 'MigrateBatch')).toHaveLength(RANGES.length + 1);
    expect(events.filter((event) => event.type === 'StateRetried').length).toBeGreaterThanOrEqual(2);
  });

  it('waits for the Batch API in the Wait loop, the same function polling until nothing is pending', async () => {
    // Prepare: pending twice, then done
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    const preflight = handlers.Preflight!;
    handlers.Preflight = async (event) => ({
      ...((await preflight(event)) as object),
      embeddingBatchPollSeconds: 1,
    });
    let looks = 0;
    handlers.EmbeddingBatches = async (event) => {
      calls.push({ task: 'EmbeddingBatches', event: event as Record<string, unknown> });
      looks += 1;
      return { api: 'batch', pending: looks < 3, looks };
    };
    const started = performance.now();

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: { dryRun: true },
      bucket,
      s3Client: s3,
      executionName: 'batch-wait',
    });

    // Assess
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const batchCalls = calls.filter((call) => call.task === 'EmbeddingBatches');
    expect(batchCalls.map((call) => Object.keys(call.event).sort())).toEqual([
      ['plan', 'run'],
      ['pending', 'run'],
      ['pending', 'run'],
    ]);
    expect(batchCalls[2]?.event.pending).toEqual({ api: 'batch', pending: true, looks: 2 });
    // Two waits of the run's one second each.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000);
    const order = calls.map((call) => call.task).filter((task, i, all) => all[i - 1] !== task);
    expect(order.slice(3, 6)).toEqual(['Plan', 'EmbeddingBatches', 'MigrateBatch']);
  });

  it("fails at the failing step with its error name, and reports the failure as the stack's rule does", async () => {
    // Prepare
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    handlers.Plan = failing(
      new InvalidInputError('batchSize must be positive'),
      1,
      handlers.Plan!,
      calls,
      'Plan',
    );
    const events: LocalStateEvent[] = [];

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: { batchSize: 0 },
      bucket,
      s3Client: s3,
      executionName: 'plan-fails',
      retryIntervalMs: 0,
      onStateEvent: (event) => events.push(event),
      failureReport: handlers.Report,
    });

    // Assess
    expect(result).toEqual({
      status: 'FAILED',
      error: 'InvalidInputError',
      cause: 'batchSize must be positive',
      failureReport: { reportKey: 'runs/run-1/failure.json' },
    });
    expect(calls.map((call) => call.task)).toEqual(['Preflight', 'Snapshot', 'Users', 'Plan', 'Report']);
    expect(calls.at(-1)?.event).toEqual({
      failed: true,
      executionName: 'plan-fails',
      executionStatus: 'FAILED',
      input: JSON.stringify({ batchSize: 0 }),
      error: { Error: 'InvalidInputError', Cause: 'batchSize must be positive' },
    });
    expect(events.filter((event) => event.type === 'StateRetried')).toEqual([]);
    expect(events.filter((event) => event.type === 'StateCaught')).toEqual([]);
  });

  it('still reports a failure when Preflight fails before there is a run', async () => {
    // Prepare
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    handlers.Preflight = failing(
      new PreflightError('target unreachable'),
      1,
      handlers.Preflight!,
      calls,
      'Preflight',
    );

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: { dryRun: true },
      bucket,
      s3Client: s3,
      executionName: 'early-failure',
      failureReport: handlers.Report,
    });

    // Assess
    expect(result).toMatchObject({ status: 'FAILED', error: 'PreflightError' });
    expect(calls.map((call) => call.task)).toEqual(['Preflight', 'Report']);
    expect(calls.at(-1)?.event).toMatchObject({
      executionName: 'early-failure',
      input: '{"dryRun":true}',
      error: { Error: 'PreflightError', Cause: 'target unreachable' },
    });
  });

  it('fails the Map, and the execution, when a range still fails after its retries', async () => {
    // Prepare
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    const migrate = handlers.MigrateBatch!;
    handlers.MigrateBatch = async (event) => {
      const { range } = event as { range: { index: number } };
      if (range.index === 1) {
        calls.push({ task: 'MigrateBatch', event: event as Record<string, unknown> });
        throw new TransientDatabaseError('the database is down');
      }
      return migrate(event);
    };
    const events: LocalStateEvent[] = [];

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: {},
      bucket,
      s3Client: s3,
      retryIntervalMs: 0,
      onStateEvent: (event) => events.push(event),
    });

    // Assess
    expect(result).toMatchObject({ status: 'FAILED', error: 'TransientDatabaseError' });
    const failedRange = calls.filter(
      (call) => call.task === 'MigrateBatch' && (call.event.range as { index: number }).index === 1,
    );
    // The first attempt and MaxAttempts (5) retries.
    expect(failedRange).toHaveLength(6);
    expect(
      events.filter((event) => event.type === 'StateRetried' && event.state.name === 'MigrateBatch'),
    ).toHaveLength(5);
    expect(calls.map((call) => call.task)).not.toContain('MigrateRelationships');
  });

  it('lets in-flight Map children finish and starts no more once a child fails', async () => {
    // Prepare: ten relation ranges four at a time; the first fails at once with an error that is
    // not retried, the others take a while, so siblings are in flight and more are queued
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    const ranges = Array.from({ length: 10 }, (_, index) => ({
      index,
      fromKey: `${index}`,
      toKey: `${index + 1}`,
    }));
    const plan = handlers.Plan!;
    handlers.Plan = async (event) => {
      const result = await plan(event);
      await putJson(s3, bucket, 'runs/run-1/relation-ranges.json', ranges);
      return { ...(result as object), relationBatchCount: ranges.length };
    };
    const timeline: string[] = [];
    handlers.MigrateRelationships = async (event) => {
      const { range } = event as { range: { index: number } };
      timeline.push(`start ${range.index}`);
      if (range.index === 0) throw new InvalidInputError('a deterministic failure');
      await new Promise((resolve) => setTimeout(resolve, 150));
      timeline.push(`end ${range.index}`);
      return { upserted: 1 };
    };
    const report = handlers.Report!;
    handlers.Report = async (event) => {
      timeline.push('report');
      return report(event);
    };

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input: {},
      bucket,
      s3Client: s3,
      retryIntervalMs: 0,
      failureReport: handlers.Report,
    });
    timeline.push('returned');
    await new Promise((resolve) => setTimeout(resolve, 400));

    // Assess: every child that started ended before the failure report and the return; none
    // started afterwards, and the queued ones never started
    expect(result).toMatchObject({ status: 'FAILED', error: 'InvalidInputError' });
    const started = timeline.filter((t) => t.startsWith('start ') && t !== 'start 0');
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThan(ranges.length - 1);
    for (const s of started) {
      expect(timeline.indexOf(s.replace('start', 'end'))).toBeGreaterThan(-1);
      expect(timeline.indexOf(s.replace('start', 'end'))).toBeLessThan(timeline.indexOf('report'));
    }
    expect(timeline.slice(timeline.indexOf('report'))).toEqual(['report', 'returned']);
  });

  it.each([
    ['one failed range of three within a count of 1', { pct: 100, count: 1 }, 'SUCCEEDED'],
    ['one failed range of three within 34 %', { pct: 34, count: 3 }, 'SUCCEEDED'],
    ['one failed range of three past 30 %', { pct: 30, count: 3 }, 'FAILED'],
    ['one failed range of three past a count of 0', { pct: 100, count: 0 }, 'FAILED'],
  ])("emulates the Map Run's tolerated failures: %s", async (_label, input, status) => {
    // Prepare
    const calls: Call[] = [];
    const handlers = fixtureHandlers(s3, bucket, calls);
    const migrate = handlers.MigrateBatch!;
    handlers.MigrateBatch = async (event) => {
      if ((event as { range: { index: number } }).range.index === 1) throw new TransientDatabaseError('down');
      return migrate(event);
    };

    // Act
    const result = await runLocalExecution({
      definition,
      handlers,
      input,
      bucket,
      s3Client: s3,
      retryIntervalMs: 0,
    });

    // Assess
    expect(result.status).toBe(status);
    expect(calls.filter((call) => call.task === 'MigrateBatch')).toHaveLength(2);
    expect(calls.some((call) => call.task === 'MigrateRelationships')).toBe(status === 'SUCCEEDED');
    if (status === 'FAILED') expect(result.error).toBe('TransientDatabaseError');
  });

  it('runs only the Rollback task for an input naming rollbackRunId', async () => {
    // Prepare
    const calls: Call[] = [];
    const input = { rollbackRunId: 'migration-20250301-101500', force: true };

    // Act
    const result = await runLocalExecution({
      definition,
      handlers: fixtureHandlers(s3, bucket, calls),
      input,
      bucket,
      s3Client: s3,
    });

    // Assess
    expect(result).toEqual({ status: 'SUCCEEDED', output: { runId: 'run-0', removed: {} } });
    expect(calls).toEqual([{ task: 'Rollback', event: { input } }]);
  });

  it('runs only the Restore task for an input naming a restore', async () => {
    // Prepare
    const calls: Call[] = [];
    const input = {
      restore: { snapshot: 's3://bucket/backups/migration-20250301-101500/', database: 'target' },
    };

    // Act
    const result = await runLocalExecution({
      definition,
      handlers: fixtureHandlers(s3, bucket, calls),
      input,
      bucket,
      s3Client: s3,
    });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toEqual([{ task: 'Restore', event: { input } }]);
  });
});
