import {
  connectionsNeeded,
  connectionsPerMapItem,
  type DatabaseRole,
  STEP_SESSIONS,
  widestFittingMap,
} from '../core/connection-needs.js';
import { ModuleRegistry } from '../core/modules.js';
import { loadRules } from '../core/rules.js';
import {
  embedModeOf,
  type MigrationInput,
  parseMigrationInput,
  runIdFrom,
  runLayout,
  snapshotModeOf,
  toleratedFailuresOf,
} from '../core/run-options.js';
import { parseUserMap, validateUserMap } from '../core/user-map.js';
import { connectionBudget } from '../db/connection-budget.js';
import { ping } from '../db/ping.js';
import type { Database } from '../db/port.js';
import { ensureLedger, lastSuccessfulWatermark, recordRunStart } from '../db/run-ledger.js';
import { acquireRunLock } from '../db/run-lock.js';
import { countSource } from '../db/source-counts.js';
import { introspectSource, type SourceSchema } from '../db/source-schema.js';
import { checkPgvector, inspectTarget, type TargetLayout } from '../db/target-schema.js';
import { readUserMapIds } from '../db/user-map-ids.js';
import { DEFAULT_EMBEDDING_BATCH_POLL_SECONDS } from '../embed/batch-api.js';
import {
  DEFAULT_EMBEDDING_DIMENSIONS,
  defaultEmbeddingRateLimits,
  dimensionsForTarget,
  modelFor,
  TIER_1_BATCH_QUEUE_TOKENS,
} from '../embed/models.js';
import { InvalidInputError, PreflightError } from '../errors.js';
import { lockTimingFromEnv } from '../runtime/lock-timing.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import { type RunContext, reportableOptions } from './run-context.js';

export interface PreflightEvent {
  input?: unknown;
  executionName: string;
  /** `$$.Execution.Id`: one per execution, the same for retries of its steps; the lock's holder. */
  executionId?: string;
}

async function connected(pool: () => Promise<Database>, role: string): Promise<Database> {
  try {
    const p = await pool();
    await ping(p);
    return p;
  } catch (error) {
    if (error instanceof PreflightError) throw error;
    const code = (error as { code?: string }).code;
    throw new PreflightError(
      `Cannot connect to the ${role} database${code ? ` (${code})` : ''}: ${(error as Error).message}. Check the URL (postgresql://<user>:<password>@<host>:<port>/<dbname>), network access and credentials.`,
      { cause: error, context: { role, code } },
    );
  }
}

/** In words, what one Map item holds of the database's connections (core/connection-needs.ts). */
function heldPerItem(role: DatabaseRole): string {
  const n = connectionsPerMapItem(role);
  const held = n === 1 ? 'a connection' : `up to ${n} connections`;
  return `${held} to the ${role}${role === 'target' ? ' (its writes and the run heartbeat)' : ''}`;
}

/**
 * The connections a deployed run opens to each database at once (core/connection-needs.ts), held
 * against the servers' free ones: a Map wider than they allow answers its items with "sorry, too
 * many clients already", one after another, and a server with fewer than Verify's four fails the
 * run at its end. Say so before anything is written.
 */
async function checkMapConcurrency(concurrency: number, databases: { role: DatabaseRole; db: Database }[]) {
  for (const { role, db } of databases) {
    const needed = connectionsNeeded(role, concurrency);
    const { max, free } = await connectionBudget(db);
    if (needed <= free) continue;
    const widest = widestFittingMap(role, free);
    const fix =
      widest > 0
        ? `redeploy with -c bigmemory-migration:maxConcurrency=${widest} or less, or raise max_connections`
        : 'raise max_connections, or close other sessions';
    throw new PreflightError(
      `The state machine runs up to ${concurrency} batches at once (stack context bigmemory-migration:maxConcurrency), each holding ${heldPerItem(role)}, and Plan and Verify open ${STEP_SESSIONS} per database: the run needs at least ${needed} connections to the ${role} database, which has ${free} free (max_connections ${max}): ${fix}.`,
      { context: { role, concurrency, needed, free, max } },
    );
  }
}

