/**
 * Source relations → rows of the target's `memory_relationships` (docs/design.md, "Project–task links and relationships"). Pure:
 * both ends are resolved through the memory ledger (modules and new ids), type and strength are kept,
 * and every relation ends either as a row or as a skip with a stable reason.
 */
import { relationshipId } from './ids.js';
import type { ModuleId } from './types.js';

/** Whether a relation's end exists in the source `memories` table, and if it is soft-deleted. */
export type EndState = 'live' | 'deleted' | 'missing';

/** One row of BigMemory's `memory_relations`. */
export interface RelationRow {
  id: string;
  userId: string | null;
  sourceMemoryId: string;
  targetMemoryId: string;
  relationType: string;
  strength: number | null;
  /** jsonb as stored: usually an object, but drifted installs hold other JSON or NULL. */
  metadata: unknown;
  createdAt: Date;
}

/** A relation with both ends' state in the source. */
export interface SourceRelation extends RelationRow {
  sourceState: EndState;
  targetState: EndState;
}

/** A dry run's relation: the ledger cannot say who owns each end yet, the source can. */
export interface DryRunRelation extends SourceRelation {
  /** The source `user_id` of each end's memory (null when the end is missing). */
  sourceOwner: string | null;
  targetOwner: string | null;
}

/** What the memory ledger says about one end, by source memory id. */
export interface LedgerEnd {
  status: 'migrated' | 'rejected';
  module: ModuleId | string | null;
  targetId: string | null;
  targetUserId: string | null;
}

/** A relationships Map item: a key range of `memory_relations`, or a range of users' project links. */
export type RelationshipKind = 'relations' | 'project-links';

export interface RelationshipBatchSummary {
  index: number;
  kind: RelationshipKind;
  read: number;
  migrated: number;
  skippedByReason: Record<string, number>;
  /** Migrated (or, in a dry run, would-be migrated) rows by relationship type. */
  byType: Record<string, number>;
  /** Real runs only: rows of earlier runs removed, other batches' relations found to be duplicates. */
  withdrawn?: number;
  displaced?: number;
  projectIdsWritten?: number;
  /** Real runs only: the item kept an earlier run's outcome, nothing it depends on having changed. */
  kept?: boolean;
  /** Of those read, the relations resolved again (absent: all, or none when kept). */
  resolved?: number;
}

/** A row of `memory_relationships`. */
export interface RelationshipRow {
  id: string;
  userId: string;
  sourceModule: string;
  sourceMemoryId: string;
  targetModule: string;
  targetMemoryId: string;
  relationshipType: string;
  strength: number;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/** Why a relation or project–task link was not migrated. Stable strings: reports group by them. */
export const RELATIONSHIP_SKIP_REASONS = [
  'source_deleted',
  'target_deleted',
  'source_missing',
  'target_missing',
  'source_rejected',
  'target_rejected',
  'self_relation',
  'cross_user',
  'duplicate',
  'invalid_strength',
  'project_not_found',
  'project_deleted',
  'project_rejected',
  'task_rejected',
] as const;
export type RelationshipSkipReason = (typeof RELATIONSHIP_SKIP_REASONS)[number];

export interface MigratedRelationship {
  /** Ledger key: `relation:<source relation id>` or `project:<task source id>`. */
  key: string;
  row: RelationshipRow;
}

export interface SkippedRelationship {
  key: string;
  reason: RelationshipSkipReason;
  detail: string;
}

export interface ResolvedRelationships {
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
}

/** The strength a relation gets when the source holds NULL: the target column's own default. */
const DEFAULT_STRENGTH = 1.0;

export const relationKey = (relationId: string) => `relation:${relationId}`;

/** The target's unique key, the one `ON CONFLICT` resolves on. */
const uniqueKeyOf = (row: RelationshipRow) =>
  JSON.stringify([
    row.sourceModule,
    row.sourceMemoryId,
    row.targetModule,
    row.targetMemoryId,
    row.relationshipType,
  ]);

/** Non-object metadata (arrays, strings, NULL) is kept under `original_metadata` rather than lost. */
export function relationMetadata(metadata: unknown): Record<string, unknown> {
  if (metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)) {
    return { ...(metadata as Record<string, unknown>) };
  }
  return metadata === null || metadata === undefined ? {} : { original_metadata: metadata };
}

/** An end the ledger migrated: its module, new id and new owner. */
interface ResolvedEnd {
  module: string;
  targetId: string;
  targetUserId: string;
}

