import {
  type BatchEmbeddingSummary,
  type BatchLlmSummary,
  type BatchSummary,
  type LoadResult,
  type MemoryDecision,
  prepareBatch,
  type RefusedMemory,
  refusedLedgerEntry,
  type UserMapping,
} from '../core/batch.js';
import type { ModuleCentroids } from '../core/centroids.js';
import { classifyMemory } from '../core/classify.js';
import { type VectorShape, validateEmbedding } from '../core/embedding.js';
import { isRetriedReject, rangeDigest } from '../core/fingerprint.js';
import { type LlmEstimate, type LlmItem, llmClassification, needsLlm } from '../core/llm-classification.js';
import { ModuleRegistry } from '../core/modules.js';
import type { CompiledRules } from '../core/rules.js';
import type { Classification, ModuleId, SourceMemory } from '../core/types.js';
import { BatchLoader } from '../db/batch-loader.js';
import { type PlannedRange, recordSettledRanges, type SettledRange } from '../db/memory-ranges.js';
import { Float32Slab } from '../db/pg-binary.js';
import type { Database } from '../db/port.js';
import type { SourceRowHash } from '../db/source-fingerprints.js';
import { readSourceRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { inspectTarget } from '../db/target-schema.js';
import { planEmbeddingRequests } from '../embed/token-estimate.js';
import { classifyDatabaseFailure } from '../errors.js';
import {
  type BatchChanges,
  changedMemories,
  countReasons,
  readRangeHashes,
  unchangedSummary,
  versionOf,
} from './batch-changes.js';

export interface MigrateBatchDeps {
  source: Database;
  target: Database;
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
  /** The target's modules and vector sizes (the run's, from Preflight); read from the target when absent. */
  modules?: ModuleRegistry;
  vectors?: VectorShape;
  /** The LLM pass for unsure memories; absent: offline decisions only. */
  llm?: BatchLlmClassifier;
}

export interface BatchLlmClassifier {
  model: string;
  /** Offline decisions below this confidence are sent. */
  threshold: number;
  classify(items: readonly LlmItem[], modules: readonly string[]): Promise<ReadonlyMap<string, string>>;
  estimate(items: readonly LlmItem[], modules: readonly string[]): LlmEstimate;
  stats(): {
    requests: number;
    retries: number;
    fellBack: number;
    malformed: number;
    inputTokens: number;
    outputTokens: number;
  };
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
    /** Batch API mode: inputs whose vector came from a batch's output file, and their tokens. */
    batchInputs?: number;
    batchTokens?: number;
  };
}

export interface MigrateBatchInput {
  runId: string;
  range: PlannedRange;
  dryRun: boolean;
  changedSince?: Date | null;
  /** Process every memory of the range, fingerprints notwithstanding (`--force-reprocess`). */
  forceReprocess?: boolean;
  /** The most memories an item of several ranges writes in one transaction (the run's batch size). */
  chunkSize?: number;
}

export interface BatchOutcome {
  summary: BatchSummary;
  decisions: MemoryDecision[];
}

const SAMPLES_PER_MODULE = 3;
/** Enough of a sample's content to recognise it; the report cuts it shorter still. */
const SNIPPET_SOURCE_LENGTH = 240;

const snippetOf = (content: string | null | undefined) =>
  content ? content.slice(0, SNIPPET_SOURCE_LENGTH) : '';

/**
 * Which memories need an embedding from the API: those that will migrate (content, mapped user),
 * and in missing-only mode only those whose own vector is absent or unusable. A dry run plans the
 * requests (tokens, request count) without sending them.
 */
async function embedMemories(
  deps: MigrateBatchDeps & { vectors: VectorShape },
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
    .filter(
      (m) =>
        embedder.mode === 'all' ||
        !m.embedding ||
        !validateEmbedding(m.embedding, deps.vectors.embeddingDimensions).ok,
    )
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
      ...(stats.batchInputs === undefined
        ? {}
        : { batchInputs: stats.batchInputs, batchTokens: stats.batchTokens ?? 0 }),
      startedAt,
      finishedAt: Date.now(),
    },
  };
}

