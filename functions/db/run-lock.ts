import { MigrationLockedError } from '../errors.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Database } from './port.js';

/** How often a holder refreshes its heartbeat while a step runs. */
export const LOCK_HEARTBEAT_SECONDS = 30;

/**
 * A holder whose heartbeat is older than this is taken for dead. Far above the heartbeat interval
 * and above the state machine's longest pause between two steps (the 60 s wait between looks at RDS
 * snapshots, retries backing off up to about 30 s), so a live run is never taken for a dead one.
 */
export const LOCK_STALE_SECONDS = 300;

export interface LockRequest {
  runId: string;
  /**
   * Who holds the lock: one per execution, the same for every retry of its steps. Two executions
   * that share a run id still have two holders, so the second is refused.
   */
  holder: string;
  /** Take the lock over from a holder whose heartbeat stopped (`--break-lock`). */
  breakLock?: boolean;
  /** A holder silent longer than this is dead (default LOCK_STALE_SECONDS). */
  staleSeconds?: number;
}

interface LockRow {
  run_id: string;
  holder: string | null;
  acquired_at: Date;
  silent_seconds: number;
}

/**
 * Takes the single-writer lock, or fails naming the run that holds it. One atomic statement: an
 * `INSERT … ON CONFLICT DO UPDATE` waits for a concurrent inserter and then sees its committed row,
 * where a separate read would miss it (a snapshot taken before that row committed). Idempotent for
 * the same holder, so a retried Preflight does not lock itself out. After taking it, runs that the
 * ledger still shows running have no holder any more: they were killed, and are marked abandoned.
 */
export async function acquireRunLock(
  target: Database,
  request: LockRequest,
): Promise<{ abandoned: string[] }> {
  const held = await claim(target, request);
  const staleSeconds = request.staleSeconds ?? LOCK_STALE_SECONDS;
  if (held.holder !== request.holder) {
    const dead = held.silent_seconds > staleSeconds;
    if (!dead || !request.breakLock) throw lockedError(held, request, dead);
    // Only the dead holder seen above is removed: a holder that came back to life in between, or
    // another run that broke the lock first, keeps it.
    await target.query(
      `DELETE FROM ${LEDGER_SCHEMA}.lock
        WHERE holder IS NOT DISTINCT FROM $1 AND run_id = $2 AND heartbeat_at < now() - make_interval(secs => $3)`,
      [held.holder, held.run_id, staleSeconds],
    );
    const retaken = await claim(target, request);
    if (retaken.holder !== request.holder) throw lockedError(retaken, request, false);
  }
  const { rows } = await target.query<{ run_id: string }>(
    `UPDATE ${LEDGER_SCHEMA}.runs SET status = 'abandoned', finished_at = now()
      WHERE status = 'running' AND run_id <> $1 RETURNING run_id`,
    [request.runId],
  );
  return { abandoned: rows.map((r) => r.run_id) };
}

async function claim(target: Database, request: LockRequest): Promise<LockRow> {
  const { rows } = await target.query<LockRow>(
    `INSERT INTO ${LEDGER_SCHEMA}.lock AS l (run_id, holder) VALUES ($1, $2)
     ON CONFLICT (singleton) DO UPDATE
       SET heartbeat_at = CASE WHEN l.holder = EXCLUDED.holder THEN now() ELSE l.heartbeat_at END
     RETURNING run_id, holder, acquired_at, extract(epoch FROM now() - heartbeat_at)::float8 AS silent_seconds`,
    [request.runId, request.holder],
  );
  return rows[0]!;
}

function lockedError(held: LockRow, request: LockRequest, dead: boolean): MigrationLockedError {
  const since = held.acquired_at.toISOString();
  const silent = Math.round(held.silent_seconds);
  const who =
    held.run_id === request.runId ? `Another execution of run ${held.run_id}` : `Run ${held.run_id}`;
  const message = dead
    ? `${who} holds the migration lock since ${since} but has sent no heartbeat for ${silent} s: it has most likely died. Start again with --break-lock ("breakLock": true) to take the lock over; its run is then marked abandoned.`
    : `${who} holds the migration lock since ${since} (last heartbeat ${silent} s ago): it is running. Wait for it to finish.`;
  return new MigrationLockedError(message, {
    context: { heldBy: held.run_id, silentSeconds: silent, holderDead: dead },
  });
}

/**
 * Refreshes the holder's heartbeat. Fails when the holder no longer has the lock (another run
 * broke it): a run that lost the lock must stop writing.
 */
export async function heartbeatRunLock(target: Database, holder: string, runId: string): Promise<void> {
  const { rowCount } = await target.query(
    `UPDATE ${LEDGER_SCHEMA}.lock SET heartbeat_at = now() WHERE holder = $1 AND run_id = $2`,
    [holder, runId],
  );
  if (rowCount === 0) {
    throw new MigrationLockedError(
      `Run ${runId} no longer holds the migration lock (another run took it over with --break-lock): it stops here without writing more.`,
      { context: { runId } },
    );
  }
}

export async function releaseRunLock(target: Database, runId: string, holder?: string): Promise<void> {
  await target.query(
    `DELETE FROM ${LEDGER_SCHEMA}.lock WHERE run_id = $1 AND ($2::text IS NULL OR holder IS NOT DISTINCT FROM $2)`,
    [runId, holder ?? null],
  );
}
