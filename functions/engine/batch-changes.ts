import type { BatchSummary, UserMapping } from '../core/batch.js';
import type { ModuleCentroids } from '../core/centroids.js';
import type { VectorShape } from '../core/embedding.js';
import {
  isUnchanged,
  memoryFingerprint,
  type ProcessingVersion,
  processingVersion,
} from '../core/fingerprint.js';
import type { ModuleRegistry } from '../core/modules.js';
import type { CompiledRules } from '../core/rules.js';
import type { Database } from '../db/port.js';
import {
  type LedgerState,
  readLedgerStates,
  readSourceRowHashes,
  type SourceRowHash,
} from '../db/source-fingerprints.js';
import type { KeyRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface ChangeDeps {
  source: Database;
  target: Database;
  schema: SourceSchema;
  rules: CompiledRules;
  centroids?: ModuleCentroids;
  modules: ModuleRegistry;
  vectors: VectorShape;
  resolveUsers: (sourceUserIds: string[]) => Promise<ReadonlyMap<string, UserMapping>>;
  embedder?: { mode: 'all' | 'missing-only' };
  embeddingModel?: string;
  llm?: { model: string; threshold: number };
}

export interface ChangeInput {
  range: KeyRange;
  changedSince?: Date | null;
  /** Process every memory of the range whatever the ledger says (`--force-reprocess`). */
  forceReprocess?: boolean;
}

export interface BatchChanges {
  /** The live memories to process; null: all of the range (nothing to skip). */
  changedIds: string[] | null;
  /** Live memories an earlier run left as they would be now: not read, not written. */
  unchanged: number;
  /** Of those, the ones the ledger holds as rejected, by reason. */
  unchangedRejectsByReason: Record<string, number>;
  /** The same rejects, each memory with its reason. */
  unchangedRejects: ReadonlyMap<string, string>;
  /** Soft-deleted memories of the range the ledger still holds. */
  deletedSourceIds: string[];
  users: ReadonlyMap<string, UserMapping>;
  /** The fingerprint to record for a processed memory and the rule that decided it. */
  fingerprintOf(sourceId: string, rule: string | null): string | null;
}

/** The rows of the item's ranges hashed at the source, live and soft-deleted, vectors unread. */
export async function readRangeHashes(
  deps: ChangeDeps,
  input: ChangeInput,
  ranges: readonly Pick<KeyRange, 'fromKey' | 'toKey'>[],
): Promise<SourceRowHash[][]> {
  const client = await deps.source.connect();
  try {
    return await readSourceRowHashes(client, deps.schema, ranges, input.changedSince ?? null);
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', batch: input.range.index });
  } finally {
    client.release();
  }
}

/** The version of everything a memory's migrated form depends on besides its row and user. */
export function versionOf(deps: ChangeDeps): ProcessingVersion {
  return processingVersion({
    rules: deps.rules,
    centroids: deps.centroids,
    modules: deps.modules.ids,
    embedMode: deps.embedder?.mode ?? 'preserve',
    embeddingModel: deps.embeddingModel,
    embeddingDimensions: deps.vectors.embeddingDimensions,
    cmiDimensions: deps.vectors.cmiDimensions,
    llm: deps.llm ? { model: deps.llm.model, threshold: deps.llm.threshold } : undefined,
  });
}

/**
 * Which memories of a range need work (docs/design.md, "Skipping what is done"), from the range's
 * row hashes: one query reads their ledger rows; a memory whose fingerprint the ledger already
 * holds is left alone, vectors unread.
 */
export async function changedMemories(
  deps: ChangeDeps,
  input: ChangeInput,
  hashes: readonly SourceRowHash[],
  version: ProcessingVersion,
): Promise<BatchChanges> {
  const live = hashes.filter((h) => !h.deleted);
  // One after the other: an item holds one connection to the target for its work
  // (core/connection-needs.ts).
  const ledger = await readLedgerStates(
    deps.target,
    hashes.map((h) => h.id),
  ).catch((error: unknown) => {
    throw classifyDatabaseFailure(error, { database: 'target', batch: input.range.index });
  });
  const users = await deps.resolveUsers([...new Set(live.map((h) => h.userId))]);
  const byId = new Map(live.map((h) => [h.id, h]));
  const targetUserOf = (userId: string) => users.get(userId)?.targetUserId ?? null;
  const changed = input.forceReprocess
    ? live
    : live.filter((h) => !isUnchanged(ledger.get(h.id), h.rowHash, targetUserOf(h.userId), version));
  const unchangedRejects = rejectedUnchanged(live, changed, ledger);
  return {
    changedIds: changed.length === live.length && live.length > 0 ? null : changed.map((h) => h.id),
    unchanged: live.length - changed.length,
    unchangedRejectsByReason: countReasons(unchangedRejects.values()),
    unchangedRejects,
    deletedSourceIds: hashes.filter((h) => h.deleted && ledger.has(h.id)).map((h) => h.id),
    users,
    fingerprintOf(sourceId, rule) {
      const hash = byId.get(sourceId);
      return hash ? memoryFingerprint(hash.rowHash, targetUserOf(hash.userId), rule, version) : null;
    },
  };
}

function rejectedUnchanged(
  live: readonly SourceRowHash[],
  changed: readonly SourceRowHash[],
  ledger: ReadonlyMap<string, LedgerState>,
): Map<string, string> {
  const out = new Map<string, string>();
  if (changed.length === live.length) return out;
  const redone = new Set(changed.map((h) => h.id));
  for (const h of live) {
    const state = ledger.get(h.id);
    if (redone.has(h.id) || state?.status !== 'rejected') continue;
    out.set(h.id, state.reason ?? 'unknown');
  }
  return out;
}

/** How many times each reason occurs. */
export function countReasons(reasons: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const reason of reasons) out[reason] = (out[reason] ?? 0) + 1;
  return out;
}

/** The summary of a batch whose every memory was unchanged: nothing read, nothing written. */
export function unchangedSummary(
  index: number,
  work: Pick<BatchChanges, 'unchanged' | 'unchangedRejectsByReason'>,
  checkMs: number,
): BatchSummary {
  return {
    index,
    read: 0,
    unchanged: work.unchanged,
    unchangedRejectsByReason: work.unchangedRejectsByReason,
    migrated: 0,
    rejected: 0,
    byModule: {},
    byRule: {},
    rejectsByReason: {},
    repairsByRule: {},
    load: null,
    embedding: null,
    confidenceHistogram: new Array(10).fill(0),
    samples: [],
    timings: { readMs: checkMs, embedMs: 0, prepareMs: 0, loadMs: 0 },
  };
}
