/**
 * npm run migrate:bigmemory -- [options]   (the guide's Step 3, run through the local runner)
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkConnectionBudget } from './cli/connection-budget.js';
import { databaseConnections, positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { chooseRunStore, runLocalMigration } from './cli/local-migration.js';
import { printOutcome } from './cli/outcome.js';

export const MIGRATE_USAGE = `usage: npm run migrate:bigmemory -- [options]

Migrates BigMemory into Federated Memory by running the project's state machine locally.

  --source-db <url>            BigMemory database URL (default: SOURCE_DATABASE_URL)
  --target-db <url>            Federated Memory database URL (default: DATABASE_URL)
  --batch-size <n>             memories per batch (default: 100)
  --preserve-embeddings        keep existing embeddings instead of regenerating them (default: regenerate,
                               which needs OPENAI_API_KEY)
  --embed-missing-only         keep every valid existing embedding; embed only memories whose vector is
                               missing or unusable (needs OPENAI_API_KEY when any are)
  --embedding-model <name>     embedding model (default: text-embedding-3-small)
  --embedding-dimensions <n>   ask the model for n-d vectors; must equal the target's vector(…) size
  --embedding-tpm <n>          the API key's tokens per minute, shared by all batches in flight
                               (default: OpenAI usage tier 1, 1000000)
  --embedding-rpm <n>          the API key's requests per minute, shared likewise (default: tier 1, 3000)
  --embedding-api <api>        sync (default: embed inside each batch) or batch (OpenAI's Batch API after
                               Plan: half the price, finished within 24 hours; see the README)
  --embedding-batch-queue <n>  the account's Batch API queue limit in tokens; batches beyond it wait
                               for earlier ones (default: OpenAI usage tier 1, 3000000)
  --snapshot <mode>            logical (gzipped SQL of both databases, the default for real runs), rds,
                               both, or none (the default for dry runs)
  --embedding-price <usd>      US dollars per 1M tokens, for the cost estimate (default: known for
                               OpenAI's models)
  --dry-run                    write the report only; change nothing in the target
  --user-map <file>            JSON mapping BigMemory user ids/tokens to Federated user ids (default: match by token)
  --no-create-users            do not create users missing from the target (their memories are rejected)
  --rules <file>               classification rules that override/extend the defaults
  --classifier <kind>          offline (default) or llm: memories the offline classifier is unsure of
                               also go to a chat model, 50 per request (needs OPENAI_API_KEY; a
                               --dry-run estimates the cost)
  --llm-model <name>           that chat model (default: gpt-4o-mini)
  --incremental                only memories changed since the last successful run
  --keep-deleted               keep in the target what the source deleted since it was migrated (default:
                               every run removes it, and Verify fails while any is left)
  --force-reprocess            process every memory again, even those unchanged since an earlier run
                               migrated them (default: they are left alone, their vectors unread)
  --verify <mode>              sampled (default: compare what the run wrote plus a random sample of the
                               rest; counts and accounting stay whole) or full (compare every memory)
  --verify-sample <n>          memories a sampled Verify draws from the rest (default: 1000)
  --merge-on-email             same email, different token: map to the existing Federated user
  --placeholder-email-domain <d>  target needs an email and the user has none: create bigmemory-<id>@<d>
  --max-reject-ratio <r>       fail the run when more than this share (0-1) of the memories it handled is
                               rejected (default: 0.01); it still writes what it can
  --max-rejects <n>            fail the run when more than n memories are rejected (default: no limit)
  --check-rejects-first        run a dry run first and start the real run only if its rejects are within
                               the thresholds (nothing is written otherwise)
  --concurrency <n>            batches in flight (the Map's MaxConcurrency; default: 4)
  --verify-slice-size <n>      memories per Verify slice, each one a Map item (default: 200000)
  --search-users <n>           users whose memories ask the search-equivalence check (default: 100)
  --search-queries-per-user <n>  queries per sampled user (default: 3; 0 skips the check)
  --min-recall <0..1>          fail the run when the target's exact search finds less of the source's
                               top 10 than this (default: off; 0.95 is a sound cut-over bar)
  --reports-dir <dir>          where reports go when no bucket is set (default: ./reports)
  --bucket <name>              keep the run's artefacts in this S3 bucket (AWS_ENDPOINT_URL for S3-compatible stores)
  --run-id <id>                name of the run (default: migration-<timestamp>-<random>)
  --break-lock                 take the migration lock over from a run that died holding it (no
                               heartbeat for 5 minutes, or MIGRATION_LOCK_STALE_SECONDS); a live
                               run's lock is never taken
  --verbose                    the Lambda handlers' JSON logs and metrics too
  --help                       this text

Regenerating sends many memories per request to the OpenAI API. OPENAI_BASE_URL points it at any
OpenAI-compatible server instead (e.g. http://localhost:8080/v1); EMBEDDING_MAX_ATTEMPTS,
EMBEDDING_BASE_DELAY_MS and EMBEDDING_MAX_DELAY_MS tune its retries. A --dry-run estimates the
tokens, requests and cost of regenerating without sending anything.

Aurora through the RDS Data API instead of --source-db/--target-db: set SOURCE_DATA_API_CLUSTER_ARN,
TARGET_DATA_API_CLUSTER_ARN, SOURCE_DATABASE_SECRET_ARN and TARGET_DATABASE_SECRET_ARN (the clusters'
RDS credential secrets), and SOURCE_/TARGET_DATA_API_DATABASE; AWS credentials and region come from
the usual chain. Snapshots are then rds or none.

Exit code 0 when the run succeeded, 1 when it failed (the report says why), 2 for bad options. A run
succeeds only when every live memory is migrated or rejected with a reason, verification passes, and
the rejects stay within --max-reject-ratio and --max-rejects.

Example: npm run migrate:bigmemory -- --preserve-embeddings --batch-size 500 --user-map ./user-map.json`;

export function migrationFlags() {
  return {
    'source-db': { type: 'string' },
    'target-db': { type: 'string' },
    'batch-size': { type: 'string' },
    'preserve-embeddings': { type: 'boolean', default: false },
    'embed-missing-only': { type: 'boolean', default: false },
    'embedding-model': { type: 'string' },
    'embedding-dimensions': { type: 'string' },
    'embedding-tpm': { type: 'string' },
    'embedding-rpm': { type: 'string' },
    'embedding-api': { type: 'string' },
    'embedding-batch-queue': { type: 'string' },
    'embedding-price': { type: 'string' },
    snapshot: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'user-map': { type: 'string' },
    'create-users': { type: 'boolean', default: true },
    'no-create-users': { type: 'boolean', default: false },
    rules: { type: 'string' },
    classifier: { type: 'string' },
    'llm-model': { type: 'string' },
    incremental: { type: 'boolean', default: false },
    'merge-on-email': { type: 'boolean', default: false },
    'placeholder-email-domain': { type: 'string' },
    'max-reject-ratio': { type: 'string' },
    'max-rejects': { type: 'string' },
    'check-rejects-first': { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    'verify-slice-size': { type: 'string' },
    'search-users': { type: 'string' },
    'search-queries-per-user': { type: 'string' },
    'min-recall': { type: 'string' },
    'reports-dir': { type: 'string' },
    bucket: { type: 'string' },
    'run-id': { type: 'string' },
    'break-lock': { type: 'boolean', default: false },
    'keep-deleted': { type: 'boolean', default: false },
    'force-reprocess': { type: 'boolean', default: false },
    verify: { type: 'string' },
    'verify-sample': { type: 'string' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  } as const;
}

type Flags = ReturnType<typeof parseFlags>;

function parseFlags(args: string[]) {
  try {
    return parseArgs({ args, options: migrationFlags(), strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The execution input a person would type in the console, built from the guide's flags. */
