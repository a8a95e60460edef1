import type { Pool } from 'pg';
import { type MemoryDecision, prepareBatch, type UserMapping } from '../core/batch.js';
import type { ModuleCentroids } from '../core/centroids.js';
import type { CompiledRules } from '../core/rules.js';
import type { ModuleId } from '../core/types.js';
import { BatchLoader, type LoadResult } from '../db/batch-loader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { type KeyRange, readSourceRange } from '../db/source-reader.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface MigrateBatchDeps {
  source: Pool;
  target: Pool;
  schema: SourceSchema;
  rules: CompiledRules;
  centroids?: ModuleCentroids;
  /** Target users for the batch's source users (from the ledger, or computed for a dry run). */
  resolveUsers: (sourceUserIds: string[]) => Promise<ReadonlyMap<string, UserMapping>>;
  /** Regenerate mode: embeds the batch's memories before any transaction opens. */
  embed?: (memories: { id: string; content: string }[]) => Promise<ReadonlyMap<string, Float32Array>>;
  embeddingModel?: string;
}

export interface MigrateBatchInput {
  runId: string;
  range: KeyRange;
  dryRun: boolean;
  changedSince?: Date | null;
}

export interface BatchSummary {
  index: number;
  read: number;
  migrated: number;
  rejected: number;
  byModule: Partial<Record<ModuleId, number>>;
  byRule: Record<string, number>;
  rejectsByReason: Record<string, number>;
  repairsByRule: Record<string, number>;
  load: LoadResult | null;
  /** Up to SAMPLES_PER_MODULE decisions per module (and per reject reason) for the report. */
  samples: MemoryDecision[];
  timings: { readMs: number; embedMs: number; prepareMs: number; loadMs: number };
}

export interface BatchOutcome {
  summary: BatchSummary;
  decisions: MemoryDecision[];
}

const SAMPLES_PER_MODULE = 3;

const increment = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * One range of the source, end to end: read → classify → transform → (embed) → load in one
 * transaction. A dry run stops before the load and touches nothing.
 */
export async function migrateBatch(deps: MigrateBatchDeps, input: MigrateBatchInput): Promise<BatchOutcome> {
  const t0 = performance.now();
  const sourceClient = await deps.source.connect();
  let memories: Awaited<ReturnType<typeof readSourceRange>>;
  try {
    memories = await readSourceRange(sourceClient, deps.schema, input.range, { changedSince: input.changedSince });
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', batch: input.range.index });
  } finally {
    sourceClient.release();
  }
  const t1 = performance.now();

  const users = await deps.resolveUsers([...new Set(memories.map((m) => m.userId))]);
  const embeddings = deps.embed
    ? await deps.embed(
        memories
          .filter((m) => m.content && m.content.trim() !== '' && users.get(m.userId)?.targetUserId)
          .map((m) => ({ id: m.id, content: m.content as string })),
      )
    : undefined;
  const t2 = performance.now();

  const prepared = prepareBatch(memories, {
    runId: input.runId,
    rules: deps.rules,
    centroids: deps.centroids,
    users,
    embeddings,
    embeddingModel: deps.embeddingModel,
  });
  const t3 = performance.now();

  const load = input.dryRun ? null : await new BatchLoader(deps.target).load(prepared.batch);
  const t4 = performance.now();

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
      samples,
      timings: { readMs: t1 - t0, embedMs: t2 - t1, prepareMs: t3 - t2, loadMs: t4 - t3 },
    },
    decisions: prepared.decisions,
  };
}
