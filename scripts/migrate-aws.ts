/**
 * npm run migrate:aws -- --state-machine-arn <arn> [the guide's options]
 * Runs the migration on the deployed stack: starts an execution of its state machine with the
 * input the options make, waits, and prints where the report is. Credentials and region come from
 * the usual AWS environment; the databases and the OpenAI key come from the stack's secrets.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import './cli/local-console.js';
import { SFNClient } from '@aws-sdk/client-sfn';
import { parseFlags, runCli, UsageError } from './cli/database-flags.js';
import { runDeployedExecution } from './cli/deployed-execution.js';
import { formatDuration } from './cli/progress.js';
import { defaultRunId, executionInput, migrationFlags } from './migrate-bigmemory.js';

const USAGE = `usage: npm run migrate:aws -- --state-machine-arn <arn> [options]

Starts the deployed state machine (the stack output StateMachineArn) and waits for it.
Takes the options of migrate:bigmemory except --source-db/--target-db (the stack's secrets hold
the URLs), --concurrency (stack context) and --reports-dir/--bucket (reports go to the run bucket).
--user-map and --rules must be s3:// URIs here: the functions cannot read your disk.
  --state-machine-arn <arn>   (or MIGRATION_STATE_MACHINE_ARN)
  --poll-seconds <n>          how often to ask for the status (default 10)
  --help                      this text

Exit code 0 when the execution succeeded, 1 when it failed, 2 for bad options.

Example: npm run migrate:aws -- --state-machine-arn arn:aws:states:…:stateMachine:bigmemory-migration --dry-run --preserve-embeddings`;

async function main(): Promise<number> {
  const {
    'source-db': _s,
    'target-db': _t,
    concurrency: _c,
    'check-rejects-first': _k,
    'reports-dir': _r,
    bucket: _b,
    ...guideFlags
  } = migrationFlags();
  const flags = parseFlags({
    ...guideFlags,
    'state-machine-arn': { type: 'string' },
    'poll-seconds': { type: 'string' },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const stateMachineArn = flags['state-machine-arn'] ?? process.env.MIGRATION_STATE_MACHINE_ARN;
  if (!stateMachineArn)
    throw new UsageError('pass --state-machine-arn <arn> (the stack output StateMachineArn)');
  for (const flag of ['user-map', 'rules'] as const) {
    const value = flags[flag];
    if (value !== undefined && !value.startsWith('s3://')) {
      throw new UsageError(
        `--${flag} must be an s3:// URI for a deployed run: aws s3 cp ${value} s3://<RunBucketName>/inputs/ and pass that URI`,
      );
    }
  }
  const input = executionInput(flags as Parameters<typeof executionInput>[0]);
  const name = flags['run-id'] ?? defaultRunId(input.dryRun ? 'dry-run' : 'migration');
  const pollSeconds = Number(flags['poll-seconds'] ?? 10);
  if (!Number.isFinite(pollSeconds) || pollSeconds <= 0)
    throw new UsageError('--poll-seconds takes a positive number');
  console.error(`Starting ${name} on ${stateMachineArn}: ${JSON.stringify(input)}`);
  const result = await runDeployedExecution(new SFNClient({}), {
    stateMachineArn,
    name,
    input,
    pollMs: pollSeconds * 1000,
    onPoll: (s) => console.error(`  running · ${formatDuration(s)}`),
  });
  if (result.status === 'SUCCEEDED') {
    const output = result.output as
      | { report?: Record<string, string>; accounting?: Record<string, number> }
      | undefined;
    console.log(`Execution ${name} succeeded.`);
    if (output?.accounting) console.log(`  accounting: ${JSON.stringify(output.accounting)}`);
    for (const [kind, location] of Object.entries(output?.report ?? {}))
      console.log(`  ${kind}: ${location}`);
    return 0;
  }
  console.error(`Execution ${name} ended ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}`);
  console.error(`  the failure report is under runs/${name}/ in the run bucket; ${result.executionArn}`);
  return 1;
}

runCli(main);
