import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  formatFailureLocation,
  locateFailure,
  splitFailureLocation,
} from '../core/report/failure-location.js';
import {
  classifyDatabaseFailure,
  isTransientDatabaseFailure,
  MigrationError,
  StepTimeoutError,
} from '../errors.js';
import { awsMigrationRuntime, type MigrationRuntime } from '../runtime/migration-runtime.js';
import { withRunHeartbeat } from '../runtime/run-heartbeat.js';

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

/** A state's work, free of Lambda: the runtime's clients in, the event in, a small result out. */
export type StepFunction<E, R> = (runtime: MigrationRuntime, event: E) => Promise<R>;

/**
 * Wraps a state's work as a Lambda handler: Powertools logger context, metrics flush, and errors
 * logged with their name and context (never a URL or secret: none is ever in the context) and
 * re-thrown so Step Functions matches on `error.name`.
 */
export function lambdaHandler<E, R>(
  step: string,
  work: StepFunction<E, R>,
  runtime?: () => MigrationRuntime,
) {
  const base = async (event: E, _context: Context): Promise<R> => {
    const started = performance.now();
    try {
      const clients = runtime
        ? runtime()
        : awsMigrationRuntime(process.env, (c) => tracer.captureAWSv3Client(c));
      const result = await withRunHeartbeat(clients, step, event, () => work(clients, event));
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
