import type { ModuleCentroids } from './centroids.js';
import { classifyMemory } from './classify.js';
import { deriveCmiEntry } from './cmi.js';
import { DEFAULT_VECTOR_SHAPE, type VectorShape } from './embedding.js';
import type { CompiledRules } from './rules.js';
import { soundSourceValues } from './source-values.js';
import { contentHash, transformMemory } from './transform.js';
import type {
  Classification,
  CmiRow,
  ModuleId,
  ModuleMemoryRow,
  RejectReason,
  Repair,
  SourceMemory,
} from './types.js';

/** What the ledger keeps for one source memory. */
export interface LedgerEntry {
  sourceId: string;
  status: 'migrated' | 'rejected';
  module: ModuleId | null;
  targetId: string | null;
  targetUserId: string | null;
  contentHash: string | null;
  sourceUpdatedAt: Date | null;
  rule: string | null;
  reason: RejectReason | null;
  detail: string | null;
  /** What the outcome depends on (`memoryFingerprint`); absent: the next run processes it again. */
  fingerprint?: string | null;
}

export interface PreparedMemory {
  row: ModuleMemoryRow;
  cmi: CmiRow;
  ledger: LedgerEntry;
}

/** The ledger entry of a memory the target refused: rejected, with the server's reason. */
export function refusedLedgerEntry(memory: PreparedMemory, detail: string): LedgerEntry {
  return {
    ...memory.ledger,
    status: 'rejected',
    module: null,
    targetId: null,
    targetUserId: null,
    reason: 'target_constraint',
    detail,
  };
}

export interface PreparedBatch {
  runId: string;
  migrated: PreparedMemory[];
  rejected: LedgerEntry[];
  /** Source memories of the range soft-deleted since: whatever an earlier run wrote for them goes. */
  deletedSourceIds?: string[];
}

export interface LoadResult {
  /** Memories new to the target, written by plain COPY. */
  inserted: number;
  /** Memories already migrated by an earlier run, upserted through staging. */
  upserted: number;
  /** Memories whose module changed: their old module row, CMI row and relationships were removed. */
  moved: number;
  /** Memories migrated earlier and now rejected or soft-deleted in the source: their target rows were removed. */
  withdrawn: number;
  /** 'copy' when every row was new; 'upsert' when a rerun or a conflict needed the staging path. */
  path: 'copy' | 'mixed' | 'upsert';
  /**
   * Memories the target itself refused (a CHECK constraint or trigger it added): the rest of the
   * batch committed and these are recorded as `target_constraint` rejects.
   */
  refused: RefusedMemory[];
}

export interface RefusedMemory {
  sourceId: string;
  /** The server's code, constraint, table and column: never the row's values. */
  detail: string;
}

/** What the batch asked of the embeddings API (or, in a dry run, would have). */
export interface BatchEmbeddingSummary {
  inputs: number;
  requests: number;
  tokens: number;
  retries: number;
  waitMs: number;
  truncated: number;
  estimated: boolean;
  /** Attempts answered 429, and how long the rate budget held requests back (absent before pacing). */
  rateLimited?: number;
  paceWaitMs?: number;
  /** Batch API mode: inputs read from a batch's output file (not in `requests`/`tokens`), and their tokens. */
  batchInputs?: number;
  batchTokens?: number;
  /** When the batch's embedding began and ended (epoch ms): the run's tokens a minute span them. */
  startedAt?: number;
  finishedAt?: number;
}

export interface BatchLlmSummary {
  model: string;
  /** Memories below the confidence threshold. */
  candidates: number;
  requests: number;
  decided: number;
  /** Candidates that kept their offline decision (malformed or missing answers, failed requests). */
  fellBack: number;
  malformed: number;
  retries: number;
  inputTokens: number;
  outputTokens: number;
  /** Dry runs: the request count and tokens are the estimate; cost is null for an unknown model price. */
  estimated: boolean;
  estimatedCostUsd: number | null;
}

export interface BatchSummary {
  index: number;
  read: number;
  /** Memories an earlier run left as this run would: neither read nor written (absent in older summaries). */
  unchanged?: number;
  /** Of those, the ones an earlier run rejected, by reason. */
  unchangedRejectsByReason?: Record<string, number>;
  migrated: number;
  rejected: number;
  byModule: Partial<Record<ModuleId, number>>;
  byRule: Record<string, number>;
  rejectsByReason: Record<string, number>;
  repairsByRule: Record<string, number>;
  load: LoadResult | null;
  embedding: BatchEmbeddingSummary | null;
  /** The LLM pass, when the run asked for one. */
  llm?: BatchLlmSummary | null;
  /** Migrated memories by offline-or-LLM confidence, in tenths: [0,0.1), …, [0.9,1]. */
  confidenceHistogram?: number[];
  /** A few decisions per module (and per reject reason) for the report, with their content's start. */
  samples: Array<MemoryDecision & { snippet?: string }>;
  timings: { readMs: number; embedMs: number; prepareMs: number; loadMs: number };
}

/** One line of decisions.jsonl: what happened to a memory and why. */
export interface MemoryDecision {
  sourceId: string;
  userId: string;
  status: 'migrated' | 'rejected';
  module: ModuleId | null;
  rule: string | null;
  evidence: string | null;
  confidence: number | null;
  reason?: RejectReason;
  detail?: string;
  repairs?: Repair['rule'][];
}

