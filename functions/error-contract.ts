/**
 * The state machine's error contract: every error name a task can end with, whether Step Functions
 * retries it, and what the failure report tells a person to do about it. The definition's `Retry`
 * (infra/constructs/lambda-step.ts), the report's hint and the tests all read this one table.
 *
 * `thrownBy` says where a name comes from: `migration` names are thrown by our handlers (and must
 * therefore survive bundling, see functions/errors.ts); `lambda` names are the Lambda service's own.
 */

export interface ErrorPolicy {
  /** Retried with backoff by every task: safe because every step is idempotent. */
  retry: boolean;
  thrownBy: 'migration' | 'lambda';
  /** The report's advice after a run failed with this error. */
  hint: string;
}

/** What the report advises for any name the table does not know (a bug, a Lambda timeout). */
export const DEFAULT_HINT =
  'Each batch commits in one transaction, so the target holds only whole batches. Fix the cause in the message, then redrive the failed execution (it resumes where it stopped) or start the same input again (it resumes idempotently).';

const TRANSIENT_HINT =
  'A database, the embeddings API or Lambda kept failing after every retry. Each batch commits in one transaction, so the target holds only whole batches. Once the cause is fixed, redrive the failed execution: it re-runs only the steps and Map items that did not finish.';

export const ERROR_CONTRACT = {
  InvalidInputError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'Nothing was written. Correct the execution input (or the user map / rules file) as the message says and start a new execution.',
  },
  PreflightError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'Nothing was written. Fix the connection or schema problem named in the message and start a new execution.',
  },
  MigrationLockedError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'Another run holds the lock. Wait for it to finish, or release a stale lock as the message says, then start again.',
  },
  VerificationError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'The data was written but does not reconcile: see the failed verification checks. A rerun checks the same way and fails again until their cause is fixed (the checks name the rows); fix it, then run again (reruns are idempotent), or roll the run back.',
  },
  RejectThresholdError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'The memories that could be migrated were written (a dry run wrote nothing). Fix the reject reasons the report lists, or raise --max-reject-ratio / --max-rejects ("maxRejectRatio" / "maxRejects") if these rejects are acceptable, then run again: reruns are idempotent.',
  },
  SearchRecallError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'The data was written and reconciles, but search finds less of what it found before: see the search equivalence section. Fix the cause (model, vectors, modules) and run again, or roll the run back; lower --min-recall ("minRecall") only as a decision.',
  },
  SnapshotIntegrityError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'A snapshot object does not match its manifest: nothing was restored from it. Take a new snapshot (migrate:backup) before relying on it.',
  },
  TransientDatabaseError: { retry: true, thrownBy: 'migration', hint: TRANSIENT_HINT },
  EmbeddingUnavailableError: { retry: true, thrownBy: 'migration', hint: TRANSIENT_HINT },
  StepTimeoutError: {
    retry: true,
    thrownBy: 'migration',
    hint: 'A step ran out of its Lambda time on every retry; what each batch committed is kept. Lower --batch-size ("batchSize") or raise the functions\' timeout (stack context), then redrive the execution.',
  },
  StepResultError: {
    retry: false,
    thrownBy: 'migration',
    hint: 'A step returned a result the state machine cannot use: a defect, not a problem with the data. Report it with the message; nothing after that step ran.',
  },
  'Lambda.ServiceException': { retry: true, thrownBy: 'lambda', hint: TRANSIENT_HINT },
  'Lambda.AWSLambdaException': { retry: true, thrownBy: 'lambda', hint: TRANSIENT_HINT },
  'Lambda.SdkClientException': { retry: true, thrownBy: 'lambda', hint: TRANSIENT_HINT },
  'Lambda.TooManyRequestsException': { retry: true, thrownBy: 'lambda', hint: TRANSIENT_HINT },
} as const satisfies Record<string, ErrorPolicy>;

export type ContractErrorName = keyof typeof ERROR_CONTRACT;

function namesWhere(test: (policy: ErrorPolicy) => boolean): ContractErrorName[] {
  return (Object.entries(ERROR_CONTRACT) as [ContractErrorName, ErrorPolicy][])
    .filter(([, policy]) => test(policy))
    .map(([name]) => name);
}

/** The names every task retries with backoff. */
export const RETRIED_ERROR_NAMES: readonly ContractErrorName[] = namesWhere((policy) => policy.retry);

/** The names our own handlers throw: each must reach Step Functions as written here. */
export const MIGRATION_ERROR_NAMES: readonly ContractErrorName[] = namesWhere(
  (policy) => policy.thrownBy === 'migration',
);

/** The report's advice for a run that failed with `errorName`. */
export function hintFor(errorName: string): string {
  return (ERROR_CONTRACT as Record<string, ErrorPolicy>)[errorName]?.hint ?? DEFAULT_HINT;
}
