import { LEDGER_DDL, LEDGER_SCHEMA } from './ledger-schema.js';
import type { Database } from './port.js';

/**
 * Creates or upgrades the ledger. Two runs starting together would race on the catalog (`CREATE …
 * IF NOT EXISTS` is not safe under concurrency), so the DDL runs behind a transaction-scoped
 * advisory lock: the statements of one simple query share one transaction.
 */
export async function ensureLedger(target: Database): Promise<void> {
  await target.query(`SELECT pg_advisory_xact_lock(hashtext('${LEDGER_SCHEMA}.ledger'));\n${LEDGER_DDL}`);
}

export async function recordRunStart(
  target: Database,
  run: { runId: string; options: Record<string, unknown>; watermark: Date | null },
): Promise<void> {
  await target.query(
    `INSERT INTO ${LEDGER_SCHEMA}.runs (run_id, status, options, watermark) VALUES ($1, 'running', $2::jsonb, $3::timestamptz)
     ON CONFLICT (run_id) DO UPDATE SET status = 'running', options = EXCLUDED.options`,
    [run.runId, JSON.stringify(run.options), run.watermark],
  );
}

export async function recordRunEnd(
  target: Database,
  runId: string,
  status: 'succeeded' | 'failed',
  summary: object,
): Promise<void> {
  await target.query(
    `UPDATE ${LEDGER_SCHEMA}.runs SET status = $2, finished_at = now(), summary = $3::jsonb WHERE run_id = $1`,
    [runId, status, JSON.stringify(summary)],
  );
}

/** The watermark of the last successful run, where an incremental run starts. */
export async function lastSuccessfulWatermark(target: Database): Promise<Date | null> {
  const { rows: exists } = await target.query(`SELECT to_regclass('${LEDGER_SCHEMA}.runs') AS t`);
  if (!exists[0]?.t) return null;
  const { rows } = await target.query<{ watermark: Date | null }>(
    `SELECT watermark FROM ${LEDGER_SCHEMA}.runs WHERE status = 'succeeded' AND watermark IS NOT NULL
      ORDER BY finished_at DESC LIMIT 1`,
  );
  return rows[0]?.watermark ?? null;
}
