import { Duration } from 'aws-cdk-lib';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { InvalidInputError } from '../../functions/errors.js';

/** What a scheduled execution asks for: a real run that only migrates what changed since the last one. */
const SCHEDULED_RUN_INPUT = { dryRun: false, incremental: true, preserveEmbeddings: true } as const;

export interface MigrationScheduleProps {
  stateMachine: IStateMachine;
  /** `rate(…)`, `cron(…)` or `at(…)`, as EventBridge Scheduler writes them. */
  expression: string;
}

/** Starts incremental reruns of the migration on a schedule; its role may start only this state machine. */
export class MigrationSchedule extends Construct {
  readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: MigrationScheduleProps) {
    super(scope, id);
    if (!/^(rate|cron|at)\(.+\)$/.test(props.expression)) {
      throw new InvalidInputError(
        'The schedule must be an EventBridge Scheduler expression: rate(…), cron(…) or at(…)',
        {
          context: { expression: props.expression },
        },
      );
    }
    this.schedule = new Schedule(this, 'Schedule', {
      description: 'Incremental BigMemory → Federated Memory migration',
      schedule: ScheduleExpression.expression(props.expression),
      target: new StepFunctionsStartExecution(props.stateMachine, {
        input: ScheduleTargetInput.fromObject(SCHEDULED_RUN_INPUT),
        // A missed start is picked up by the next one (runs are incremental): no day-long retrying.
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
      }),
    });
  }
}
