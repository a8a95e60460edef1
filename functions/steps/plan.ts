import type { DeletesSummary } from '../core/deletes.js';
import { runLayout } from '../core/run-options.js';
import { allSettledOrThrow } from '../core/settled.js';
import { propagateDeletes } from '../db/delete-propagation.js';
import { pruneLedgerRemovals } from '../db/ledger-changes.js';
import {
  forgetSettledRanges,
  mergeSettledRanges,
  type PlannedRange,
  recordedCut,
  settledRanges,
  userMapDigest,
} from '../db/memory-ranges.js';
import { planKeyRanges, planUserRanges, verifySlicesOf } from '../db/range-planner.js';
import { relationshipBasis } from '../db/relationship-basis.js';
import type { KeyRange } from '../db/source-reader.js';
import { sampleCentroids } from '../engine/sample-centroids.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { loadRunRules, moduleRegistryOf } from './run-inputs.js';

export interface PlanEvent {
  run: RunContext;
}

/** One item of the relationships Map: a range of relations, or a range of users whose tasks link to projects. */
export interface RelationshipItem extends KeyRange {
  kind: 'relations' | 'project-links';
}

export interface PlanResult {
  batchCount: number;
  rangesKey: string;
  relationBatchCount: number;
  relationRangesKey: string;
  verifySliceCount: number;
  verifySlicesKey: string;
  centroids: { modules: number; samples: number } | null;
  /** What the source deleted that the target held: removed, or in a dry run, to be removed. */
  deletes: { memories: number; relationships: number; users: number };
}

// Ranges sampled for centroids, spread evenly over the key space so one user's habits do not
// dominate. A few thousand confident samples fix a centroid's direction well, so the sample has a
// fixed budget. The sample's ranges are cut from the source's row count alone, never from the
// batch size: the centroids, and so the module of every unclear memory, must not change when a
// rerun cuts the key space differently.
const CENTROID_SAMPLE_RANGES = 8;
const CENTROID_SAMPLE_MEMORIES = 2400;

// Project links are a few tasks among many memories: an item reads its users' memories whole (to
// find their projects by name), so items span many batches' worth of memories.
const PROJECT_LINK_BATCHES_PER_ITEM = 10;

/**
 * Keyset ranges for the batch Map, the relationships Map and the Verify slices Map, written to the
 * run store (the Maps read them from there: the lists outgrow a state's payload at millions of
 * rows), plus module centroids from confidently classified memories for placing the unclear ones.
 */
export async function plan(runtime: MigrationRuntime, event: PlanEvent): Promise<PlanResult> {
  const { run } = event;
  const layout = runLayout(run.runId);
  const source = await runtime.sourcePool();
  const changedSince = run.changedSince ? new Date(run.changedSince) : null;

  // Independent work runs side by side, each on a connection of its own from the pool: the
  // relationship items, the memory ranges, the centroid sample and, before the batches, the
  // deletes carried over (a memory deleted in the source takes its relationships with it, and the
  // users it leaves unreferenced can go after it). The deletes write only what the others do not
  // read: the target's ledger and migrated rows.
  const [{ cut, centroids }, relationshipItems, fullRanges, deletes] = await allSettledOrThrow<
    [
      { cut: KeyRange[]; centroids: PlanResult['centroids'] },
      RelationshipItem[],
      KeyRange[] | null,
      DeletesSummary,
    ]
  >([
    Promise.all([keyRangesOf(runtime, run, changedSince), centroidsOf(runtime, run)]).then(
      ([cut, centroids]) => ({ cut, centroids }),
    ),
    planRelationshipItems(runtime, run, changedSince),
    // Verify compares every memory, not only the changed ones an incremental run migrates.
    changedSince ? planKeyRanges(source, { batchSize: run.verifySliceSize }) : Promise.resolve(null),
    carryDeletesOver(runtime, run),
  ]);
  await putJson(runtime.store, layout.deletes, deletes);
  const items = await withRangeRecords(runtime, run, cut);
  const verifySlices = fullRanges
    ? verifySlicesOf(fullRanges, 1)
    : verifySlicesOf(cut, run.verifySliceSize / run.batchSize);
  await putJson(runtime.store, layout.memoryRanges, items);
  await putJson(runtime.store, layout.relationshipRanges, relationshipItems);
  await putJson(runtime.store, layout.verifySlices, verifySlices);

  return {
    batchCount: items.length,
    rangesKey: layout.memoryRanges,
    relationBatchCount: relationshipItems.length,
    relationRangesKey: layout.relationshipRanges,
    verifySliceCount: verifySlices.length,
    verifySlicesKey: layout.verifySlices,
    centroids,
    deletes: { memories: deletes.memories, relationships: deletes.relationships, users: deletes.users },
  };
}

