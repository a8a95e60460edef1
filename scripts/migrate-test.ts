/**
 * npm run migrate:test -- [options]   (the guide's Step 2)
 * Checks both connections, shows statistics of the data to migrate, then runs a dry run: nothing changes.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openPgSession, type PgConnection } from '../functions/db/pg/pg-session.js';
import { introspectSource } from '../functions/db/source-schema.js';
import { formatModuleStatistics, moduleStatistics, sourceStatistics } from '../functions/db/statistics.js';
import { checkPgvector, inspectTarget } from '../functions/db/target-schema.js';
import { redactDatabaseUrl } from '../functions/runtime/database-urls.js';
import { type DatabaseRole, onDatabase } from './cli/database-errors.js';
import { databaseUrls, positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { chooseRunStore, runLocalMigration } from './cli/local-migration.js';
import { printOutcome } from './cli/outcome.js';
import { defaultRunId, executionInput, MIGRATE_USAGE, migrationFlags } from './migrate-bigmemory.js';

const fmt = (n: number) => n.toLocaleString('en-US');

async function connect(url: string, role: DatabaseRole): Promise<PgConnection> {
  let connection: PgConnection | undefined;
  try {
    // A driver error comes out naming the database and the fix.
    return await onDatabase(role, url, async () => {
      connection = await openPgSession(url, { connectionTimeoutMillis: 10_000 });
      const { session } = connection;
      const { rows } = await session.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      const vector = await checkPgvector(session, role);
      console.log(`✓ ${role}: ${redactDatabaseUrl(url)} (PostgreSQL ${rows[0]?.v}, pgvector ${vector})`);
      return connection;
    });
  } catch (error) {
    await connection?.close().catch(() => undefined);
    console.log(`✗ ${role}: ${redactDatabaseUrl(url)}`);
    throw error;
  }
}

async function main(): Promise<number> {
  let flags: ReturnType<typeof parseArgs<{ options: ReturnType<typeof migrationFlags> }>>['values'];
  try {
    flags = parseArgs({ options: migrationFlags(), strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (flags.help) {
    console.log(
      `${MIGRATE_USAGE.replaceAll('migrate:bigmemory', 'migrate:test').replace('Migrates BigMemory into Federated Memory by running', 'Checks connections, shows statistics, then does a dry run of')}`,
    );
    return 0;
  }
  const { sourceUrl, targetUrl } = databaseUrls(flags);

  console.log('Connections');
  const sourceConnection = await connect(sourceUrl, 'source');
  const targetConnection = await connect(targetUrl, 'target').catch(async (e) => {
    await sourceConnection.close();
    throw e;
  });
  const [source, target] = [sourceConnection.session, targetConnection.session];
  try {
    const schema = await introspectSource(source);
    const layout = await inspectTarget(target);
    console.log(
      `✓ schemas: BigMemory and Federated Memory tables present; modules ${layout.modules.map((m) => m.id).join(', ')}; vectors ${layout.vectors.embeddingDimensions}-d (CMI ${layout.vectors.cmiDimensions}-d)`,
    );

    const stats = await sourceStatistics(source, schema.hasRelations);
    console.log('\nBigMemory (source)');
    console.log(`  users:     ${fmt(stats.users)} (${fmt(stats.activeUsers)} active)`);
    console.log(
      `  memories:  ${fmt(stats.memories)} (${fmt(stats.liveMemories)} to migrate, ${fmt(stats.deletedMemories)} soft-deleted and excluded)`,
    );
    console.log(`  without an embedding: ${fmt(stats.withoutEmbedding)}`);
    console.log(`  relations: ${fmt(stats.relations)}`);
    console.log(`  metadata.type:     ${stats.topTypes.map((t) => `${t.value} ${fmt(t.count)}`).join(', ')}`);
    console.log(
      `  metadata.category: ${stats.topCategories.map((t) => `${t.value} ${fmt(t.count)}`).join(', ')}`,
    );
    console.log('\nFederated Memory (target), before');
    console.log(formatModuleStatistics(await moduleStatistics(target)).replace(/^/gm, '  '));
  } finally {
    await Promise.all([sourceConnection.close(), targetConnection.close()]);
  }

  console.log('\nDry run');
  const storeChoice = chooseRunStore({ bucket: flags.bucket, reportsDir: flags['reports-dir'] });
  const runId = flags['run-id'] ?? defaultRunId('dry-run');
  const result = await runLocalMigration({
    sourceUrl,
    targetUrl,
    input: executionInput(flags, { dryRun: true }),
    storeChoice,
    concurrency: positiveInteger(flags.concurrency, '--concurrency', 4),
    executionName: runId,
  });
  return printOutcome(result, storeChoice.store, runId);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
