import { connectionBudget } from '../../functions/db/connection-budget.js';
import { withPgSession } from '../../functions/db/pg/pg-session.js';
import { UsageError } from './database-flags.js';

/**
 * The local runner opens up to `concurrency + 1` connections to each database (one per batch in
 * flight, one for the steps around them). A server with fewer free connections answers the batches
 * with "sorry, too many clients already" one after another: say so before anything starts, with
 * the largest --concurrency that fits.
 */
export async function checkConnectionBudget(
  databases: { role: string; url: string }[],
  concurrency: number,
): Promise<void> {
  const needed = concurrency + 1;
  for (const { role, url } of databases) {
    let free: number;
    let max: number;
    try {
      ({ max, free } = await withPgSession(url, connectionBudget));
    } catch {
      // Preflight reports an unreachable database with its own message.
      continue;
    }
    if (needed > free) {
      throw new UsageError(
        `--concurrency ${concurrency} needs up to ${needed} connections to the ${role} database, which has ${free} free (max_connections ${max}): use --concurrency ${Math.max(1, free - 1)} or less.`,
      );
    }
  }
}