/** Memories the target refused become rejects in the batch's decisions and counts. */
function recordRefusals(prepared: ReturnType<typeof prepareBatch>, refused: readonly RefusedMemory[]): void {
  if (refused.length === 0) return;
  const byId = new Map(refused.map((r) => [r.sourceId, r.detail]));
  const batch = prepared.batch;
  for (const memory of batch.migrated) {
    const detail = byId.get(memory.ledger.sourceId);
    if (detail !== undefined) batch.rejected.push(refusedLedgerEntry(memory, detail));
  }
  batch.migrated = batch.migrated.filter((m) => !byId.has(m.ledger.sourceId));
  prepared.repairs = prepared.repairs.filter((r) => !byId.has(r.sourceId));
  for (const decision of prepared.decisions) {
    const detail = byId.get(decision.sourceId);
    if (detail === undefined) continue;
    decision.status = 'rejected';
    decision.reason = 'target_constraint';
    decision.detail = detail;
    delete decision.repairs;
  }
}

/**
 * Offline decisions for the batch, and for those below the threshold the chat model's choice: a
 * dry run only estimates what asking would cost. Memories that will not migrate are not sent.
 */
async function classifyWithLlm(
  deps: MigrateBatchDeps & { modules: ModuleRegistry },
  input: MigrateBatchInput,
  memories: readonly SourceMemory[],
  users: ReadonlyMap<string, UserMapping>,
): Promise<{ classifications: Map<string, Classification> | undefined; summary: BatchLlmSummary | null }> {
  const llm = deps.llm;
  if (!llm) return { classifications: undefined, summary: null };
  const modules = deps.modules.ids;
  const classifications = new Map<string, Classification>();
  const items: LlmItem[] = [];
  for (const memory of memories) {
    const offline = classifyMemory(memory, deps.rules, deps.centroids, modules);
    classifications.set(memory.id, offline);
    if (!memory.content || memory.content.trim() === '' || !users.get(memory.userId)?.targetUserId) continue;
    if (!needsLlm(offline, llm.threshold)) continue;
    items.push({
      id: memory.id,
      text: memory.content,
      tags: (memory.tags ?? []).filter((t) => typeof t === 'string'),
    });
  }
  const base = { model: llm.model, candidates: items.length, retries: 0, malformed: 0 };
  if (input.dryRun || items.length === 0) {
    const estimate = llm.estimate(items, modules);
    return {
      classifications,
      summary: {
        ...base,
        requests: estimate.requests,
        decided: 0,
        fellBack: 0,
        inputTokens: estimate.inputTokens,
        outputTokens: estimate.outputTokens,
        estimated: true,
        estimatedCostUsd: estimate.costUsd,
      },
    };
  }
  const chosen = await llm.classify(items, modules);
  for (const item of items) {
    const module = chosen.get(item.id);
    const offline = classifications.get(item.id) as Classification;
    if (module !== undefined) classifications.set(item.id, llmClassification(llm.model, module, offline));
  }
  const stats = llm.stats();
  return {
    classifications,
    summary: {
      ...base,
      requests: stats.requests,
      decided: chosen.size,
      fellBack: items.length - chosen.size,
      malformed: stats.malformed,
      retries: stats.retries,
      inputTokens: stats.inputTokens,
      outputTokens: stats.outputTokens,
      estimated: false,
      estimatedCostUsd: null,
    },
  };
}

const CONFIDENCE_BUCKETS = 10;

const increment = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

async function withTarget(
  deps: MigrateBatchDeps,
): Promise<Required<Pick<MigrateBatchDeps, 'modules' | 'vectors'>>> {
  if (deps.modules && deps.vectors) return { modules: deps.modules, vectors: deps.vectors };
  const layout = await inspectTarget(deps.target);
  return { modules: new ModuleRegistry(layout.modules), vectors: layout.vectors };
}