export type EndCheck =
  | { ok: true; end: ResolvedEnd }
  | { ok: false; reason: RelationshipSkipReason; detail: string };

/** The ledger's verdict on a live end; `role` names it in the reason (`source_rejected`, `task_rejected`, …). */
export function checkLedgerEnd(
  role: 'source' | 'target' | 'task' | 'project',
  memoryId: string,
  ledger: ReadonlyMap<string, LedgerEnd>,
): EndCheck {
  const entry = ledger.get(memoryId);
  if (!entry && (role === 'source' || role === 'target')) {
    // Live in the source but never seen by a batch (created after the plan, or its batch failed).
    return {
      ok: false,
      reason: `${role}_missing`,
      detail: `memory ${memoryId} is not in the migration ledger`,
    };
  }
  if (entry?.status !== 'migrated' || !entry.module || !entry.targetId || !entry.targetUserId) {
    const detail = entry
      ? `memory ${memoryId} was rejected`
      : `memory ${memoryId} is not in the migration ledger`;
    return { ok: false, reason: `${role}_rejected`, detail };
  }
  return {
    ok: true,
    end: { module: entry.module, targetId: entry.targetId, targetUserId: entry.targetUserId },
  };
}

const ledgerMigrated = (ledger: ReadonlyMap<string, LedgerEnd>, memoryId: string) =>
  ledger.get(memoryId)?.status === 'migrated';

/** The ends whose source state is needed: those the ledger did not migrate. */
export function endsToLookUp(
  relations: readonly RelationRow[],
  ledger: ReadonlyMap<string, LedgerEnd>,
): string[] {
  const ids = new Set<string>();
  for (const r of relations) {
    if (!ledgerMigrated(ledger, r.sourceMemoryId)) ids.add(r.sourceMemoryId);
    if (!ledgerMigrated(ledger, r.targetMemoryId)) ids.add(r.targetMemoryId);
  }
  return [...ids];
}

/**
 * Both ends' state for relations read without it. An end the ledger migrated is live: its batch
 * read it live, and a deletion since then is the next run's to withdraw (with its relationships).
 * Any other end takes its state from the source lookup, and one the lookup did not find is missing.
 */
export function withEndStates(
  relations: readonly RelationRow[],
  ledger: ReadonlyMap<string, LedgerEnd>,
  states: ReadonlyMap<string, EndState>,
): SourceRelation[] {
  const stateOf = (memoryId: string): EndState =>
    ledgerMigrated(ledger, memoryId) ? 'live' : (states.get(memoryId) ?? 'missing');
  return relations.map((r) => ({
    ...r,
    sourceState: stateOf(r.sourceMemoryId),
    targetState: stateOf(r.targetMemoryId),
  }));
}

function endStateSkip(relation: SourceRelation): SkippedRelationship | null {
  const key = relationKey(relation.id);
  for (const [side, memoryId, state] of [
    ['source', relation.sourceMemoryId, relation.sourceState],
    ['target', relation.targetMemoryId, relation.targetState],
  ] as const) {
    if (state === 'deleted')
      return { key, reason: `${side}_deleted`, detail: `memory ${memoryId} is soft-deleted` };
  }
  for (const [side, memoryId, state] of [
    ['source', relation.sourceMemoryId, relation.sourceState],
    ['target', relation.targetMemoryId, relation.targetState],
  ] as const) {
    if (state === 'missing')
      return { key, reason: `${side}_missing`, detail: `memory ${memoryId} does not exist` };
  }
  return null;
}

/**
 * Resolves a batch of source relations through the ledger. Checks run in the order of
 * RELATIONSHIP_SKIP_REASONS; of several relations with one target unique key the first in the batch
 * (the lowest source id, as batches are read in key order) is kept and the rest are `duplicate`.
 */
