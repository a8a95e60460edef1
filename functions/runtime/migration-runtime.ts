import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STEP_SESSIONS } from '../core/connection-needs.js';
import { DataApiPool, type DataApiTarget } from '../db/data-api/data-api-pool.js';
import { openPgDatabase } from '../db/pg/pg-database.js';
import type { Database } from '../db/port.js';
import { RatePacerPool } from '../embed/rate-pacer-pool.js';
import { InvalidInputError, PreflightError } from '../errors.js';
import { type RunStore, S3RunStore } from '../store/run-store.js';
import { resolveDatabaseUrl } from './database-urls.js';

/**
 * The clients a handler works with, created once per Lambda container (or once per local run) and
 * passed in, so tests and the local runner substitute their own.
 */
export interface MigrationRuntime {
  store: RunStore;
  /** How the databases are reached: pg connections, or the RDS Data API (no COPY). */
  driver?: 'pg' | 'data-api';
  sourcePool(): Promise<Database>;
  targetPool(): Promise<Database>;
  /** Reads a user-supplied object: `s3://bucket/key`, or `file://` for local runs. */
  readObject(uri: string): Promise<Buffer>;
  /** Embedding settings for regenerate mode; absent when no API key is configured. */
  openAiApiKey?(): Promise<string | undefined>;
  /** Any OpenAI-compatible server (ending in /v1); undefined leaves the SDK's default, api.openai.com. */
  openAiBaseUrl?(): string | undefined;
  /** How hard the embeddings client tries before a batch fails; the client's defaults where absent. */
  embeddingRetry?: EmbeddingRetrySettings;
  /** This process's shares of the run's embeddings rate budget, lent one per batch in flight. */
  embeddingPacers?: RatePacerPool;
  /**
   * The deployed Map's MaxConcurrency, for Preflight to hold against the servers' connections
   * (the local runner checks its --concurrency itself, before Preflight).
   */
  mapConcurrency?: number;
  /**
   * A meter for a long step's rows, against an estimated total: a local run shows it on the
   * terminal with rate and ETA; a Lambda has none.
   */
  progress?(label: string, total: number): ProgressMeter;
  close(): Promise<void>;
}

interface ProgressMeter {
  tick(by: number): void;
  /** The work is done: an estimated total gives way to what was counted. */
  finish(): void;
}

export interface EmbeddingRetrySettings {
  /** Tries per request, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface RuntimeOptions {
  store: RunStore;
  sourceUrl: () => Promise<string>;
  targetUrl: () => Promise<string>;
  s3?: S3Client;
  poolSize?: number;
  openAiApiKey?: () => Promise<string | undefined>;
  openAiBaseUrl?: () => string | undefined;
  embeddingRetry?: EmbeddingRetrySettings;
  /**
   * Batch workers that share the rate budget at once: the Map's MaxConcurrency (EMBEDDING_WORKERS
   * in the functions' environment). Each keeps to budget / workers.
   */
  embeddingWorkers?: number;
  /** See MigrationRuntime.mapConcurrency. */
  mapConcurrency?: number;
  /** Both databases through the RDS Data API (Aurora without VPC access) instead of pg connections. */
  dataApi?: { client: RDSDataClient; source: DataApiTarget; target: DataApiTarget };
  progress?: MigrationRuntime['progress'];
}

const EMBEDDING_RETRY_VARIABLES = {
  maxAttempts: ['EMBEDDING_MAX_ATTEMPTS', 1],
  baseDelayMs: ['EMBEDDING_BASE_DELAY_MS', 0],
  maxDelayMs: ['EMBEDDING_MAX_DELAY_MS', 0],
} as const;

/**
 * EMBEDDING_MAX_ATTEMPTS, EMBEDDING_BASE_DELAY_MS and EMBEDDING_MAX_DELAY_MS: a deployment facing
 * a strict rate limit waits longer, a test or benchmark against a local server gives up sooner.
 */
