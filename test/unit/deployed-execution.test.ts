import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { runDeployedExecution } from '../../scripts/cli/deployed-execution.js';

// The AWS control plane cannot run here: Step Functions is the one thing mocked, with aws-sdk-client-mock.
const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:BigMemoryMigration';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:BigMemoryMigration:dry-run-1';

describe('Function: runDeployedExecution', () => {
  beforeEach(() => sfn.reset());

  it('starts the state machine with the execution input and returns the report it names', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolves({
        status: 'SUCCEEDED',
        output: JSON.stringify({ report: { html: 's3://b/runs/dry-run-1/report.html' } }),
      } as never);
    const polls: number[] = [];

    // Act
    const result = await runDeployedExecution(new SFNClient({ region: 'eu-west-1' }), {
      stateMachineArn: ARN,
      name: 'dry-run-1',
      input: { dryRun: true, batchSize: 500 },
      sleep: async () => undefined,
      onPoll: (s) => polls.push(s),
    });

    // Assess
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: ARN,
      name: 'dry-run-1',
      input: '{"dryRun":true,"batchSize":500}',
    });
    expect(polls).toHaveLength(2);
    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      output: { report: { html: 's3://b/runs/dry-run-1/report.html' } },
    });
  });

  it('returns the error name and cause of a failed execution', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', error: 'PreflightError', cause: 'Cannot connect' } as never);

    // Act
    const result = await runDeployedExecution(new SFNClient({ region: 'eu-west-1' }), {
      stateMachineArn: ARN,
      name: 'migration-1',
      input: {},
      sleep: async () => undefined,
    });

    // Assess
    expect(result).toEqual({
      executionArn: EXECUTION,
      status: 'FAILED',
      output: undefined,
      error: 'PreflightError',
      cause: 'Cannot connect',
    });
  });
});
