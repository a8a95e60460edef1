/**
 * npm run stats:modules -- [--target-db <url>]   (also: tsx scripts/check-module-stats.ts, as the guide says)
 * Per module of the Federated Memory database: rows, migrated rows, rows with embeddings, CMI entries.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { formatModuleStatistics, moduleStatistics } from '../functions/db/statistics.js';
import { runCli, UsageError } from './cli/database-flags.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'target-db': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log('usage: npm run stats:modules -- [--target-db <url>] [--json]\n\nDefaults to DATABASE_URL.');
    return 0;
  }
  const url = values['target-db'] ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const stats = await moduleStatistics(client);
    console.log(values.json ? JSON.stringify(stats, null, 2) : formatModuleStatistics(stats));
    return 0;
  } finally {
    await client.end();
  }
}

runCli(main);
