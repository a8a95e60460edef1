import { Aws, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FailureReportRule } from './constructs/failure-report-rule.js';
import { MigrationAlarms } from './constructs/migration-alarms.js';
import { MigrationFunctions } from './constructs/migration-functions.js';
import { MigrationNetwork } from './constructs/migration-network.js';
import { MigrationSchedule } from './constructs/migration-schedule.js';
import { MigrationSecrets } from './constructs/migration-secrets.js';
import { MigrationStateMachine } from './constructs/migration-state-machine.js';
import { grantRdsSnapshots } from './constructs/rds-snapshot-access.js';
import { RunBucket } from './constructs/run-bucket.js';
import { readMigrationConfig } from './migration-config.js';
import { acknowledgeMigrationFindings } from './nag-acknowledgements.js';

/** Composes the migration: bucket, secrets, functions, state machine, failure reports, schedule, alarms. */
export class MigrationStack extends Stack {
  readonly runBucket: RunBucket;
  readonly functions: MigrationFunctions;
  readonly workflow: MigrationStateMachine;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const config = readMigrationConfig(this.node);
    const functionTimeout = Duration.minutes(config.functionTimeoutMinutes);
    const logRetention = config.logRetentionDays as RetentionDays;

    this.runBucket = new RunBucket(this, 'RunBucket', {
      runRetentionDays: config.runRetentionDays,
      destroyWithStack: config.destroyRunBucket,
    });
    const bucket = this.runBucket.bucket;
    const secrets = new MigrationSecrets(this, 'Secrets', config);
    const network = new MigrationNetwork(this, 'Network', config);
    this.functions = new MigrationFunctions(this, 'Functions', {
      bucket,
      secrets,
      timeout: functionTimeout,
      memorySize: config.functionMemoryMb,
      logRetention,
      logLevel: config.logLevel,
      openAiBaseUrl: config.openAiBaseUrl,
      embeddingWorkers: config.maxConcurrency,
      dataApi: config.dataApi,
      vpc: network.vpc,
      vpcSubnets: network.vpcSubnets,
      securityGroups: network.securityGroups,
    });
    grantRdsSnapshots(this.functions.byHandler.Snapshot, config.rds);
    this.workflow = new MigrationStateMachine(this, 'Workflow', {
      functions: this.functions.byHandler,
      bucket,
      maxConcurrency: config.maxConcurrency,
      functionTimeout,
      logRetention,
    });
    const { stateMachine } = this.workflow;
    new FailureReportRule(this, 'FailureReport', { stateMachine, report: this.functions.byHandler.Report });
    if (config.schedule)
      new MigrationSchedule(this, 'Schedule', { stateMachine, expression: config.schedule });
    new MigrationAlarms(this, 'Alarms', { stateMachine, alarmTopicArn: config.alarmTopicArn });
    acknowledgeMigrationFindings({
      functions: Object.values(this.functions.byHandler),
      bucket,
      stateMachine,
    });

    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'RunBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'StateMachineConsoleUrl', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/states/home?region=${Aws.REGION}#/statemachines/view/${stateMachine.stateMachineArn}`,
    });
  }
}
