import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/errors.js';
import { dataApiFromEnv } from '../../functions/runtime/migration-runtime.js';
import { actionsOf, type PolicyStatement, synthesize } from './template-queries.js';

const SOURCE_CLUSTER = 'arn:aws:rds:us-east-1:123456789012:cluster:bigmemory';
const TARGET_CLUSTER = 'arn:aws:rds:us-east-1:123456789012:cluster:federated';
const DATA_API_CONTEXT = {
  'bigmemory-migration:dataApiSourceClusterArn': SOURCE_CLUSTER,
  'bigmemory-migration:dataApiSourceDatabase': 'bigmemory',
  'bigmemory-migration:dataApiTargetClusterArn': TARGET_CLUSTER,
  'bigmemory-migration:dataApiTargetDatabase': 'federated',
};

const dataApiStatements = (template: ReturnType<typeof synthesize>['template']) =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[])
    .filter((s) => actionsOf(s).some((a) => a.startsWith('rds-data:')));

describe('RDS Data API deployment', () => {
  it('gives every function the clusters and databases, and Data API calls on exactly those clusters', () => {
    // Act
    const { template } = synthesize(DATA_API_CONTEXT);

    // Assess
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.RUN_BUCKET,
    );
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        SOURCE_DATA_API_CLUSTER_ARN: SOURCE_CLUSTER,
        SOURCE_DATA_API_DATABASE: 'bigmemory',
        TARGET_DATA_API_CLUSTER_ARN: TARGET_CLUSTER,
        TARGET_DATA_API_DATABASE: 'federated',
      });
    }
    const statements = dataApiStatements(template);
    expect(statements).toHaveLength(functions.length);
    for (const s of statements) expect(s.Resource).toEqual([SOURCE_CLUSTER, TARGET_CLUSTER]);
  });

  it('grants no Data API call without that context', () => {
    expect(dataApiStatements(synthesize().template)).toEqual([]);
  });

  it('refuses half a Data API configuration', () => {
    expect(() => synthesize({ 'bigmemory-migration:dataApiSourceClusterArn': SOURCE_CLUSTER })).toThrow(
      InvalidInputError,
    );
  });

  it('builds the runtime from the function environment, secrets by ARN only', () => {
    const env = {
      SOURCE_DATA_API_CLUSTER_ARN: SOURCE_CLUSTER,
      SOURCE_DATA_API_DATABASE: 'bigmemory',
      TARGET_DATA_API_CLUSTER_ARN: TARGET_CLUSTER,
      TARGET_DATA_API_DATABASE: 'federated',
      SOURCE_DATABASE_SECRET_ARN: 'arn:source-secret',
      TARGET_DATABASE_SECRET_ARN: 'arn:target-secret',
    };
    const dataApi = dataApiFromEnv(env);
    expect(dataApi?.source).toEqual({
      resourceArn: SOURCE_CLUSTER,
      secretArn: 'arn:source-secret',
      database: 'bigmemory',
    });
    expect(dataApi?.target).toEqual({
      resourceArn: TARGET_CLUSTER,
      secretArn: 'arn:target-secret',
      database: 'federated',
    });
    expect(dataApiFromEnv({})).toBeUndefined();
    expect(() => dataApiFromEnv({ SOURCE_DATA_API_CLUSTER_ARN: SOURCE_CLUSTER })).toThrow(
      /needs SOURCE_ and TARGET_/,
    );
  });
});