export function executionInput(
  flags: Flags,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const input: Record<string, unknown> = {
    dryRun: flags['dry-run'],
    preserveEmbeddings: flags['preserve-embeddings'],
    // The guide's default batch size is 100 (the deployed state machine defaults to 500).
    batchSize: positiveInteger(flags['batch-size'], '--batch-size', 100),
    createUsers: !flags['no-create-users'],
    incremental: flags.incremental,
    mergeOnEmail: flags['merge-on-email'],
  };
  if (flags['break-lock']) input.breakLock = true;
  if (flags['keep-deleted']) input.keepDeleted = true;
  if (flags['force-reprocess']) input.forceReprocess = true;
  if (flags.verify !== undefined) {
    if (!['sampled', 'full'].includes(flags.verify)) {
      throw new UsageError(`--verify takes sampled or full, got "${flags.verify}"`);
    }
    input.verify = flags.verify;
  }
  if (flags['verify-sample'] !== undefined) {
    input.verifySample = wholeNumber(flags['verify-sample'], '--verify-sample');
  }
  // A local file becomes a file:// URI (local runs read it); an s3:// URI passes through.
  const uri = (value: string) => (value.startsWith('s3://') ? value : pathToFileURL(resolve(value)).href);
  if (flags['user-map']) input.userMapS3Uri = uri(flags['user-map']);
  if (flags.rules) input.rules = uri(flags.rules);
  if (flags.classifier !== undefined) {
    if (!['offline', 'llm'].includes(flags.classifier)) {
      throw new UsageError(`--classifier takes offline or llm, got "${flags.classifier}"`);
    }
    input.classifier = flags.classifier;
  }
  if (flags['llm-model']) input.llmModel = flags['llm-model'];
  if (flags['placeholder-email-domain']) input.placeholderEmailDomain = flags['placeholder-email-domain'];
  if (flags['verify-slice-size'] !== undefined) {
    input.verifySliceSize = positiveInteger(flags['verify-slice-size'], '--verify-slice-size', 0);
  }
  if (flags['search-users'] !== undefined)
    input.searchUsers = wholeNumber(flags['search-users'], '--search-users');
  if (flags['search-queries-per-user'] !== undefined) {
    input.searchQueriesPerUser = wholeNumber(flags['search-queries-per-user'], '--search-queries-per-user');
  }
  if (flags['min-recall'] !== undefined) input.minRecall = share(flags['min-recall'], '--min-recall');
  // Missing-only keeps the existing vectors, so the checks of preserved embeddings apply to it too.
  if (flags['embed-missing-only']) Object.assign(input, { embedMissingOnly: true, preserveEmbeddings: true });
  if (flags['embedding-model']) input.embeddingModel = flags['embedding-model'];
  if (flags['embedding-dimensions'] !== undefined) {
    input.embeddingDimensions = positiveInteger(flags['embedding-dimensions'], '--embedding-dimensions', 0);
  }
  if (flags['embedding-tpm'] !== undefined) {
    input.embeddingTpm = positiveInteger(flags['embedding-tpm'], '--embedding-tpm', 0);
  }
  if (flags['embedding-rpm'] !== undefined) {
    input.embeddingRpm = positiveInteger(flags['embedding-rpm'], '--embedding-rpm', 0);
  }
  if (flags['embedding-api'] !== undefined) {
    if (!['sync', 'batch'].includes(flags['embedding-api'])) {
      throw new UsageError(`--embedding-api takes sync or batch, got "${flags['embedding-api']}"`);
    }
    input.embeddingApi = flags['embedding-api'];
  }
  if (flags['embedding-batch-queue'] !== undefined) {
    input.embeddingBatchQueueTokens = positiveInteger(
      flags['embedding-batch-queue'],
      '--embedding-batch-queue',
      0,
    );
  }
  if (flags['embedding-price'] !== undefined) {
    input.embeddingPricePerMillionTokens = usdPrice(flags['embedding-price']);
  }
  if (flags['max-reject-ratio'] !== undefined) input.maxRejectRatio = rejectRatio(flags['max-reject-ratio']);
  if (flags['max-rejects'] !== undefined)
    input.maxRejects = wholeNumber(flags['max-rejects'], '--max-rejects');
  if (flags.snapshot !== undefined) {
    if (!['logical', 'rds', 'both', 'none'].includes(flags.snapshot)) {
      throw new UsageError(`--snapshot takes logical, rds, both or none, got "${flags.snapshot}"`);
    }
    input.snapshot = flags.snapshot;
  }
  return { ...input, ...overrides };
}