function parseJsonObject(bytes: Buffer, what: string, uri: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidInputError(`The ${what} at ${uri} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The embedding size the run writes is the target's. Preserved vectors must already have it;
 * regenerated ones are requested at it (text-embedding-3 models shorten on request). Returns the
 * `dimensions` to request, or throws naming the flag (and execution-input field) that fixes it.
 */
async function checkEmbeddingFit(
  runtime: MigrationRuntime,
  input: MigrationInput,
  source: SourceSchema,
  target: TargetLayout,
): Promise<number | undefined> {
  const size = target.vectors.embeddingDimensions;
  const embedMode = embedModeOf(input);
  if (embedMode !== 'all' && source.embeddingDimensions !== null && source.embeddingDimensions !== size) {
    throw new PreflightError(
      `Source embeddings are vector(${source.embeddingDimensions}) but the target's module tables take vector(${size}), so they cannot be preserved. Regenerate them: drop --preserve-embeddings${input.embedMissingOnly ? ' and --embed-missing-only' : ''} (execution input: "preserveEmbeddings": false${input.embedMissingOnly ? ', "embedMissingOnly": false' : ''}); the run then asks ${input.embeddingModel} for ${size}-d vectors.`,
      { context: { source: source.embeddingDimensions, target: size } },
    );
  }
  if (embedMode === 'preserve') {
    if (input.embeddingApi === 'batch') {
      throw new InvalidInputError(
        'The Batch API embeds memories, and this run keeps the existing vectors: drop --embedding-api batch (execution input: "embeddingApi": "sync"), or regenerate by dropping --preserve-embeddings ("preserveEmbeddings": false).',
      );
    }
    return input.embeddingDimensions;
  }
  const fit = dimensionsForTarget(input.embeddingModel, input.embeddingDimensions, size);
  if (!fit.fits) {
    const other = modelFor(size);
    const dimensionsFix = `set --embedding-dimensions ${size} (execution input: "embeddingDimensions": ${size})`;
    const known = DEFAULT_EMBEDDING_DIMENSIONS[input.embeddingModel] !== undefined;
    const fix =
      known && input.embeddingDimensions === undefined && other
        ? `use --embedding-model ${other} (execution input: "embeddingModel": "${other}")`
        : known
          ? dimensionsFix
          : `${dimensionsFix} if the model gives ${size}-d vectors on request`;
    throw new PreflightError(
      `Embedding model ${input.embeddingModel} does not give the ${size}-d vectors the target's module tables take (vector(${size})): ${fix}.`,
      { context: { model: input.embeddingModel, requested: input.embeddingDimensions, target: size } },
    );
  }
  if (!input.dryRun && !(await runtime.openAiApiKey?.())) {
    throw new PreflightError(
      'Regenerating embeddings needs an OpenAI API key: set OPENAI_API_KEY (local) or the stack\'s openAiApiKeySecretArn (AWS), or keep the existing vectors with --preserve-embeddings / "preserveEmbeddings": true.',
    );
  }
  return fit.dimensions;
}

/**
 * Checks everything that can be checked before anything is written: input, both connections,
 * pgvector, both schemas, the user map and rules; then (real runs only) the ledger and the lock.
 */
