import { Duration } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ExecutionFailedEvent } from '../../functions/steps/report.js';

export interface FailureReportRuleProps {
  stateMachine: IStateMachine;
  report: IFunction;
}

/** The execution statuses after which a failure report is written; each can be redriven. */
const REPORTED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * Writes the failure report when an execution ends unsuccessfully, from outside the definition:
 * the definition catches nothing, so that a failed execution stays redrivable from the state that
 * failed (see migration-definition.ts). Step Functions sends every status change of a Standard
 * execution to EventBridge; this rule passes the failed ones to the Report function with the
 * execution's name (the run id), input and error. A redriven execution that fails again is
 * reported again; one that succeeds ends in the Report state's own report.
 */
export class FailureReportRule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: FailureReportRuleProps) {
    super(scope, id);
    const event: Record<keyof ExecutionFailedEvent, unknown> = {
      failed: true,
      executionName: EventField.fromPath('$.detail.name'),
      executionStatus: EventField.fromPath('$.detail.status'),
      input: EventField.fromPath('$.detail.input'),
      error: { Error: EventField.fromPath('$.detail.error'), Cause: EventField.fromPath('$.detail.cause') },
    };
    this.rule = new Rule(this, 'ExecutionFailed', {
      description: 'Writes the migration failure report when an execution fails, times out or is aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...REPORTED_EXECUTION_STATUSES],
          stateMachineArn: [props.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new LambdaFunction(props.report, {
          event: RuleTargetInput.fromObject(event),
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
