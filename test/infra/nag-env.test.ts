import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { cdkJsonContext } from '../../infra/migration-app.js';
import { MigrationStack } from '../../infra/migration-stack.js';

describe('cdk-nag AwsSolutions with a concrete environment', () => {
  it('finds nothing unacknowledged when the stack names its account and region (as `cdk synth` does)', () => {
    // Prepare: `cdk synth` passes CDK_DEFAULT_REGION, so ARNs in findings carry the region itself
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new MigrationStack(app, 'BigMemoryMigration', {
      env: { account: '123456789012', region: 'eu-west-1' },
    });

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack.node.root);

    // Assess
    expect(
      report.violations.map(
        (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`,
      ),
    ).toEqual([]);
  });
});
