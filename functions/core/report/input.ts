/**
 * What the Report step gathers from the run store: the steps' own outputs, whose types core
 * defines (batch, relationship, CMI and verification results), and shapes of the report's own
 * (users, embeddings, run facts) that require only the fields the report reads.
 */
import type { BatchSummary, MemoryDecision } from '../batch.js';
import type { RebuildCmiResult } from '../cmi.js';
import type { RelationshipBatchSummary } from '../relationships.js';
import type { SearchRecallResult } from '../search-recall.js';
import type { VerificationCheck, VerificationCounts } from '../verification.js';

/** One line of a batch's decisions, as sampled for the report (a batch's own decision type). */
export type ReportDecisionInput = MemoryDecision & {
  /** The start of the memory's content, when the batch step samples it. */
  snippet?: string;
};

export type ReportBatchInput = Omit<BatchSummary, 'samples'> & { samples: ReportDecisionInput[] };

export interface ReportUsersInput {
  total: number;
  byDecision: Partial<Record<string, number>>;
  created: number;
  mapped: number;
  unmapped: number;
  conflicts: Array<{ sourceUserId: string; decision: string; detail: string }>;
  conflictCount?: number;
}

export type ReportRelationshipInput = RelationshipBatchSummary;

export type ReportCmiInput = RebuildCmiResult;

export interface ReportVerificationInput {
  ok: boolean;
  /** Check names stay strings: a report may read results of an older or newer version. */
  checks: Array<Omit<VerificationCheck, 'name'> & { name: string }>;
  counts: Pick<VerificationCounts, 'sourceMemories' | 'migrated' | 'rejected' | 'unaccounted'>;
}

export interface ReportEmbeddingsInput {
  mode: 'preserve' | 'regenerate';
  model?: string;
  requests?: number;
  tokens?: number;
  retries?: number;
  waitMs?: number;
  estimatedTokens?: number;
  estimatedRequests?: number;
  estimatedCostUsd?: number;
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
  error?: { name: string; message: string; step?: string; hint?: string };
}

export interface ReportInput {
  run: ReportRunInput;
  source?: {
    memories: number;
    liveMemories: number;
    deletedMemories: number;
    users: number;
    relations: number;
  };
  plan?: { batchCount: number; relationBatchCount: number; batchSize: number };
  users?: ReportUsersInput | null;
  batches: ReportBatchInput[];
  relationships: ReportRelationshipInput[];
  cmi?: ReportCmiInput | null;
  verification?: ReportVerificationInput | null;
  /** The search-equivalence check's result (the VerifySearch step's). */
  search?: SearchRecallResult | null;
  embeddings?: ReportEmbeddingsInput | null;
  /** The Distributed Map's MaxConcurrency: how many batches run at once. */
  concurrency?: number;
  /** The target's registered modules; the guide's six when the run never read them. */
  modules?: string[];
}
