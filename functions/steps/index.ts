import type { z } from 'zod';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import * as schemas from './step-schemas.js';

/** The secrets a step's function may read (infra grants exactly these). */
type SecretName = 'sourceDatabase' | 'targetDatabase' | 'openAiApiKey';

/** A state's work, free of Lambda: the runtime's clients in, the event in, a small result out. */
export type StepFunction<E, R> = (runtime: MigrationRuntime, event: E) => Promise<R>;

/**
 * One step: its work, loaded on first call (a function or a local run that needs Preflight only
 * does not load the embeddings client or the snapshot writer), the secrets its function may read,
 * the event it accepts and the result the state machine reads back.
 */
export interface StepEntry<E, R> {
  work: () => Promise<StepFunction<E, R>>;
  secrets: readonly SecretName[];
  event: z.ZodType;
  result: z.ZodType;
  /**
   * For a plain task of the migration chain (its event `{ run }`): the step it follows and the
   * execution-state key its result goes to. The definition (infra/constructs/migration-definition.ts)
   * places such a step itself, so adding one touches its work file and this table only.
   */
  chain?: ChainPlace;
}

interface ChainPlace {
  after: string;
  result: string;
}

const step = <E, R>(entry: StepEntry<E, R>) => entry;

const DATABASES = ['sourceDatabase', 'targetDatabase'] as const;
const EMBEDDING = [...DATABASES, 'openAiApiKey'] as const;

/**
 * Every Lambda task of the state machine by name: the one table the handlers, the functions and
 * their grants (infra/constructs/migration-functions.ts) and the local runner are derived from.
 * Only the embedding steps see the OpenAI key.
 */
export const STEPS = {
  Preflight: step({
    work: async () => (await import('./preflight.js')).preflight,
    secrets: EMBEDDING,
    event: schemas.preflightEventSchema,
    result: schemas.runContextSchema,
  }),
  Snapshot: step({
    work: async () => (await import('./snapshot.js')).snapshot,
    secrets: DATABASES,
    event: schemas.snapshotEventSchema,
    result: schemas.snapshotResultSchema,
  }),
  Users: step({
    work: async () => (await import('./users.js')).users,
    secrets: DATABASES,
    event: schemas.usersEventSchema,
    result: schemas.usersResultSchema,
  }),
  Plan: step({
    work: async () => (await import('./plan.js')).plan,
    secrets: DATABASES,
    event: schemas.planEventSchema,
    result: schemas.planResultSchema,
  }),
  EmbeddingBatches: step({
    work: async () => (await import('./embedding-batches.js')).embeddingBatches,
    secrets: EMBEDDING,
    event: schemas.embeddingBatchesEventSchema,
    result: schemas.embeddingBatchesResultSchema,
  }),
  MigrateBatch: step({
    work: async () => (await import('./migrate-batch.js')).migrateBatch,
    secrets: EMBEDDING,
    event: schemas.migrateBatchEventSchema,
    result: schemas.migrateBatchResultSchema,
  }),
  MigrateRelationships: step({
    work: async () => (await import('./migrate-relationships.js')).migrateRelationships,
    secrets: DATABASES,
    event: schemas.migrateRelationshipsEventSchema,
    result: schemas.migrateRelationshipsResultSchema,
  }),
  RebuildCmi: step({
    work: async () => (await import('./rebuild-cmi.js')).rebuildCmi,
    secrets: ['targetDatabase'],
    event: schemas.rebuildCmiEventSchema,
    result: schemas.skippableResultSchema,
  }),
  VerifySlice: step({
    work: async () => (await import('./verify-slice.js')).verifySlice,
    secrets: DATABASES,
    event: schemas.verifySliceEventSchema,
    result: schemas.verifySliceResultSchema,
  }),
  Verify: step({
    work: async () => (await import('./verify.js')).verify,
    secrets: DATABASES,
    event: schemas.verifyEventSchema,
    result: schemas.skippableResultSchema,
  }),
  VerifySearch: step({
    work: async () => (await import('./verify-search.js')).verifySearch,
    secrets: DATABASES,
    event: schemas.verifySearchEventSchema,
    result: schemas.skippableResultSchema,
  }),
  Report: step({
    work: async () => (await import('./report.js')).report,
    secrets: DATABASES,
    event: schemas.reportEventSchema,
    result: schemas.reportResultSchema,
  }),
  // Not steps of a migration: the execution input's `rollbackRunId` / `restore` branch to them.
  Rollback: step({
    work: async () => (await import('./rollback.js')).rollback,
    secrets: ['targetDatabase'],
    event: schemas.rollbackEventSchema,
    result: schemas.storedResultSchema,
  }),
  Restore: step({
    work: async () => (await import('./restore.js')).restore,
    secrets: DATABASES,
    event: schemas.restoreEventSchema,
    result: schemas.storedResultSchema,
  }),
};

export type StepName = keyof typeof STEPS;

export const STEP_NAMES = Object.keys(STEPS) as StepName[];
