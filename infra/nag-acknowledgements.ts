import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import type { MigrationFunction } from './constructs/migration-function.js';

export interface MigrationFindingScopes {
  functions: MigrationFunction[];
  bucket: IBucket;
  stateMachine: StateMachine;
}

/**
 * Every cdk-nag AwsSolutions finding this stack accepts, with its reason. cdk-nag 3 matches each
 * finding by its exact id (`Rule[Finding]`), and IAM findings name resources by logical id, so the
 * ids are computed from the constructs rather than copied from a report.
 */
export function acknowledgeMigrationFindings({
  functions,
  bucket,
  stateMachine,
}: MigrationFindingScopes): void {
  const bucketId = logicalId(bucket);
  for (const fn of functions) {
    acknowledge(fn, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        'The AWS-managed basic execution policy only lets the function write its own CloudWatch logs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]':
        'With a VPC configured, the AWS-managed VPC access policy only manages the function’s network interfaces.',
      'AwsSolutions-IAM5[Resource::*]':
        'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions.',
      'AwsSolutions-IAM5[Action::s3:GetObject*]': RUN_BUCKET_ACCESS,
      'AwsSolutions-IAM5[Action::s3:GetBucket*]': RUN_BUCKET_ACCESS,
      'AwsSolutions-IAM5[Action::s3:List*]': RUN_BUCKET_ACCESS,
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]': RUN_BUCKET_ACCESS,
      'AwsSolutions-IAM5[Action::s3:Abort*]': RUN_BUCKET_ACCESS,
      [`AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`]: RUN_BUCKET_ACCESS,
    });
  }

  const stateMachineId = logicalId(stateMachine);
  const executionName = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stateMachineId}"}]}]}`;
  // A deployment with a concrete env (`cdk synth` sets CDK_DEFAULT_REGION) names its region in the ARN.
  const stack = Stack.of(stateMachine);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const executions = `arn:<AWS::Partition>:states:${region}:${account}:execution:${executionName}`;
  acknowledge(stateMachine, {
    'AwsSolutions-IAM5[Resource::*]':
      'Log delivery (logs:CreateLogDelivery and friends) and X-Ray tracing have no resource-level permissions.',
    [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<${bucketId}>/*]`]:
      'The Distributed Maps read range lists from and write child results to the run bucket only; the keys are per run.',
    [`AwsSolutions-IAM5[Resource::${executions}:*]`]:
      'The Distributed Maps describe and stop the child executions of this state machine only; their names are generated.',
    [`AwsSolutions-IAM5[Resource::${executions}/*:*]`]:
      'The Distributed Maps describe and stop the child executions of this state machine only; their names are generated.',
    ...Object.fromEntries(
      functions.map((fn) => [
        `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        'Invoking a function’s versions and aliases: the state machine may invoke only its own functions.',
      ]),
    ),
  });
}

const RUN_BUCKET_ACCESS =
  'Read/write of objects in this stack’s run bucket only (CDK grantReadWrite); object keys are per run and unknown at deploy time.';

function acknowledge(scope: IConstruct, reasons: Record<string, string>): void {
  for (const [id, reason] of Object.entries(reasons)) Validations.of(scope).acknowledge({ id, reason });
}

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}
