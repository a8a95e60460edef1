/**
 * npm run demo -- [--memories N]
 * On a fresh machine: starts the same local services the tests use (PostgreSQL + pgvector, S3
 * server, embeddings server), generates a sample BigMemory, runs a dry run and then the migration
 * through the local runner of the synthesized state machine, and prints where the reports are.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { parseArgs } from 'node:util';
import { generateBigMemory } from '../dev/generator/bigmemory-generator.js';
import {
  createDatabase,
  createTarget,
  TARGET_VARIANTS,
  type TargetVariant,
} from '../dev/harness/databases.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { withPgSession } from '../functions/db/pg/pg-session.js';
import { formatModuleStatistics, moduleStatistics } from '../functions/db/statistics.js';
import { FileRunStore } from '../functions/store/run-store.js';
import { positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { runLocalMigration } from './cli/local-migration.js';
import { printOutcome } from './cli/outcome.js';
import { defaultRunId } from './migrate-bigmemory.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      memories: { type: 'string' },
      'reports-dir': { type: 'string' },
      target: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: npm run demo -- [options]

Starts local services (PostgreSQL + pgvector, S3 server, embeddings server), generates a BigMemory,
runs a dry run and the migration through the local state machine, and prints where the reports are.

  --memories <n>       memories to generate (default: 5000)
  --reports-dir <dir>  where the reports go (default: ./reports)
  --target <variant>   the demo target's real Federated Memory schema: newest (eight modules,
                       nullable email, users.metadata; the default) or older (six modules,
                       email required)
  --verbose            the Lambda handlers' JSON logs too
  --help               this text

Example: npm run demo -- --memories 20000`);
    return 0;
  }
  const memories = positiveInteger(values.memories, '--memories', 5_000);
  const variant = values.target ?? 'newest';
  if (!(TARGET_VARIANTS as readonly string[]).includes(variant)) {
    throw new UsageError(`--target takes ${TARGET_VARIANTS.join(' or ')}, got "${variant}"`);
  }
  console.log('Starting local services (PostgreSQL + pgvector, S3 server, embeddings server)…');
  const services = await startTestServices();
  try {
    const sourceUrl = await createDatabase('bigmemory');
    const targetUrl = await createTarget(variant as TargetVariant);
    const generated = await generateBigMemory({
      databaseUrl: sourceUrl,
      memories,
      users: Math.max(10, Math.round(memories / 100)),
      seed: 2026,
      targetDatabaseUrl: targetUrl,
      targetCollisions: { sameToken: 3, sameEmail: 2 },
    });
    console.log(
      `Generated a BigMemory with ${generated.memories} memories, ${generated.users} users, ${generated.relations} relations.\n`,
    );

    const storeChoice = {
      store: new FileRunStore(values['reports-dir'] ?? 'reports'),
      bucket: 'local-run-store',
    };
    // The generated users include email clashes with the target and users without an email (the
    // target requires one): merged and given placeholders, their memories migrate.
    const users = { mergeOnEmail: true, placeholderEmailDomain: 'example.org' };
    const runs = [
      {
        id: defaultRunId('demo-dry-run'),
        input: { dryRun: true, preserveEmbeddings: true, batchSize: 250, ...users },
      },
      {
        id: defaultRunId('demo-migration'),
        input: { dryRun: false, preserveEmbeddings: true, batchSize: 250, ...users },
      },
    ];
    for (const run of runs) {
      console.log(`== ${run.input.dryRun ? 'Dry run' : 'Migration'} (${run.id})`);
      const result = await runLocalMigration({
        sourceUrl,
        targetUrl,
        input: run.input,
        storeChoice,
        concurrency: 2,
        executionName: run.id,
      });
      const code = await printOutcome(result, storeChoice.store, run.id);
      if (code !== 0) return code;
      console.log('');
    }
    console.log('Federated Memory after the migration:');
    console.log(formatModuleStatistics(await withPgSession(targetUrl, moduleStatistics)));
    console.log('\nThe databases were temporary and are gone with the services; the reports stay.');
    return 0;
  } finally {
    await services.stop();
  }
}

runCli(main);
