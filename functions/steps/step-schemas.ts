import { z } from 'zod';

/**
 * The events the state machine hands each step and the results it reads back, as zod schemas the
 * step registry (./index.ts) checks at the Lambda handler's door. Objects are loose: a field the
 * definition sends and a step does not read passes through untouched; the fields a step does read
 * are typed strictly, so a malformed Map item fails by its field's path before anything is written.
 */

const count = z.number().int().nonnegative();
const key = z.string().min(1);
const object = z.looseObject({});

/**
 * `$.run`, Preflight's result carried unchanged through the execution: the fields every step
 * relies on. Fields marked optional in RunContext are absent in contexts from older runs.
 */
export const runContextSchema = z.looseObject({
  runId: key,
  lockHolder: z.string().optional(),
  dryRun: z.boolean(),
  batchSize: z.number().int().positive(),
  verifySliceSize: z.number().int().positive(),
  incremental: z.boolean(),
  changedSince: z.string().nullable(),
  embeddingModel: z.string(),
  embeddingBatchPollSeconds: z.number().positive().optional(),
  toleratedFailurePercentage: z.number().min(0).max(100),
  toleratedFailureCount: count,
  maxRejectRatio: z.number().min(0),
  hasUserMap: z.boolean(),
  hasRules: z.boolean(),
  sourceSchema: z.looseObject({
    memoryColumns: z.array(z.string()),
    memoryIdType: z.string(),
    userIdType: z.string(),
  }),
  target: z.looseObject({ modules: z.array(object) }),
  startedAt: z.string(),
  sourceCounts: z.looseObject({ memories: count, liveMemories: count, users: count, relations: count }),
});

/** One item of Plan's ranges files: a Distributed Map item, or a verify slice. */
export const keyRangeSchema = z.looseObject({
  index: count,
  fromKey: z.string().nullable(),
  toKey: z.string().nullable(),
});

export const relationshipItemSchema = keyRangeSchema.extend({
  kind: z.enum(['relations', 'project-links']),
});

/** What the Snapshot wait loop reads (`$.snapshot.rdsPending`) and hands back as `pending`. */
export const snapshotResultSchema = z.looseObject({
  mode: z.enum(['logical', 'rds', 'both', 'none']),
  skipped: z.boolean(),
  rds: z.array(object),
  rdsPending: z.boolean(),
});

/** What the Batch API wait loop reads (`$.embeddingBatches.pending`) and hands back as `pending`. */
export const embeddingBatchesResultSchema = z.looseObject({
  api: z.enum(['sync', 'batch']),
  pending: z.boolean(),
});

/** Plan's result: the Maps' ItemReaders read the three keys, Verify and Report the counts. */
export const planResultSchema = z.looseObject({
  batchCount: count,
  rangesKey: key,
  relationBatchCount: count,
  relationRangesKey: key,
  verifySliceCount: count,
  verifySlicesKey: key,
});

const runEvent = z.looseObject({ run: runContextSchema });
const rangeEvent = runEvent.extend({ range: keyRangeSchema });

/** The whole execution input, as the Rollback and Restore branches pass it (`{ "input.$": "$" }`). */
const executionInputEvent = z.looseObject({ input: object });

export const preflightEventSchema = z.looseObject({
  input: z.unknown().optional(),
  executionName: key,
  executionId: z.string().optional(),
});
export const snapshotEventSchema = runEvent.extend({ pending: snapshotResultSchema.optional() });
export const usersEventSchema = runEvent;
export const planEventSchema = runEvent;
export const embeddingBatchesEventSchema = runEvent.extend({
  plan: z.looseObject({ rangesKey: key }).optional(),
  pending: embeddingBatchesResultSchema.optional(),
});
export const migrateBatchEventSchema = rangeEvent;
export const migrateRelationshipsEventSchema = runEvent.extend({ range: relationshipItemSchema });
export const rebuildCmiEventSchema = runEvent.extend({ all: z.boolean().optional() });
export const verifySliceEventSchema = rangeEvent;
export const verifyEventSchema = runEvent.extend({
  plan: z.looseObject({ verifySliceCount: count }).optional(),
});
export const verifySearchEventSchema = runEvent;

const reportPlan = z.looseObject({ batchCount: count, relationBatchCount: count });

/**
 * The Report task's event, or the failed-execution rule's (infra/constructs/failure-report-rule.ts):
 * EventBridge sends `error` and `cause` as null for an aborted or timed-out execution.
 */
export const reportEventSchema = z.looseObject({
  run: runContextSchema.optional(),
  plan: reportPlan.optional(),
  failed: z.boolean().optional(),
  error: z.looseObject({ Error: z.string().nullish(), Cause: z.string().nullish() }).optional(),
  state: z.looseObject({ run: runContextSchema.optional(), plan: reportPlan.optional() }).optional(),
  executionName: z.string().optional(),
  executionStatus: z.string().optional(),
  input: z.string().nullish(),
  concurrency: z.number().int().positive().optional(),
});

export const rollbackEventSchema = z.union([
  executionInputEvent,
  z.looseObject({ runId: key, force: z.boolean().optional() }),
]);

export const restoreEventSchema = z.union([
  executionInputEvent,
  z.looseObject({ snapshot: key, database: z.enum(['source', 'target']), force: z.boolean().optional() }),
]);

/** A result the state machine only stores: an object, checked no further. */
export const storedResultSchema = object;

export const usersResultSchema = z.looseObject({ summaryKey: key });
export const migrateBatchResultSchema = z.looseObject({ index: count, migrated: count, rejected: count });
export const migrateRelationshipsResultSchema = z.looseObject({ index: count, migrated: count });
export const skippableResultSchema = z.looseObject({ skipped: z.boolean() });
export const verifySliceResultSchema = z.looseObject({ index: count, compared: count });
export const reportResultSchema = z.looseObject({
  runId: z.string().nullable(),
  status: z.enum(['succeeded', 'failed']),
});
