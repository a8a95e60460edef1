/**
 * The `project_id` / `project_source_id` a project–task link writes into a task's metadata, kept
 * true to its link: cleared when the link's relationship row goes, and checked by Verify. The
 * pair lives only in the task's row, so a project removed while its tasks stay unchanged would
 * otherwise leave tasks naming a memory the target no longer holds.
 */

import type { ModuleRegistry } from '../core/modules.js';
import { type ProjectIdCounts, SAMPLE_LIMIT } from '../core/verification.js';
import { quoteIdentifier } from './copy-stream.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { escapeLiteral } from './pg/escape.js';
import type { DatabaseSession } from './port.js';

/** A removed relationship row: its source end is the task whose `project_id` may name its target end. */
export interface RemovedLink {
  sourceModule: string;
  sourceMemoryId: string;
  targetMemoryId: string;
}

/**
 * Clears `project_id` / `project_source_id` from the tasks of these removed rows whose `project_id`
 * names the row's other end. Returns how many tasks lost their link. Modules the registry does not
 * know hold no rows of ours.
 */
export async function clearProjectIds(
  client: DatabaseSession,
  tableOf: (module: string) => string | undefined,
  removed: readonly RemovedLink[],
): Promise<number> {
  let cleared = 0;
  for (const module of new Set(removed.map((r) => r.sourceModule))) {
    const table = tableOf(module);
    if (!table) continue;
    const group = removed.filter((r) => r.sourceModule === module);
    const { rowCount } = await client.query(
      `UPDATE ${quoteIdentifier(table)} t
          SET metadata = t.metadata - 'project_id' - 'project_source_id'
         FROM unnest($1::text[], $2::text[]) AS u(id, project_id)
        WHERE t.id = u.id AND t.metadata->>'project_id' = u.project_id`,
      [group.map((r) => r.sourceMemoryId), group.map((r) => r.targetMemoryId)],
    );
    cleared += rowCount ?? 0;
  }
  return cleared;
}

/**
 * The tasks whose link-written `project_id` does not resolve: the memory ledger must hold the
 * project named by `project_source_id` as migrated to exactly that id, and its module row must
 * exist. One pass over the linked rows, each probed through the ledger's primary key.
 */
export async function danglingProjectIds(
  client: DatabaseSession,
  modules: ModuleRegistry,
): Promise<ProjectIdCounts> {
  const linked = modules.modules
    .map(
      ({ id, table }) =>
        `SELECT ${escapeLiteral(id)}::text AS module, id, metadata->>'original_id' AS original_id,
                metadata->>'project_id' AS project_id, metadata->>'project_source_id' AS project_source_id
           FROM ${quoteIdentifier(table)} WHERE metadata ? 'project_source_id'`,
    )
    .join(' UNION ALL ');
  const present = modules.modules
    .map(
      ({ id, table }) =>
        `SELECT 1 FROM ${quoteIdentifier(table)} p WHERE l.module = ${escapeLiteral(id)} AND p.id = l.target_id`,
    )
    .join(' UNION ALL ');
  const { rows } = await client.query<{ linked: number; dangling: number; samples: string[] | null }>(
    `WITH linked AS (${linked}),
     judged AS (
       SELECT k.*, NOT EXISTS (
                SELECT 1 FROM ${LEDGER_SCHEMA}.memory_ledger l
                 WHERE l.source_id = k.project_source_id AND l.status = 'migrated'
                   AND l.target_id = k.project_id AND EXISTS (${present})
              ) AS dangling
         FROM linked k
     )
     SELECT count(*)::int AS linked, count(*) FILTER (WHERE dangling)::int AS dangling,
            (array_agg(module || ':' || coalesce(original_id, id) || ' -> ' || coalesce(project_id, 'null')
                       ORDER BY module, id) FILTER (WHERE dangling))[1:${SAMPLE_LIMIT}] AS samples
       FROM judged`,
  );
  const row = rows[0];
  return { linked: row?.linked ?? 0, dangling: row?.dangling ?? 0, samples: row?.samples ?? [] };
}
