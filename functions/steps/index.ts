import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { migrateBatch } from './migrate-batch.js';
import { migrateRelationships } from './migrate-relationships.js';
import { plan } from './plan.js';
import { preflight } from './preflight.js';
import { rebuildCmi } from './rebuild-cmi.js';
import { report } from './report.js';
import { users } from './users.js';
import { verify } from './verify.js';

/**
 * Every state's work by the name of its Lambda task in the state machine. The local runner binds
 * the synthesized definition's tasks through this table; infra names the functions the same way.
 */
export const STEPS = {
  Preflight: preflight,
  Users: users,
  Plan: plan,
  MigrateBatch: migrateBatch,
  MigrateRelationships: migrateRelationships,
  RebuildCmi: rebuildCmi,
  Verify: verify,
  Report: report,
} as const;

export type StepName = keyof typeof STEPS;

/** The steps bound to one runtime, as the `(event) => Promise<result>` functions a local ASL interpreter calls. */
export function bindSteps(runtime: MigrationRuntime): Record<StepName, (event: unknown) => Promise<unknown>> {
  return Object.fromEntries(
    Object.entries(STEPS).map(([name, step]) => [name, (event: unknown) => (step as (r: MigrationRuntime, e: unknown) => Promise<unknown>)(runtime, event)]),
  ) as Record<StepName, (event: unknown) => Promise<unknown>>;
}
