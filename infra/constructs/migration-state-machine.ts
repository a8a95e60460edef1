import { RemovalPolicy } from 'aws-cdk-lib';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { buildMigrationDefinition, type MigrationDefinitionProps } from './migration-definition.js';

export interface MigrationStateMachineProps extends MigrationDefinitionProps {
  logRetention: RetentionDays;
}

/** The migration workflow as a Standard state machine, logged and traced. */
export class MigrationStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: MigrationStateMachineProps) {
    super(scope, id);
    const logs = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      comment: 'BigMemory → Federated Memory migration',
      definitionBody: DefinitionBody.fromChainable(buildMigrationDefinition(this, props)),
      tracingEnabled: true,
      // Inputs and outputs stay out of the log group: the execution history already shows them,
      // and keeping payloads out of logs is one less place a value could leak to.
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    });
  }
}
