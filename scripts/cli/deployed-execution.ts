import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

export interface DeployedExecutionOptions {
  stateMachineArn: string;
  /** The execution's name, which becomes the run id (reports under runs/<name>/). */
  name: string;
  input: Record<string, unknown>;
  pollMs?: number;
  /** Called on every poll while the execution runs: elapsed seconds. */
  onPoll?: (elapsedSeconds: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeployedExecutionResult {
  executionArn: string;
  status: string;
  output?: unknown;
  error?: string;
  cause?: string;
}

/**
 * Starts the deployed state machine with an execution input (what a person would type in the
 * console) and waits for it to end: the guide's commands, run against the stack in AWS.
 */
export async function runDeployedExecution(
  sfn: SFNClient,
  options: DeployedExecutionOptions,
): Promise<DeployedExecutionResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: options.stateMachineArn,
      name: options.name,
      input: JSON.stringify(options.input),
    }),
  );
  const executionArn = started.executionArn;
  if (!executionArn) throw new Error('Step Functions started no execution (no executionArn in the answer)');
  const began = Date.now();
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const status = described.status ?? 'UNKNOWN';
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE') {
      return {
        executionArn,
        status,
        output: described.output ? JSON.parse(described.output) : undefined,
        error: described.error,
        cause: described.cause,
      };
    }
    options.onPoll?.((Date.now() - began) / 1000);
    await sleep(options.pollMs ?? 5_000);
  }
}