type Deps = MigrateBatchDeps & Required<Pick<MigrateBatchDeps, 'modules' | 'vectors'>>;

/** A range of the item: the item itself, or one of the recorded ranges it holds. */
interface ItemRange {
  fromKey: string | null;
  toKey: string | null;
  settled?: SettledRange;
}

const rangesOf = (range: PlannedRange): ItemRange[] => range.parts ?? [range];

/**
 * Records ranges as settled once their writes committed (db/memory-ranges.ts), unless a later run
 * must look again anyway: a dry or incremental run, or a reject that is always retried.
 */
async function settleRanges(
  deps: MigrateBatchDeps,
  input: MigrateBatchInput,
  settled: { range: ItemRange; settled: SettledRange }[],
): Promise<void> {
  const userMap = input.range.userMap;
  if (input.dryRun || input.changedSince || userMap === undefined) return;
  const lasting = settled.filter((s) => !Object.keys(s.settled.rejectsByReason).some(isRetriedReject));
  await recordSettledRanges(deps.target, userMap, lasting, input.runId).catch((error: unknown) => {
    throw classifyDatabaseFailure(error, { database: 'target', batch: input.range.index });
  });
}

/** What one transaction's worth of memories came to. */
interface ChunkOutcome {
  read: number;
  decisions: MemoryDecision[];
  /** The start of each decided memory's content, by position in `decisions`. */
  snippets: string[];
  repairs: { rule: string }[];
  load: LoadResult | null;
  embedding: BatchEmbeddingSummary | null;
  llm: BatchLlmSummary | null;
  timings: BatchSummary['timings'];
}

/**
 * Read → (embed) → classify → transform → load in one transaction, for these memories of the
 * item (all of its range when `ids` is null). A dry run stops before the load and touches nothing.
 */
async function migrateMemories(
  deps: Deps,
  input: MigrateBatchInput,
  work: BatchChanges,
  ids: string[] | null,
  deletedSourceIds: string[],
): Promise<ChunkOutcome> {
  const t0 = performance.now();
  // The batch's vectors, source and CMI, live in pooled blocks that the next batches reuse.
  const vectors = Float32Slab.pooled();
  const sourceClient = await deps.source.connect();
  let memories: Awaited<ReturnType<typeof readSourceRange>>;
  try {
    memories =
      ids === null || ids.length > 0
        ? await readSourceRange(sourceClient, deps.schema, input.range, {
            changedSince: input.changedSince,
            slab: vectors,
            ...(ids ? { ids } : {}),
          })
        : [];
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', batch: input.range.index });
  } finally {
    sourceClient.release();
  }
  const t1 = performance.now();

  const users = work.users;
  const { embeddings, summary: embedding } = await embedMemories(deps, input, memories, users);
  const { classifications, summary: llm } = await classifyWithLlm(deps, input, memories, users);
  const t2 = performance.now();

  const prepared = prepareBatch(memories, {
    runId: input.runId,
    rules: deps.rules,
    centroids: deps.centroids,
    classifications,
    modules: deps.modules.ids,
    users,
    embeddings,
    embeddingModel: deps.embeddingModel,
    vectors: deps.vectors,
    allocateVector: (length) => vectors.take(length),
  });
  const t3 = performance.now();
  for (const entry of [...prepared.batch.migrated.map((m) => m.ledger), ...prepared.batch.rejected]) {
    entry.fingerprint = work.fingerprintOf(entry.sourceId, entry.rule);
  }

  const load = input.dryRun
    ? null
    : await new BatchLoader(deps.target, deps.modules).load({ ...prepared.batch, deletedSourceIds });
  if (load) recordRefusals(prepared, load.refused);
  const t4 = performance.now();
  // Written (or, in a dry run, never to be): nothing below or in the outcome holds a vector, so
  // the blocks go back to the pool. A failure above leaves them to the garbage collector.
  vectors.recycle();
  return {
    read: memories.length,
    // prepareBatch decides the memories in order, one decision each.
    decisions: prepared.decisions,
    snippets: prepared.decisions.map((_, i) => snippetOf(memories[i]?.content)),
    repairs: prepared.repairs,
    load,
    embedding,
    llm,
    timings: { readMs: t1 - t0, embedMs: t2 - t1, prepareMs: t3 - t2, loadMs: t4 - t3 },
  };
}

