import type { Context } from 'aws-lambda';
import { lambdaHandler } from '../handlers/lambda-handler.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import type { StepName } from '../steps/index.js';
import { LAZY_STEPS } from './lazy-steps.js';
import type { LocalTaskHandler } from './local-execution.js';

const LOCAL_TIME_LEFT_MS = 7 * 24 * 3600_000;

/**
 * A Lambda context as a local invocation gets it: local names, and no Lambda timeout to meet (a
 * week stands for none, below the largest delay a Node timer takes).
 */
export function localContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: `local-${Date.now().toString(36)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => LOCAL_TIME_LEFT_MS,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The Lambda handlers as deployed (middy, Powertools logger and metrics) bound to a local runtime:
 * a local run logs, names its errors and shapes its results exactly as the deployed functions do.
 * Each step's modules load at its first call.
 */
export function localLambdaHandlers(runtime: MigrationRuntime): Record<StepName, LocalTaskHandler> {
  return Object.fromEntries(
    (Object.keys(LAZY_STEPS) as StepName[]).map((name) => {
      const step = async (r: MigrationRuntime, event: unknown) =>
        ((await LAZY_STEPS[name]()) as (r: MigrationRuntime, e: unknown) => Promise<unknown>)(r, event);
      const handler = lambdaHandler(name, step, () => runtime);
      return [name, (event: unknown) => handler(event, localContext(name))];
    }),
  ) as Record<StepName, LocalTaskHandler>;
}
