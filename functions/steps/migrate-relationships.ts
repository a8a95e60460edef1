import { runLayout } from '../core/run-options.js';
import { migrateRelationships as migrateRelationshipRange } from '../engine/migrate-relationships.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import type { RelationshipItem } from './plan.js';
import type { RunContext } from './run-context.js';
import { moduleRegistryOf } from './run-inputs.js';

export interface MigrateRelationshipsEvent {
  run: RunContext;
  range: RelationshipItem;
}

/** One item of the relationships Map: a range of relations, or of tasks linking to their projects. */
export async function migrateRelationships(
  runtime: MigrationRuntime,
  event: MigrateRelationshipsEvent,
): Promise<{ index: number; migrated: number }> {
  const { run, range } = event;
  const { summary } = await migrateRelationshipRange(
    {
      source: await runtime.sourcePool(),
      target: await runtime.targetPool(),
      schema: run.sourceSchema,
      modules: moduleRegistryOf(run),
    },
    {
      runId: run.runId,
      kind: range.kind,
      range,
      dryRun: run.dryRun,
      forceReprocess: run.forceReprocess ?? false,
    },
  );
  await putJson(runtime.store, runLayout(run.runId).relationships(range.kind, range.index), summary);
  return { index: range.index, migrated: summary.migrated };
}
