import type { Duration } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Chain,
  DistributedMap,
  Errors,
  Fail,
  type IChainable,
  JsonPath,
  ResultWriterV2,
  S3JsonItemReader,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ERROR_PATH, lambdaStep } from './lambda-step.js';
import type { HandlerName, MigrationFunction } from './migration-function.js';
import { MAP_RESULTS_PREFIX } from './run-bucket.js';

export interface MigrationDefinitionProps {
  functions: Record<HandlerName, MigrationFunction>;
  bucket: IBucket;
  maxConcurrency: number;
  functionTimeout: Duration;
}

const RUN = { 'run.$': '$.run' };

/**
 * Preflight → Users → Plan → MigrateBatches → MigrateRelationships → RebuildCmi → Verify → Report,
 * every step caught into FailureReport → MigrationFailed.
 *
 * The chain is a plain list of steps (`steps` below): the Snapshot step goes between Preflight and
 * Users by adding one entry.
 */
export function buildMigrationDefinition(scope: Construct, props: MigrationDefinitionProps): Chain {
  const { functions, functionTimeout } = props;

  const failed = new Fail(scope, 'MigrationFailed', {
    errorPath: `${ERROR_PATH}.Error`,
    causePath: `${ERROR_PATH}.Cause`,
  });
  // `$.run` is absent when Preflight itself failed, and a missing path fails the state: pass the
  // whole state instead and let the report handler find what it can.
  const failureReport = lambdaStep(scope, 'FailureReport', {
    fn: functions.Report,
    payload: { failed: true, 'error.$': ERROR_PATH, 'state.$': '$', 'executionName.$': '$$.Execution.Name' },
    resultPath: '$.failureReport',
    functionTimeout,
  });
  failureReport.addCatch(failed, { errors: [Errors.ALL], resultPath: '$.failureReportError' });
  const onFailure = failureReport.next(failed);

  const step = (id: HandlerName, payload: Record<string, unknown>, resultPath: string) =>
    lambdaStep(scope, id, { fn: functions[id], payload, resultPath, functionTimeout, onFailure });

  const steps: IChainable[] = [
    lambdaStep(scope, 'Preflight', {
      fn: functions.Preflight,
      payload: { 'input.$': '$', 'executionName.$': '$$.Execution.Name' },
      resultPath: '$.run',
      functionTimeout,
      onFailure,
    }),
    step('Users', RUN, '$.users'),
    step('Plan', RUN, '$.plan'),
    rangeMap(
      scope,
      { id: 'MigrateBatches', taskId: 'MigrateBatch', handler: 'MigrateBatch' },
      '$.plan.rangesKey',
      props,
      onFailure,
    ),
    rangeMap(
      scope,
      { id: 'MigrateRelationships', taskId: 'MigrateRelationshipBatch', handler: 'MigrateRelationships' },
      '$.plan.relationRangesKey',
      props,
      onFailure,
    ),
    step('RebuildCmi', RUN, '$.cmi'),
    step('Verify', RUN, '$.verify'),
    lambdaStep(scope, 'Report', {
      fn: functions.Report,
      payload: { ...RUN, 'users.$': '$.users', 'plan.$': '$.plan', 'verify.$': '$.verify' },
      // No resultPath: the execution's output is the report handler's result, the report's S3 keys.
      functionTimeout,
      onFailure,
    }),
  ];
  const [first, ...rest] = steps as [IChainable, ...IChainable[]];
  return rest.reduce<Chain>((chain, next) => chain.next(next), Chain.start(first));
}

/**
 * A Distributed Map over the key ranges Plan wrote to the run bucket, one child execution per range.
 *
 * Results: every child returns a tiny summary, but thousands of them gathered into the Map's output
 * could still pass the 256 KiB state limit, so AWS writes them to the bucket (ResultWriter) and the
 * state discards the writer's summary (ResultPath null). LocalStack accepts ResultWriter (it writes
 * only a manifest) and reads S3 JSON ItemReaders; the local runner swaps the ItemReader for an
 * explicit read and drops the ResultWriter (see functions/local/local-definition.ts).
 */
function rangeMap(
  scope: Construct,
  names: { id: string; taskId: string; handler: HandlerName },
  rangesKeyPath: string,
  props: MigrationDefinitionProps,
  onFailure: IChainable,
): DistributedMap {
  const { id, taskId, handler } = names;
  const map = new DistributedMap(scope, id, {
    maxConcurrency: props.maxConcurrency,
    itemReader: new S3JsonItemReader({ bucket: props.bucket, key: JsonPath.stringAt(rangesKeyPath) }),
    itemSelector: { run: JsonPath.objectAt('$.run'), range: JsonPath.objectAt('$$.Map.Item.Value') },
    resultWriterV2: new ResultWriterV2({ bucket: props.bucket, prefix: MAP_RESULTS_PREFIX }),
    resultPath: JsonPath.DISCARD,
  });
  map.itemProcessor(
    lambdaStep(scope, taskId, {
      fn: props.functions[handler],
      payload: { 'run.$': '$.run', 'range.$': '$.range' },
      functionTimeout: props.functionTimeout,
    }),
  );
  map.addCatch(onFailure, { errors: [Errors.ALL], resultPath: ERROR_PATH });
  return map;
}
