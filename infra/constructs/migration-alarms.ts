import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface MigrationAlarmsProps {
  stateMachine: StateMachine;
  /** Notify this topic too; without it the alarms only show in the console. */
  alarmTopicArn?: string;
}

/** One alarm per way an execution can end badly: failed, timed out, aborted. */
export class MigrationAlarms extends Construct {
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: MigrationAlarmsProps) {
    super(scope, id);
    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn) : undefined;
    const watched: [string, Metric][] = [
      ['ExecutionsFailed', props.stateMachine.metricFailed()],
      ['ExecutionsTimedOut', props.stateMachine.metricTimedOut()],
      ['ExecutionsAborted', props.stateMachine.metricAborted()],
    ];
    this.alarms = watched.map(([name, metric]) => {
      const alarm = new Alarm(this, name, {
        alarmDescription: `A BigMemory migration execution ended badly (${name}); its failure report is in the run bucket.`,
        metric: metric.with({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (topic) alarm.addAlarmAction(new SnsAction(topic));
      return alarm;
    });
  }
}