/** The target user a source user maps to, or null with the decision that left it unmapped. */
export interface UserMapping {
  targetUserId: string | null;
  decision: string;
}

export interface PrepareOptions {
  runId: string;
  rules: CompiledRules;
  centroids?: ModuleCentroids;
  users: ReadonlyMap<string, UserMapping>;
  /** Regenerated embeddings by source id; absent means preserve the source's own. */
  embeddings?: ReadonlyMap<string, Float32Array>;
  embeddingModel?: string;
  /** The target's vector sizes; Federated Memory's own (1536 and 512) when absent. */
  vectors?: VectorShape;
  /** Decisions made before (the LLM pass) by source id; the rest are classified here. */
  classifications?: ReadonlyMap<string, Classification>;
  /** The target's registered module ids; the six standard ones by default. */
  modules?: readonly string[];
  /** Where the CMI vectors are allocated (the batch's slab); a new array each by default. */
  allocateVector?: (length: number) => Float32Array;
}

export interface PreparedBatchWithDecisions {
  batch: PreparedBatch;
  decisions: MemoryDecision[];
  repairs: Repair[];
}

/** Records a rejection in the ledger entries and the decisions. */
function reject(
  into: { rejected: LedgerEntry[]; decisions: MemoryDecision[] },
  memory: SourceMemory,
  hash: string | null,
  reason: RejectReason,
  detail: string,
  classification: Classification | null,
): void {
  into.rejected.push({
    sourceId: memory.id,
    status: 'rejected',
    module: null,
    targetId: null,
    targetUserId: null,
    contentHash: hash,
    sourceUpdatedAt: memory.updatedAt,
    rule: classification?.rule ?? null,
    reason,
    detail,
  });
  into.decisions.push({
    sourceId: memory.id,
    userId: memory.userId,
    status: 'rejected',
    module: classification?.module ?? null,
    rule: classification?.rule ?? null,
    evidence: classification?.evidence ?? null,
    confidence: classification?.confidence ?? null,
    reason,
    detail,
  });
}

/**
 * Classifies and transforms one batch of source memories. Row-level defects never throw: each
 * memory ends as a prepared target row or a rejection with its reason.
 */
export function prepareBatch(
  memories: readonly SourceMemory[],
  options: PrepareOptions,
): PreparedBatchWithDecisions {
  const migrated: PreparedMemory[] = [];
  const rejected: LedgerEntry[] = [];
  const decisions: MemoryDecision[] = [];
  const repairs: Repair[] = [];
  const rejections = { rejected, decisions };
  const vectors = options.vectors ?? DEFAULT_VECTOR_SHAPE;

  for (const stored of memories) {
    const hash = stored.contentHash ?? (stored.content ? contentHash(stored.content) : null);
    const sound = soundSourceValues(stored);
    if (!sound.ok) {
      const instant = (d: Date | null) => (d !== null && Number.isFinite(d.getTime()) ? d : null);
      reject(
        rejections,
        { ...stored, updatedAt: instant(stored.updatedAt) },
        hash,
        sound.rejection.reason,
        sound.rejection.detail,
        null,
      );
      continue;
    }
    const memory = sound.memory;
    const classification =
      options.classifications?.get(memory.id) ??
      classifyMemory(memory, options.rules, options.centroids, options.modules);
    const user = options.users.get(memory.userId);
    if (!user || user.targetUserId === null) {
      reject(
        rejections,
        memory,
        hash,
        'unmapped_user',
        `user ${memory.userId}: ${user?.decision ?? 'not in the source users table'}`,
        classification,
      );
      continue;
    }
    const result = transformMemory(memory, {
      classification,
      targetUserId: user.targetUserId,
      embedding: options.embeddings?.get(memory.id),
      // Only a memory whose vector the API produced records the model (missing-only keeps the rest).
      embeddingModel: options.embeddings?.has(memory.id) ? options.embeddingModel : undefined,
      embeddingDimensions: vectors.embeddingDimensions,
    });
    if (!result.ok) {
      reject(rejections, memory, hash, result.rejection.reason, result.rejection.detail, classification);
      continue;
    }
    const rowRepairs = [...sound.repairs, ...result.repairs];
    repairs.push(...rowRepairs);
    const row = result.row;
    migrated.push({
      row,
      cmi: deriveCmiEntry(row, vectors.cmiDimensions, options.allocateVector),
      ledger: {
        sourceId: memory.id,
        status: 'migrated',
        module: row.module,
        targetId: row.id,
        targetUserId: row.userId,
        contentHash: hash,
        sourceUpdatedAt: memory.updatedAt,
        rule: classification.rule,
        reason: null,
        detail: null,
      },
    });
    decisions.push({
      sourceId: memory.id,
      userId: memory.userId,
      status: 'migrated',
      module: row.module,
      rule: classification.rule,
      evidence: classification.evidence,
      confidence: classification.confidence,
      ...(rowRepairs.length > 0 ? { repairs: rowRepairs.map((r) => r.rule) } : {}),
    });
  }
  return { batch: { runId: options.runId, migrated, rejected }, decisions, repairs };
}