/** The loads of an item's transactions as one. */
function combinedLoad(loads: readonly LoadResult[]): LoadResult | null {
  const [first, ...rest] = loads;
  if (!first) return null;
  return rest.reduce<LoadResult>(
    (all, l) => ({
      inserted: all.inserted + l.inserted,
      upserted: all.upserted + l.upserted,
      moved: all.moved + l.moved,
      withdrawn: all.withdrawn + l.withdrawn,
      path: all.path === l.path ? l.path : 'mixed',
      refused: [...all.refused, ...l.refused],
    }),
    first,
  );
}

function summarize(
  index: number,
  kept: Pick<BatchSummary, 'unchanged'> & { unchangedRejectsByReason: Record<string, number> },
  chunks: readonly ChunkOutcome[],
  checkMs: number,
): BatchSummary {
  const byModule: Partial<Record<ModuleId, number>> = {};
  const byRule: Record<string, number> = {};
  const rejectsByReason: Record<string, number> = {};
  const repairsByRule: Record<string, number> = {};
  const samples: BatchSummary['samples'] = [];
  const sampled: Record<string, number> = {};
  const confidenceHistogram: number[] = new Array(CONFIDENCE_BUCKETS).fill(0);
  const timings = { readMs: checkMs, embedMs: 0, prepareMs: 0, loadMs: 0 };
  let migrated = 0;
  for (const chunk of chunks) {
    chunk.decisions.forEach((d, i) => {
      if (d.status === 'migrated' && d.confidence !== null) {
        const bucket = Math.min(
          CONFIDENCE_BUCKETS - 1,
          Math.max(0, Math.floor(d.confidence * CONFIDENCE_BUCKETS)),
        );
        (confidenceHistogram[bucket] as number)++;
      }
      const sampleKey = d.status === 'migrated' ? `module:${d.module}` : `reject:${d.reason}`;
      if ((sampled[sampleKey] ?? 0) < SAMPLES_PER_MODULE) {
        increment(sampled, sampleKey);
        samples.push({ ...d, snippet: chunk.snippets[i] ?? '' });
      }
      if (d.rule) increment(byRule, d.rule);
      if (d.status === 'migrated') migrated++;
      if (d.status === 'migrated' && d.module) byModule[d.module] = (byModule[d.module] ?? 0) + 1;
      if (d.reason) increment(rejectsByReason, d.reason);
    });
    for (const r of chunk.repairs) increment(repairsByRule, r.rule);
    timings.readMs += chunk.timings.readMs;
    timings.embedMs += chunk.timings.embedMs;
    timings.prepareMs += chunk.timings.prepareMs;
    timings.loadMs += chunk.timings.loadMs;
  }
  const decided = chunks.reduce((n, c) => n + c.decisions.length, 0);
  const llm = chunks.find((c) => c.llm)?.llm;
  const loads = chunks.flatMap((c) => (c.load ? [c.load] : []));
  return {
    index,
    read: chunks.reduce((n, c) => n + c.read, 0),
    unchanged: kept.unchanged,
    unchangedRejectsByReason: kept.unchangedRejectsByReason,
    migrated,
    rejected: decided - migrated,
    byModule,
    byRule,
    rejectsByReason,
    repairsByRule,
    load: combinedLoad(loads),
    embedding: chunks.find((c) => c.embedding)?.embedding ?? null,
    ...(llm ? { llm } : {}),
    confidenceHistogram,
    samples,
    timings,
  };
}

function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
  return into;
}

