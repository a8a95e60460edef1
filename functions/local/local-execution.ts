import { randomUUID } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StateMachine } from 'aws-local-stepfunctions';
import { InvalidInputError } from '../errors.js';
import type { ExecutionFailedEvent } from '../steps/report.js';
import { type AslDefinition, allStates, functionNameOf } from './asl-definition.js';
import {
  checkToleratedFailures,
  LOCAL_ITEM_READER_RESOURCE,
  LOCAL_TOLERANCE_RESOURCE,
  prepareForLocalExecution,
} from './local-definition.js';

// The local ARNs (region `local`) are not valid AWS ARNs; every task is bound to a local handler anyway.
const LOCAL_VALIDATION = { checkArn: false };

/** Throws when the interpreter would refuse the definition as `runLocalExecution` runs it. */
export function validateForLocalExecution(definition: AslDefinition): void {
  new StateMachine(prepareForLocalExecution(definition).definition as never, {
    validationOptions: LOCAL_VALIDATION,
  });
}

/** A Lambda handler as the local runner calls it: the task's payload in, its result out. */
export type LocalTaskHandler = (event: unknown) => Promise<unknown>;

type RunResult = ReturnType<StateMachine['run']>;
type RunOverrides = NonNullable<NonNullable<Parameters<StateMachine['run']>[1]>['overrides']>;
// The interpreter types handlers over its own JSON type; ours take and return plain unknown JSON.
type InterpreterHandlers = NonNullable<RunOverrides['taskResourceLocalHandlers']>;
/** An execution event of aws-local-stepfunctions (StateEntered, StateRetried, StateCaught, …). */
export type LocalStateEvent = RunResult['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface LocalExecutionOptions {
  /** A definition from `loadSynthesizedDefinition`. */
  definition: AslDefinition;
  /**
   * Handlers by the function a task's ARN names (`Preflight`, `MigrateBatch`, `Report`, …); a key
   * equal to a state's name (`SnapshotStatus`) takes precedence for that state.
   */
  handlers: Record<string, LocalTaskHandler>;
  input: unknown;
  /** The run bucket the Distributed Maps read their items from. */
  bucket: string;
  /** For the Maps' item reads; by default one honouring `AWS_ENDPOINT_URL`. */
  s3Client?: S3Client;
  /** Reads a Map's item list by key instead of S3 (a local run that keeps its run store in a folder). */
  readObject?: (key: string) => Promise<Buffer>;
  /** `$$.Execution.Name`; by default `local-<timestamp>`. */
  executionName?: string;
  /**
   * The definition already passed `validateForLocalExecution` (as `synthesizeDefinitionApart`'s
   * do): the interpreter's own check, a JSON-schema validation that every run would otherwise pay
   * before its first state, is skipped.
   */
  validated?: boolean;
  /** Replaces every retry's backoff (tests: 0); by default the definition's own intervals and jitter. */
  retryIntervalMs?: number;
  onStateEvent?: (event: LocalStateEvent) => void;
  /**
   * Called with the execution-failed event when the execution fails, as the deployed stack's
   * EventBridge rule calls the Report function (infra/constructs/failure-report-rule.ts).
   */
  failureReport?: LocalTaskHandler;
}

export interface LocalExecutionResult {
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  /** The error name, as a Fail state or an uncaught task error reports it. */
  error?: string;
  cause?: string;
  /** What `failureReport` returned for a failed execution. */
  failureReport?: unknown;
}

/**
 * Runs the synthesized definition in this process with aws-local-stepfunctions, every Lambda task
 * bound to a local handler. The Distributed Maps' S3 item reads are made explicit (see
 * `prepareForLocalExecution`); everything else runs as synthesized.
 *
 * Differences from AWS: a task error's `Cause` is the error's message, where Lambda gives a JSON
 * string of errorType/errorMessage/trace; a failed execution cannot be redriven in place (run it
 * again under the same execution name: every step resumes idempotently).
 */