export function resolveRelations(
  relations: readonly SourceRelation[],
  ledger: ReadonlyMap<string, LedgerEnd>,
): ResolvedRelationships {
  const migrated: MigratedRelationship[] = [];
  const skipped: SkippedRelationship[] = [];
  const seen = new Map<string, string>();
  for (const relation of relations) {
    const key = relationKey(relation.id);
    const stateSkip = endStateSkip(relation);
    if (stateSkip) {
      skipped.push(stateSkip);
      continue;
    }
    const source = checkLedgerEnd('source', relation.sourceMemoryId, ledger);
    const target = checkLedgerEnd('target', relation.targetMemoryId, ledger);
    if (!source.ok) {
      skipped.push({ key, reason: source.reason, detail: source.detail });
      continue;
    }
    if (!target.ok) {
      skipped.push({ key, reason: target.reason, detail: target.detail });
      continue;
    }
    if (relation.sourceMemoryId === relation.targetMemoryId) {
      skipped.push({
        key,
        reason: 'self_relation',
        detail: `memory ${relation.sourceMemoryId} relates to itself`,
      });
      continue;
    }
    // One relationship row belongs to one user: filing another user's memory under it would
    // show that user's memory to the wrong person.
    if (source.end.targetUserId !== target.end.targetUserId) {
      skipped.push({
        key,
        reason: 'cross_user',
        detail: `memory ${relation.sourceMemoryId} belongs to user ${source.end.targetUserId}, memory ${relation.targetMemoryId} to user ${target.end.targetUserId}`,
      });
      continue;
    }
    const invalid = strengthSkip(relation);
    if (invalid) {
      skipped.push(invalid);
      continue;
    }
    const row = relationshipRow(relation, source.end, target.end);
    const unique = uniqueKeyOf(row);
    const first = seen.get(unique);
    if (first !== undefined) {
      skipped.push({ key, reason: 'duplicate', detail: `same ends and type as relation ${first}` });
      continue;
    }
    seen.set(unique, relation.id);
    migrated.push({ key, row });
  }
  return { migrated, skipped };
}

/**
 * A strength that is not a number (NaN, ±Infinity) is rejected: there is no value to keep. One
 * outside [0, 1] is clamped into it by `relationshipRow`, the source's value kept in the metadata.
 */
function strengthSkip(relation: SourceRelation): SkippedRelationship | null {
  if (relation.strength === null || Number.isFinite(relation.strength)) return null;
  return {
    key: relationKey(relation.id),
    reason: 'invalid_strength',
    detail: `strength is ${relation.strength}; relationships take a number from 0 to 1`,
  };
}

function relationshipRow(
  relation: SourceRelation,
  source: ResolvedEnd,
  target: ResolvedEnd,
): RelationshipRow {
  const strength = relation.strength ?? DEFAULT_STRENGTH;
  return {
    id: relationshipId(source.module, source.targetId, target.module, target.targetId, relation.relationType),
    // The source memory owns the relation in the target, whoever the source row names.
    userId: source.targetUserId,
    sourceModule: source.module,
    sourceMemoryId: source.targetId,
    targetModule: target.module,
    targetMemoryId: target.targetId,
    relationshipType: relation.relationType,
    strength: Math.min(1, Math.max(0, strength)),
    metadata: {
      ...relationMetadata(relation.metadata),
      migrated_from: 'bigmemory',
      original_relation_id: relation.id,
      ...(strength < 0 || strength > 1 ? { original_strength: strength } : {}),
    },
    createdAt: relation.createdAt,
  };
}

/** What a dry run can tell from the source alone: the ledger may not even exist yet. */
export interface DryRunOutcome {
  wouldMigrate: number;
  skippedByReason: Record<string, number>;
  byType: Record<string, number>;
}

/**
 * Dry-run counterpart of resolveRelations: ends judged by their source state only (a later
 * rejection cannot be foreseen), owners by their source users (the same unless a user map merges
 * two source users into one), duplicates by source ends and type, which map one-to-one onto
 * target keys because target ids and modules are per memory.
 */
export function dryRunRelations(relations: readonly DryRunRelation[]): DryRunOutcome {
  const outcome: DryRunOutcome = { wouldMigrate: 0, skippedByReason: {}, byType: {} };
  const seen = new Set<string>();
  for (const relation of relations) {
    const skip =
      endStateSkip(relation)?.reason ??
      (relation.sourceMemoryId === relation.targetMemoryId ? 'self_relation' : null) ??
      (relation.sourceOwner !== relation.targetOwner ? 'cross_user' : null) ??
      (seen.has(sourceUniqueKey(relation)) ? 'duplicate' : null) ??
      strengthSkip(relation)?.reason ??
      null;
    if (skip) {
      increment(outcome.skippedByReason, skip);
      continue;
    }
    seen.add(sourceUniqueKey(relation));
    outcome.wouldMigrate++;
    increment(outcome.byType, relation.relationType);
  }
  return outcome;
}

const sourceUniqueKey = (r: SourceRelation) =>
  JSON.stringify([r.sourceMemoryId, r.targetMemoryId, r.relationType]);

export function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
