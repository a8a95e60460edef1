import { keySetDigest } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { type Database, inTransaction } from './port.js';

/**
 * What a relationship item's outcome depends on besides the memories at its relations' ends, as
 * one value (docs/design.md, "Skipping what is done"): the source's relation rows and the target's
 * modules. An item recorded under the same basis resolves alike unless the ledger wrote or removed
 * a memory it reaches since (ledger-changes.ts), which the caller asks.
 *
 * Computed once per run by whichever item comes first; the others wait on the lock and read it
 * from the run's row.
 */
export async function relationshipBasis(
  source: Database,
  target: Database,
  options: { runId: string; hasRelations: boolean; modules: readonly string[] },
): Promise<string> {
  return inTransaction(target, async (session) => {
    await session.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `relationships-basis:${options.runId}`,
    ]);
    const cached = await session.query<{ basis: string | null }>(
      `SELECT relationships_basis AS basis FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`,
      [options.runId],
    );
    const known = cached.rows[0]?.basis;
    if (known) return known;
    const relations = options.hasRelations
      ? await keySetDigest(source, 'r::text', 'FROM memory_relations r')
      : null;
    const { rows } = await session.query<{ basis: string }>(
      `UPDATE ${LEDGER_SCHEMA}.runs SET relationships_basis = md5($2) WHERE run_id = $1 RETURNING relationships_basis AS basis`,
      [options.runId, JSON.stringify({ relations, modules: options.modules })],
    );
    // A run row is written by Preflight; without one (a step run on its own) nothing is kept.
    return rows[0]?.basis ?? '';
  });
}
