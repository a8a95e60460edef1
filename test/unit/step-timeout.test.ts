import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { RETRIED_ERROR_NAMES } from '../../functions/error-contract.js';
import { lambdaHandler } from '../../functions/handlers/lambda-handler.js';
import type { MigrationRuntime } from '../../functions/runtime/migration-runtime.js';

/** A context whose Lambda has `left` milliseconds to go. */
function contextWith(left: number): Context {
  const deadline = Date.now() + left;
  return {
    functionName: 'step-timeout-test',
    awsRequestId: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as Context;
}

// The step below never touches the runtime: the handler only hands it over.
const runtime = () => ({}) as MigrationRuntime;

describe('Function: lambdaHandler (timeout guard)', () => {
  it('ends a step that would outlive its Lambda with StepTimeoutError, which the state machine retries', async () => {
    // Prepare
    const neverDone = lambdaHandler('Plan', () => new Promise<never>(() => undefined), { runtime });

    // Act
    const failure = await neverDone({}, contextWith(10_200)).catch((error: unknown) => error);

    // Assess
    expect((failure as Error).name).toBe('StepTimeoutError');
    expect((failure as Error).message).toContain('Plan');
    expect(RETRIED_ERROR_NAMES).toContain('StepTimeoutError');
  });

  it('lets a step that finishes in time return its result', async () => {
    // Prepare
    const quick = lambdaHandler('Plan', async () => ({ ranges: 3 }), { runtime });

    // Act
    const result = await quick({}, contextWith(60_000));

    // Assess
    expect(result).toEqual({ ranges: 3 });
  });
});
