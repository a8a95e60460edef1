/**
 * npm run test:api -- [--target-db <url>] [--sample N]   (the guide's "test memory search")
 * A sample of migrated memories must find themselves by their own embedding in their module table,
 * and their module through the Central Memory Index, as Federated Memory's query router does.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { searchSmokeTest } from '../functions/engine/verify.js';
import { positiveInteger, runCli, UsageError } from './cli/database-flags.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'target-db': { type: 'string' },
      sample: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run test:api -- [--target-db <url>] [--sample N]\n\nDefaults: DATABASE_URL, 20 memories.',
    );
    return 0;
  }
  const url = values['target-db'] ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const check = await searchSmokeTest(pool, positiveInteger(values.sample, '--sample', 20));
    console.log(`${check.ok ? '✓' : '✗'} memory search: ${check.detail ?? ''}`);
    return check.ok ? 0 : 1;
  } finally {
    await pool.end();
  }
}

runCli(main);
