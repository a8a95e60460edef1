/**
 * npm run migrate:rollback -- --run <id> [--target-db <url>] [--force]
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { pathToFileURL } from 'node:url';
import { PreflightError } from '../functions/errors.js';
import { createMigrationRuntime } from '../functions/runtime/migration-runtime.js';
import { rollback } from '../functions/steps/rollback.js';
import { parseFlags, runCli, UsageError } from './cli/database-flags.js';
import { chooseRunStore } from './cli/local-migration.js';

const USAGE = `usage: npm run migrate:rollback -- --run <id> [--target-db <url>] [--force]

Removes exactly what one run created in Federated Memory, found through the migration ledger: its module
rows, CMI rows and relationships, and the users it created (unless something else now uses them).
Rows that existed before the run are left alone. Rows the run only updated are reported, not reverted:
restore the run's snapshot for those (the output names it).

  --run <id>           the run id (the execution name; see bigmemory_migration.runs)
  --target-db <url>    Federated Memory database (default: DATABASE_URL)
  --force              roll back a run that died holding the migration lock
  --reports-dir <dir>  where the local runs kept their artefacts (default: ./reports), to find the run's snapshot
  --bucket <name>      or the S3 bucket they went to (MIGRATION_BUCKET)
  --help               this text

Example: npm run migrate:rollback -- --run migration-20250301-101500`;

const flags = () =>
  parseFlags({
    run: { type: 'string' },
    'target-db': { type: 'string' },
    force: { type: 'boolean', default: false },
    'reports-dir': { type: 'string' },
    bucket: { type: 'string' },
  });

async function main(): Promise<number> {
  const values = flags();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.run) throw new UsageError('--run <id> is required');
  const targetUrl = values['target-db'] ?? process.env.DATABASE_URL;
  if (!targetUrl) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const { store, s3 } = chooseRunStore({ bucket: values.bucket, reportsDir: values['reports-dir'] });
  const runtime = createMigrationRuntime({
    store,
    s3,
    sourceUrl: async () => {
      throw new PreflightError('a rollback does not use the source database');
    },
    targetUrl: async () => targetUrl,
    poolSize: 1,
  });
  try {
    const result = await rollback(runtime, { runId: values.run, force: values.force });
    const { removed } = result;
    const moduleRows = Object.values(removed.moduleRows).reduce((a, b) => a + b, 0);
    console.log(`Rolled back run ${result.runId} (was ${result.previousStatus}):`);
    console.log(
      `  removed ${moduleRows} module rows (${Object.entries(removed.moduleRows)
        .filter(([, n]) => n > 0)
        .map(([m, n]) => `${m} ${n}`)
        .join(
          ', ',
        )}), ${removed.cmiRows} CMI rows, ${removed.relationships} relationships, ${removed.users} users`,
    );
    if (result.keptUsers.length > 0)
      console.log(`  kept ${result.keptUsers.length} user(s) the run created: other rows now reference them`);
    if (result.advice) console.log(`  ${result.advice}`);
    return 0;
  } finally {
    await runtime.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
