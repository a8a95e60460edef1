import type { SourceCounts } from '../core/report/input.js';
import type { EmbedMode, RdsSnapshotInput, SnapshotMode } from '../core/run-options.js';
import { type SampleRule, sampleRule } from '../core/verify-sample.js';
import type { SourceSchema } from '../db/source-schema.js';
import type { TargetLayout } from '../db/target-schema.js';

/**
 * What Preflight hands every later state (`$.run`): small, and free of URLs and secrets; anything
 * bigger sits in the run store under `runLayout(runId)`.
 */
export interface RunContext {
  runId: string;
  /** The execution holding the migration lock (real runs): its steps keep the lock's heartbeat. */
  lockHolder?: string;
  dryRun: boolean;
  preserveEmbeddings: boolean;
  batchSize: number;
  /** Memories per slice of the Verify step's checksum comparison. */
  verifySliceSize: number;
  createUsers: boolean;
  incremental: boolean;
  /** Process memories the ledger shows unchanged too (absent in older contexts: skip them). */
  forceReprocess?: boolean;
  /** Verify's checksums: sampled (what the run wrote plus `sample` others) or full (absent: full). */
  verify?: { mode: 'sampled' | 'full'; sample: number };
  /** Leave in the target what the source deleted (absent in contexts from before the option). */
  keepDeleted?: boolean;
  /** Incremental runs: rows updated after this ISO instant (the last successful run's watermark). */
  changedSince: string | null;
  mergeOnEmail: boolean;
  placeholderEmailDomain?: string;
  centroidClassification: boolean;
  embedMode: EmbedMode;
  /** Absent in contexts written before the LLM pass existed: offline. */
  classifier?: 'offline' | 'llm';
  llmModel?: string;
  llmThreshold?: number;
  embeddingModel: string;
  embeddingDimensions?: number;
  embeddingPricePerMillionTokens?: number;
  /** The rate budget all batch workers share (Preflight fills in the model's tier-1 defaults). */
  embeddingTpm?: number;
  embeddingRpm?: number;
  /** Absent in contexts from before the Batch API mode: sync. */
  embeddingApi?: 'sync' | 'batch';
  /** The Wait between two looks at the Batch API's batches (the state machine reads it). */
  embeddingBatchPollSeconds?: number;
  /** The Batch API's queue limit: tokens of batches in progress at once (Preflight fills in tier 1's). */
  embeddingBatchQueueTokens?: number;
  /** Preflight sets it from the input (`snapshotModeOf`); absent means the default for the run kind. */
  snapshot?: SnapshotMode;
  rds?: RdsSnapshotInput;
  /** The Distributed Maps' tolerated failures (`ToleratedFailurePercentagePath` / `…CountPath`). */
  toleratedFailurePercentage: number;
  toleratedFailureCount: number;
  /** Past either, the run fails with RejectThresholdError (after writing what it could). */
  maxRejectRatio: number;
  maxRejects?: number;
  hasUserMap: boolean;
  hasRules: boolean;
  sourceSchema: SourceSchema;
  /** The search-equivalence check's sample and gate; absent in contexts made before it existed. */
  search?: { users: number; queriesPerUser: number; minRecall?: number };
  /** The target's modules and vector sizes as Preflight read them from its catalog and registry. */
  target: TargetLayout;
  startedAt: string;
  sourceCounts: SourceCounts;
}

/** The options worth showing in a report: the run context minus what is bulky or internal. */
export function reportableOptions(run: RunContext): Record<string, unknown> {
  return {
    dryRun: run.dryRun,
    preserveEmbeddings: run.preserveEmbeddings,
    embeddings:
      run.embedMode === 'preserve'
        ? 'preserved'
        : `${run.embedMode === 'all' ? 'regenerated' : 'missing ones regenerated'} with ${run.embeddingModel}`,
    ...(run.embedMode === 'preserve' || run.embeddingTpm === undefined
      ? {}
      : { embeddingRateLimits: `${run.embeddingTpm} tokens, ${run.embeddingRpm} requests a minute` }),
    ...(run.embedMode === 'preserve' ? {} : { embeddingApi: run.embeddingApi ?? 'sync' }),
    batchSize: run.batchSize,
    createUsers: run.createUsers,
    incremental: run.incremental,
    keepDeleted: run.keepDeleted ?? false,
    forceReprocess: run.forceReprocess ?? false,
    verify:
      run.verify?.mode === 'sampled'
        ? `sampled (${run.verify.sample} memories and what the run wrote)`
        : 'full',
    changedSince: run.changedSince,
    mergeOnEmail: run.mergeOnEmail,
    placeholderEmailDomain: run.placeholderEmailDomain ?? null,
    centroidClassification: run.centroidClassification,
    classifier: run.classifier === 'llm' ? `llm (${run.llmModel})` : 'offline',
    userMap: run.hasUserMap,
    customRules: run.hasRules,
    snapshot: run.snapshot ?? (run.dryRun ? 'none' : 'logical'),
    targetModules: run.target.modules.map((m) => m.id).join(', '),
    targetVectors: `${run.target.vectors.embeddingDimensions}-d, CMI ${run.target.vectors.cmiDimensions}-d`,
    ...(run.target.modulesWithoutTable.length > 0
      ? { modulesWithoutTable: run.target.modulesWithoutTable.join(', ') }
      : {}),
    ...(run.toleratedFailurePercentage > 0 || run.toleratedFailureCount > 0
      ? {
          toleratedFailurePercentage: run.toleratedFailurePercentage,
          toleratedFailureCount: run.toleratedFailureCount,
        }
      : {}),
    maxRejectRatio: run.maxRejectRatio,
    maxRejects: run.maxRejects ?? null,
  };
}

/** A sampled Verify's draw for this run; undefined when the run verifies in full. */
export function verifySampleOf(run: RunContext): SampleRule | undefined {
  return run.verify?.mode === 'sampled'
    ? sampleRule(run.runId, run.verify.sample, run.sourceCounts.liveMemories)
    : undefined;
}