/**
 * The cut of the key space for the batches (docs/design.md, "Skipping what is done"): the one the
 * records describe while it fits the source (db/memory-ranges.ts), else a fresh one, which is then
 * the only scan of the keys. A dry run takes a fresh cut and leaves the records alone; an
 * incremental run cuts only the memories changed since its watermark.
 */
async function keyRangesOf(
  runtime: MigrationRuntime,
  run: RunContext,
  changedSince: Date | null,
): Promise<KeyRange[]> {
  const source = await runtime.sourcePool();
  const fresh = () => planKeyRanges(source, { batchSize: run.batchSize, changedSince });
  if (run.dryRun || changedSince) return fresh();
  const recorded = await recordedCut(source, await runtime.targetPool(), {
    batchSize: run.batchSize,
    idType: run.sourceSchema.memoryIdType,
  });
  return recorded ?? fresh();
}

/**
 * A real run's ranges with the records earlier runs left of them (db/memory-ranges.ts), for the
 * batches to confirm with one query each. An incremental run writes across records it does not
 * keep, so it drops them; a dry run leaves them alone and uses none. Consecutive recorded ranges go
 * out together when a memory costs only this run's own work; a run that calls an API per memory
 * (embeddings, the LLM) keeps one range per item, as each may take minutes.
 */
async function withRangeRecords(
  runtime: MigrationRuntime,
  run: RunContext,
  cut: KeyRange[],
): Promise<KeyRange[] | PlannedRange[]> {
  if (run.dryRun) return cut;
  const target = await runtime.targetPool();
  if (run.changedSince) {
    await forgetSettledRanges(target);
    return cut;
  }
  const planned = await settledRanges(target, cut, await userMapDigest(target));
  const local = run.embedMode === 'preserve' && run.classifier !== 'llm' && !run.forceReprocess;
  return local ? mergeSettledRanges(planned) : planned;
}

async function carryDeletesOver(runtime: MigrationRuntime, run: RunContext) {
  const target = await runtime.targetPool();
  if (!run.dryRun) await pruneLedgerRemovals(target);
  return propagateDeletes(await runtime.sourcePool(), target, run.sourceSchema, {
    runId: run.runId,
    dryRun: run.dryRun,
    keepDeleted: run.keepDeleted ?? false,
  });
}

async function planRelationshipItems(
  runtime: MigrationRuntime,
  run: RunContext,
  changedSince: Date | null,
): Promise<RelationshipItem[]> {
  const source = await runtime.sourcePool();
  // Every relation, incremental runs included: relations carry no updated_at, and a memory that
  // moved module in this run had its relationships removed for this step to recreate.
  const [relationRanges, userRanges] = await Promise.all([
    run.sourceSchema.hasRelations
      ? planKeyRanges(source, { batchSize: Math.max(run.batchSize, 1000), table: 'memory_relations' })
      : [],
    planUserRanges(source, { memoriesPerRange: run.batchSize * PROJECT_LINK_BATCHES_PER_ITEM, changedSince }),
    // The basis every item compares its record with: computed here, beside the other reads, it is
    // ready when the items start instead of holding them all behind the first.
    run.dryRun || run.forceReprocess
      ? null
      : relationshipBasis(source, await runtime.targetPool(), {
          runId: run.runId,
          hasRelations: run.sourceSchema.hasRelations,
          modules: moduleRegistryOf(run).ids,
        }),
  ]);
  return [
    ...relationRanges.map((r) => ({ ...r, kind: 'relations' as const })),
    ...userRanges.map((r) => ({ ...r, kind: 'project-links' as const })),
  ].map((item, index) => ({ ...item, index }));
}

/**
 * Module centroids from the confidently classified memories at the start of
 * CENTROID_SAMPLE_RANGES equal stretches of the whole key space (incremental runs too), written to
 * the run store; engine/sample-centroids.ts says when a rerun keeps the cached ones.
 */
async function centroidsOf(runtime: MigrationRuntime, run: RunContext): Promise<PlanResult['centroids']> {
  if (!run.centroidClassification || run.sourceCounts.memories === 0) return null;
  const rules = await loadRunRules(runtime, run);
  if (!rules.centroid.enabled) return null;
  const source = await runtime.sourcePool();
  const stretch = Math.max(1, Math.ceil(run.sourceCounts.memories / CENTROID_SAMPLE_RANGES));
  const json = await sampleCentroids(source, await runtime.targetPool(), {
    rules,
    schema: run.sourceSchema,
    stretches: await planKeyRanges(source, { batchSize: stretch }),
    perStretch: Math.ceil(CENTROID_SAMPLE_MEMORIES / CENTROID_SAMPLE_RANGES),
    dryRun: run.dryRun,
  });
  await putJson(runtime.store, runLayout(run.runId).centroids, json);
  const counts = Object.values(json.modules).map((m) => m?.count ?? 0);
  return { modules: counts.length, samples: counts.reduce((a, b) => a + b, 0) };
}
