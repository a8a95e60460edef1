import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { MigrationConfig } from '../migration-config.js';
import type { MigrationFunction } from './migration-function.js';

const DATA_API_ACTIONS = [
  'rds-data:ExecuteStatement',
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
];

/** The functions' environment for the Data API driver (cluster ARNs and database names, no secrets). */
export function dataApiEnvironment(dataApi: MigrationConfig['dataApi']): Record<string, string> {
  if (!dataApi) return {};
  return {
    SOURCE_DATA_API_CLUSTER_ARN: dataApi.sourceClusterArn,
    SOURCE_DATA_API_DATABASE: dataApi.sourceDatabase,
    TARGET_DATA_API_CLUSTER_ARN: dataApi.targetClusterArn,
    TARGET_DATA_API_DATABASE: dataApi.targetDatabase,
  };
}

/** Lets a function call the Data API on exactly the two clusters (its secrets are granted apart). */
export function grantDataApi(fn: MigrationFunction, dataApi: MigrationConfig['dataApi']): void {
  if (!dataApi) return;
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: DATA_API_ACTIONS,
      resources: [...new Set([dataApi.sourceClusterArn, dataApi.targetClusterArn])],
    }),
  );
}
