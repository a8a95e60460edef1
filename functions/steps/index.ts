import { embeddingBatches } from './embedding-batches.js';
import { migrateBatch } from './migrate-batch.js';
import { migrateRelationships } from './migrate-relationships.js';
import { plan } from './plan.js';
import { preflight } from './preflight.js';
import { rebuildCmi } from './rebuild-cmi.js';
import { report } from './report.js';
import { restore } from './restore.js';
import { rollback } from './rollback.js';
import { snapshot } from './snapshot.js';
import { users } from './users.js';
import { verify } from './verify.js';
import { verifySearch } from './verify-search.js';
import { verifySlice } from './verify-slice.js';

/**
 * Every state's work by the name of its Lambda task in the state machine. The local runner binds
 * the synthesized definition's tasks through this table; infra names the functions the same way.
 */
export const STEPS = {
  Preflight: preflight,
  Snapshot: snapshot,
  Users: users,
  Plan: plan,
  EmbeddingBatches: embeddingBatches,
  MigrateBatch: migrateBatch,
  MigrateRelationships: migrateRelationships,
  RebuildCmi: rebuildCmi,
  VerifySlice: verifySlice,
  Verify: verify,
  VerifySearch: verifySearch,
  Report: report,
  // Not steps of a migration: the execution input's `rollbackRunId` / `restore` branch to them.
  Rollback: rollback,
  Restore: restore,
} as const;

export type StepName = keyof typeof STEPS;
