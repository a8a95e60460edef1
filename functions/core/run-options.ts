import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { DEFAULT_MAX_REJECT_RATIO } from './reject-thresholds.js';

/** Memories a sampled Verify compares beyond those the run wrote. */
export const DEFAULT_VERIFY_SAMPLE = 1000;

/** One RDS DB instance or Aurora cluster, for `snapshot: "rds" | "both"`. */
const RdsResourceSchema = z
  .object({ instance: z.string().min(1).optional(), cluster: z.string().min(1).optional() })
  .strict()
  .refine(
    (r) => (r.instance === undefined) !== (r.cluster === undefined),
    'name exactly one of instance, cluster',
  );

/**
 * The execution input a person types in the console (or the CLI builds from the guide's flags).
 * Every field is optional; unknown fields are refused so a typo does not silently do nothing.
 */
export const MigrationInputSchema = z
  .object({
    dryRun: z.boolean().default(false),
    preserveEmbeddings: z.boolean().default(false),
    batchSize: z.number().int().min(1).max(10_000).default(500),
    /** Memories per Verify slice: the checksum comparison fans out over slices of the key space. */
    verifySliceSize: z.number().int().min(1).max(10_000_000).default(200_000),
    /** `s3://bucket/key` in AWS; `file:///path` for local runs. JSON `{ "<BigMemory user id or token>": "<Federated user id>" }`. */
    userMapS3Uri: z
      .string()
      .regex(/^(s3|file):\/\/.+/, 'must be an s3:// or file:// URI')
      .optional(),
    createUsers: z.boolean().default(true),
    /** A rules file that overrides/extends the default classification rules (`s3://` or `file://`). */
    rules: z
      .string()
      .regex(/^(s3|file):\/\/.+/, 'must be an s3:// or file:// URI')
      .optional(),
    /** Only rows changed since the last successful run (the schedule's reruns). */
    incremental: z.boolean().default(false),
    /** Same email, different token: map to the existing Federated user instead of skipping. */
    mergeOnEmail: z.boolean().default(false),
    /** Where the target requires an email and the source has none: create `bigmemory-<id>@<domain>`. */
    placeholderEmailDomain: z.string().min(1).optional(),
    /** Place unclear memories by their embedding's nearest module centroid before the fallback. */
    centroidClassification: z.boolean().default(true),
    /** `llm`: memories the offline classifier is unsure of are also sent to a chat model. */
    classifier: z.enum(['offline', 'llm']).default('offline'),
    /** The chat model of the LLM pass (same API key and endpoint as the embeddings). */
    llmModel: z.string().min(1).default('gpt-4o-mini'),
    /** Offline decisions below this confidence go to the chat model. */
    llmThreshold: z.number().min(0).max(1).default(0.6),
    embeddingModel: z.string().min(1).default('text-embedding-3-small'),
    /** Shorter vectors from text-embedding-3 models; must equal the target's vector(…) size. */
    embeddingDimensions: z.number().int().positive().optional(),
    /** Keep every valid existing embedding and embed only memories whose vector is missing or unusable. */
    embedMissingOnly: z.boolean().default(false),
    /**
     * The account's embeddings rate limits, shared by every batch worker (each keeps to its share of
     * the Map's concurrency). Default: OpenAI's usage tier 1 for the model, 1,000,000 tokens and
     * 3,000 requests a minute.
     */
    embeddingTpm: z.number().int().positive().optional(),
    embeddingRpm: z.number().int().positive().optional(),
    /**
     * `sync` embeds inside each batch through the rate budget; `batch` sends the memories to
     * OpenAI's Batch API after Plan (half the price, done within 24 hours) and the batches read
     * their vectors from its output files.
     */
    embeddingApi: z.enum(['sync', 'batch']).default('sync'),
    /** Batch mode: seconds the state machine waits between two looks at the batches (default 300). */
    embeddingBatchPollSeconds: z.number().int().min(1).max(86_400).optional(),
    /**
     * The account's Batch API queue limit for the model (tokens enqueued at once). Batches beyond it
     * wait for earlier ones to finish. Default: OpenAI's usage tier 1, 3,000,000.
     */
    embeddingBatchQueueTokens: z.number().int().positive().optional(),
    /** For the cost estimate; defaults are known for OpenAI's embedding models. */
    embeddingPricePerMillionTokens: z.number().nonnegative().optional(),
    /**
     * Before anything is written: `logical` (gzipped SQL of both databases to the run bucket),
     * `rds` (RDS-native snapshots), `both`, or `none`. Default: `logical` for real runs, `none` for dry runs.
     */
    snapshot: z.enum(['logical', 'rds', 'both', 'none']).optional(),
    /** The RDS instances/clusters of the two databases; the stack context's are used when absent. */
    rds: z
      .object({ source: RdsResourceSchema.optional(), target: RdsResourceSchema.optional() })
      .strict()
      .optional(),
    /** Search check: users sampled, and queries (their memories, asking for neighbours) per user. */
    searchUsers: z.number().int().min(0).max(100_000).default(100),
    searchQueriesPerUser: z.number().int().min(0).max(1_000).default(3),
    /** Fail the run when the target's exact search finds less than this share of the source's top 10. */
    minRecall: z.number().min(0).max(1).optional(),
    /** Roll back this run instead of migrating: the execution does only that (see the README). */
    rollbackRunId: z.string().min(1).optional(),
    /** Restore a snapshot instead of migrating: `{ "snapshot": "s3://bucket/backups/migration-…/", "database": "target" }`. */
    restore: z
      .object({ snapshot: z.string().min(1), database: z.enum(['source', 'target']) })
      .strict()
      .optional(),
    /**
     * A partial run: each Distributed Map succeeds while at most this share (percent) / this number
     * of its ranges failed; the report lists the failed ranges as not migrated. Default 0: any range
     * that fails after its retries fails the execution, which can then be redriven.
     */
    toleratedFailurePercentage: z.number().min(0).max(100).optional(),
    toleratedFailureCount: z.number().int().min(0).optional(),
    /** The run fails when more than this share (0–1) of the memories it handled is rejected. */
    maxRejectRatio: z.number().min(0).max(1).default(DEFAULT_MAX_REJECT_RATIO),
    /** The run fails when more than this many memories are rejected; no limit when absent. */
    maxRejects: z.number().int().min(0).optional(),
    /** Keep in the target what the source has deleted since it was migrated (by default it is removed). */
    keepDeleted: z.boolean().default(false),
    /** Process every memory again, even those the ledger shows unchanged since they were migrated. */
    forceReprocess: z.boolean().default(false),
    /**
     * Verify's checksums: `sampled` compares what this run wrote plus `verifySample` memories drawn at
     * random from the rest; `full` compares every memory. The counts and accounting are always whole.
     */
    verify: z.enum(['sampled', 'full']).default('sampled'),
    verifySample: z.number().int().min(0).default(DEFAULT_VERIFY_SAMPLE),
    /** Take the migration lock over from a run whose heartbeat stopped (it died without releasing it). */
    breakLock: z.boolean().default(false),
    /** Rollback/restore only: go ahead over a held lock (rollback) or tables that hold rows (restore). */
    force: z.boolean().default(false),
  })
  .strict();

