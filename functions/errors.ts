/**
 * The one errors module. Step Functions `Retry`/`Catch` match on error *names*, so every name here
 * is part of the state machine's contract (functions/error-contract.ts says which are retried and
 * what the report advises). Each name is a string literal: esbuild's minifier renames classes, so a
 * name taken from the class (`new.target.name`) would reach Step Functions as `e`.
 */

export interface ErrorContext {
  [key: string]: unknown;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
  readonly context: ErrorContext;

  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, { cause: options.cause });
    this.context = options.context ?? {};
  }
}

/** Input a person typed (execution input, CLI flag, user map, rules file) is wrong. Not retried. */
export class InvalidInputError extends MigrationError {
  override name = 'InvalidInputError';
}

/** A database, bucket or endpoint cannot be reached or lacks what the migration needs. Not retried. */
export class PreflightError extends MigrationError {
  override name = 'PreflightError';
}

/** A connection reset, timeout, serialization failure or throttle: retrying the step is safe. */
export class TransientDatabaseError extends MigrationError {
  override name = 'TransientDatabaseError';
}

/** The embeddings API kept failing after every retry; the batch wrote nothing and may be retried. */
export class EmbeddingUnavailableError extends MigrationError {
  override name = 'EmbeddingUnavailableError';
}

/** Another run holds the migration lock. */
export class MigrationLockedError extends MigrationError {
  override name = 'MigrationLockedError';
}

/** Verification found the target does not reconcile with the source. */
export class VerificationError extends MigrationError {
  override name = 'VerificationError';
}

/**
 * The target's search no longer finds what the source found: the search-equivalence check's
 * recall@k fell below the execution input's `minRecall` (`--min-recall`).
 */
export class SearchRecallError extends MigrationError {
  override name = 'SearchRecallError';
}

/** A snapshot object does not match its manifest (checksum, size or row count). */
export class SnapshotIntegrityError extends MigrationError {
  override name = 'SnapshotIntegrityError';
}

/**
 * A step's Lambda was about to reach its timeout: raised a few seconds before, so the state machine
 * sees a name it retries (the step resumes from what it committed) instead of `States.Timeout`.
 */
export class StepTimeoutError extends MigrationError {
  override name = 'StepTimeoutError';
}

/**
 * A step's result lacks a field its reader relies on: returned to the state machine (a Map's
 * ranges key, a wait loop's flag) or read back from the run store. A bug or a damaged object,
 * stopped where it is read instead of deep inside the next step.
 */
export class StepResultError extends MigrationError {
  override name = 'StepResultError';
}

/** A run whose rejects passed a threshold: what it could write is written, but it did not succeed. */
export class RejectThresholdError extends MigrationError {
  override name = 'RejectThresholdError';
}

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
  return /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable/i.test(
    error.message,
  );
}

/**
 * The server's fields of a pg error, kept for rejects and reports instead of a flattened string.
 * Never the server's `detail`: it quotes row values (`Key (token)=(…) already exists`, `Failing
 * row contains (…)`: tokens, memory content, vectors), and these fields reach logs and reports.
 * The code, constraint, table and column say what failed without whose data it was.
 */
export function databaseErrorFields(error: unknown): ErrorContext {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & Record<string, unknown>;
  const fields: ErrorContext = { message: withoutValues(e.message, e.code) };
  for (const key of ['code', 'constraint', 'table', 'column', 'schema'] as const) {
    if (e[key] !== undefined) fields[key] = e[key];
  }
  return fields;
}

/**
 * Data exceptions (SQLSTATE class 22) quote the offending value in their message (`invalid input
 * syntax for type uuid: "…"`); other classes name only objects. Quoted text is masked there.
 */
function withoutValues(message: string, code: unknown): string {
  return typeof code === 'string' && code.startsWith('22') ? message.replace(/"[^"]*"/g, '"…"') : message;
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