export function embeddingRetryFromEnv(env: NodeJS.ProcessEnv): EmbeddingRetrySettings {
  const settings: EmbeddingRetrySettings = {};
  for (const [key, [variable, min]] of Object.entries(EMBEDDING_RETRY_VARIABLES)) {
    const raw = env[variable]?.trim();
    if (!raw) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new InvalidInputError(`${variable} must be an integer ≥ ${min}, got "${raw}"`, {
        context: { variable },
      });
    }
    settings[key as keyof EmbeddingRetrySettings] = value;
  }
  return settings;
}

/** EMBEDDING_WORKERS: the stack sets it to the Map's MaxConcurrency. */
function embeddingWorkersFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.EMBEDDING_WORKERS?.trim();
  if (!raw) return 1;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidInputError(`EMBEDDING_WORKERS must be an integer ≥ 1, got "${raw}"`, {
      context: { variable: 'EMBEDDING_WORKERS' },
    });
  }
  return value;
}

function lazyPool(
  url: () => Promise<string>,
  role: string,
  max: number,
): { get(): Promise<Database>; end(): Promise<void> } {
  let pool: Promise<Database> | undefined;
  // The URL outlives the pools (a Lambda closes them after every invocation): its secret is read
  // once, and again only after a failure.
  let resolved: Promise<string> | undefined;
  return {
    get() {
      resolved ??= url();
      pool ??= resolved.then((connectionString) =>
        openPgDatabase({
          connectionString,
          max,
          connectionTimeoutMillis: 10_000,
          idleTimeoutMillis: 30_000,
          // Every session in UTC, whatever the server's or the database's TimeZone: a zone-less
          // timestamp (source or target) holds UTC, and the server converts it to and from
          // timestamptz (comparisons with the watermark, upserts through staging) in the session's
          // zone; any other zone would move each timestamp on every rerun.
          options: '-c TimeZone=UTC',
        }),
      );
      return pool.catch((error) => {
        pool = undefined;
        resolved = undefined;
        throw error instanceof PreflightError
          ? error
          : new PreflightError(`cannot set up the ${role} database pool`, { cause: error });
      });
    },
    async end() {
      // Forgotten before it ends: a get() meanwhile opens a new pool instead of the ending one.
      const ending = pool;
      pool = undefined;
      if (ending) await (await ending.catch(() => undefined))?.end().catch(() => undefined);
    },
  };
}

/** Both databases through the Data API adapter: one shared HTTP client, sessions on demand. */
function dataApiPools(dataApi: NonNullable<RuntimeOptions['dataApi']>) {
  const pool = (target: DataApiTarget) => {
    const shared = new DataApiPool(dataApi.client, target);
    return { get: async (): Promise<Database> => shared, end: async () => undefined };
  };
  return { source: pool(dataApi.source), target: pool(dataApi.target) };
}

export function createMigrationRuntime(options: RuntimeOptions): MigrationRuntime {
  const max = options.poolSize ?? 2;
  const { source, target } = options.dataApi
    ? dataApiPools(options.dataApi)
    : {
        source: lazyPool(options.sourceUrl, 'source', max),
        target: lazyPool(options.targetUrl, 'target', max),
      };
  return {
    store: options.store,
    driver: options.dataApi ? 'data-api' : 'pg',
    sourcePool: () => source.get(),
    targetPool: () => target.get(),
    openAiApiKey: options.openAiApiKey,
    openAiBaseUrl: options.openAiBaseUrl,
    embeddingRetry: options.embeddingRetry,
    embeddingPacers: new RatePacerPool({ workers: options.embeddingWorkers ?? 1 }),
    ...(options.mapConcurrency !== undefined ? { mapConcurrency: options.mapConcurrency } : {}),
    progress: options.progress,
    async readObject(uri: string): Promise<Buffer> {
      if (uri.startsWith('file://')) {
        const path = fileURLToPath(uri);
        return readFile(path).catch((error: unknown) => {
          const code = (error as { code?: string }).code;
          // A file a person named (--user-map, --rules): say which, and what is wrong with it.
          throw new InvalidInputError(
            code === 'ENOENT'
              ? `There is no file ${path} (given as --user-map / --rules): check the path.`
              : `Cannot read ${path} (given as --user-map / --rules): ${(error as Error).message}`,
            { cause: error, context: { path, code } },
          );
        });
      }
      const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
      if (!match) throw new InvalidInputError(`${uri} is not an s3://bucket/key or file:// URI`);
      const s3 = options.s3 ?? new S3Client({});
      const out = await s3.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
      return Buffer.from(await out.Body!.transformToByteArray());
    },
    async close() {
      await Promise.all([source.end(), target.end()]);
    },
  };
}

