import { S3Client } from '@aws-sdk/client-s3';
import { synthesizeDefinitionApart } from '../../functions/local/definition-process.js';
import { type LocalExecutionResult, runLocalExecution } from '../../functions/local/local-execution.js';
import { localLambdaHandlers } from '../../functions/local/local-handlers.js';
import {
  createMigrationRuntime,
  embeddingRetryFromEnv,
  type MigrationRuntime,
} from '../../functions/runtime/migration-runtime.js';
import type { StepName } from '../../functions/steps/index.js';
import type { PlanResult } from '../../functions/steps/plan.js';
import type { SnapshotResult } from '../../functions/steps/snapshot.js';
import { FileRunStore, type RunStore, S3RunStore } from '../../functions/store/run-store.js';
import type { DatabaseConnections } from './database-flags.js';
import { announceStep, ProgressBar } from './progress.js';

export interface StoreChoice {
  store: RunStore;
  bucket: string;
  s3?: S3Client;
}

/**
 * Where a local run keeps its artefacts: an S3 bucket when one is named (`--bucket` or
 * MIGRATION_BUCKET, at AWS_ENDPOINT_URL when set), otherwise a folder (default ./reports).
 */
export function chooseRunStore(options: { bucket?: string; reportsDir?: string }): StoreChoice {
  const bucket = options.bucket ?? process.env.MIGRATION_BUCKET;
  if (bucket) {
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    // S3-compatible stores (MinIO, LocalStack, s3rver) reject the SDK's default CRC32 checksums.
    const s3 = new S3Client(
      endpoint
        ? {
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }
        : {},
    );
    return { store: new S3RunStore(s3, bucket), bucket, s3 };
  }
  return { store: new FileRunStore(options.reportsDir ?? 'reports'), bucket: 'local-run-store' };
}

/** What the progress output calls the steps that run once (the Maps' steps get progress bars). */
const STEP_LABELS: Partial<Record<StepName, string>> = {
  Preflight: 'preflight',
  Snapshot: 'snapshot',
  Users: 'users',
  Plan: 'plan',
  EmbeddingBatches: 'Batch API embeddings',
  RebuildCmi: 'rebuilding the CMI',
  Verify: 'reconciling',
  VerifySearch: 'checking search',
  Report: 'writing the report',
  Rollback: 'rolling back',
  Restore: 'restoring',
};

export type LocalMigrationOptions = DatabaseConnections & {
  input: Record<string, unknown>;
  storeChoice: StoreChoice;
  /** The Maps' MaxConcurrency, as the deployed stack's context sets it. */
  concurrency: number;
  executionName?: string;
  progress?: boolean;
  /** Replaces every retry's backoff (tests); by default the definition's own intervals. */
  retryIntervalMs?: number;
};

function missingUrl(database: string): never {
  throw new Error(`no ${database} database URL: this run reaches its databases through the RDS Data API`);
}

export interface LocalMigrationResult extends LocalExecutionResult {
  seconds: number;
}

/**
 * Runs the state machine the CDK app synthesizes in this process, every Lambda task bound to its
 * step. The same definition `cdk deploy` puts into AWS; only the clients differ. The synthesis
 * itself runs in a child process, which keeps aws-cdk-lib out of this one.
 */
export async function runLocalMigration(options: LocalMigrationOptions): Promise<LocalMigrationResult> {
  const { store, bucket, s3 } = options.storeChoice;
  const runtime: MigrationRuntime = createMigrationRuntime({
    store,
    s3,
    // With the Data API the URLs are never asked for.
    sourceUrl: async () => options.sourceUrl ?? missingUrl('source'),
    targetUrl: async () => options.targetUrl ?? missingUrl('target'),
    dataApi: options.dataApi,
    poolSize: options.concurrency + 1,
    openAiApiKey: async () => process.env.OPENAI_API_KEY,
    // Any OpenAI-compatible server: a gateway, or a self-hosted one such as vLLM, Ollama or LiteLLM.
    openAiBaseUrl: () => process.env.OPENAI_BASE_URL?.trim() || undefined,
    embeddingRetry: embeddingRetryFromEnv(process.env),
    embeddingWorkers: options.concurrency,
    progress:
      options.progress === false
        ? undefined
        : (label, total) => {
            const meter = new ProgressBar(label, total, 'rows');
            meter.begin();
            return meter;
          },
  });
  const definition = await synthesizeDefinitionApart({
    bucket,
    context: { 'bigmemory-migration:maxConcurrency': options.concurrency },
  });
  const steps = localLambdaHandlers(runtime);
  const bar = options.progress === false ? null : new ProgressBar('migrating', 0);
  const relationshipBar = options.progress === false ? null : new ProgressBar('relationships', 0);
  const verifyBar = options.progress === false ? null : new ProgressBar('verifying', 0, 'slices');
  const announced = Object.fromEntries(
    Object.entries(steps).map(([name, handler]) => {
      const label = options.progress === false ? undefined : STEP_LABELS[name as StepName];
      return [name, label ? (event: unknown) => announceStep(label, () => handler(event)) : handler];
    }),
  ) as typeof steps;
  const handlers = {
    ...announced,
    Plan: async (event: unknown) => {
      const plan = (await announced.Plan(event)) as PlanResult;
      bar?.setTotal(plan.batchCount);
      relationshipBar?.setTotal(plan.relationBatchCount);
      verifyBar?.setTotal(plan.verifySliceCount);
      return plan;
    },
    Snapshot: async (event: unknown) => {
      const result = (await announced.Snapshot(event)) as SnapshotResult;
      const logical = result.logical;
      if (logical && options.progress !== false) {
        const bytes = Object.values(logical.databases).reduce((n, d) => n + (d?.bytes ?? 0), 0);
        process.stderr.write(
          `snapshot of both databases: ${logical.location} (${(bytes / 1e6).toFixed(1)} MB)\n`,
        );
      }
      return result;
    },
    MigrateBatch: async (event: unknown) => {
      bar?.begin();
      const result = (await steps.MigrateBatch(event)) as { migrated: number; rejected: number };
      bar?.tick(1);
      return result;
    },
    MigrateRelationships: async (event: unknown) => {
      relationshipBar?.begin();
      const result = await steps.MigrateRelationships(event);
      relationshipBar?.tick(1);
      return result;
    },
    VerifySlice: async (event: unknown) => {
      verifyBar?.begin();
      const result = await steps.VerifySlice(event);
      verifyBar?.tick(1);
      return result;
    },
  };
  const started = performance.now();
  try {
    const result = await runLocalExecution({
      definition,
      validated: true,
      handlers,
      input: options.input,
      bucket,
      s3Client: s3,
      readObject: (key) => store.get(key),
      executionName: options.executionName,
      failureReport: announced.Report,
      retryIntervalMs: options.retryIntervalMs,
    });
    return { ...result, seconds: (performance.now() - started) / 1000 };
  } finally {
    // runLocalExecution returns only once every task it started has settled.
    await runtime.close();
  }
}
