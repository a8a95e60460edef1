/**
 * npm run stats:modules -- [--target-db <url>]   (also: tsx scripts/check-module-stats.ts, as the guide says)
 * Per module of the Federated Memory database: rows, migrated rows, rows with embeddings, CMI entries.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import { withPgSession } from '../functions/db/pg/pg-session.js';
import { formatModuleStatistics, moduleStatistics } from '../functions/db/statistics.js';
import { onDatabase } from './cli/database-errors.js';
import { runCli, UsageError } from './cli/database-flags.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'target-db': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(`usage: npm run stats:modules -- [options]   (also: npx tsx scripts/check-module-stats.ts)

Prints per-module statistics of the Federated Memory database: memories, CMI entries, users, dates.

  --target-db <url>   Federated Memory database (default: DATABASE_URL)
  --json              the figures as JSON
  --help              this text

Example: npm run stats:modules -- --json`);
    return 0;
  }
  const url = values['target-db'] ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const stats = await onDatabase('target', url, () => withPgSession(url, moduleStatistics));
  console.log(values.json ? JSON.stringify(stats, null, 2) : formatModuleStatistics(stats));
  return 0;
}

runCli(main);