/**
 * SOURCE_/TARGET_DATA_API_CLUSTER_ARN and _DATABASE (the stack sets them when deployed for the
 * Data API): the database secrets are then the clusters' RDS credential secrets, passed to the
 * Data API by ARN and never read here.
 */
export function dataApiFromEnv(env: NodeJS.ProcessEnv, client?: RDSDataClient): RuntimeOptions['dataApi'] {
  const sourceArn = env.SOURCE_DATA_API_CLUSTER_ARN?.trim();
  const targetArn = env.TARGET_DATA_API_CLUSTER_ARN?.trim();
  if (!sourceArn && !targetArn) return undefined;
  const sourceSecret = env.SOURCE_DATABASE_SECRET_ARN?.trim();
  const targetSecret = env.TARGET_DATABASE_SECRET_ARN?.trim();
  if (!sourceArn || !targetArn || !sourceSecret || !targetSecret) {
    throw new PreflightError(
      'The RDS Data API needs SOURCE_ and TARGET_DATA_API_CLUSTER_ARN and both database secret ARNs (SOURCE_/TARGET_DATABASE_SECRET_ARN)',
    );
  }
  return {
    client: client ?? new RDSDataClient({}),
    source: {
      resourceArn: sourceArn,
      secretArn: sourceSecret,
      database: env.SOURCE_DATA_API_DATABASE?.trim() || undefined,
    },
    target: {
      resourceArn: targetArn,
      secretArn: targetSecret,
      database: env.TARGET_DATA_API_DATABASE?.trim() || undefined,
    },
  };
}

let awsRuntime: MigrationRuntime | undefined;

/** Wraps an AWS SDK client, e.g. to trace its calls; the identity where nothing traces. */
export type ClientInstrument = <T extends object>(client: T) => T;

/** The runtime of a Lambda container, built from its environment on first use. */
export function awsMigrationRuntime(
  env: NodeJS.ProcessEnv = process.env,
  instrument: ClientInstrument = (client) => client,
): MigrationRuntime {
  if (awsRuntime) return awsRuntime;
  const bucket = env.RUN_BUCKET;
  if (!bucket) throw new PreflightError('RUN_BUCKET is not set in the function environment');
  const s3 = instrument(new S3Client({}));
  let secrets: SecretsManagerClient | undefined;
  const secretsClient = () => {
    secrets ??= instrument(new SecretsManagerClient({}));
    return secrets;
  };
  awsRuntime = createMigrationRuntime({
    store: new S3RunStore(s3, bucket),
    s3,
    // Verify runs four groups of checks side by side, each on a connection to each database; the
    // pools open connections only when asked, so a step that needs fewer holds fewer. Preflight
    // counts on this many (core/connection-needs.ts).
    poolSize: STEP_SESSIONS,
    sourceUrl: () => resolveDatabaseUrl('source', env, secretsClient),
    targetUrl: () => resolveDatabaseUrl('target', env, secretsClient),
    dataApi: dataApiFromEnv(
      env,
      env.SOURCE_DATA_API_CLUSTER_ARN ? instrument(new RDSDataClient({})) : undefined,
    ),
    async openAiApiKey() {
      const arn = env.OPENAI_API_KEY_SECRET_ARN;
      if (!arn) return env.OPENAI_API_KEY;
      const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
      const out = await secretsClient().send(new GetSecretValueCommand({ SecretId: arn }));
      return out.SecretString?.trim() || undefined;
    },
    openAiBaseUrl: () => env.OPENAI_BASE_URL?.trim() || undefined,
    embeddingRetry: embeddingRetryFromEnv(env),
    embeddingWorkers: embeddingWorkersFromEnv(env),
    ...(env.EMBEDDING_WORKERS?.trim() ? { mapConcurrency: embeddingWorkersFromEnv(env) } : {}),
  });
  return awsRuntime;
}
