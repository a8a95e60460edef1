import { ArnFormat, Stack, Token, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { RDS_SNAPSHOT_PREFIX } from '../../functions/snapshot/rds-snapshots.js';
import type { MigrationConfig } from '../migration-config.js';

/**
 * Lets the Snapshot function make RDS-native snapshots of exactly the instances/clusters named in
 * context, under the project's snapshot name prefix, and tells it their identifiers. Nothing is
 * granted when none is named: `snapshot: "rds"` then fails with RDS's access-denied message.
 */
export function grantRdsSnapshots(fn: LambdaFunction, rds: MigrationConfig['rds']): void {
  const stack = Stack.of(fn);
  const arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'rds', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const environment: Record<string, string | undefined> = {
    RDS_SOURCE_INSTANCE: rds.sourceInstance,
    RDS_SOURCE_CLUSTER: rds.sourceCluster,
    RDS_TARGET_INSTANCE: rds.targetInstance,
    RDS_TARGET_CLUSTER: rds.targetCluster,
  };
  for (const [name, value] of Object.entries(environment)) if (value) fn.addEnvironment(name, value);

  const instances = [...new Set([rds.sourceInstance, rds.targetInstance].filter((i): i is string => !!i))];
  const clusters = [...new Set([rds.sourceCluster, rds.targetCluster].filter((c): c is string => !!c))];
  const snapshots = arn('snapshot', `${RDS_SNAPSHOT_PREFIX}*`);
  const clusterSnapshots = arn('cluster-snapshot', `${RDS_SNAPSHOT_PREFIX}*`);
  if (instances.length > 0) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots'],
        resources: [...instances.map((i) => arn('db', i)), snapshots],
      }),
    );
  }
  if (clusters.length > 0) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots'],
        resources: [...clusters.map((c) => arn('cluster', c)), clusterSnapshots],
      }),
    );
  }
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const reason =
    'Snapshot names are per run (bigmemory-migration-<run>-<db>) and unknown at deploy time; the prefix limits the function to snapshots this project creates.';
  for (const resource of [
    ...(instances.length > 0 ? [`snapshot:${RDS_SNAPSHOT_PREFIX}*`] : []),
    ...(clusters.length > 0 ? [`cluster-snapshot:${RDS_SNAPSHOT_PREFIX}*`] : []),
  ]) {
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds:${region}:${account}:${resource}]`,
      reason,
    });
  }
}
