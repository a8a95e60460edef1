/**
 * What the Report step gathers from the run store: the steps' own outputs, whose types core
 * defines (batch, relationship, CMI and verification results), and shapes of the report's own
 * (users, embeddings, run facts) that require only the fields the report reads.
 */
import type { BatchSummary, MemoryDecision } from '../batch.js';
import type { RebuildCmiResult } from '../cmi.js';
import type { DeletesSummary } from '../deletes.js';
import type { EmbeddingApiModes } from '../embedding-api-modes.js';
import type { ThresholdVerdict } from '../reject-thresholds.js';
import type { RelationshipBatchSummary } from '../relationships.js';
import type { SearchRecallResult } from '../search-recall.js';
import type { VerificationCheck, VerificationCounts } from '../verification.js';
import type { ClassificationPrediction } from './classification.js';

/** One line of a batch's decisions, as sampled for the report (a batch's own decision type). */
export type ReportDecisionInput = MemoryDecision & {
  /** The start of the memory's content, when the batch step samples it. */
  snippet?: string;
};

export type ReportBatchInput = Omit<BatchSummary, 'samples'> & { samples: ReportDecisionInput[] };

interface ReportUsersInput {
  total: number;
  byDecision: Partial<Record<string, number>>;
  created: number;
  mapped: number;
  unmapped: number;
  conflicts: Array<{ sourceUserId: string; decision: string; detail: string }>;
  conflictCount?: number;
}

export type ReportRelationshipInput = RelationshipBatchSummary;

type ReportCmiInput = RebuildCmiResult;

interface ReportVerificationInput {
  ok: boolean;
  /** Check names stay strings: a report may read results of an older or newer version. */
  checks: Array<Omit<VerificationCheck, 'name'> & { name: string }>;
  counts: Pick<
    VerificationCounts,
    'sourceMemories' | 'migrated' | 'rejected' | 'unaccounted' | 'notMigrated'
  >;
  /** A tolerated partial run: the memory ranges that failed, with their live memories. */
  notMigratedRanges?: NotMigratedRangeInput[];
}

export interface NotMigratedRangeInput {
  index: number;
  fromKey: string | null;
  toKey: string | null;
  memories: number;
}

interface ReportEmbeddingsInput {
  mode: 'preserve' | 'regenerate';
  model?: string;
  requests?: number;
  tokens?: number;
  retries?: number;
  waitMs?: number;
  estimatedTokens?: number;
  estimatedRequests?: number;
  estimatedCostUsd?: number;
  /** The rate budget the workers shared, what it held back, what the API refused, what was reached. */
  limitTokensPerMinute?: number;
  limitRequestsPerMinute?: number;
  rateLimited?: number;
  paceWaitMs?: number;
  tokensPerMinute?: number;
  /** Which API the run embeds through; for a dry run, what each would cost and take. */
  api?: 'sync' | 'batch';
  apiModes?: EmbeddingApiModes;
  /** Batch API mode: memories whose vector came from a batch's output file. */
  batchInputs?: number;
}

export interface ReportRunInput {
  runId: string;
  dryRun: boolean;
  status: 'succeeded' | 'failed';
  /** ISO 8601 instants. */
  startedAt: string;
  finishedAt: string;
  /** What the run was asked to do. Never secrets or URLs; credentials in URLs are masked anyway. */
  options: Record<string, unknown>;
  error?: { name: string; message: string; step?: string };
}

/** What the source held when Preflight counted it. */
export interface SourceCounts {
  memories: number;
  liveMemories: number;
  deletedMemories: number;
  users: number;
  relations: number;
  /**
   * Memories whose updated_at is after the source's clock at Preflight: not trusted as a watermark,
   * so every incremental run reads them again.
   */
  futureUpdated?: number;
}

export interface ReportInput {
  run: ReportRunInput;
  source?: SourceCounts;
  plan?: { batchCount: number; relationBatchCount: number; batchSize: number };
  users?: ReportUsersInput | null;
  batches: ReportBatchInput[];
  relationships: ReportRelationshipInput[];
  cmi?: ReportCmiInput | null;
  /** What the source deleted that the target held, removed by Plan (counted only in a dry run). */
  deletes?: DeletesSummary | null;
  verification?: ReportVerificationInput | null;
  /** The search-equivalence check's result (the VerifySearch step's). */
  search?: SearchRecallResult | null;
  embeddings?: ReportEmbeddingsInput | null;
  /** The module counts of the last dry run before this run, for the classification section. */
  prediction?: ClassificationPrediction | null;
  /** The Distributed Map's MaxConcurrency: how many batches run at once. */
  concurrency?: number;
  /** The target's registered modules; the guide's six when the run never read them. */
  modules?: string[];
  /** Whether the real run of a dry run's options takes a snapshot (it does unless told none). */
  realRunSnapshots?: boolean;
  /** The command lines that repeat this run and, after a dry run, make it for real. */
  commands?: { rerun: string; realRun: string } | null;
  /** The batches' rejects judged against the run's thresholds. */
  rejectThresholds?: ThresholdVerdict | null;
}