function rejectRatio(value: string): number {
  const ratio = Number(value);
  if (value.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new UsageError(
      `--max-reject-ratio takes a share between 0 and 1 (e.g. 0.01 for 1%), got "${value}"`,
    );
  }
  return ratio;
}

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new UsageError(`${flag} takes a whole number ≥ 0, got "${value}"`);
  }
  return n;
}

function share(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`${flag} takes a share between 0 and 1 (e.g. 0.95), got "${value}"`);
  }
  return n;
}

function usdPrice(value: string): number {
  const price = Number(value);
  if (value.trim() === '' || !Number.isFinite(price) || price < 0) {
    throw new UsageError(`--embedding-price takes US dollars per 1M tokens (e.g. 0.02), got "${value}"`);
  }
  return price;
}

/**
 * `<prefix>-YYYYMMDD-HHMMSS-mmm-<random>`: readable and sortable, and unique even for two runs
 * started in the same millisecond (their snapshots and reports must not share a folder).
 */
export function defaultRunId(prefix = 'migration', now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').replace('.', '-').replace('Z', '');
  return `${prefix}-${stamp}-${randomBytes(4).toString('hex')}`;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.help) {
    console.log(MIGRATE_USAGE);
    return 0;
  }
  const connections = databaseConnections(flags);
  const input = executionInput(flags);
  const storeChoice = chooseRunStore({ bucket: flags.bucket, reportsDir: flags['reports-dir'] });
  const runId = flags['run-id'] ?? defaultRunId(input.dryRun ? 'dry-run' : 'migration');
  const concurrency = positiveInteger(flags.concurrency, '--concurrency', 4);
  if (connections.sourceUrl !== undefined) {
    await checkConnectionBudget(
      [
        { role: 'source', url: connections.sourceUrl },
        { role: 'target', url: connections.targetUrl },
      ],
      concurrency,
    );
  }
  if (flags['check-rejects-first'] && !input.dryRun) {
    // The dry run predicts the rejects without writing anything; past a threshold it fails by
    // name, and the real run is never started.
    const dryRunId = `${runId}-check`;
    console.error(`Dry run ${dryRunId} first: checking the rejects against the thresholds`);
    const check = await runLocalMigration({
      ...connections,
      input: { ...input, dryRun: true, snapshot: 'none' },
      storeChoice,
      concurrency,
      executionName: dryRunId,
    });
    if (check.status !== 'SUCCEEDED') {
      const code = await printOutcome(check, storeChoice.store, dryRunId);
      console.error('  the real run was not started: nothing was written.');
      return code;
    }
  }
  console.error(`${input.dryRun ? 'Dry run' : 'Migration'} ${runId}: ${JSON.stringify(input)}`);
  const result = await runLocalMigration({
    ...connections,
    input,
    storeChoice,
    concurrency,
    executionName: runId,
  });
  return printOutcome(result, storeChoice.store, runId);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
