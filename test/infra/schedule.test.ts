import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/errors.js';
import { logicalIdOf, SCHEDULE_CONTEXT, statementsOfRole, synthesize } from './template-queries.js';

describe('Class: MigrationSchedule', () => {
  it('starts an incremental rerun of the state machine on the configured schedule', () => {
    // Act
    const { stack, template } = synthesize(SCHEDULE_CONTEXT);

    // Assess
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 day)',
      State: 'ENABLED',
      Target: {
        Arn: { Ref: logicalIdOf(stack, stack.workflow.stateMachine) },
        Input: JSON.stringify({ dryRun: false, incremental: true, preserveEmbeddings: true }),
      },
    });
  });

  it('gives the schedule a role that may only start this state machine', () => {
    // Prepare
    const { stack, template } = synthesize(SCHEDULE_CONTEXT);
    const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    const roleId = schedule?.Properties.Target.RoleArn['Fn::GetAtt'][0] as string;

    // Act
    const statements = statementsOfRole(template, roleId);

    // Assess
    expect(statements).toEqual([
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: { Ref: logicalIdOf(stack, stack.workflow.stateMachine) },
      },
    ]);
  });

  it('creates no schedule unless one is configured', () => {
    // Act
    const { template } = synthesize();

    // Assess
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('rejects an expression EventBridge Scheduler would not take', () => {
    // Act + Assess
    expect(() => synthesize({ 'bigmemory-migration:schedule': 'every day' })).toThrow(InvalidInputError);
  });
});
