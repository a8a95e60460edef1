import type { TargetModule } from '../core/modules.js';
import { quoteIdentifier } from '../db/copy-stream.js';
import { LEDGER_SCHEMA } from '../db/ledger-schema.js';
import { readModuleRegistry } from '../db/module-registry.js';
import type { Database, DatabaseSession } from '../db/port.js';
import {
  classifyDatabaseFailure,
  InvalidInputError,
  MigrationError,
  MigrationLockedError,
} from '../errors.js';

export interface RollbackOptions {
  target: Database;
  runId: string;
  /** Roll back a run that still holds the lock (it died without releasing it). */
  force?: boolean;
}

export interface RollbackReport {
  runId: string;
  /** What the run created and the rollback removed. */
  removed: {
    moduleRows: Record<string, number>;
    cmiRows: number;
    relationships: number;
    users: number;
    ledgerRows: { memories: number; relationships: number; users: number };
  };
  /**
   * Rows an earlier run created that this run updated, moved or withdrew: the ledger does not hold
   * their earlier version, so they stay as this run left them (restore the run's snapshot to undo them).
   */
  keptUpdated: { memories: number; relationships: number };
  /** Users the run created that other rows (later runs, Federated Memory itself) now reference. */
  keptUsers: string[];
  previousStatus: string;
}

/**
 * Removes exactly what one run created, found through the ledger, in one transaction:
 *
 * - memories whose ledger row was first written by the run (`first_run_id`): their module row, CMI
 *   row and every relationship touching them;
 * - relationships first migrated by the run (only rows carrying the migration's ownership marker);
 * - users the run created (`user_map.created_by_run`), unless something still references them;
 * - the run's own ledger rows; the run is marked `rolled_back`.
 *
 * Rows that existed before the run are never deleted, including users it matched by token and
 * rows it only referenced. Rows it *updated* are counted in `keptUpdated`, not reverted.
 */
export async function rollbackRun(options: RollbackOptions): Promise<RollbackReport> {
  const { runId } = options;
  const client = await options.target.connect();
  try {
    await client.query('BEGIN');
    const previousStatus = await claimRun(client, runId, options.force ?? false);
    const { modules } = (await readModuleRegistry(client)).registry;
    await client.query(
      `CREATE TEMP TABLE bm_rollback_memories ON COMMIT DROP AS
         SELECT module, target_id FROM ${LEDGER_SCHEMA}.memory_ledger
          WHERE first_run_id = $1 AND status = 'migrated' AND target_id IS NOT NULL`,
      [runId],
    );
    await client.query('CREATE INDEX ON bm_rollback_memories (module, target_id)');

    const relationships =
      (await count(
        client,
        `DELETE FROM memory_relationships r USING bm_rollback_memories m
          WHERE r."sourceModule" = m.module AND r."sourceMemoryId" = m.target_id`,
      )) +
      (await count(
        client,
        `DELETE FROM memory_relationships r USING bm_rollback_memories m
          WHERE r."targetModule" = m.module AND r."targetMemoryId" = m.target_id`,
      )) +
      (await count(
        client,
        `DELETE FROM memory_relationships r USING ${LEDGER_SCHEMA}.relationship_ledger l
          WHERE l.first_run_id = $1 AND l.status = 'migrated' AND r.id = l.target_id
            AND (r.metadata ? 'original_relation_id' OR r.metadata ? 'original_task_id')`,
        [runId],
      ));
    const cmiRows = await count(
      client,
      `DELETE FROM memory_index c USING bm_rollback_memories m
        WHERE c."moduleId" = m.module AND c."remoteMemoryId" = m.target_id`,
    );
    const moduleRows: Record<string, number> = {};
    for (const { id, table } of modules) {
      moduleRows[id] = await count(
        client,
        `DELETE FROM ${quoteIdentifier(table)} t USING bm_rollback_memories m WHERE m.module = $1 AND t.id = m.target_id`,
        [id],
      );
    }
    const { users, keptUsers } = await removeCreatedUsers(client, runId, modules);

    const keptUpdated = await keptUpdatedCounts(client, runId);
    const ledgerRows = {
      memories: await count(client, `DELETE FROM ${LEDGER_SCHEMA}.memory_ledger WHERE first_run_id = $1`, [
        runId,
      ]),
      relationships: await count(
        client,
        `DELETE FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE first_run_id = $1`,
        [runId],
      ),
      users: await count(
        client,
        `DELETE FROM ${LEDGER_SCHEMA}.user_map
          WHERE (created_by_run = $1 AND NOT (target_user_id = ANY($2::text[])))
             OR (run_id = $1 AND created_by_run IS NULL)`,
        [runId, keptUsers],
      ),
    };
    // The recorded outcomes of relationship items and memory ranges describe a target this
    // rollback just changed; the removals noted for the items go with them.
    await client.query(
      `DO $$ BEGIN
         IF to_regclass('${LEDGER_SCHEMA}.relationship_items') IS NOT NULL THEN
           DELETE FROM ${LEDGER_SCHEMA}.relationship_items;
         END IF;
         IF to_regclass('${LEDGER_SCHEMA}.memory_ranges') IS NOT NULL THEN
           DELETE FROM ${LEDGER_SCHEMA}.memory_ranges;
         END IF;
         IF to_regclass('${LEDGER_SCHEMA}.memory_removals') IS NOT NULL THEN
           DELETE FROM ${LEDGER_SCHEMA}.memory_removals;
         END IF;
       END $$`,
    );
    const report: RollbackReport = {
      runId,
      removed: { moduleRows, cmiRows, relationships, users, ledgerRows },
      keptUpdated,
      keptUsers,
      previousStatus,
    };
    await client.query(
      `UPDATE ${LEDGER_SCHEMA}.runs SET status = 'rolled_back', finished_at = now(),
              summary = COALESCE(summary, '{}'::jsonb) || jsonb_build_object('rollback', $2::jsonb)
        WHERE run_id = $1`,
      [runId, JSON.stringify({ ...report, at: new Date().toISOString() })],
    );
    await client.query(`DELETE FROM ${LEDGER_SCHEMA}.lock WHERE run_id = $1`, [runId]);
    await client.query('COMMIT');
    return report;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof MigrationError) throw error;
    throw classifyDatabaseFailure(error, { step: 'rollback', runId });
  } finally {
    client.release();
  }
}