/**
 * One Map item, end to end: a key range, or several recorded ones (db/memory-ranges.ts). Each
 * range whose rows hash as its record says is left alone; the others' changed memories are read,
 * decided and written, at most `chunkSize` to a transaction, and their records renewed.
 */
export async function migrateBatch(given: MigrateBatchDeps, input: MigrateBatchInput): Promise<BatchOutcome> {
  const deps = { ...given, ...(await withTarget(given)) };
  const t0 = performance.now();
  const ranges = rangesOf(input.range);
  const hashes = await readRangeHashes(deps, input, ranges);
  const version = versionOf(deps);
  const skipping = !input.forceReprocess && !input.changedSince;
  const kept = { unchanged: 0, unchangedRejectsByReason: {} as Record<string, number> };
  const open: { range: ItemRange; hashes: SourceRowHash[]; digest: string }[] = [];
  ranges.forEach((range, i) => {
    const rows = hashes[i] ?? [];
    const digest = rangeDigest(rows, version);
    if (skipping && range.settled?.digest === digest) {
      kept.unchanged += range.settled.live;
      addCounts(kept.unchangedRejectsByReason, range.settled.rejectsByReason);
    } else open.push({ range, hashes: rows, digest });
  });
  if (open.length === 0)
    return { summary: unchangedSummary(input.range.index, kept, performance.now() - t0), decisions: [] };

  const work = await changedMemories(
    deps,
    input,
    open.flatMap((o) => o.hashes),
    version,
  );
  const totals = {
    unchanged: kept.unchanged + work.unchanged,
    unchangedRejectsByReason: addCounts({ ...kept.unchangedRejectsByReason }, work.unchangedRejectsByReason),
  };
  const settle = (rejectOf: (id: string) => string | undefined) =>
    settleRanges(
      deps,
      input,
      open.map(({ range, hashes: rows, digest }) => {
        const live = rows.filter((h) => !h.deleted);
        const reasons = live.flatMap((h) => rejectOf(h.id) ?? []);
        return { range, settled: { digest, live: live.length, rejectsByReason: countReasons(reasons) } };
      }),
    );
  if (work.changedIds !== null && work.changedIds.length === 0 && work.deletedSourceIds.length === 0) {
    await settle((id) => work.unchangedRejects.get(id));
    return { summary: unchangedSummary(input.range.index, totals, performance.now() - t0), decisions: [] };
  }
  const checkMs = performance.now() - t0;

  const chunks: ChunkOutcome[] = [];
  for (const [i, ids] of transactionsOf(deps, input, open, work).entries()) {
    chunks.push(await migrateMemories(deps, input, work, ids, i === 0 ? work.deletedSourceIds : []));
  }
  const summary = summarize(input.range.index, totals, chunks, checkMs);
  const decisions = chunks.flatMap((c) => c.decisions);
  if (!input.dryRun) {
    const rejected = new Map(decisions.flatMap((d) => (d.reason ? [[d.sourceId, d.reason] as const] : [])));
    await settle((id) => rejected.get(id) ?? work.unchangedRejects.get(id));
  }
  return { summary, decisions };
}

/**
 * The memories each transaction writes: the changed memories of the item's changed ranges (null:
 * all of its one range), at most `chunkSize` to a transaction, so a transaction stays the size of
 * a batch however many ranges an item holds or however a recorded range grew. A run that calls an
 * API per memory (embeddings, the LLM) writes an item in one: Plan gives it one range per item.
 */
function transactionsOf(
  deps: Deps,
  input: MigrateBatchInput,
  open: readonly { hashes: readonly SourceRowHash[] }[],
  work: BatchChanges,
): (string[] | null)[] {
  const size =
    deps.embedder || deps.llm ? Number.POSITIVE_INFINITY : Math.max(1, input.chunkSize ?? Infinity);
  const live = open.flatMap((o) => o.hashes.filter((h) => !h.deleted).map((h) => h.id));
  if (work.changedIds === null && !input.range.parts && live.length <= size) return [null];
  const ids = work.changedIds ?? live;
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}
