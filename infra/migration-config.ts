import type { Node } from 'constructs';
import { InvalidInputError } from '../functions/errors.js';

/** Prefix of every context key this app reads (`cdk.json`, or `-c bigmemory-migration:key=value`). */
export const CONTEXT_PREFIX = 'bigmemory-migration';

/** What a deployment can be told through CDK context, read once and checked at synth time. */
export interface MigrationConfig {
  /** Distributed Map child executions at once: each holds database connections, so this protects the DB. */
  maxConcurrency: number;
  /** Lambda timeout of every migration function; a batch of `batchSize` rows must fit in it. */
  functionTimeoutMinutes: number;
  functionMemoryMb: number;
  logRetentionDays: number;
  logLevel: string;
  /** Days a run's objects (reports, decisions, map results) stay in the bucket. */
  runRetentionDays: number;
  /** An EventBridge Scheduler expression (`rate(1 day)`, `cron(0 3 * * ? *)`); no schedule when absent. */
  schedule?: string;
  /** LocalStack/dev: the stack creates the secrets with placeholder values to fill in by hand. */
  createSecrets: boolean;
  sourceDatabaseSecretArn?: string;
  targetDatabaseSecretArn?: string;
  openAiApiKeySecretArn?: string;
  vpcId?: string;
  subnetIds: string[];
  securityGroupIds: string[];
  /** Alarms notify this SNS topic when given. */
  alarmTopicArn?: string;
  /** OPENAI_BASE_URL of the functions: any OpenAI-compatible embeddings endpoint. */
  openAiBaseUrl?: string;
  /** Keep the bucket and its runs when the stack is deleted (default), or empty and delete it. */
  destroyRunBucket: boolean;
  /**
   * Aurora clusters reached through the RDS Data API instead of pg connections (no VPC needed): the
   * cluster ARN and database name of each side. The database secrets are then the clusters' RDS
   * credential secrets (username/password JSON), which the Data API reads on the caller's behalf.
   */
  dataApi?: {
    sourceClusterArn: string;
    sourceDatabase: string;
    targetClusterArn: string;
    targetDatabase: string;
  };
  /**
   * The RDS instances/clusters holding the two databases, for `snapshot: "rds" | "both"`. The
   * Snapshot function may snapshot exactly these (IAM); the execution input's `rds` can only name them.
   */
  rds: {
    sourceInstance?: string;
    sourceCluster?: string;
    targetInstance?: string;
    targetCluster?: string;
  };
}

/** Reads the app's context; values typed on the command line arrive as strings, so both are accepted. */
export function readMigrationConfig(node: Node): MigrationConfig {
  const read = (key: string): unknown => node.tryGetContext(`${CONTEXT_PREFIX}:${key}`);
  return {
    maxConcurrency: positiveInteger(read('maxConcurrency'), 4, 'maxConcurrency'),
    functionTimeoutMinutes: positiveInteger(read('functionTimeoutMinutes'), 15, 'functionTimeoutMinutes'),
    functionMemoryMb: positiveInteger(read('functionMemoryMb'), 1024, 'functionMemoryMb'),
    logRetentionDays: positiveInteger(read('logRetentionDays'), 90, 'logRetentionDays'),
    logLevel: optionalString(read('logLevel')) ?? 'INFO',
    runRetentionDays: positiveInteger(read('runRetentionDays'), 180, 'runRetentionDays'),
    schedule: optionalString(read('schedule')),
    createSecrets: flag(read('createSecrets')),
    sourceDatabaseSecretArn: optionalString(read('sourceDatabaseSecretArn')),
    targetDatabaseSecretArn: optionalString(read('targetDatabaseSecretArn')),
    openAiApiKeySecretArn: optionalString(read('openAiApiKeySecretArn')),
    vpcId: optionalString(read('vpcId')),
    subnetIds: stringList(read('subnetIds')),
    securityGroupIds: stringList(read('securityGroupIds')),
    alarmTopicArn: optionalString(read('alarmTopicArn')),
    openAiBaseUrl: optionalString(read('openAiBaseUrl')),
    destroyRunBucket: flag(read('destroyRunBucket')),
    dataApi: dataApiConfig(read),
    rds: {
      sourceInstance: optionalString(read('rdsSourceInstance')),
      sourceCluster: optionalString(read('rdsSourceCluster')),
      targetInstance: optionalString(read('rdsTargetInstance')),
      targetCluster: optionalString(read('rdsTargetCluster')),
    },
  };
}

const DATA_API_KEYS = [
  'dataApiSourceClusterArn',
  'dataApiSourceDatabase',
  'dataApiTargetClusterArn',
  'dataApiTargetDatabase',
] as const;

/** All four Data API keys, or none: half a Data API configuration would reach one database by pg. */
function dataApiConfig(read: (key: string) => unknown): MigrationConfig['dataApi'] {
  const values = DATA_API_KEYS.map((key) => optionalString(read(key)));
  if (values.every((v) => v === undefined)) return undefined;
  const missing = DATA_API_KEYS.filter((_, i) => values[i] === undefined);
  if (missing.length > 0) {
    throw new InvalidInputError(
      `The RDS Data API needs all of ${DATA_API_KEYS.map((k) => `${CONTEXT_PREFIX}:${k}`).join(', ')}; missing ${missing.join(', ')}`,
      { context: { missing } },
    );
  }
  const [sourceClusterArn, sourceDatabase, targetClusterArn, targetDatabase] = values as string[];
  return {
    sourceClusterArn: sourceClusterArn as string,
    sourceDatabase: sourceDatabase as string,
    targetClusterArn: targetClusterArn as string,
    targetDatabase: targetDatabase as string,
  };
}

function positiveInteger(value: unknown, fallback: number, key: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidInputError(`Context ${CONTEXT_PREFIX}:${key} must be a positive integer`, {
      context: { key, value },
    });
  }
  return parsed;
}

function optionalString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

function flag(value: unknown): boolean {
  return value === true || value === 'true';
}

/** A JSON array, or a comma-separated string as typed with `-c`. */
function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String).filter((item) => item !== '');
  const text = optionalString(value);
  if (!text) return [];
  if (text.startsWith('[')) return stringList(JSON.parse(text) as unknown);
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
