import { Template } from 'aws-cdk-lib/assertions';
import type { AslDefinition } from '../../functions/local/asl-definition.js';
import { inProcessMigrationStack } from '../../infra/migration-app.js';
import type { MigrationStack } from '../../infra/migration-stack.js';

export const SCHEDULE_CONTEXT = { 'bigmemory-migration:schedule': 'rate(1 day)' };

/** The stack with cdk.json's context plus `context`, bundling skipped, and its template. */
export function synthesize(context: Record<string, unknown> = {}): {
  stack: MigrationStack;
  template: Template;
} {
  const stack = inProcessMigrationStack({ context });
  return { stack, template: Template.fromStack(stack) };
}

export function logicalIdOf(stack: MigrationStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;
}

/** The state machine's definition, its tokens written as `<LogicalId.Attr>` / `<Ref>` (cdk-nag's notation) so it parses. */
export function stateMachineDefinition(template: Template): AslDefinition {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  if (!machine) throw new Error('The template has no state machine');
  const [, parts] = machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
      return token.Ref ? `<${token.Ref}>` : `<${token['Fn::GetAtt']?.join('.')}>`;
    })
    .join('');
  return JSON.parse(text) as AslDefinition;
}

export interface PolicyStatement {
  Action: string | string[];
  Effect: string;
  Resource: unknown;
}

/** Every statement of the IAM policies attached to a role. */
export function statementsOfRole(template: Template, roleLogicalId: string): PolicyStatement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

export function actionsOf(statement: PolicyStatement): string[] {
  return [statement.Action].flat();
}
