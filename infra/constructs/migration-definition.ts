import type { Duration } from 'aws-cdk-lib';
import { Duration as CdkDuration } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Chain,
  Choice,
  Condition,
  DistributedMap,
  type IChainable,
  JsonPath,
  ResultWriterV2,
  S3JsonItemReader,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { STEPS, type StepName } from '../../functions/steps/index.js';
import { placeChainedSteps } from './chain-places.js';
import { lambdaStep } from './lambda-step.js';
import type { MigrationFunction } from './migration-function.js';
import { MAP_RESULTS_PREFIX } from './run-bucket.js';

export interface MigrationDefinitionProps {
  functions: Record<StepName, MigrationFunction>;
  bucket: IBucket;
  maxConcurrency: number;
  functionTimeout: Duration;
}

const RUN = { 'run.$': '$.run' };

/** How long the execution waits between two looks at RDS snapshots that are still being made. */
const RDS_SNAPSHOT_POLL_SECONDS = 60;

/**
 * Preflight → Snapshot (→ wait for RDS snapshots) → Users → Plan → EmbeddingBatches (→ wait for
 * the Batch API) → MigrateBatches →
 * MigrateRelationships → RebuildCmi → VerifySlices → Verify → VerifySearch → Report.
 *
 * No state catches an error. A failure (after a step's retries) ends the execution *at the state
 * that failed*, which is what Step Functions redrive needs: a redriven execution re-runs only the
 * states that never exited and, in a failed Distributed Map, only the child executions that failed,
 * then goes on down the chain. A caught error routed to a Fail state would leave nothing to redrive
 * but that Fail state. The failure report is written outside the definition, by the Report function
 * on the execution's FAILED/TIMED_OUT/ABORTED event (infra/constructs/failure-report-rule.ts).
 *
 * The chain is a plain list of steps (`base` below), with the registry's chained steps spliced in. In front of it, `Mode` sends an input with
 * `rollbackRunId` to the Rollback task and one with `restore` to the Restore task instead: such an
 * execution does only that.
 */
export function buildMigrationDefinition(scope: Construct, props: MigrationDefinitionProps): Chain {
  const { functions, functionTimeout } = props;

  const step = (id: StepName, payload: Record<string, unknown>, resultPath: string) =>
    lambdaStep(scope, id, { fn: functions[id], payload, resultPath, functionTimeout });

  // The chain by the step each state runs; the registry's chained steps are spliced in after it.
  const base: (readonly [StepName, IChainable])[] = [
    [
      'Preflight',
      lambdaStep(scope, 'Preflight', {
        fn: functions.Preflight,
        payload: {
          'input.$': '$',
          'executionName.$': '$$.Execution.Name',
          'executionId.$': '$$.Execution.Id',
        },
        resultPath: '$.run',
        functionTimeout,
      }),
    ],
    ['Snapshot', snapshotPhase(scope, step('Snapshot', RUN, '$.snapshot'), props)],
    ['Users', step('Users', RUN, '$.users')],
    ['Plan', step('Plan', RUN, '$.plan')],
    ['EmbeddingBatches', embeddingBatchesPhase(scope, props)],
    [
      'MigrateBatch',
      rangeMap(
        scope,
        { id: 'MigrateBatches', taskId: 'MigrateBatch', handler: 'MigrateBatch' },
        '$.plan.rangesKey',
        props,
        { tolerateFailures: true },
      ),
    ],
    [
      'MigrateRelationships',
      rangeMap(
        scope,
        { id: 'MigrateRelationships', taskId: 'MigrateRelationshipBatch', handler: 'MigrateRelationships' },
        '$.plan.relationRangesKey',
        props,
      ),
    ],
    ['RebuildCmi', step('RebuildCmi', RUN, '$.cmi')],
    [
      'VerifySlice',
      rangeMap(
        scope,
        { id: 'VerifySlices', taskId: 'VerifySlice', handler: 'VerifySlice' },
        '$.plan.verifySlicesKey',
        props,
      ),
    ],
    ['Verify', step('Verify', { ...RUN, 'plan.$': '$.plan' }, '$.verify')],
    ['VerifySearch', step('VerifySearch', RUN, '$.search')],
    [
      'Report',
      lambdaStep(scope, 'Report', {
        fn: functions.Report,
        payload: {
          ...RUN,
          'users.$': '$.users',
          'plan.$': '$.plan',
          'verify.$': '$.verify',
          // The report's projections and rerun command use the Map's real concurrency.
          concurrency: props.maxConcurrency,
        },
        // No resultPath: the execution's output is the report handler's result, the report's S3 keys.
        functionTimeout,
      }),
    ],
  ];
  const steps = placeChainedSteps(base, STEPS, (name, result) =>
    step(name as StepName, RUN, `$.${result}`),
  ).map(([, state]) => state);
  const [first, ...rest] = steps as [IChainable, ...IChainable[]];
  const migration = rest.reduce<Chain>((chain, next) => chain.next(next), Chain.start(first));

  // Rollback and restore report through their own result: they are not runs with a failure report.
  const wholeInput = { 'input.$': '$' };
  const rollback = lambdaStep(scope, 'Rollback', {
    fn: functions.Rollback,
    payload: wholeInput,
    functionTimeout,
  });
  const restore = lambdaStep(scope, 'Restore', {
    fn: functions.Restore,
    payload: wholeInput,
    functionTimeout,
  });
  return Chain.start(
    new Choice(scope, 'Mode')
      .when(Condition.isPresent('$.rollbackRunId'), rollback)
      .when(Condition.isPresent('$.restore'), restore)
      .otherwise(migration),
  );
}

