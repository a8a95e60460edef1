/**
 * The command line that starts a run like the one reported: every execution-input field that
 * `npm run migrate:bigmemory` has a flag for, so a rerun after a failure keeps what was asked
 * (preserved embeddings, the user map, the batch size …). Database URLs hold passwords: the
 * command names the variables instead. The inverse of scripts/migrate-bigmemory.ts's
 * `executionInput`; a test parses one back through the other.
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_VERIFY_SAMPLE } from '../run-options.js';

const DEFAULT_VERIFY_SLICE_SIZE = 200_000;
const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';
const DEFAULT_MAX_REJECT_RATIO = 0.01;

/** Quotes a value for a POSIX shell when it holds anything beyond a safe set of characters. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A file:// URI as the local path it came from; s3:// URIs as they are. */
function pathOf(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri;
}

export interface CommandOptions {
  /** The Map's MaxConcurrency the run had (`--concurrency`). */
  concurrency?: number | undefined;
  /** Override the run's dryRun: the real run after a dry run. */
  dryRun?: boolean;
}

/** The flags, in the usage text's order, for an execution input. */
// The execution input's defaults (run-options.ts): a command that repeats them says nothing.
const DEFAULT_SEARCH_USERS = 100;
const DEFAULT_SEARCH_QUERIES_PER_USER = 3;

function migrateFlags(input: Record<string, unknown>, options: CommandOptions = {}): string[] {
  const flags: string[] = [];
  const add = (flag: string, value?: unknown) =>
    flags.push(value === undefined ? flag : `${flag} ${shellQuote(String(value))}`);
  const dryRun = options.dryRun ?? input.dryRun === true;
  if (typeof input.batchSize === 'number') add('--batch-size', input.batchSize);
  if (input.embedMissingOnly === true) add('--embed-missing-only');
  else if (input.preserveEmbeddings === true) add('--preserve-embeddings');
  if (typeof input.embeddingModel === 'string' && input.embeddingModel !== DEFAULT_EMBEDDING_MODEL) {
    add('--embedding-model', input.embeddingModel);
  }
  if (typeof input.embeddingDimensions === 'number') add('--embedding-dimensions', input.embeddingDimensions);
  if (typeof input.snapshot === 'string') add('--snapshot', input.snapshot);
  if (typeof input.embeddingPricePerMillionTokens === 'number') {
    add('--embedding-price', input.embeddingPricePerMillionTokens);
  }
  if (dryRun) add('--dry-run');
  if (typeof input.userMapS3Uri === 'string') add('--user-map', pathOf(input.userMapS3Uri));
  if (input.createUsers === false) add('--no-create-users');
  if (typeof input.rules === 'string') add('--rules', pathOf(input.rules));
  if (input.incremental === true) add('--incremental');
  if (input.mergeOnEmail === true) add('--merge-on-email');
  if (typeof input.placeholderEmailDomain === 'string') {
    add('--placeholder-email-domain', input.placeholderEmailDomain);
  }
  if (typeof input.maxRejectRatio === 'number' && input.maxRejectRatio !== DEFAULT_MAX_REJECT_RATIO) {
    add('--max-reject-ratio', input.maxRejectRatio);
  }
  if (typeof input.maxRejects === 'number') add('--max-rejects', input.maxRejects);
  if (input.classifier === 'llm') {
    add('--classifier', 'llm');
    if (typeof input.llmModel === 'string') add('--llm-model', input.llmModel);
  }
  if (typeof input.embeddingTpm === 'number') add('--embedding-tpm', input.embeddingTpm);
  if (typeof input.embeddingRpm === 'number') add('--embedding-rpm', input.embeddingRpm);
  if (input.embeddingApi === 'batch') add('--embedding-api', 'batch');
  if (typeof input.embeddingBatchQueueTokens === 'number') {
    add('--embedding-batch-queue', input.embeddingBatchQueueTokens);
  }
  if (input.keepDeleted === true) add('--keep-deleted');
  if (input.forceReprocess === true) add('--force-reprocess');
  if (input.verify === 'full') add('--verify', 'full');
  if (typeof input.verifySample === 'number' && input.verifySample !== DEFAULT_VERIFY_SAMPLE) {
    add('--verify-sample', input.verifySample);
  }
  if (typeof input.searchUsers === 'number' && input.searchUsers !== DEFAULT_SEARCH_USERS) {
    add('--search-users', input.searchUsers);
  }
  if (
    typeof input.searchQueriesPerUser === 'number' &&
    input.searchQueriesPerUser !== DEFAULT_SEARCH_QUERIES_PER_USER
  ) {
    add('--search-queries-per-user', input.searchQueriesPerUser);
  }
  if (typeof input.minRecall === 'number') add('--min-recall', input.minRecall);
  // --break-lock is left out on purpose: a rerun should not take a lock over without being asked.
  if (options.concurrency !== undefined) add('--concurrency', options.concurrency);
  if (typeof input.verifySliceSize === 'number' && input.verifySliceSize !== DEFAULT_VERIFY_SLICE_SIZE) {
    add('--verify-slice-size', input.verifySliceSize);
  }
  return flags;
}

export function migrateCommandLine(input: Record<string, unknown>, options: CommandOptions = {}): string {
  const flags = migrateFlags(input, options);
  return flags.length > 0 ? `npm run migrate:bigmemory -- ${flags.join(' ')}` : 'npm run migrate:bigmemory';
}
