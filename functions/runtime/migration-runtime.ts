import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { InvalidInputError, PreflightError } from '../errors.js';
import { type RunStore, S3RunStore } from '../store/run-store.js';
import { resolveDatabaseUrl } from './database-urls.js';

/**
 * The clients a handler works with, created once per Lambda container (or once per local run) and
 * passed in, so tests and the local runner substitute their own.
 */
export interface MigrationRuntime {
  store: RunStore;
  sourcePool(): Promise<pg.Pool>;
  targetPool(): Promise<pg.Pool>;
  /** Reads a user-supplied object: `s3://bucket/key`, or `file://` for local runs. */
  readObject(uri: string): Promise<Buffer>;
  /** Embedding settings for regenerate mode; absent when no API key is configured. */
  openAiApiKey?(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  store: RunStore;
  sourceUrl: () => Promise<string>;
  targetUrl: () => Promise<string>;
  s3?: S3Client;
  poolSize?: number;
  openAiApiKey?: () => Promise<string | undefined>;
}

function lazyPool(
  url: () => Promise<string>,
  role: string,
  max: number,
): { get(): Promise<pg.Pool>; end(): Promise<void> } {
  let pool: Promise<pg.Pool> | undefined;
  return {
    get() {
      pool ??= url().then((connectionString) => {
        const p = new pg.Pool({
          connectionString,
          max,
          connectionTimeoutMillis: 10_000,
          idleTimeoutMillis: 30_000,
        });
        // An idle client's error must not crash the process; the next query reports it.
        p.on('error', () => undefined);
        return p;
      });
      return pool.catch((error) => {
        pool = undefined;
        throw error instanceof PreflightError
          ? error
          : new PreflightError(`cannot set up the ${role} database pool`, { cause: error });
      });
    },
    async end() {
      if (pool) await (await pool).end().catch(() => undefined);
      pool = undefined;
    },
  };
}

export function createMigrationRuntime(options: RuntimeOptions): MigrationRuntime {
  const max = options.poolSize ?? 2;
  const source = lazyPool(options.sourceUrl, 'source', max);
  const target = lazyPool(options.targetUrl, 'target', max);
  return {
    store: options.store,
    sourcePool: () => source.get(),
    targetPool: () => target.get(),
    openAiApiKey: options.openAiApiKey,
    async readObject(uri: string): Promise<Buffer> {
      if (uri.startsWith('file://')) return readFile(fileURLToPath(uri));
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

let awsRuntime: MigrationRuntime | undefined;

/** The runtime of a Lambda container, built from its environment on first use. */
export function awsMigrationRuntime(env: NodeJS.ProcessEnv = process.env): MigrationRuntime {
  if (awsRuntime) return awsRuntime;
  const bucket = env.RUN_BUCKET;
  if (!bucket) throw new PreflightError('RUN_BUCKET is not set in the function environment');
  const s3 = new S3Client({});
  let secrets: SecretsManagerClient | undefined;
  const secretsClient = () => {
    secrets ??= new SecretsManagerClient({});
    return secrets;
  };
  awsRuntime = createMigrationRuntime({
    store: new S3RunStore(s3, bucket),
    s3,
    sourceUrl: () => resolveDatabaseUrl('source', env, secretsClient),
    targetUrl: () => resolveDatabaseUrl('target', env, secretsClient),
    async openAiApiKey() {
      const arn = env.OPENAI_API_KEY_SECRET_ARN;
      if (!arn) return env.OPENAI_API_KEY;
      const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
      const out = await secretsClient().send(new GetSecretValueCommand({ SecretId: arn }));
      return out.SecretString?.trim() || undefined;
    },
  });
  return awsRuntime;
}
