import { keySetDigest } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { type Database, inTransaction } from './port.js';

/** A run's relationship bases: everything the step depends on, and the relation rows alone. */
export interface RelationshipBases {
  /** The relations, every memory-ledger row and the modules. */
  run: string;
  /** The relations and the modules: with no memory at a relation's end changed, enough. */
  relations: string;
}

/**
 * What every relationship outcome of a run depends on, as one value (docs/design.md, "Skipping what
 * is done"): the source's relation rows, and each memory's ledger row as the batches left it
 * (status, module, target ids, fingerprint, and when it was last written, which a task's project
 * link follows), with the target's modules. A relationship item computed under the same basis
 * resolves every relation alike, so a later run that finds it may keep the item's outcome. The
 * relations basis leaves the ledger out: under the same one, an item none of whose relations
 * reaches a memory written or removed since it was recorded resolves alike too.
 *
 * Computed once per run, after the batches, by whichever item comes first; the others wait on the
 * lock and read it from the run's row. The relationships step writes no memory-ledger row, so the
 * value holds for the whole step.
 */
export async function relationshipBasis(
  source: Database,
  target: Database,
  options: { runId: string; hasRelations: boolean; modules: readonly string[] },
): Promise<RelationshipBases> {
  return inTransaction(target, async (session) => {
    await session.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `relationships-basis:${options.runId}`,
    ]);
    const cached = await session.query<{ run: string | null; relations: string | null }>(
      `SELECT relationships_basis AS run, relations_basis AS relations FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`,
      [options.runId],
    );
    const known = cached.rows[0];
    if (known?.run && known.relations) return { run: known.run, relations: known.relations };
    const [relations, memories] = await Promise.all([
      options.hasRelations ? keySetDigest(source, 'r::text', 'FROM memory_relations r') : null,
      keySetDigest(
        session,
        'ROW(source_id, status, module, target_id, target_user_id, fingerprint, updated_at)::text',
        `FROM ${LEDGER_SCHEMA}.memory_ledger`,
      ),
    ]);
    const { rows } = await session.query<{ run: string; relations: string }>(
      `UPDATE ${LEDGER_SCHEMA}.runs SET relationships_basis = md5($2), relations_basis = md5($3)
        WHERE run_id = $1 RETURNING relationships_basis AS run, relations_basis AS relations`,
      [
        options.runId,
        JSON.stringify({ relations, memories, modules: options.modules }),
        JSON.stringify({ relations, modules: options.modules }),
      ],
    );
    // A run row is written by Preflight; without one (a step run on its own) nothing is kept.
    return rows[0] ?? { run: '', relations: '' };
  });
}
