/**
 * The one errors module. Step Functions `Retry`/`Catch` match on error *names*, so every name here
 * is part of the state machine's contract: transient ones are retried, the rest fail the execution
 * with a report. Never rename one without changing infra/ too.
 */

export interface ErrorContext {
  [key: string]: unknown;
}

export class MigrationError extends Error {
  readonly context: ErrorContext;

  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
  }
}

/** Input a person typed (execution input, CLI flag, user map, rules file) is wrong. Not retried. */
export class InvalidInputError extends MigrationError {}

/** A database, bucket or endpoint cannot be reached or lacks what the migration needs. Not retried. */
export class PreflightError extends MigrationError {}

/** A connection reset, timeout, serialization failure or throttle: retrying the step is safe. */
export class TransientDatabaseError extends MigrationError {}

/** The embeddings API kept failing after every retry; the batch wrote nothing and may be retried. */
export class EmbeddingUnavailableError extends MigrationError {}

/** Another run holds the migration lock. */
export class MigrationLockedError extends MigrationError {}

/** Verification found the target does not reconcile with the source. */
export class VerificationError extends MigrationError {}

/**
 * The target's search no longer finds what the source found: the search-equivalence check's
 * recall@k fell below the execution input's `minRecall` (`--min-recall`).
 */
export class SearchRecallError extends MigrationError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options);
    this.name = 'SearchRecallError';
  }
}

/** A snapshot object does not match its manifest (checksum, size or row count). */
export class SnapshotIntegrityError extends MigrationError {}

/** Error names the state machine retries with backoff. */
export const TRANSIENT_ERROR_NAMES = [
  TransientDatabaseError.name,
  EmbeddingUnavailableError.name,
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

// SQLSTATE classes and codes that mean "try again": connection exceptions (08), serialization and
// deadlock (40001, 40P01), too many connections (53300), admin shutdown/crash (57P01-57P03).
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03']);
const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** True for errors of the database driver that a retry can cure. */
export function isTransientDatabaseFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect/i.test(error.message);
}

/** The server's fields of a pg error, kept for rejects and reports instead of a flattened string. */
export function databaseErrorFields(error: unknown): ErrorContext {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & Record<string, unknown>;
  const fields: ErrorContext = { message: e.message };
  for (const key of ['code', 'detail', 'constraint', 'table', 'column', 'schema'] as const) {
    if (e[key] !== undefined) fields[key] = e[key];
  }
  return fields;
}

/** Wraps a driver failure in the named error the state machine understands. */
export function classifyDatabaseFailure(error: unknown, context: ErrorContext = {}): MigrationError {
  if (error instanceof MigrationError) return error;
  const fields = databaseErrorFields(error);
  const message = `${String(fields.message)}`;
  return isTransientDatabaseFailure(error)
    ? new TransientDatabaseError(message, { cause: error, context: { ...context, ...fields } })
    : new MigrationError(message, { cause: error, context: { ...context, ...fields } });
}
