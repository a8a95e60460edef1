import { describe, expect, it } from 'vitest';
import { lambdaHandler } from '../../functions/handlers/lambda-handler.js';
import { stepHandler } from '../../functions/handlers/step-handler.js';
import { localContext } from '../../functions/local/local-handlers.js';
import type { MigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { STEP_NAMES, STEPS, type StepName } from '../../functions/steps/index.js';
import type { RunContext } from '../../functions/steps/run-context.js';

const run: RunContext = {
  runId: 'run-1',
  lockHolder: 'arn:aws:states:local:000000000000:execution:m:run-1',
  dryRun: false,
  preserveEmbeddings: true,
  batchSize: 500,
  verifySliceSize: 5000,
  createUsers: true,
  incremental: false,
  changedSince: null,
  mergeOnEmail: false,
  centroidClassification: false,
  embedMode: 'preserve',
  embeddingModel: 'text-embedding-3-small',
  toleratedFailurePercentage: 0,
  toleratedFailureCount: 0,
  maxRejectRatio: 0.05,
  hasUserMap: false,
  hasRules: false,
  sourceSchema: {
    memoryColumns: ['id', 'user_id', 'content', 'is_deleted'],
    memoryIdType: 'uuid',
    userIdType: 'uuid',
    embeddingDimensions: 1536,
    metadataIsJson: false,
    hasRelations: true,
    relationIdType: 'uuid',
    hasCategories: false,
  },
  target: {
    modules: [{ id: 'technical', table: 'technical_memories' }],
    vectors: { embeddingDimensions: 1536, cmiDimensions: 512 },
    modulesWithoutTable: [],
  },
  startedAt: '2026-01-01T00:00:00.000Z',
  sourceCounts: { memories: 10, liveMemories: 9, deletedMemories: 1, users: 2, relations: 3 },
};

const range = { index: 3, fromKey: '00000000-0000-0000-0000-000000000010', toKey: null };
const plan = {
  batchCount: 4,
  rangesKey: 'runs/run-1/plan/ranges.json',
  relationBatchCount: 1,
  relationRangesKey: 'runs/run-1/plan/relationship-ranges.json',
  verifySliceCount: 1,
  verifySlicesKey: 'runs/run-1/plan/verify-slices.json',
};

/**
 * Per step: an event shaped as the state machine sends it (infra/constructs/migration-definition.ts,
 * the Maps' ItemSelector, the failed-execution rule), and the same event broken in one field.
 */
const EVENTS: Record<StepName, { valid: unknown; broken: unknown; field: string }> = {
  Preflight: {
    valid: { input: { dryRun: true }, executionName: 'run-1', executionId: 'arn:…:run-1' },
    broken: { input: {}, executionName: 42 },
    field: 'executionName',
  },
  Snapshot: {
    valid: { run, pending: { mode: 'rds', skipped: false, rds: [], rdsPending: true } },
    broken: { run, pending: { mode: 'rds', skipped: false, rds: [], rdsPending: 'yes' } },
    field: 'pending.rdsPending',
  },
  Users: { valid: { run }, broken: { run: { ...run, runId: undefined } }, field: 'run.runId' },
  Plan: { valid: { run }, broken: { run: { ...run, batchSize: 0 } }, field: 'run.batchSize' },
  EmbeddingBatches: {
    valid: { run, plan },
    broken: { run, plan: { ...plan, rangesKey: null } },
    field: 'plan.rangesKey',
  },
  MigrateBatch: {
    valid: { run, range },
    broken: { run, range: { index: 3, toKey: null } },
    field: 'range.fromKey',
  },
  MigrateRelationships: {
    valid: { run, range: { ...range, kind: 'project-links' } },
    broken: { run, range: { ...range, kind: 'links' } },
    field: 'range.kind',
  },
  RebuildCmi: { valid: { run }, broken: { run, all: 'yes' }, field: 'all' },
  VerifySlice: {
    valid: { run, range },
    broken: { run, range: { ...range, index: '3' } },
    field: 'range.index',
  },
  Verify: {
    valid: { run, plan },
    broken: { run, plan: { ...plan, verifySliceCount: -1 } },
    field: 'plan.verifySliceCount',
  },
  VerifySearch: {
    valid: { run },
    broken: { run: { ...run, sourceSchema: { ...run.sourceSchema, memoryIdType: undefined } } },
    field: 'run.sourceSchema.memoryIdType',
  },
  Report: {
    valid: {
      failed: true,
      executionName: 'run-1',
      executionStatus: 'ABORTED',
      input: '{"dryRun":true}',
      error: { Error: null, Cause: null },
    },
    broken: { run, plan, users: {}, verify: {}, concurrency: '4' },
    field: 'concurrency',
  },
  Rollback: {
    valid: { input: { rollbackRunId: 'run-1', force: true } },
    broken: { runId: 7 },
    field: 'runId',
  },
  Restore: {
    valid: { snapshot: 's3://bucket/backups/run-1/', database: 'target' },
    broken: { snapshot: 's3://bucket/backups/run-1/', database: 'both' },
    field: 'database',
  },
};

// A malformed event must fail before the step touches a database, the bucket or the embeddings API.
const untouchable = (): MigrationRuntime => {
  throw new Error('the runtime was reached');
};

describe('Constant: STEPS', () => {
  it('loads each step of the registry from its own module, at the first call', async () => {
    // Act
    const loaded = await Promise.all(
      STEP_NAMES.map(async (name) => [name, await STEPS[name].work()] as const),
    );

    // Assess: each work function is the step's own (preflight for Preflight, migrateBatch for MigrateBatch)
    for (const [name, work] of loaded) {
      expect(typeof work, name).toBe('function');
      expect(work.name, name).toBe(name[0]?.toLowerCase() + name.slice(1));
    }
  });

  it('accepts each step the events the state machine sends it', () => {
    for (const name of STEP_NAMES) {
      const checked = STEPS[name].event.safeParse(EVENTS[name].valid);
      expect(checked.success ? [] : checked.error.issues, name).toEqual([]);
    }
  });
});

describe('Function: stepHandler', () => {
  it.each(STEP_NAMES)('fails a malformed %s event with InvalidInputError naming the field', async (name) => {
    // Prepare
    const { broken, field } = EVENTS[name];
    const handler = stepHandler(name, untouchable);

    // Act
    const failure = await handler(broken, localContext(name)).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('InvalidInputError');
    expect((failure as Error).message).toContain(`${name} got a malformed event`);
    expect((failure as Error).message).toContain(`${field}:`);
    expect((failure as Error).message).not.toContain('the runtime was reached');
  });

  it('names the union a Rollback event must match when it matches neither', async () => {
    // Prepare
    const rollback = stepHandler('Rollback', untouchable);

    // Act
    const failure = (await rollback({ force: true }, localContext('Rollback')).catch(
      (error) => error,
    )) as Error;

    // Assess
    expect(failure.name).toBe('InvalidInputError');
    expect(failure.message).toMatch(/one of \(input: expected object.*\) or \(runId: expected string/);
  });

  it('fails a result the state machine cannot read with StepResultError', async () => {
    // Prepare: a step that returns Plan's result without the key the MigrateBatches Map reads
    const { event, result } = STEPS.Plan;
    const handler = lambdaHandler('Plan', async () => ({ ...plan, rangesKey: undefined }), {
      runtime: () => ({}) as MigrationRuntime,
      event,
      result,
    });

    // Act
    const failure = (await handler({ run: { ...run, dryRun: true } }, localContext('Plan')).catch(
      (error: unknown) => error,
    )) as Error;

    // Assess
    expect(failure.name).toBe('StepResultError');
    expect(failure.message).toContain('rangesKey: expected string');
  });
});
