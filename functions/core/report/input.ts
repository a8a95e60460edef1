/**
 * What the Report step gathers from the run store. Structural copies of the step outputs
 * (`BatchSummary`, `UsersSummary`, `RelationshipBatchSummary`, `RebuildCmiResult`,
 * `VerificationResult`): core must not import engine or db modules, and structural typing keeps
 * the real outputs assignable. Only the fields the report reads are required.
 */
import type { MemoryDecision } from '../batch.js';
import type { ModuleId } from '../types.js';

/** One line of a batch's decisions, as sampled for the report (a batch's own decision type). */
export type ReportDecisionInput = MemoryDecision & {
  /** The start of the memory's content, when the batch step samples it. */
  snippet?: string;
};

export interface ReportBatchInput {
  index: number;
  read: number;
  migrated: number;
  rejected: number;
  byModule: Partial<Record<ModuleId, number>>;
  byRule: Record<string, number>;
  rejectsByReason: Record<string, number>;
  repairsByRule: Record<string, number>;
  load: { inserted: number; upserted: number; moved: number; withdrawn: number; path?: string } | null;
  samples: ReportDecisionInput[];
  timings: { readMs: number; embedMs: number; prepareMs: number; loadMs: number };
}

export interface ReportUsersInput {
  total: number;
  byDecision: Partial<Record<string, number>>;
  created: number;
  mapped: number;
  unmapped: number;
  conflicts: Array<{ sourceUserId: string; decision: string; detail: string }>;
  conflictCount?: number;
}

export interface ReportRelationshipInput {
  index: number;
  kind: 'relations' | 'project-links';
  read: number;
  migrated: number;
  skippedByReason: Record<string, number>;
  byType: Record<string, number>;
  withdrawn?: number;
  displaced?: number;
  projectIdsWritten?: number;
}

export interface ReportCmiInput {
  scanned: number;
  created: number;
  updated: number;
  removedOrphans: number;
  skippedMissingUser: number;
  skippedIdConflict: number;
  durationMs: number;
}

export interface ReportVerificationInput {
  ok: boolean;
  checks: Array<{
    name: string;
    ok: boolean;
    expected?: unknown;
    actual?: unknown;
    detail?: string;
    skipped?: boolean;
    samples?: string[];
  }>;
  counts: { sourceMemories: number; migrated: number; rejected: number; unaccounted: number };
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
  embeddings?: ReportEmbeddingsInput | null;
  /** The Distributed Map's MaxConcurrency: how many batches run at once. */
  concurrency?: number;
}
