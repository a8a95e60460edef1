import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import {
  formatFailureLocation,
  locateFailure,
  splitFailureLocation,
} from '../core/report/failure-location.js';
import { describeIssues } from '../core/schema-issues.js';
import {
  classifyDatabaseFailure,
  InvalidInputError,
  isTransientDatabaseFailure,
  MigrationError,
  StepResultError,
  StepTimeoutError,
} from '../errors.js';
import { awsMigrationRuntime, type MigrationRuntime } from '../runtime/migration-runtime.js';
import { withRunHeartbeat } from '../runtime/run-heartbeat.js';
import type { StepFunction } from '../steps/index.js';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'bigmemory-migration',
});
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'BigMemoryMigration',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'bigmemory-migration',
  // Its own notices (an empty flush) go through the logger, so they follow its log level.
  logger,
});
// Off outside Lambda (local runs, tests): Powertools only traces in the Lambda environment.
const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'bigmemory-migration' });

export { MetricUnit };

/**
 * How long before the Lambda timeout a step gives up with StepTimeoutError: enough to log it and
 * to roll back an open batch transaction, which a hard timeout would leave to the server.
 */
const TIMEOUT_MARGIN_MS = 10_000;

export interface LambdaHandlerOptions {
  /** The clients to use instead of the AWS ones (local runs, tests). */
  runtime?: () => MigrationRuntime;
  /** Checked before the step starts: a malformed event fails with InvalidInputError naming the field. */
  event?: z.ZodType;
  /** Checked before the result goes back: a result missing what the state machine reads is a StepResultError. */
  result?: z.ZodType;
}

// Invocations running in this container: one at a time on Lambda, several where the local runner
// shares one module instance among a Map's items.
let inFlight = 0;

/**
 * Wraps a state's work as a Lambda handler: the event checked against its schema before anything
 * runs, Powertools logger context, metrics flush, and errors logged with their name and context
 * (never a URL or secret: none is ever in the context) and re-thrown so Step Functions matches on
 * `error.name`.
 */
export function lambdaHandler<E, R>(
  step: string,
  work: StepFunction<E, R>,
  options: LambdaHandlerOptions = {},
) {
  const base = async (event: E, _context: Context): Promise<R> => {
    const started = performance.now();
    let containerRuntime: MigrationRuntime | undefined;
    inFlight += 1;
    try {
      checkEvent(step, options.event, event);
      const clients = options.runtime
        ? options.runtime()
        : awsMigrationRuntime(process.env, (c) => tracer.captureAWSv3Client(c));
      if (!options.runtime) containerRuntime = clients;
      const result = await withRunHeartbeat(clients, step, event, () => work(clients, event));
      checkResult(step, options.result, result);
      const durationMs = performance.now() - started;
      metrics.addMetric(`${step}Duration`, MetricUnit.Milliseconds, durationMs);
      logger.info(`${step} done`, { durationMs: Math.round(durationMs) });
      return result;
    } catch (error) {
      // A driver error that escaped a step (a connection lost between two statements) gets the
      // name the state machine retries, instead of failing the run as an unknown error.
      const named =
        error instanceof MigrationError || !isTransientDatabaseFailure(error)
          ? error instanceof Error
            ? error
            : new Error(String(error))
          : classifyDatabaseFailure(error, { step });
      const context = named instanceof MigrationError ? named.context : {};
      if (!splitFailureLocation(named.message).step) {
        named.message += formatFailureLocation(locateFailure(step, event, context));
      }
      logger.error(`${step} failed`, {
        errorName: named.name,
        errorMessage: named.message,
        context: named instanceof MigrationError ? named.context : undefined,
      });
      throw named;
    } finally {
      inFlight -= 1;
      // A frozen container must hold no connection: the server counts it against max_connections
      // until Lambda reaps the container, minutes later, and every Map leaves as many containers
      // as it ran side by side. The next invocation opens its own.
      if (containerRuntime && inFlight === 0) await containerRuntime.close().catch(() => undefined);
    }
  };
  return middy(base, {
    timeoutEarlyInMillis: TIMEOUT_MARGIN_MS,
    timeoutEarlyResponse: () => {
      const error = new StepTimeoutError(`${step} was about to reach the function's timeout`, {
        context: { step },
      });
      logger.error(`${step} failed`, { errorName: error.name, errorMessage: error.message });
      throw error;
    },
  })
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(logMetrics(metrics, { throwOnEmptyMetrics: false }));
}

function checkEvent(step: string, schema: z.ZodType | undefined, event: unknown): void {
  const checked = schema?.safeParse(event);
  if (!checked || checked.success) return;
  const issues = describeIssues(checked.error);
  throw new InvalidInputError(`${step} got a malformed event: ${issues.join('; ')}`, {
    context: { step, issues },
  });
}

function checkResult(step: string, schema: z.ZodType | undefined, result: unknown): void {
  const checked = schema?.safeParse(result);
  if (!checked || checked.success) return;
  const issues = describeIssues(checked.error);
  throw new StepResultError(`${step} returned a malformed result: ${issues.join('; ')}`, {
    context: { step, issues },
  });
}
