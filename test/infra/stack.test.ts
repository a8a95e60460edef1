import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/errors.js';
import { STEP_NAMES, STEPS, type StepName } from '../../functions/steps/index.js';
import type { MigrationStack } from '../../infra/migration-stack.js';
import {
  actionsOf,
  logicalIdOf,
  type PolicyStatement,
  statementsOfRole,
  synthesize,
} from './template-queries.js';

const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:migration-alerts';

describe('Class: MigrationStack', () => {
  let stack: MigrationStack;
  let template: Template;

  beforeAll(() => {
    ({ stack, template } = synthesize());
  });

  describe('run bucket', () => {
    it('is encrypted, versioned and blocks public access', () => {
      // Assess
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
      });
    });

    it('expires old runs and noncurrent versions', () => {
      // Assess
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Prefix: 'runs/', ExpirationInDays: 180, Status: 'Enabled' }),
            Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }),
          ]),
        },
      });
    });

    it('denies every request that is not over TLS', () => {
      // Assess
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalIdOf(stack, stack.runBucket.bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });

    it('is kept when the stack is deleted unless told otherwise', () => {
      // Assess
      template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });
  });

  describe('functions', () => {
    it('are one per step of the registry, named as the step', () => {
      // Assess
      expect(Object.keys(stack.functions.byHandler)).toEqual(STEP_NAMES);
    });

    it('run every handler on nodejs24.x, arm64, traced, with the shared sizes', () => {
      // Assess
      template.resourcePropertiesCountIs(
        'AWS::Lambda::Function',
        {
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          MemorySize: 1024,
          Timeout: 900,
          TracingConfig: { Mode: 'Active' },
        },
        STEP_NAMES.length,
      );
    });

    it('log to their own log groups with a retention', () => {
      // Assess
      // One per function, and the state machine's.
      template.resourcePropertiesCountIs(
        'AWS::Logs::LogGroup',
        { RetentionInDays: 90 },
        STEP_NAMES.length + 1,
      );
      template.allResourcesProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^Functions.+Logs') } },
      });
    });

    it('get the bucket name and secret ARNs, never a secret value, in their environment', () => {
      // Prepare
      const functions = Object.values(template.findResources('AWS::Lambda::Function'));

      // Assess
      template.allResourcesProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            RUN_BUCKET: { Ref: logicalIdOf(stack, stack.runBucket.bucket) },
            SOURCE_DATABASE_SECRET_ARN: { Ref: Match.stringLikeRegexp('^SecretsSourceDatabaseUrl') },
            TARGET_DATABASE_SECRET_ARN: { Ref: Match.stringLikeRegexp('^SecretsTargetDatabaseUrl') },
            OPENAI_API_KEY_SECRET_ARN: { Ref: Match.stringLikeRegexp('^SecretsOpenAiApiKey') },
            POWERTOOLS_SERVICE_NAME: 'bigmemory-migration',
            POWERTOOLS_METRICS_NAMESPACE: 'BigMemoryMigration',
            LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
      const environments = JSON.stringify(functions.map((fn) => fn.Properties.Environment));
      expect(environments).not.toMatch(/resolve:secretsmanager|SecretString|REPLACE_ME|postgres(ql)?:\/\//);
    });

    it('point the embeddings client at another OpenAI-compatible endpoint only when context names one', () => {
      // Prepare
      const custom = synthesize({
        'bigmemory-migration:openAiBaseUrl': 'https://llm-gateway.internal/v1',
      }).template;

      // Assess
      custom.allResourcesProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ OPENAI_BASE_URL: 'https://llm-gateway.internal/v1' }) },
      });
      const defaults = JSON.stringify(Object.values(template.findResources('AWS::Lambda::Function')));
      expect(defaults).not.toContain('OPENAI_BASE_URL');
    });

    it("tell the batch workers how many share the embeddings rate budget: the Map's MaxConcurrency", () => {
      // Prepare
      const custom = synthesize({ 'bigmemory-migration:maxConcurrency': 7 }).template;

      // Assess
      custom.allResourcesProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ EMBEDDING_WORKERS: '7' }) },
      });
      template.allResourcesProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ EMBEDDING_WORKERS: '4' }) },
      });
    });
  });

  describe('IAM', () => {
    const bucketAndSecrets = (statement: PolicyStatement) => JSON.stringify(statement.Resource);

    it('lets each function use only the run bucket and the secrets it needs', () => {
      // Prepare
      const bucketId = logicalIdOf(stack, stack.runBucket.bucket);

      for (const [handler, fn] of Object.entries(stack.functions.byHandler)) {
        const roleId = logicalIdOf(stack, fn.role as never);
        const statements = statementsOfRole(template, roleId);

        // Assess
        for (const statement of statements) {
          const actions = actionsOf(statement);
          if (actions.every((action) => action.startsWith('xray:'))) continue;
          const resource = bucketAndSecrets(statement);
          if (actions.some((action) => action.startsWith('s3:'))) expect(resource).toContain(bucketId);
          else expect(actions).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']);
        }
        const readable = statements
          .filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
          .map((statement) => bucketAndSecrets(statement).match(/Secrets(\w+?)[0-9A-F]{8}/)?.[1]);
        const expected = STEPS[handler as StepName].secrets.map(
          (secret) =>
            ({
              sourceDatabase: 'SourceDatabaseUrl',
              targetDatabase: 'TargetDatabaseUrl',
              openAiApiKey: 'OpenAiApiKey',
            })[secret],
        );
        expect(readable.sort()).toEqual([...expected].sort());
      }
    });

    it('grants no RDS action unless context names the instances or clusters to snapshot', () => {
      // Assess
      const rdsActions = Object.values(template.findResources('AWS::IAM::Policy'))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[])
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('rds:'));
      expect(rdsActions).toEqual([]);
    });

    it('lets only the Snapshot function snapshot the named instance and cluster, under the project prefix', () => {
      // Prepare
      const { stack: withRds, template: rdsTemplate } = synthesize({
        'bigmemory-migration:rdsSourceInstance': 'bigmemory-db',
        'bigmemory-migration:rdsTargetCluster': 'federated-aurora',
      });

      // Act
      const byHandler = Object.entries(withRds.functions.byHandler).map(([handler, fn]) => ({
        handler,
        statements: statementsOfRole(rdsTemplate, logicalIdOf(withRds, fn.role as never)).filter((s) =>
          actionsOf(s).some((action) => action.startsWith('rds:')),
        ),
      }));

      // Assess
      expect(byHandler.filter((h) => h.statements.length > 0).map((h) => h.handler)).toEqual(['Snapshot']);
      const statements = byHandler.find((h) => h.handler === 'Snapshot')?.statements ?? [];
      const text = JSON.stringify(statements);
      expect(statements.map(actionsOf)).toEqual([
        ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots'],
        ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots'],
      ]);
      expect(text).toContain(':db:bigmemory-db');
      expect(text).toContain(':snapshot:bigmemory-migration-*');
      expect(text).toContain(':cluster:federated-aurora');
      expect(text).toContain(':cluster-snapshot:bigmemory-migration-*');
      rdsTemplate.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            RDS_SOURCE_INSTANCE: 'bigmemory-db',
            RDS_TARGET_CLUSTER: 'federated-aurora',
          }),
        },
      });
    });

    it('keeps the OpenAI key away from the steps that do not embed', () => {
      // Assess
      expect(STEPS.RebuildCmi.secrets).toEqual(['targetDatabase']);
      expect(STEPS.Users.secrets).not.toContain('openAiApiKey');
      expect(STEPS.MigrateBatch.secrets).toContain('openAiApiKey');
    });

    it('lets the state machine invoke only its functions and use only the run bucket', () => {
      // Prepare
      const roleId = logicalIdOf(stack, stack.workflow.stateMachine.role as never);
      const functionIds = Object.values(stack.functions.byHandler).map((fn) => logicalIdOf(stack, fn));
      const bucketId = logicalIdOf(stack, stack.runBucket.bucket);

      // Act
      const statements = statementsOfRole(template, roleId);

      // Assess
      const invokes = statements.filter((statement) =>
        actionsOf(statement).includes('lambda:InvokeFunction'),
      );
      expect(invokes).toHaveLength(functionIds.length);
      for (const statement of invokes) {
        const resource = JSON.stringify(statement.Resource);
        expect(functionIds.some((id) => resource.includes(`"${id}"`))).toBe(true);
      }
      const s3 = statements.filter((statement) =>
        actionsOf(statement).some((action) => action.startsWith('s3:')),
      );
      expect(s3.length).toBeGreaterThan(0);
      for (const statement of s3) expect(JSON.stringify(statement.Resource)).toContain(bucketId);
      const starts = statements.filter((statement) => actionsOf(statement).includes('states:StartExecution'));
      for (const statement of starts) {
        expect(statement.Resource).toEqual({ Ref: logicalIdOf(stack, stack.workflow.stateMachine) });
      }
    });
  });

  describe('alarms and outputs', () => {
    it('alarms on failed, timed-out and aborted executions of this state machine', () => {
      // Assess
      for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/States',
          MetricName: metric,
          Dimensions: [
            { Name: 'StateMachineArn', Value: { Ref: logicalIdOf(stack, stack.workflow.stateMachine) } },
          ],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it('notifies the SNS topic named in context', () => {
      // Act
      const { template: withTopic } = synthesize({ 'bigmemory-migration:alarmTopicArn': TOPIC_ARN });

      // Assess
      withTopic.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: [TOPIC_ARN] }, 3);
    });

    it('outputs the state machine ARN, the bucket and a console link', () => {
      // Assess
      template.hasOutput('StateMachineArn', {
        Value: { Ref: logicalIdOf(stack, stack.workflow.stateMachine) },
      });
      template.hasOutput('RunBucketName', { Value: { Ref: logicalIdOf(stack, stack.runBucket.bucket) } });
      template.hasOutput('StateMachineConsoleUrl', {
        Value: {
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('console\\.aws\\.amazon\\.com/states/')])],
        },
      });
    });
  });

  describe('secrets and network from context', () => {
    it('references existing secrets by ARN instead of creating them', () => {
      // Prepare
      const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;

      // Act
      const { template: referenced } = synthesize({
        'bigmemory-migration:createSecrets': false,
        'bigmemory-migration:sourceDatabaseSecretArn': arn('source'),
        'bigmemory-migration:targetDatabaseSecretArn': arn('target'),
        'bigmemory-migration:openAiApiKeySecretArn': arn('openai'),
      });

      // Assess
      referenced.resourceCountIs('AWS::SecretsManager::Secret', 0);
      referenced.allResourcesProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ SOURCE_DATABASE_SECRET_ARN: arn('source') }) },
      });
    });

    it('refuses to synthesize without a secret ARN or createSecrets', () => {
      // Act + Assess
      expect(() => synthesize({ 'bigmemory-migration:createSecrets': false })).toThrow(InvalidInputError);
    });

    it('puts the functions in the given subnets behind one security group', () => {
      // Act
      const { template: inVpc } = synthesize({
        'bigmemory-migration:vpcId': 'vpc-0123456789abcdef0',
        'bigmemory-migration:subnetIds': 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
      });

      // Assess
      inVpc.resourceCountIs('AWS::EC2::SecurityGroup', 1);
      inVpc.allResourcesProperties('AWS::Lambda::Function', {
        VpcConfig: {
          SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
          SecurityGroupIds: [
            { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkFunctionsSecurityGroup'), 'GroupId'] },
          ],
        },
      });
    });

    it('runs the functions outside any VPC when none is given', () => {
      // Assess
      template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
      template.allResourcesProperties('AWS::Lambda::Function', { VpcConfig: Match.absent() });
    });
  });
});
