import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { JitterType, type RetryProps, TaskInput, Timeout } from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { RETRIED_ERROR_NAMES } from '../../functions/error-contract.js';

/** Connection resets, throttles and Lambda service hiccups: safe to retry because every step is idempotent. */
const TRANSIENT_RETRY: RetryProps = {
  errors: [...RETRIED_ERROR_NAMES],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 5,
  jitterStrategy: JitterType.FULL,
};

export interface LambdaStepProps {
  fn: IFunction;
  /** The event the handler receives: JSONPath references (`JsonPath.objectAt`) and literals. */
  payload: Record<string, unknown>;
  /** Where the handler's result goes in the state; `JsonPath.DISCARD` keeps the input unchanged. */
  resultPath?: string;
  outputPath?: string;
  /** The Lambda timeout; the task waits a little longer so the function's own timeout error wins. */
  functionTimeout: Duration;
}

/**
 * A Lambda step: the handler gets exactly `payload`, its result lands at `resultPath`, transient
 * error names are retried with backoff and jitter, anything else fails the step (and the execution,
 * which stays redrivable from this step).
 *
 * `payloadResponseOnly` makes the task's Resource the function ARN and its result the handler's
 * return value, so results need no `$.Payload` unwrapping and the local runner can bind each task
 * to a handler by that ARN.
 */
export function lambdaStep(scope: Construct, id: string, props: LambdaStepProps): LambdaInvoke {
  const step = new LambdaInvoke(scope, id, {
    lambdaFunction: props.fn,
    payload: TaskInput.fromObject(props.payload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath: props.resultPath,
    outputPath: props.outputPath,
    taskTimeout: Timeout.duration(props.functionTimeout.plus(Duration.minutes(1))),
  });
  step.addRetry(TRANSIENT_RETRY);
  return step;
}
