import { z } from 'zod';
import type { ProjectLinkInputs } from '../core/project-links.js';
import type { RelationshipBatchSummary, RelationshipKind } from '../core/relationships.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { escapeLiteral } from './pg/escape.js';
import type { Database, Queryable } from './port.js';
import type { KeyRange } from './source-reader.js';
import { readWideJson } from './wide-json.js';

/** A relationship item's last outcome, and the basis (relationship-basis.ts) it was computed under. */
export interface RelationshipItemRecord {
  basis: string;
  summary: RelationshipBatchSummary;
  /** A project-link item's inputs (core/project-links.ts); absent: the item is redone on any change. */
  linkInputs?: ProjectLinkInputs | null;
}

// A project-link record's inputs as recordRelationshipOutcome writes them; anything else counts as none.
const linkInputsSchema = z.object({
  tasks: z.array(
    z.object({ task: z.string(), found: z.array(z.string()), unresolvedId: z.string().optional() }),
  ),
});

/** What an earlier run recorded for an item over the same keys, and which run that was. */
export interface RecordedRelationshipItem extends RelationshipItemRecord {
  runId: string;
}

/**
 * The outcome an earlier run recorded for this item, if it covered the same keys: under the same
 * run basis the item's relations resolve alike and the target already holds what they resolved to.
 */
export async function recordedRelationshipItem(
  target: Database,
  kind: RelationshipKind,
  range: KeyRange,
): Promise<RecordedRelationshipItem | null> {
  const { rows } = await target.query<{
    basis: string;
    summary: RelationshipBatchSummary;
    run_id: string;
  }>(
    `SELECT basis, summary, run_id FROM ${LEDGER_SCHEMA}.relationship_items
      WHERE kind = $1 AND item = $2 AND from_key IS NOT DISTINCT FROM $3 AND to_key IS NOT DISTINCT FROM $4`,
    [kind, range.index, range.fromKey, range.toKey],
  );
  const row = rows[0];
  if (!row) return null;
  const linkInputs =
    kind === 'project-links'
      ? await readWideJson(target, {
          table: `${LEDGER_SCHEMA}.relationship_items`,
          key: `w.kind || ':' || w.item`,
          column: 'link_inputs',
          where: `w.kind = ${escapeLiteral(kind)} AND w.item = ${Math.floor(range.index)}`,
        })
      : null;
  return {
    basis: row.basis,
    summary: row.summary,
    linkInputs: linkInputsSchema.safeParse(linkInputs).data ?? null,
    runId: row.run_id,
  };
}

/** Records an item's outcome once it is written (a crash before this only costs the next run the item's work). */
export async function recordRelationshipOutcome(
  target: Queryable,
  runId: string,
  range: KeyRange,
  record: RelationshipItemRecord,
): Promise<void> {
  if (!record.basis) return;
  await target.query(
    `INSERT INTO ${LEDGER_SCHEMA}.relationship_items (kind, item, from_key, to_key, basis, summary, link_inputs, run_id)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
     ON CONFLICT (kind, item) DO UPDATE SET from_key = EXCLUDED.from_key, to_key = EXCLUDED.to_key,
       basis = EXCLUDED.basis, summary = EXCLUDED.summary, link_inputs = EXCLUDED.link_inputs,
       run_id = EXCLUDED.run_id`,
    [
      record.summary.kind,
      range.index,
      range.fromKey,
      range.toKey,
      record.basis,
      JSON.stringify(record.summary),
      record.linkInputs ? JSON.stringify(record.linkInputs) : null,
      runId,
    ],
  );
}
