import { parseMigrationInput, runLayout } from '../core/run-options.js';
import { InvalidInputError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { type RollbackReport, rollbackRun } from '../snapshot/run-rollback.js';
import { getJson } from '../store/run-store.js';
import { storedSnapshotSchema } from './stored-schemas.js';

/** The run to roll back (the CLI), or a whole execution input with `rollbackRunId` (the state machine). */
export type RollbackEvent = { runId: string; force?: boolean } | { input: unknown };

export interface RollbackResult extends RollbackReport {
  /** The run's own snapshot, when it took one: restoring it also reverts what the run updated. */
  snapshot: string | null;
  advice: string | null;
}

/**
 * Rolls back one run through the ledger (see `rollbackRun` for the rule). Rows the run updated
 * rather than created cannot be reverted from the ledger; the result points at the run's snapshot
 * for those.
 */
export async function rollback(runtime: MigrationRuntime, event: RollbackEvent): Promise<RollbackResult> {
  const request = 'input' in event ? fromInput(event.input) : event;
  const report = await rollbackRun({
    target: await runtime.targetPool(),
    runId: request.runId,
    force: request.force ?? false,
  });
  const recorded = await getJson(
    runtime.store,
    runLayout(request.runId).snapshot,
    storedSnapshotSchema,
  ).catch(() => null);
  const snapshot = recorded?.logical?.location ?? null;
  const updated = report.keptUpdated.memories + report.keptUpdated.relationships;
  let advice: string | null = null;
  if (updated > 0) {
    advice = snapshot
      ? `${updated} row(s) existed before run ${request.runId} and were updated by it; to revert them too, restore its snapshot: npm run migrate:restore -- --snapshot ${snapshot} --database target --db <url> --force`
      : `${updated} row(s) existed before run ${request.runId} and were updated by it; no snapshot of that run is recorded, so they stay as it left them.`;
  }
  return { ...report, snapshot, advice };
}

function fromInput(raw: unknown): { runId: string; force: boolean } {
  const input = parseMigrationInput(raw);
  if (!input.rollbackRunId) throw new InvalidInputError('The input has no "rollbackRunId".');
  return { runId: input.rollbackRunId, force: input.force };
}
