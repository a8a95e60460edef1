/**
 * Removing migrated memories from the target: a module's rows, their CMI rows and the
 * relationships that touch them, with those relationships' ledger rows (a ledger row naming a
 * relationship that is gone would fail every later Verify; the relationships step writes both
 * again for what still holds). Shared by the batch loader (moved, withdrawn and refused memories)
 * and delete propagation (memories gone from the source).
 */
import type { ModuleRegistry } from '../core/modules.js';
import { quoteIdentifier } from './copy-stream.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { DatabaseSession } from './port.js';
import { clearProjectIds, type RemovedLink } from './project-ids.js';

/**
 * Returns how many tasks lost a `project_id` naming a removed memory: a task that stays must not
 * keep naming a project the target no longer holds (the relationships step links it again when
 * the project still exists). A memory that only moves to another module keeps its target id, so
 * `moving` leaves those tasks alone: they sit in other batches' ranges, and updating them from here
 * while those batches upsert them deadlocks.
 */
export async function removeMigratedMemories(
  client: DatabaseSession,
  modules: ModuleRegistry,
  module: string,
  targetIds: readonly string[],
  { moving = false }: { moving?: boolean } = {},
): Promise<number> {
  const ids = [...targetIds];
  await client.query(`DELETE FROM ${quoteIdentifier(modules.tableOf(module))} WHERE id = ANY($1::text[])`, [
    ids,
  ]);
  await client.query(
    `DELETE FROM memory_index WHERE "moduleId" = $1 AND "remoteMemoryId" = ANY($2::text[])`,
    [module, ids],
  );
  const { rows: removed } = await client.query<RemovedLink>(
    `WITH removed AS (
       DELETE FROM memory_relationships
        WHERE ("sourceModule" = $1 AND "sourceMemoryId" = ANY($2::text[]))
           OR ("targetModule" = $1 AND "targetMemoryId" = ANY($2::text[]))
       RETURNING id, "sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId"
     ), unledgered AS (
       DELETE FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE target_id IN (SELECT id FROM removed)
     )
     SELECT "sourceModule", "sourceMemoryId", "targetMemoryId" FROM removed
      WHERE "targetModule" = $1 AND "targetMemoryId" = ANY($2::text[])`,
    [module, ids],
  );
  if (moving) return 0;
  return clearProjectIds(client, (id) => (modules.has(id) ? modules.tableOf(id) : undefined), removed);
}