export type MigrationInput = z.infer<typeof MigrationInputSchema>;

/**
 * The MigrateBatches Map's thresholds. A Map Run fails when its failed children pass either one, so
 * when the input gives only one, the other is set so that it never limits (100 %, or as many
 * failures as there can be ranges: one per live memory); neither given tolerates nothing.
 */
export function toleratedFailuresOf(
  input: Pick<MigrationInput, 'toleratedFailurePercentage' | 'toleratedFailureCount'>,
  liveMemories: number,
): { toleratedFailurePercentage: number; toleratedFailureCount: number } {
  const percentage = input.toleratedFailurePercentage;
  const count = input.toleratedFailureCount;
  if (percentage === undefined && count === undefined) {
    return { toleratedFailurePercentage: 0, toleratedFailureCount: 0 };
  }
  return {
    toleratedFailurePercentage: percentage ?? 100,
    toleratedFailureCount: count ?? Math.max(liveMemories, 1),
  };
}

/** preserve: copy vectors bit for bit; all: regenerate every one; missing-only: regenerate NULL/invalid ones. */
export type EmbedMode = 'preserve' | 'all' | 'missing-only';

export function embedModeOf(
  input: Pick<MigrationInput, 'preserveEmbeddings' | 'embedMissingOnly'>,
): EmbedMode {
  if (input.embedMissingOnly) return 'missing-only';
  return input.preserveEmbeddings ? 'preserve' : 'all';
}

