/**
 * npm run seed:bigmemory -- --database <url> --memories N --users U --seed S
 *   [--target-database <url> --same-token K --same-email K] [--schema] [--relations R] [--no-defects] [--json]
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import { type GenerateBigMemoryOptions, generateBigMemory } from '../dev/generator/bigmemory-generator.js';
import { ensureBigMemorySchema } from '../dev/generator/bigmemory-schema.js';
import { withPgSession } from '../functions/db/pg/pg-session.js';
import { InvalidInputError, MigrationError } from '../functions/errors.js';
import { redactDatabaseUrl } from '../functions/runtime/database-urls.js';

const USAGE = `Usage: npm run seed:bigmemory -- --database <url> [options]

Writes a deterministic BigMemory dataset (users, memories with 1536-d embeddings, relations)
through binary COPY. The same options and seed always write the same data.

Options:
  --database <url>          BigMemory database to fill (required)
  --memories <n>            memories to write (default 10000)
  --users <n>               users to write (default 100)
  --seed <n>                integer seed in [0, 2^32) (default 42)
  --relations <n>           relations to write (default 0.6 per memory)
  --schema                  apply dev/fixtures/bigmemory.sql first when the tables do not exist
  --no-defects              leave out the rare planted row defects
  --target-database <url>   Federated Memory database to pre-create colliding users in
  --same-token <k>          users created in the target with the same token (default 0)
  --same-email <k>          users created in the target with the same email, other token (default 0)
  --json                    print the generator summary as JSON on stdout
  -h, --help                show this help

Example: npm run seed:bigmemory -- --database "$SOURCE_DATABASE_URL" --memories 20000 --schema
`;

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!/^\d[\d_]*$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new InvalidInputError(`--${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

function databaseUrlArgument(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    throw new InvalidInputError(`--${name} is not a URL: ${redactDatabaseUrl(raw)}`);
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new InvalidInputError(`--${name} must be a postgres:// or postgresql:// URL`);
  }
  return raw;
}

interface Cli {
  options: GenerateBigMemoryOptions;
  schema: boolean;
  json: boolean;
}

function parseCli(argv: string[]): Cli | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      database: { type: 'string' },
      memories: { type: 'string' },
      users: { type: 'string' },
      seed: { type: 'string' },
      relations: { type: 'string' },
      schema: { type: 'boolean', default: false },
      'no-defects': { type: 'boolean', default: false },
      'target-database': { type: 'string' },
      'same-token': { type: 'string' },
      'same-email': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const databaseUrl = databaseUrlArgument('database', values.database);
  if (!databaseUrl) throw new InvalidInputError('--database <url> is required');
  const targetDatabaseUrl = databaseUrlArgument('target-database', values['target-database']);
  const sameToken = count('same-token', values['same-token'], 0);
  const sameEmail = count('same-email', values['same-email'], 0);
  if (sameToken + sameEmail > 0 && !targetDatabaseUrl) {
    throw new InvalidInputError('--same-token/--same-email need --target-database <url>');
  }
  const relations = values.relations === undefined ? undefined : count('relations', values.relations, 0);
  return {
    schema: values.schema,
    json: values.json,
    options: {
      databaseUrl,
      memories: count('memories', values.memories, 10_000),
      users: count('users', values.users, 100),
      seed: count('seed', values.seed, 42),
      ...(relations === undefined ? {} : { relations }),
      defects: !values['no-defects'],
      ...(targetDatabaseUrl ? { targetDatabaseUrl, targetCollisions: { sameToken, sameEmail } } : {}),
    },
  };
}

/** A rate/ETA line on stderr: redrawn in place on a terminal, every 10% otherwise. */
function progressReporter(): (done: number, total: number) => void {
  const started = performance.now();
  const interactive = process.stderr.isTTY;
  let lastDraw = 0;
  let lastDecile = -1;
  return (done, total) => {
    const now = performance.now();
    const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
    if (interactive ? now - lastDraw < 250 && done < total : decile === lastDecile) return;
    lastDraw = now;
    lastDecile = decile;
    const rate = done / Math.max((now - started) / 1000, 0.001);
    const eta = rate > 0 ? (total - done) / rate : 0;
    const line = `  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} memories  ${Math.round(rate).toLocaleString('en-US')}/s  ETA ${eta.toFixed(1)} s`;
    process.stderr.write(interactive ? `\r${line}\x1b[K${done >= total ? '\n' : ''}` : `${line}\n`);
  };
}

async function applySchema(databaseUrl: string): Promise<void> {
  try {
    if (await withPgSession(databaseUrl, ensureBigMemorySchema))
      process.stderr.write('applied the BigMemory schema\n');
  } catch (error) {
    throw new MigrationError(
      `cannot apply the schema to ${redactDatabaseUrl(databaseUrl)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof MigrationError ? error.context.code : undefined;
  // A unique violation here means the same seed was already written into this database.
  return code === '23505'
    ? `${message}\n  (the database already holds these rows: use a fresh database or another --seed)`
    : message;
}

async function main(argv: string[]): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(argv);
  } catch (error) {
    process.stderr.write(`seed-bigmemory: ${(error as Error).message}\nRun with --help for usage.\n`);
    return EXIT_USAGE;
  }
  if (cli === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (cli.schema) await applySchema(cli.options.databaseUrl);
    const summary = await generateBigMemory({ ...cli.options, onProgress: progressReporter() });
    if (cli.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    const seconds = (summary.elapsedMs / 1000).toFixed(1);
    process.stdout.write(
      `seeded ${summary.memories.toLocaleString('en-US')} memories in ${seconds} s ` +
        `(${summary.memoriesPerSecond.toLocaleString('en-US')} memories/s; ` +
        `${summary.users.toLocaleString('en-US')} users, ${summary.relations.toLocaleString('en-US')} relations)\n`,
    );
    return 0;
  } catch (error) {
    const usage = error instanceof InvalidInputError;
    process.stderr.write(`seed-bigmemory: ${explain(error)}\n`);
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

process.exitCode = await main(process.argv.slice(2));
