import type { Context } from 'aws-lambda';
import { stepHandler } from '../handlers/step-handler.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { STEP_NAMES, type StepName } from '../steps/index.js';
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
 * The Lambda handlers as deployed (middy, Powertools logger and metrics, the steps' schemas) bound
 * to a local runtime: a local run checks its events, logs, names its errors and shapes its results
 * exactly as the deployed functions do. Each step's modules load at its first call: a run that
 * fails in Preflight needs only Preflight and Report.
 */
export function localLambdaHandlers(runtime: MigrationRuntime): Record<StepName, LocalTaskHandler> {
  return Object.fromEntries(
    STEP_NAMES.map((name) => {
      const handler = stepHandler(name, () => runtime);
      return [name, (event: unknown) => handler(event, localContext(name))];
    }),
  ) as Record<StepName, LocalTaskHandler>;
}
