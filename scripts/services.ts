/**
 * npm run services -- [--memories N]
 * Starts the local services the tests use (PostgreSQL + pgvector, an S3 server, an
 * OpenAI-compatible embeddings server), creates an empty Federated Memory database and a BigMemory
 * database (seeded with N generated memories, default 2,000), prints the environment to use them
 * with the migration scripts, and keeps running until Ctrl-C.
 */

// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { generateBigMemory } from '../dev/generator/bigmemory-generator.js';
import { createDatabase, createTarget } from '../dev/harness/databases.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { parseFlags, positiveInteger, runCli } from './cli/database-flags.js';

async function main(): Promise<number> {
  const values = parseFlags({ memories: { type: 'string' } });
  if (values.help) {
    console.log(`usage: npm run services -- [options]

Starts the local test services with a seeded BigMemory and an empty Federated Memory and prints the
environment to try every command against them; runs until Ctrl-C.

  --memories <n>   memories to generate (default: 2000)
  --help           this text

Example: npm run services -- --memories 20000`);
    return 0;
  }
  const services = await startTestServices();
  const sourceUrl = await createDatabase('bigmemory');
  const targetUrl = await createTarget();
  const memories = positiveInteger(values.memories, '--memories', 2_000);
  await generateBigMemory({
    databaseUrl: sourceUrl,
    memories,
    users: Math.max(5, Math.round(memories / 100)),
    seed: 1,
  });
  console.log(`# local services are up; ${memories} generated memories in the source. In another shell:
export SOURCE_DATABASE_URL='${sourceUrl}'
export DATABASE_URL='${targetUrl}'
export OPENAI_BASE_URL='${services.embeddingsBaseURL}' OPENAI_API_KEY=local-test-key
export AWS_ENDPOINT_URL='${services.s3Endpoint}' AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
# Ctrl-C stops everything (the databases are temporary).`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await services.stop();
  return 0;
}

runCli(main);
