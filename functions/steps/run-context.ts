import type { EmbedMode, RdsSnapshotInput, SnapshotMode } from '../core/run-options.js';
import type { SourceSchema } from '../db/source-schema.js';
import type { TargetLayout } from '../db/target-schema.js';

/**
 * What Preflight hands every later state (`$.run`): small, and free of URLs and secrets; anything
 * bigger sits in the run store under `runLayout(runId)`.
 */
export interface RunContext {
  runId: string;
  dryRun: boolean;
  preserveEmbeddings: boolean;
  batchSize: number;
  /** Memories per slice of the Verify step's checksum comparison. */
  verifySliceSize: number;
  createUsers: boolean;
  incremental: boolean;
  /** Incremental runs: rows updated after this ISO instant (the last successful run's watermark). */
  changedSince: string | null;
  mergeOnEmail: boolean;
  placeholderEmailDomain?: string;
  centroidClassification: boolean;
  embedMode: EmbedMode;
  embeddingModel: string;
  embeddingDimensions?: number;
  embeddingPricePerMillionTokens?: number;
  /** Preflight sets it from the input (`snapshotModeOf`); absent means the default for the run kind. */
  snapshot?: SnapshotMode;
  rds?: RdsSnapshotInput;
  hasUserMap: boolean;
  hasRules: boolean;
  sourceSchema: SourceSchema;
  /** The search-equivalence check's sample and gate; absent in contexts made before it existed. */
  search?: { users: number; queriesPerUser: number; minRecall?: number };
  /** The target's modules and vector sizes as Preflight read them from its catalog and registry. */
  target: TargetLayout;
  startedAt: string;
  sourceCounts: {
    memories: number;
    liveMemories: number;
    deletedMemories: number;
    users: number;
    relations: number;
  };
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
    batchSize: run.batchSize,
    createUsers: run.createUsers,
    incremental: run.incremental,
    changedSince: run.changedSince,
    mergeOnEmail: run.mergeOnEmail,
    placeholderEmailDomain: run.placeholderEmailDomain ?? null,
    centroidClassification: run.centroidClassification,
    userMap: run.hasUserMap,
    customRules: run.hasRules,
    snapshot: run.snapshot ?? (run.dryRun ? 'none' : 'logical'),
    targetModules: run.target.modules.map((m) => m.id).join(', '),
    targetVectors: `${run.target.vectors.embeddingDimensions}-d, CMI ${run.target.vectors.cmiDimensions}-d`,
    ...(run.target.modulesWithoutTable.length > 0
      ? { modulesWithoutTable: run.target.modulesWithoutTable.join(', ') }
      : {}),
  };
}