export async function runLocalExecution(options: LocalExecutionOptions): Promise<LocalExecutionResult> {
  const { definition } = prepareForLocalExecution(options.definition);
  const readItems = itemReaderFor(options);
  const tasks = new TaskTracker();
  const localHandlers: Record<string, LocalTaskHandler> = {};
  const missing: string[] = [];
  for (const [stateName, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue;
    if (state.Resource === LOCAL_ITEM_READER_RESOURCE) {
      localHandlers[stateName] = readItems;
      continue;
    }
    if (state.Resource === LOCAL_TOLERANCE_RESOURCE) {
      localHandlers[stateName] = checkToleratedFailures;
      continue;
    }
    const functionName = functionNameOf(state.Resource);
    const handler =
      options.handlers[stateName] ?? (functionName ? options.handlers[functionName] : undefined);
    if (handler) localHandlers[stateName] = tasks.track(handler);
    else missing.push(functionName ? `${stateName} (${functionName})` : stateName);
  }
  if (missing.length > 0) {
    throw new InvalidInputError(`No local handler for task(s): ${missing.join(', ')}`, {
      context: { missing },
    });
  }

  const retryStates = allStates(definition).filter(([, state]) => state.Retry !== undefined);
  const retryIntervalOverrides =
    options.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(retryStates.map(([name]) => [name, options.retryIntervalMs as number]));

  const machine = new StateMachine(definition as never, {
    validationOptions: options.validated ? { noValidate: true } : LOCAL_VALIDATION,
  });
  const context = localExecution(options.executionName);
  const executionName = context.Name;
  const execution = machine.run(options.input as Parameters<StateMachine['run']>[0], {
    overrides: { taskResourceLocalHandlers: localHandlers as InterpreterHandlers, retryIntervalOverrides },
    context: { Execution: context },
  });
  const events = forwardEvents(execution.eventLogs, options.onStateEvent);
  let failed: LocalExecutionResult;
  try {
    const output = await execution.result;
    return { status: 'SUCCEEDED', output };
  } catch (error) {
    const failure = (error as { cause?: unknown }).cause ?? error;
    const { name, message } = failure instanceof Error ? failure : new Error(String(failure));
    failed = { status: 'FAILED', error: name, cause: message };
  } finally {
    // A failed Map child fails the execution while its siblings still run, and the interpreter
    // would go on starting the queued ones: none starts now, and the ones running finish (each
    // commits its whole batch or nothing) before the report reads the state or the caller closes
    // the pools they use.
    await tasks.close();
    await events;
  }
  if (!options.failureReport) return failed;
  const event: ExecutionFailedEvent = {
    failed: true,
    executionName,
    executionStatus: 'FAILED',
    input: JSON.stringify(options.input ?? {}),
    error: { Error: failed.error, Cause: failed.cause },
  };
  return { ...failed, failureReport: await options.failureReport(event) };
}

/** The tasks of one execution: which are running, and whether new ones may start. */
class TaskTracker {
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  track(handler: LocalTaskHandler): LocalTaskHandler {
    return (event) => {
      // What the interpreter starts after the end (a queued Map child) never runs; nothing reads its error.
      if (this.closed) return Promise.reject(new Error('the execution has already ended'));
      const work = handler(event);
      this.running.add(work);
      const forget = () => this.running.delete(work);
      work.then(forget, forget);
      return work;
    };
  }

  /** Refuses new tasks and waits until the running ones have settled. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

/**
 * `$$.Execution` as AWS fills it: the name, and an id unique to this execution even when two share
 * a name (AWS refuses a running name twice; two local runs given one --run-id are not refused).
 */
function localExecution(executionName: string | undefined): { Name: string; Id: string } {
  const name = executionName ?? `local-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  return { Name: name, Id: `arn:aws:states:local:000000000000:execution:local:${name}:${randomUUID()}` };
}

async function forwardEvents(
  events: AsyncGenerator<LocalStateEvent>,
  onStateEvent: ((event: LocalStateEvent) => void) | undefined,
): Promise<void> {
  if (!onStateEvent) return;
  for await (const event of events) onStateEvent(event);
}

/** Reads a Map's items as the deployed ItemReader does: a JSON array in one S3 object of the run bucket. */
function itemReaderFor(options: LocalExecutionOptions): LocalTaskHandler {
  let client = options.s3Client;
  return async (event) => {
    const { Key } = event as { Key?: unknown };
    if (typeof Key !== 'string') {
      throw new InvalidInputError('The Map has no S3 key for its items', { context: { event } });
    }
    let text: string;
    if (options.readObject) {
      text = (await options.readObject(Key)).toString('utf8');
    } else {
      client ??= defaultS3Client();
      const response = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key }));
      text = (await response.Body?.transformToString()) ?? 'null';
    }
    const items = JSON.parse(text) as unknown;
    if (!Array.isArray(items)) {
      throw new InvalidInputError('A Map item list in the run bucket is not a JSON array', {
        context: { bucket: options.bucket, key: Key },
      });
    }
    return items;
  };
}

// S3-compatible endpoints (MinIO, LocalStack, s3rver) break on the SDK's default CRC32 checksums.
function defaultS3Client(): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return endpoint
    ? new S3Client({
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      })
    : new S3Client({});
}
