import type { Pool } from 'pg';
import { MigrationLockedError } from '../errors.js';
import { LEDGER_DDL, LEDGER_SCHEMA } from './ledger-schema.js';

export async function ensureLedger(target: Pool): Promise<void> {
  await target.query(LEDGER_DDL);
}

/**
 * Takes the single-writer lock for a run, or fails naming the run that holds it. Idempotent for
 * the same run, so a retried Preflight does not lock itself out.
 */
export async function acquireRunLock(target: Pool, runId: string): Promise<void> {
  const { rows } = await target.query<{ run_id: string; acquired_at: Date }>(
    `WITH taken AS (
       INSERT INTO ${LEDGER_SCHEMA}.lock (run_id) VALUES ($1) ON CONFLICT (singleton) DO NOTHING RETURNING run_id, acquired_at
     )
     SELECT run_id, acquired_at FROM taken UNION ALL SELECT run_id, acquired_at FROM ${LEDGER_SCHEMA}.lock`,
    [runId],
  );
  const holder = rows[0];
  if (holder && holder.run_id !== runId) {
    throw new MigrationLockedError(
      `Run ${holder.run_id} holds the migration lock since ${holder.acquired_at.toISOString()}. Wait for it to finish; if it died, release the lock with: DELETE FROM ${LEDGER_SCHEMA}.lock;`,
      { context: { heldBy: holder.run_id } },
    );
  }
}

export async function releaseRunLock(target: Pool, runId: string): Promise<void> {
  await target.query(`DELETE FROM ${LEDGER_SCHEMA}.lock WHERE run_id = $1`, [runId]);
}

export async function recordRunStart(
  target: Pool,
  run: { runId: string; options: Record<string, unknown>; watermark: Date | null },
): Promise<void> {
  await target.query(
    `INSERT INTO ${LEDGER_SCHEMA}.runs (run_id, status, options, watermark) VALUES ($1, 'running', $2::jsonb, $3::timestamptz)
     ON CONFLICT (run_id) DO UPDATE SET status = 'running', options = EXCLUDED.options`,
    [run.runId, JSON.stringify(run.options), run.watermark],
  );
}

export async function recordRunEnd(
  target: Pool,
  runId: string,
  status: 'succeeded' | 'failed',
  summary: Record<string, unknown>,
): Promise<void> {
  await target.query(
    `UPDATE ${LEDGER_SCHEMA}.runs SET status = $2, finished_at = now(), summary = $3::jsonb WHERE run_id = $1`,
    [runId, status, JSON.stringify(summary)],
  );
}

/** The watermark of the last successful run, where an incremental run starts. */
export async function lastSuccessfulWatermark(target: Pool): Promise<Date | null> {
  const { rows: exists } = await target.query(`SELECT to_regclass('${LEDGER_SCHEMA}.runs') AS t`);
  if (!exists[0]?.t) return null;
  const { rows } = await target.query<{ watermark: Date | null }>(
    `SELECT watermark FROM ${LEDGER_SCHEMA}.runs WHERE status = 'succeeded' AND watermark IS NOT NULL
      ORDER BY finished_at DESC LIMIT 1`,
  );
  return rows[0]?.watermark ?? null;
}
