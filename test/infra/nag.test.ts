import { Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { SCHEDULE_CONTEXT, synthesize } from './template-queries.js';

const FULL_CONTEXT = {
  ...SCHEDULE_CONTEXT,
  'bigmemory-migration:vpcId': 'vpc-0123456789abcdef0',
  'bigmemory-migration:subnetIds': 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  'bigmemory-migration:alarmTopicArn': 'arn:aws:sns:us-east-1:123456789012:migration-alerts',
  'bigmemory-migration:rdsSourceInstance': 'bigmemory-db',
  'bigmemory-migration:rdsTargetCluster': 'federated-aurora',
};

function acknowledgements(root: IConstruct): { id: string; reason: string }[] {
  return root.node
    .findAll()
    .flatMap((construct) => construct.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
    .map(([id, reason]) => ({ id, reason }));
}

// cdk-nag 3 is a policy-validation plugin: findings go to the validation report, not to annotations,
// so the pack is run on the synthesized tree directly (`validateScope`), as its docs say for tests.
describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['default context', {}],
    ['schedule, VPC, alarm topic and RDS snapshots', FULL_CONTEXT],
  ])('finds nothing unacknowledged with %s', (_label, context) => {
    // Prepare
    const { stack } = synthesize(context);

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack.node.root);

    // Assess
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('still finds what an acknowledgement did not cover', () => {
    // Prepare
    const { stack } = synthesize();
    // A bucket outside the reviewed constructs carries none of their acknowledgements.
    new Bucket(stack, 'UnreviewedBucket');

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack.node.root);

    // Assess
    expect(report.success).toBe(false);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual(
      expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']),
    );
  });

  it('gives every acknowledgement a reason', () => {
    // Prepare
    const { stack } = synthesize(FULL_CONTEXT);

    // Act
    const acknowledged = acknowledgements(stack.node.root);

    // Assess
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).toMatch(/AwsSolutions-/);
      expect(reason.length).toBeGreaterThan(40);
    }
  });
});
