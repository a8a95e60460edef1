import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RETRIED_ERROR_NAMES } from '../../functions/error-contract.js';
import { type AslDefinition, type AslState, allStates } from '../../functions/local/asl-definition.js';
import { stateMachineDefinition, synthesize } from './template-queries.js';

function tasksOf(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, state]) => [
    ...(state.Type === 'Task' ? [[name, state] as [string, AslState]] : []),
    ...(state.ItemProcessor ? tasksOf(state.ItemProcessor.States) : []),
  ]);
}

describe('Class: MigrationStateMachine', () => {
  let template: Template;
  let definition: AslDefinition;

  beforeAll(() => {
    ({ template } = synthesize());
    definition = stateMachineDefinition(template);
  });

  it('chains the states in the order of the pipeline', () => {
    // Prepare
    const order: string[] = [];
    let name: string | undefined = definition.StartAt;

    // Act: the main line, through each Choice's default
    while (name) {
      order.push(name);
      const state: AslState | undefined = definition.States[name];
      name = state?.Next ?? (state?.Default as string | undefined);
    }

    // Assess
    expect(order).toEqual([
      'Mode',
      'Preflight',
      'Snapshot',
      'RdsSnapshotsPending?',
      'Users',
      'Plan',
      'EmbeddingBatches',
      'EmbeddingBatchesPending?',
      'MigrateBatches',
      'MigrateRelationships',
      'RebuildCmi',
      'VerifySlices',
      'Verify',
      'VerifySearch',
      'Report',
    ]);
    expect(definition.States.Report?.End).toBe(true);
  });

  it('passes each step the small payload of the contract', () => {
    // Assess
    const { States: states } = definition;
    expect(states.Preflight).toMatchObject({
      Parameters: { 'input.$': '$', 'executionName.$': '$$.Execution.Name' },
      ResultPath: '$.run',
    });
    expect(states.Snapshot).toMatchObject({ Parameters: { 'run.$': '$.run' }, ResultPath: '$.snapshot' });
    expect(states.SnapshotStatus).toMatchObject({
      Parameters: { 'run.$': '$.run', 'pending.$': '$.snapshot' },
      ResultPath: '$.snapshot',
    });
    expect(states.SnapshotStatus?.Resource).toBe(states.Snapshot?.Resource);
    expect(states.Users).toMatchObject({ Parameters: { 'run.$': '$.run' }, ResultPath: '$.users' });
    expect(states.Plan).toMatchObject({ Parameters: { 'run.$': '$.run' }, ResultPath: '$.plan' });
    expect(states.RebuildCmi).toMatchObject({ Parameters: { 'run.$': '$.run' }, ResultPath: '$.cmi' });
    expect(states.VerifySearch).toMatchObject({ Parameters: { 'run.$': '$.run' }, ResultPath: '$.search' });
    expect(states.Verify).toMatchObject({
      Parameters: { 'run.$': '$.run', 'plan.$': '$.plan' },
      ResultPath: '$.verify',
    });
    expect(states.Report?.Parameters).toEqual({
      'run.$': '$.run',
      'users.$': '$.users',
      'plan.$': '$.plan',
      'verify.$': '$.verify',
      concurrency: 4,
    });
    expect(states.Report?.ResultPath).toBeUndefined();
  });

  it('invokes the functions directly, so results need no unwrapping', () => {
    // Assess
    for (const [, task] of tasksOf(definition.States)) {
      expect(task.Resource).toMatch(/^<Functions\w+\.Arn>$/);
    }
  });

  it('fans out over the planned ranges with distributed maps of bounded concurrency', () => {
    // Assess
    for (const [map, keyPath, task] of [
      ['MigrateBatches', '$.plan.rangesKey', 'MigrateBatch'],
      ['MigrateRelationships', '$.plan.relationRangesKey', 'MigrateRelationshipBatch'],
      ['VerifySlices', '$.plan.verifySlicesKey', 'VerifySlice'],
    ] as const) {
      expect(definition.States[map]).toMatchObject({
        Type: 'Map',
        MaxConcurrency: 4,
        ResultPath: null,
        ItemReader: {
          Resource: 'arn:<AWS::Partition>:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { Bucket: expect.stringMatching(/^<RunBucket/), 'Key.$': keyPath },
        },
        ItemSelector: { 'run.$': '$.run', 'range.$': '$$.Map.Item.Value' },
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: task },
        ResultWriter: {
          Parameters: { Bucket: expect.stringMatching(/^<RunBucket/), Prefix: 'map-results/' },
        },
      });
    }
  });

  it('takes MaxConcurrency from context', () => {
    // Act
    const { template: limited } = synthesize({ 'bigmemory-migration:maxConcurrency': '2' });

    // Assess
    const { States: states } = stateMachineDefinition(limited);
    expect(states.MigrateBatches?.MaxConcurrency).toBe(2);
    expect(states.MigrateRelationships?.MaxConcurrency).toBe(2);
    expect(states.VerifySlices?.MaxConcurrency).toBe(2);
  });

  it('retries only the transient error names, with backoff and full jitter', () => {
    // Assess
    const tasks = tasksOf(definition.States);
    expect(tasks).toHaveLength(16);
    for (const [, task] of tasks) {
      expect(task.Retry).toEqual([
        {
          ErrorEquals: [...RETRIED_ERROR_NAMES],
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 5,
          JitterStrategy: 'FULL',
        },
      ]);
    }
  });

  it('has the shape redrive needs: no Catch and no Fail state, Standard children that fail where they failed', () => {
    // Assess: a caught error would make its state exit, leaving redrive nothing to re-run but a Fail
    // state; uncaught, the execution fails at the state (or Map Run) that failed.
    const states = allStates(definition);
    expect(states.length).toBeGreaterThan(15);
    for (const [name, state] of states) {
      expect(state.Catch, name).toBeUndefined();
      expect(state.Type, name).not.toBe('Fail');
    }
    expect(definition.States.FailureReport).toBeUndefined();
    for (const map of ['MigrateBatches', 'MigrateRelationships', 'VerifySlices']) {
      expect(definition.States[map]?.ItemProcessor?.ProcessorConfig).toEqual({
        Mode: 'DISTRIBUTED',
        ExecutionType: 'STANDARD',
      });
    }
  });

  it('lets the batches tolerate the failures the execution input allows, and no other Map', () => {
    // Assess
    expect(definition.States.MigrateBatches).toMatchObject({
      ToleratedFailurePercentagePath: '$.run.toleratedFailurePercentage',
      ToleratedFailureCountPath: '$.run.toleratedFailureCount',
    });
    for (const map of ['MigrateRelationships', 'VerifySlices']) {
      const state = definition.States[map] as Record<string, unknown>;
      expect(Object.keys(state).filter((key) => key.startsWith('ToleratedFailure'))).toEqual([]);
    }
  });

  it("writes the failure report from the failed, timed-out or aborted execution's event", () => {
    // Assess
    const [reportFunction] = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) =>
      /^FunctionsReport[0-9A-F]{8}$/.test(id),
    );
    const [machine] = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: machine }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [reportFunction, 'Arn'] },
          InputTransformer: Match.objectLike({
            InputPathsMap: Match.objectLike({
              'detail-name': '$.detail.name',
              'detail-error': '$.detail.error',
              'detail-input': '$.detail.input',
            }),
          }),
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 8 }),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [reportFunction, 'Arn'] },
    });
  });

  it('sends a rollback or restore input to its own task instead of the migration', () => {
    // Assess
    expect(definition.States.Mode).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.rollbackRunId', IsPresent: true, Next: 'Rollback' },
        { Variable: '$.restore', IsPresent: true, Next: 'Restore' },
      ],
      Default: 'Preflight',
    });
    for (const name of ['Rollback', 'Restore']) {
      expect(definition.States[name]).toMatchObject({
        Type: 'Task',
        Parameters: { 'input.$': '$' },
        End: true,
      });
    }
  });

  it('waits for RDS snapshots in a loop of Wait and SnapshotStatus until none is pending', () => {
    // Assess
    const { States: states } = definition;
    expect(states['RdsSnapshotsPending?']).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.snapshot.rdsPending', BooleanEquals: true, Next: 'WaitForRdsSnapshots' }],
      Default: 'Users',
    });
    expect(states.WaitForRdsSnapshots).toEqual({ Type: 'Wait', Seconds: 60, Next: 'SnapshotStatus' });
    expect(states.SnapshotStatus?.Next).toBe('RdsSnapshotsPending?');
  });

  it('waits for Batch API embeddings in a loop of Wait, EmbeddingBatchStatus and a Choice back to the Wait', () => {
    // Assess
    const { States: states } = definition;
    expect(states.EmbeddingBatches).toMatchObject({
      Type: 'Task',
      Parameters: { 'run.$': '$.run', 'plan.$': '$.plan' },
      ResultPath: '$.embeddingBatches',
      Next: 'EmbeddingBatchesPending?',
    });
    expect(states['EmbeddingBatchesPending?']).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.embeddingBatches.pending', BooleanEquals: true, Next: 'WaitForEmbeddingBatches' },
      ],
      Default: 'MigrateBatches',
    });
    // The wait is the run's, so a local run can make it short; no Lambda sleeps.
    expect(states.WaitForEmbeddingBatches).toEqual({
      Type: 'Wait',
      SecondsPath: '$.run.embeddingBatchPollSeconds',
      Next: 'EmbeddingBatchStatus',
    });
    expect(states.EmbeddingBatchStatus).toMatchObject({
      Type: 'Task',
      Parameters: { 'run.$': '$.run', 'pending.$': '$.embeddingBatches' },
      ResultPath: '$.embeddingBatches',
      Next: 'EmbeddingBatchesPending?',
    });
    expect(states.EmbeddingBatchStatus?.Resource).toBe(states.EmbeddingBatches?.Resource);
    expect(states.EmbeddingBatchStatus?.Catch).toBeUndefined();
    expect(states.EmbeddingBatches?.Catch).toBeUndefined();
  });

  it('logs every event and traces executions', () => {
    // Assess
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });
});