export type SnapshotMode = 'logical' | 'rds' | 'both' | 'none';
export type RdsSnapshotInput = NonNullable<MigrationInput['rds']>;

/** Dry runs write nothing to the target, so they skip snapshots unless asked. */
export function snapshotModeOf(input: Pick<MigrationInput, 'snapshot' | 'dryRun'>): SnapshotMode {
  return input.snapshot ?? (input.dryRun ? 'none' : 'logical');
}

export function parseMigrationInput(raw: unknown): MigrationInput {
  const parsed = MigrationInputSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const path = i.path.join('.') || '(input)';
    return i.code === 'unrecognized_keys'
      ? `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`
      : `${path}: ${i.message}`;
  });
  throw new InvalidInputError(
    `Invalid execution input: ${problems.join('; ')}. Allowed fields: ${Object.keys(MigrationInputSchema.shape).join(', ')}.`,
    { context: { problems } },
  );
}

/** Object keys of one run, all under one prefix so a run's artefacts travel (and expire) together. */
export function runLayout(runId: string) {
  const prefix = `runs/${runId}/`;
  const pad = (n: number) => String(n).padStart(6, '0');
  return {
    prefix,
    /** Preflight's run context, for the failure report (which gets only the execution's name). */
    runContext: `${prefix}run.json`,
    userMap: `${prefix}inputs/user-map.json`,
    /** The execution input as Preflight parsed it: the report's rerun command is built from it. */
    executionInput: `${prefix}inputs/execution-input.json`,
    rules: `${prefix}inputs/rules.json`,
    memoryRanges: `${prefix}plan/memory-ranges.json`,
    verifySlices: `${prefix}plan/verify-slices.json`,
    relationshipRanges: `${prefix}plan/relationship-ranges.json`,
    centroids: `${prefix}plan/centroids.json`,
    /** Batch API mode: the run's batches, their ranges and files. */
    embeddingBatches: `${prefix}plan/embedding-batches.json`,
    /** A Batch API request file waiting for room in the queue. */
    embeddingBatchFile: (firstRange: number, lastRange: number) =>
      `${prefix}plan/embedding-batches/${pad(firstRange)}-${pad(lastRange)}.jsonl`,
    userMapping: `${prefix}users/mapping.json`,
    usersSummary: `${prefix}users/summary.json`,
    batchesPrefix: `${prefix}batches/`,
    batch: (index: number) => `${prefix}batches/${pad(index)}.json`,
    decisionsPrefix: `${prefix}decisions/`,
    decisions: (index: number) => `${prefix}decisions/${pad(index)}.jsonl.gz`,
    relationshipsPrefix: `${prefix}relationships/`,
    relationships: (kind: string, index: number) => `${prefix}relationships/${kind}-${pad(index)}.json`,
    cmi: `${prefix}cmi.json`,
    /** What Plan removed from the target because the source deleted it. */
    deletes: `${prefix}plan/deletes.json`,
    /** Where the run's Snapshot step put its snapshot (the directory, manifests, RDS snapshot ids). */
    snapshot: `${prefix}snapshot.json`,
    verification: `${prefix}verification.json`,
    search: `${prefix}search.json`,
    verifySlice: (index: number) => `${prefix}verify/slice-${pad(index)}.json`,
    report: {
      json: `${prefix}report.json`,
      markdown: `${prefix}report.md`,
      html: `${prefix}report.html`,
      decisions: `${prefix}decisions.jsonl.gz`,
    },
  };
}

/** Execution names allow more than S3 keys and SQL literals should carry. */
export function runIdFrom(executionName: string): string {
  const id = executionName.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 80);
  if (!id) throw new InvalidInputError('An execution name is needed to derive the run id.');
  return id;
}