/**
 * The Snapshot task, then — only while RDS snapshots it started are not yet available — a Wait and
 * the same function again with `pending`, in a loop. Waiting in the state machine rather than in
 * the Lambda: an RDS snapshot can take longer than a function may run, and a Wait costs nothing.
 */
function snapshotPhase(scope: Construct, snapshot: LambdaInvoke, props: MigrationDefinitionProps): Chain {
  const poll = lambdaStep(scope, 'SnapshotStatus', {
    fn: props.functions.Snapshot,
    payload: { ...RUN, 'pending.$': '$.snapshot' },
    resultPath: '$.snapshot',
    functionTimeout: props.functionTimeout,
  });
  const wait = new Wait(scope, 'WaitForRdsSnapshots', {
    time: WaitTime.duration(CdkDuration.seconds(RDS_SNAPSHOT_POLL_SECONDS)),
  });
  const ready = new Choice(scope, 'RdsSnapshotsPending?').when(
    Condition.booleanEquals('$.snapshot.rdsPending', true),
    wait,
  );
  wait.next(poll).next(ready);
  snapshot.next(ready);
  return Chain.custom(snapshot, ready.afterwards({ includeOtherwise: true }).endStates, ready);
}

/**
 * Batch API mode's wait (docs/design.md, "Embeddings through the Batch API"): EmbeddingBatches
 * submits the run's request files, then — while a batch is still running — a Wait of the run's
 * `embeddingBatchPollSeconds` and the same function again with `pending`, in a loop, as for RDS
 * snapshots: a batch can take up to its 24-hour window, and a Wait costs nothing. In sync mode the
 * function returns `pending: false` at once and the loop is never entered.
 */
function embeddingBatchesPhase(scope: Construct, props: MigrationDefinitionProps): Chain {
  const submit = lambdaStep(scope, 'EmbeddingBatches', {
    fn: props.functions.EmbeddingBatches,
    payload: { ...RUN, 'plan.$': '$.plan' },
    resultPath: '$.embeddingBatches',
    functionTimeout: props.functionTimeout,
  });
  const poll = lambdaStep(scope, 'EmbeddingBatchStatus', {
    fn: props.functions.EmbeddingBatches,
    payload: { ...RUN, 'pending.$': '$.embeddingBatches' },
    resultPath: '$.embeddingBatches',
    functionTimeout: props.functionTimeout,
  });
  const wait = new Wait(scope, 'WaitForEmbeddingBatches', {
    time: WaitTime.secondsPath('$.run.embeddingBatchPollSeconds'),
  });
  const running = new Choice(scope, 'EmbeddingBatchesPending?').when(
    Condition.booleanEquals('$.embeddingBatches.pending', true),
    wait,
  );
  wait.next(poll).next(running);
  submit.next(running);
  return Chain.custom(submit, running.afterwards({ includeOtherwise: true }).endStates, running);
}

/**
 * A Distributed Map over the key ranges Plan wrote to the run bucket, one child execution per range.
 *
 * Results: every child returns a tiny summary, but thousands of them gathered into the Map's output
 * could still pass the 256 KiB state limit, so AWS writes them to the bucket (ResultWriter) and the
 * state discards the writer's summary (ResultPath null). LocalStack accepts ResultWriter (it writes
 * only a manifest) and reads S3 JSON ItemReaders; the local runner swaps the ItemReader for an
 * explicit read and drops the ResultWriter (see functions/local/local-definition.ts).
 *
 * Failures: a child whose task still fails after its retries fails, and with it the Map Run and the
 * execution (no Catch, so that redrive re-runs just the failed children). With `tolerateFailures`,
 * the execution input's `toleratedFailurePercentage` / `toleratedFailureCount` (Preflight puts them
 * in `$.run`, default 0) let the Map succeed with that many failed children: a partial run whose
 * report lists the ranges that failed.
 */
function rangeMap(
  scope: Construct,
  names: { id: string; taskId: string; handler: StepName },
  rangesKeyPath: string,
  props: MigrationDefinitionProps,
  options: { tolerateFailures?: boolean } = {},
): DistributedMap {
  const { id, taskId, handler } = names;
  const map = new DistributedMap(scope, id, {
    maxConcurrency: props.maxConcurrency,
    itemReader: new S3JsonItemReader({ bucket: props.bucket, key: JsonPath.stringAt(rangesKeyPath) }),
    itemSelector: { run: JsonPath.objectAt('$.run'), range: JsonPath.objectAt('$$.Map.Item.Value') },
    resultWriterV2: new ResultWriterV2({ bucket: props.bucket, prefix: MAP_RESULTS_PREFIX }),
    resultPath: JsonPath.DISCARD,
    ...(options.tolerateFailures
      ? {
          toleratedFailurePercentagePath: '$.run.toleratedFailurePercentage',
          toleratedFailureCountPath: '$.run.toleratedFailureCount',
        }
      : {}),
  });
  map.itemProcessor(
    lambdaStep(scope, taskId, {
      fn: props.functions[handler],
      payload: { 'run.$': '$.run', 'range.$': '$.range' },
      functionTimeout: props.functionTimeout,
    }),
  );
  return map;
}
