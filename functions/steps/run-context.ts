import type { EmbedMode, RdsSnapshotInput, SnapshotMode } from '../core/run-options.js';
import type { SourceSchema } from '../db/source-schema.js';

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
  /** Leave in the target what the source deleted (absent in contexts from before the option). */
  keepDeleted?: boolean;
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
  startedAt: string;
  sourceCounts: {
    memories: number;
    liveMemories: number;
    deletedMemories: number;
    users: number;
    relations: number;
    /** Memories whose updated_at is after the source's clock at Preflight (not trusted as a watermark). */
    futureUpdated?: number;
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
    keepDeleted: run.keepDeleted ?? false,
    changedSince: run.changedSince,
    mergeOnEmail: run.mergeOnEmail,
    placeholderEmailDomain: run.placeholderEmailDomain ?? null,
    centroidClassification: run.centroidClassification,
    userMap: run.hasUserMap,
    customRules: run.hasRules,
    snapshot: run.snapshot ?? (run.dryRun ? 'none' : 'logical'),
  };
}
