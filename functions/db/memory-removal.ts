/**
 * Removing migrated memories from the target: a module's rows, their CMI rows and the
 * relationships that touch them, with those relationships' ledger rows (a ledger row naming a
 * relationship that is gone would fail every later Verify; the relationships step writes both
 * again for what still holds). Shared by the batch loader (moved, withdrawn and refused memories)
 * and delete propagation (memories gone from the source).
 */

import { quoteIdentifier } from './copy-stream.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { DatabaseSession } from './port.js';

export async function removeMigratedMemories(
  client: DatabaseSession,
  module: { id: string; table: string },
  targetIds: readonly string[],
): Promise<void> {
  const ids = [...targetIds];
  await client.query(`DELETE FROM ${quoteIdentifier(module.table)} WHERE id = ANY($1::text[])`, [ids]);
  await client.query(
    `DELETE FROM memory_index WHERE "moduleId" = $1 AND "remoteMemoryId" = ANY($2::text[])`,
    [module.id, ids],
  );
  await client.query(
    `WITH removed AS (
       DELETE FROM memory_relationships
        WHERE ("sourceModule" = $1 AND "sourceMemoryId" = ANY($2::text[]))
           OR ("targetModule" = $1 AND "targetMemoryId" = ANY($2::text[]))
       RETURNING id
     )
     DELETE FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE target_id IN (SELECT id FROM removed)`,
    [module.id, ids],
  );
}
