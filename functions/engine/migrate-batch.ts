import type { Pool } from 'pg';
import {
  type BatchEmbeddingSummary,
  type BatchSummary,
  type MemoryDecision,
  prepareBatch,
  type UserMapping,
} from '../core/batch.js';
import type { ModuleCentroids } from '../core/centroids.js';
import { validateEmbedding } from '../core/embedding.js';
import type { CompiledRules } from '../core/rules.js';
import type { ModuleId, SourceMemory } from '../core/types.js';
import { BatchLoader } from '../db/batch-loader.js';
import { Float32Slab } from '../db/pg-binary.js';
import { type KeyRange, readDeletedSourceIds, readSourceRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { planEmbeddingRequests } from '../embed/token-estimate.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface MigrateBatchDeps {
  source: Pool;
  target: Pool;
  schema: SourceSchema;
  rules: CompiledRules;
  centroids?: ModuleCentroids;
  /** Target users for the batch's source users (from the ledger, or computed for a dry run). */
  resolveUsers: (sourceUserIds: string[]) => Promise<ReadonlyMap<string, UserMapping>>;
  /**
   * Regenerate mode: embeds the batch's memories before any transaction opens, so a batch whose
   * embeddings cannot be had writes nothing. Absent: embeddings are preserved.
   */
  embedder?: BatchEmbedder;
  embeddingModel?: string;
}

export interface BatchEmbedder {
  /** `all` regenerates every embedding; `missing-only` keeps valid ones and embeds NULL/invalid ones. */
  mode: 'all' | 'missing-only';
  embedBatch(
    items: { id: string; text: string }[],
  ): Promise<{ vectors: ReadonlyMap<string, Float32Array>; truncatedIds: readonly string[] }>;
  stats(): {
    requests: number;
    tokens: number;
    retries: number;
    waitMs: number;
    rateLimited?: number;
    paceWaitMs?: number;
  };
}

export interface MigrateBatchInput {
  runId: string;
  range: KeyRange;
  dryRun: boolean;
  changedSince?: Date | null;
}

export interface BatchOutcome {
  summary: BatchSummary;
  decisions: MemoryDecision[];
}

const SAMPLES_PER_MODULE = 3;

/**
 * Which memories need an embedding from the API: those that will migrate (content, mapped user),
 * and in missing-only mode only those whose own vector is absent or unusable. A dry run plans the
 * requests (tokens, request count) without sending them.
 */
async function embedMemories(
  deps: MigrateBatchDeps,
  input: MigrateBatchInput,
  memories: SourceMemory[],
  users: ReadonlyMap<string, UserMapping>,
): Promise<{
  embeddings: ReadonlyMap<string, Float32Array> | undefined;
  summary: BatchEmbeddingSummary | null;
}> {
  const embedder = deps.embedder;
  if (!embedder) return { embeddings: undefined, summary: null };
  const items = memories
    .filter((m) => m.content && m.content.trim() !== '' && users.get(m.userId)?.targetUserId)
    .filter((m) => embedder.mode === 'all' || !m.embedding || !validateEmbedding(m.embedding).ok)
    .map((m) => ({ id: m.id, text: m.content as string }));
  if (items.length === 0) {
    return {
      embeddings: new Map(),
      summary: {
        inputs: 0,
        requests: 0,
        tokens: 0,
        retries: 0,
        waitMs: 0,
        truncated: 0,
        estimated: input.dryRun,
      },
    };
  }
  if (input.dryRun) {
    const plan = planEmbeddingRequests(items);
    return {
      embeddings: undefined,
      summary: {
        inputs: items.length,
        requests: plan.requests.length,
        tokens: plan.tokens,
        retries: 0,
        waitMs: 0,
        truncated: plan.truncatedIds.length,
        estimated: true,
      },
    };
  }
  const startedAt = Date.now();
  const { vectors, truncatedIds } = await embedder.embedBatch(items);
  const stats = embedder.stats();
  return {
    embeddings: vectors,
    summary: {
      inputs: items.length,
      requests: stats.requests,
      tokens: stats.tokens,
      retries: stats.retries,
      waitMs: stats.waitMs,
      truncated: truncatedIds.length,
      estimated: false,
      rateLimited: stats.rateLimited ?? 0,
      paceWaitMs: stats.paceWaitMs ?? 0,
      startedAt,
      finishedAt: Date.now(),
    },
  };
}

const increment = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * One range of the source, end to end: read → classify → transform → (embed) → load in one
 * transaction. A dry run stops before the load and touches nothing.
 */
export async function migrateBatch(deps: MigrateBatchDeps, input: MigrateBatchInput): Promise<BatchOutcome> {
  const t0 = performance.now();
  // The batch's vectors, source and CMI, live in pooled blocks that the next batches reuse.
  const vectors = Float32Slab.pooled();
  const sourceClient = await deps.source.connect();
  let memories: Awaited<ReturnType<typeof readSourceRange>>;
  let deletedSourceIds: string[];
  try {
    memories = await readSourceRange(sourceClient, deps.schema, input.range, {
      changedSince: input.changedSince,
      slab: vectors,
    });
    deletedSourceIds = await readDeletedSourceIds(sourceClient, deps.schema, input.range, {
      changedSince: input.changedSince,
    });
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', batch: input.range.index });
  } finally {
    sourceClient.release();
  }
  const t1 = performance.now();

  const users = await deps.resolveUsers([...new Set(memories.map((m) => m.userId))]);
  const { embeddings, summary: embedding } = await embedMemories(deps, input, memories, users);
  const t2 = performance.now();

  const prepared = prepareBatch(memories, {
    runId: input.runId,
    rules: deps.rules,
    centroids: deps.centroids,
    users,
    embeddings,
    embeddingModel: deps.embeddingModel,
    allocateVector: (length) => vectors.take(length),
  });
  const t3 = performance.now();

  const load = input.dryRun
    ? null
    : await new BatchLoader(deps.target).load({ ...prepared.batch, deletedSourceIds });
  const t4 = performance.now();
  // Written (or, in a dry run, never to be): nothing below or in the outcome holds a vector, so
  // the blocks go back to the pool. A failure above leaves them to the garbage collector.
  vectors.recycle();

  const byModule: Partial<Record<ModuleId, number>> = {};
  const byRule: Record<string, number> = {};
  const rejectsByReason: Record<string, number> = {};
  const repairsByRule: Record<string, number> = {};
  const samples: MemoryDecision[] = [];
  const sampled: Record<string, number> = {};
  for (const d of prepared.decisions) {
    const sampleKey = d.status === 'migrated' ? `module:${d.module}` : `reject:${d.reason}`;
    if ((sampled[sampleKey] ?? 0) < SAMPLES_PER_MODULE) {
      increment(sampled, sampleKey);
      samples.push(d);
    }
    if (d.rule) increment(byRule, d.rule);
    if (d.status === 'migrated' && d.module) byModule[d.module] = (byModule[d.module] ?? 0) + 1;
    if (d.reason) increment(rejectsByReason, d.reason);
  }
  for (const r of prepared.repairs) increment(repairsByRule, r.rule);

  return {
    summary: {
      index: input.range.index,
      read: memories.length,
      migrated: prepared.batch.migrated.length,
      rejected: prepared.batch.rejected.length,
      byModule,
      byRule,
      rejectsByReason,
      repairsByRule,
      load,
      embedding,
      samples,
      timings: { readMs: t1 - t0, embedMs: t2 - t1, prepareMs: t3 - t2, loadMs: t4 - t3 },
    },
    decisions: prepared.decisions,
  };
}
