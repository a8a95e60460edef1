import type { Duration } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { STEP_NAMES, STEPS, type StepName } from '../../functions/steps/index.js';
import type { MigrationConfig } from '../migration-config.js';
import { dataApiEnvironment, grantDataApi } from './data-api-access.js';
import { MigrationFunction } from './migration-function.js';
import type { MigrationSecrets } from './migration-secrets.js';

export interface MigrationFunctionsProps {
  bucket: IBucket;
  secrets: MigrationSecrets;
  timeout: Duration;
  memorySize: number;
  logRetention: RetentionDays;
  logLevel: string;
  /** An OpenAI-compatible endpoint other than api.openai.com (not a secret: the key stays in its secret). */
  openAiBaseUrl?: string;
  /** The Map's MaxConcurrency: the batch workers that split the embeddings rate budget. */
  embeddingWorkers?: number;
  /** Both databases through the RDS Data API instead of pg connections. */
  dataApi?: MigrationConfig['dataApi'];
  vpc?: IVpc;
  vpcSubnets?: SubnetSelection;
  securityGroups?: ISecurityGroup[];
}

/**
 * One function per step of the registry (functions/steps/index.ts), each allowed the run bucket
 * and only the secrets its registry entry names.
 */
export class MigrationFunctions extends Construct {
  readonly byHandler: Record<StepName, MigrationFunction>;

  constructor(scope: Construct, id: string, props: MigrationFunctionsProps) {
    super(scope, id);
    // ARNs only: a secret's value is read by the function at run time, never put in its configuration.
    const environment = {
      RUN_BUCKET: props.bucket.bucketName,
      SOURCE_DATABASE_SECRET_ARN: props.secrets.sourceDatabase.secretArn,
      TARGET_DATABASE_SECRET_ARN: props.secrets.targetDatabase.secretArn,
      OPENAI_API_KEY_SECRET_ARN: props.secrets.openAiApiKey.secretArn,
      POWERTOOLS_SERVICE_NAME: 'bigmemory-migration',
      POWERTOOLS_METRICS_NAMESPACE: 'BigMemoryMigration',
      LOG_LEVEL: props.logLevel,
      ...(props.openAiBaseUrl ? { OPENAI_BASE_URL: props.openAiBaseUrl } : {}),
      ...(props.embeddingWorkers ? { EMBEDDING_WORKERS: String(props.embeddingWorkers) } : {}),
      ...dataApiEnvironment(props.dataApi),
    };
    const entries = STEP_NAMES.map((handler) => {
      const fn = new MigrationFunction(this, handler, {
        handler,
        environment,
        timeout: props.timeout,
        memorySize: props.memorySize,
        logRetention: props.logRetention,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroups: props.securityGroups,
      });
      props.bucket.grantReadWrite(fn);
      for (const secret of STEPS[handler].secrets) props.secrets[secret].grantRead(fn);
      grantDataApi(fn, props.dataApi);
      return [handler, fn] as const;
    });
    this.byHandler = Object.fromEntries(entries) as Record<StepName, MigrationFunction>;
  }
}
