/**
 * npm run test:api -- [--target-db <url>] [--sample N]   (the guide's "test memory search")
 * A sample of migrated memories must find themselves by their own embedding in their module table,
 * and their module through the Central Memory Index, as Federated Memory's query router does.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import { LEDGER_SCHEMA } from '../functions/db/ledger-schema.js';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { searchSmokeTest } from '../functions/engine/verify.js';
import { redactDatabaseUrl } from '../functions/runtime/database-urls.js';
import { DatabaseAccessError, onDatabase } from './cli/database-errors.js';
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
    console.log(`usage: npm run test:api -- [options]

Memory search smoke test on the migrated target: sampled memories must find themselves through the
CMI and their module, as Federated Memory's search does.

  --target-db <url>   Federated Memory database (default: DATABASE_URL)
  --sample <n>        memories to search for (default: 20)
  --help              this text

Example: npm run test:api -- --sample 50`);
    return 0;
  }
  const url = values['target-db'] ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const pool = openPgDatabase({ connectionString: url, max: 1 });
  try {
    const sample = positiveInteger(values.sample, '--sample', 20);
    const migrated = await onDatabase('target', url, () =>
      pool.query<{ ok: boolean }>(`SELECT to_regclass('${LEDGER_SCHEMA}.memory_ledger') IS NOT NULL AS ok`),
    );
    if (!migrated.rows[0]?.ok) {
      throw new DatabaseAccessError(
        `The target database (Federated Memory) at ${redactDatabaseUrl(url)} holds no migration yet (it has no ${LEDGER_SCHEMA}.memory_ledger). Fix: run npm run migrate:bigmemory against it first, or point DATABASE_URL / --target-db at the migrated database.`,
        'target',
        undefined,
      );
    }
    const check = await onDatabase('target', url, () => searchSmokeTest(pool, sample));
    console.log(`${check.ok ? '✓' : '✗'} memory search: ${check.detail ?? ''}`);
    return check.ok ? 0 : 1;
  } finally {
    await pool.end();
  }
}

runCli(main);
