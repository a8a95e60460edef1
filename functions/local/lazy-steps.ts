import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import type { StepName } from '../steps/index.js';

type Step = (runtime: MigrationRuntime, event: never) => Promise<unknown>;

/**
 * The steps of `STEPS` (functions/steps/index.ts), each loaded when the local runner first calls
 * it. Loading every step's modules (the embeddings client, the classifier, the snapshot writer…)
 * costs more CPU than a run that fails in Preflight spends on anything else, and such a run needs
 * only Preflight and Report.
 */
export const LAZY_STEPS = {
  Preflight: async () => (await import('../steps/preflight.js')).preflight,
  Snapshot: async () => (await import('../steps/snapshot.js')).snapshot,
  Users: async () => (await import('../steps/users.js')).users,
  Plan: async () => (await import('../steps/plan.js')).plan,
  EmbeddingBatches: async () => (await import('../steps/embedding-batches.js')).embeddingBatches,
  MigrateBatch: async () => (await import('../steps/migrate-batch.js')).migrateBatch,
  MigrateRelationships: async () => (await import('../steps/migrate-relationships.js')).migrateRelationships,
  RebuildCmi: async () => (await import('../steps/rebuild-cmi.js')).rebuildCmi,
  VerifySlice: async () => (await import('../steps/verify-slice.js')).verifySlice,
  Verify: async () => (await import('../steps/verify.js')).verify,
  VerifySearch: async () => (await import('../steps/verify-search.js')).verifySearch,
  Report: async () => (await import('../steps/report.js')).report,
  Rollback: async () => (await import('../steps/rollback.js')).rollback,
  Restore: async () => (await import('../steps/restore.js')).restore,
} satisfies Record<StepName, () => Promise<Step>>;