/** Checks the run exists and nothing else is writing; returns its status before the rollback. */
async function claimRun(client: DatabaseSession, runId: string, force: boolean): Promise<string> {
  const { rows: ledger } = await client.query<{ t: string | null }>(
    `SELECT to_regclass('${LEDGER_SCHEMA}.runs')::text AS t`,
  );
  if (!ledger[0]?.t) {
    throw new InvalidInputError(
      `The target has no ${LEDGER_SCHEMA} ledger: no run has written to it, so there is nothing to roll back.`,
    );
  }
  // Holds off a Preflight taking the lock until this transaction ends.
  await client.query(`LOCK TABLE ${LEDGER_SCHEMA}.lock IN EXCLUSIVE MODE`);
  const { rows: runs } = await client.query<{ status: string }>(
    `SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1 FOR UPDATE`,
    [runId],
  );
  const run = runs[0];
  if (!run) {
    const { rows: recent } = await client.query<{ run_id: string }>(
      `SELECT run_id FROM ${LEDGER_SCHEMA}.runs ORDER BY started_at DESC LIMIT 5`,
    );
    throw new InvalidInputError(
      `No run "${runId}" in the ledger. Recent runs: ${recent.map((r) => r.run_id).join(', ') || '(none)'}.`,
      { context: { runId } },
    );
  }
  const { rows: lock } = await client.query<{ run_id: string }>(`SELECT run_id FROM ${LEDGER_SCHEMA}.lock`);
  const holder = lock[0]?.run_id;
  if (holder && holder !== runId) {
    throw new MigrationLockedError(`Run ${holder} holds the migration lock: roll back after it finishes.`, {
      context: { heldBy: holder, runId },
    });
  }
  if (holder === runId && !force) {
    throw new MigrationLockedError(
      `Run ${runId} still holds the migration lock (status ${run.status}): it may be running. Stop its execution first; if it died, pass --force ("force": true).`,
      { context: { heldBy: holder, runId } },
    );
  }
  return run.status;
}

async function removeCreatedUsers(
  client: DatabaseSession,
  runId: string,
  modules: readonly TargetModule[],
): Promise<{ users: number; keptUsers: string[] }> {
  const referenced = [
    ...modules.map((m) => `SELECT 1 FROM ${quoteIdentifier(m.table)} x WHERE x."userId" = u.id`),
    'SELECT 1 FROM memory_index x WHERE x."userId" = u.id',
    'SELECT 1 FROM memory_relationships x WHERE x."userId" = u.id',
  ]
    .map((q) => `EXISTS (${q})`)
    .join(' OR ');
  const { rows } = await client.query<{ id: string; used: boolean }>(
    `SELECT u.id, (${referenced}) AS used FROM "users" u
      WHERE u.id IN (SELECT target_user_id FROM ${LEDGER_SCHEMA}.user_map WHERE created_by_run = $1)`,
    [runId],
  );
  const remove = rows.filter((r) => !r.used).map((r) => r.id);
  const users =
    remove.length > 0 ? await count(client, 'DELETE FROM "users" WHERE id = ANY($1::text[])', [remove]) : 0;
  return { users, keptUsers: rows.filter((r) => r.used).map((r) => r.id) };
}

async function keptUpdatedCounts(
  client: DatabaseSession,
  runId: string,
): Promise<RollbackReport['keptUpdated']> {
  const { rows } = await client.query<{ memories: string; relationships: string }>(
    `SELECT (SELECT count(*) FROM ${LEDGER_SCHEMA}.memory_ledger WHERE run_id = $1 AND first_run_id <> $1) AS memories,
            (SELECT count(*) FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE run_id = $1 AND first_run_id <> $1) AS relationships`,
    [runId],
  );
  return { memories: Number(rows[0]?.memories), relationships: Number(rows[0]?.relationships) };
}

async function count(client: DatabaseSession, sql: string, params: unknown[] = []): Promise<number> {
  return (await client.query(sql, params)).rowCount ?? 0;
}