export async function preflight(runtime: MigrationRuntime, event: PreflightEvent): Promise<RunContext> {
  const input = parseMigrationInput(event.input);
  if (input.rollbackRunId !== undefined || input.restore !== undefined) {
    // The state machine's Mode choice sends these to their own tasks; reaching Preflight with one
    // means a caller skipped that choice, and migrating would be the opposite of what was asked.
    throw new InvalidInputError(
      'rollbackRunId / restore are not migration options: start the execution with only that field (the state machine routes it), or use npm run migrate:rollback / migrate:restore.',
    );
  }
  const runId = runIdFrom(event.executionName);
  const layout = runLayout(runId);
  const snapshotMode = snapshotModeOf(input);
  if (runtime.driver === 'data-api' && (snapshotMode === 'logical' || snapshotMode === 'both')) {
    // A logical snapshot streams COPY TO STDOUT, which the Data API cannot carry.
    throw new InvalidInputError(
      `A logical snapshot needs pg connections; with the RDS Data API take an RDS snapshot instead ("snapshot": "rds" with "rds": {...}) or skip it ("snapshot": "none").`,
      { context: { snapshot: snapshotMode } },
    );
  }

  await putJson(runtime.store, layout.executionInput, input);
  const source = await connected(runtime.sourcePool, 'source');
  const targetDb = await connected(runtime.targetPool, 'target');
  if (runtime.mapConcurrency !== undefined && runtime.driver !== 'data-api') {
    await checkMapConcurrency(runtime.mapConcurrency, [
      { role: 'source', db: source },
      { role: 'target', db: targetDb },
    ]);
  }
  await checkPgvector(source, 'source');
  await checkPgvector(targetDb, 'target');
  const sourceSchema = await introspectSource(source);
  const target = await inspectTarget(targetDb);
  const embeddingDimensions = await checkEmbeddingFit(runtime, input, sourceSchema, target);
  const rules = input.rules
    ? parseJsonObject(await runtime.readObject(input.rules), 'rules file', input.rules)
    : undefined;
  // Throws InvalidInputError naming a bad path, or PreflightError naming a module the target lacks.
  loadRules(rules, { registry: new ModuleRegistry(target.modules) });

  if (input.classifier === 'llm' && !input.dryRun && !(await runtime.openAiApiKey?.())) {
    throw new PreflightError(
      'The LLM classifier needs an OpenAI API key: set OPENAI_API_KEY (local) or the stack\'s openAiApiKeySecretArn (AWS), or classify offline (drop --classifier llm / "classifier": "llm").',
    );
  }
  if (rules !== undefined) await putJson(runtime.store, layout.rules, rules);
  if (input.userMapS3Uri) {
    const raw = parseJsonObject(await runtime.readObject(input.userMapS3Uri), 'user map', input.userMapS3Uri);
    const map = parseUserMap(raw);
    validateUserMap(map, await readUserMapIds(source, targetDb));
    await putJson(runtime.store, layout.userMap, Object.fromEntries(map));
  }

  const { counts: sourceCounts, watermark } = await countSource(source, sourceSchema);
  const changedSince = input.incremental ? await lastSuccessfulWatermark(targetDb) : null;

  const run: RunContext = {
    runId,
    dryRun: input.dryRun,
    preserveEmbeddings: input.preserveEmbeddings,
    batchSize: input.batchSize,
    verifySliceSize: input.verifySliceSize,
    createUsers: input.createUsers,
    incremental: input.incremental,
    keepDeleted: input.keepDeleted,
    forceReprocess: input.forceReprocess,
    verify: { mode: input.verify, sample: input.verifySample },
    changedSince: changedSince?.toISOString() ?? null,
    mergeOnEmail: input.mergeOnEmail,
    placeholderEmailDomain: input.placeholderEmailDomain,
    centroidClassification: input.centroidClassification,
    embedMode: embedModeOf(input),
    classifier: input.classifier,
    llmModel: input.llmModel,
    llmThreshold: input.llmThreshold,
    snapshot: snapshotMode,
    rds: input.rds,
    embeddingModel: input.embeddingModel,
    embeddingDimensions,
    embeddingPricePerMillionTokens: input.embeddingPricePerMillionTokens,
    ...toleratedFailuresOf(input, sourceCounts.liveMemories),
    maxRejectRatio: input.maxRejectRatio,
    maxRejects: input.maxRejects,
    embeddingTpm: input.embeddingTpm ?? defaultEmbeddingRateLimits(input.embeddingModel).tokensPerMinute,
    embeddingRpm: input.embeddingRpm ?? defaultEmbeddingRateLimits(input.embeddingModel).requestsPerMinute,
    embeddingApi: input.embeddingApi,
    embeddingBatchPollSeconds: input.embeddingBatchPollSeconds ?? DEFAULT_EMBEDDING_BATCH_POLL_SECONDS,
    embeddingBatchQueueTokens: input.embeddingBatchQueueTokens ?? TIER_1_BATCH_QUEUE_TOKENS,
    hasUserMap: Boolean(input.userMapS3Uri),
    hasRules: Boolean(input.rules),
    search: {
      users: input.searchUsers,
      queriesPerUser: input.searchQueriesPerUser,
      ...(input.minRecall !== undefined ? { minRecall: input.minRecall } : {}),
    },
    sourceSchema,
    target,
    startedAt: new Date().toISOString(),
    sourceCounts,
  };

  if (!run.dryRun) {
    run.lockHolder = event.executionId ?? runId;
    const { staleSeconds } = lockTimingFromEnv();
    await ensureLedger(targetDb);
    await acquireRunLock(targetDb, {
      runId,
      holder: run.lockHolder,
      breakLock: input.breakLock,
      staleSeconds,
    });
    await recordRunStart(targetDb, { runId, options: reportableOptions(run), watermark });
  }
  await putJson(runtime.store, runLayout(runId).runContext, run);
  return run;
}
