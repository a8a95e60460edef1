import {
  type DryRunRelation,
  dryRunRelations,
  endsToLookUp,
  increment,
  type RelationRow,
  type RelationshipBatchSummary,
  relationKey,
  resolveRelations,
  withEndStates,
} from '../core/relationships.js';
import { ledgerChangesSince } from '../db/ledger-changes.js';
import { relationshipBasis } from '../db/relationship-basis.js';
import { recordedRelationshipItem, recordRelationshipOutcome } from '../db/relationship-items.js';
import {
  readEndStates,
  readRelationRange,
  readRelationRows,
  relationsReach,
} from '../db/relationship-reader.js';
import { readRelationshipLedgerStates } from '../db/source-fingerprints.js';
import { classifyDatabaseFailure } from '../errors.js';
import { type LinksReached, linkTasksReached, resolveProjectLinkItem } from './project-link-item.js';
import {
  type MigrateRelationshipsDeps,
  type MigrateRelationshipsInput,
  modulesOf,
  onTarget,
  type ResolvedItem,
  readFromSource,
  readTargetLedger,
  unchangedRelationships,
  writeChanged,
} from './relationship-item.js';

/**
 * One range of relations, or of tasks that name a project, end to end: read from the source,
 * resolve both ends through the memory ledger, write rows, `project_id` and relationship-ledger
 * rows in one transaction. A dry run reads the source only (the ledger may not exist yet) and
 * counts what would happen. What still stands of an earlier outcome (standingOf) is kept.
 */
export async function migrateRelationships(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
): Promise<{ summary: RelationshipBatchSummary }> {
  if (input.dryRun) return { summary: (await resolveItem(deps, input)).summary };
  const basis = input.forceReprocess ? '' : await basisOf(deps, input);
  const standing = basis ? await standingOf(deps, input, basis) : null;
  if (standing && 'kept' in standing) return { summary: keptSummary(standing.kept) };
  const outcome = await resolveItem(deps, input, standing ?? undefined);
  await onTarget(
    input,
    recordRelationshipOutcome(deps.target, input.runId, input.range, {
      basis,
      summary: outcome.summary,
      linkInputs: outcome.linkInputs,
    }),
  );
  return { summary: outcome.summary };
}

// More memories written or removed since an item's record than this are not looked for among its
// relations: the item is resolved again.
const CHANGED_MEMORIES_LOOKED_FOR = 20_000;

// The relationships step writes no memory-ledger row, so within a run the memories changed since
// a given record are the same for every item: read once per container and run, not once per item.
const changesByRun: { runId: string; since: Map<string, Promise<string[] | null>> } = {
  runId: '',
  since: new Map(),
};

function changesSince(
  deps: MigrateRelationshipsDeps,
  runId: string,
  since: string,
): Promise<string[] | null> {
  if (changesByRun.runId !== runId) {
    changesByRun.runId = runId;
    changesByRun.since = new Map();
  }
  let changes = changesByRun.since.get(since);
  if (!changes) {
    changes = ledgerChangesSince(deps.target, since, CHANGED_MEMORIES_LOOKED_FOR);
    changes.catch(() => changesByRun.since.delete(since));
    changesByRun.since.set(since, changes);
  }
  return changes;
}

/** Of an item's earlier outcome, what must be resolved again; the rest stands (standingOf). */
type Standing = { kept: RelationshipBatchSummary } | { reaching: ReadonlySet<string> } | LinksReached;

/**
 * What still stands of the outcome an earlier run recorded for the item (docs/design.md, "Skipping
 * what is done"), under the same basis (no relation changed, the same modules), from the memories
 * the ledger wrote or removed since the record (db/ledger-changes.ts). None: all of it. Otherwise,
 * for a range of relations, every relation none of whose ends is among them: all of them (the item
 * is then recorded again under this run), or all but those `reaching` one, which alone are resolved
 * again. Duplicates too: two relations that compete for a row share both ends. For a range of
 * users, every task the changes do not reach (linkTasksReached); the others are resolved again.
 */
async function standingOf(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  basis: string,
): Promise<Standing | null> {
  const recorded = await onTarget(input, recordedRelationshipItem(deps.target, input.kind, input.range));
  if (!recorded || recorded.basis !== basis) return null;
  const changed = await onTarget(input, changesSince(deps, input.runId, recorded.runId));
  if (changed === null) return null;
  if (changed.length === 0) return { kept: recorded.summary };
  if (input.kind === 'project-links') {
    const inputs = recorded.linkInputs;
    if (!inputs) return null;
    const tasks = await linkTasksReached(deps, input, inputs, changed);
    if (tasks.length > 0) return { tasks, inputs, changed };
  } else if (await readFromSource(deps, input, (c) => relationsReach(c, deps.schema, input.range, changed))) {
    return { reaching: new Set(changed) };
  }
  await onTarget(
    input,
    recordRelationshipOutcome(deps.target, input.runId, input.range, {
      basis,
      summary: recorded.summary,
      linkInputs: recorded.linkInputs,
    }),
  );
  return { kept: recorded.summary };
}

/**
 * The run's relationship basis (db/relationship-basis.ts); empty, so nothing is kept or recorded,
 * where no ledger holds the run (the engine driven without Preflight).
 */
async function basisOf(deps: MigrateRelationshipsDeps, input: MigrateRelationshipsInput): Promise<string> {
  const modules = await modulesOf(deps);
  try {
    return await relationshipBasis(deps.source, deps.target, {
      runId: input.runId,
      hasRelations: deps.schema.hasRelations,
      modules: modules.ids,
    });
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return '';
    throw classifyDatabaseFailure(error, { database: 'target', kind: input.kind, batch: input.range.index });
  }
}

/** An earlier run's outcome of the item, as this run reports it: the same totals, nothing written. */
function keptSummary(kept: RelationshipBatchSummary): RelationshipBatchSummary {
  const { withdrawn: _withdrawn, displaced: _displaced, projectIdsWritten: _written, ...totals } = kept;
  const summary = { ...totals, kept: true };
  return kept.kind === 'project-links' ? { ...summary, projectIdsWritten: 0 } : summary;
}

async function resolveItem(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  standing?: Exclude<Standing, { kept: RelationshipBatchSummary }>,
): Promise<ResolvedItem> {
  if (input.kind === 'project-links') {
    return resolveProjectLinkItem(deps, input, standing && 'tasks' in standing ? standing : undefined);
  }
  if (input.dryRun) {
    const relations = await readFromSource(deps, input, (c) =>
      readRelationRange(c, deps.schema, input.range),
    );
    return { summary: dryRunSummary(input, relations) };
  }
  const rows = await readFromSource(deps, input, (c) => readRelationRows(c, deps.schema, input.range));
  return {
    summary:
      standing && 'reaching' in standing
        ? await migrateRelationsReaching(deps, input, rows, standing.reaching)
        : await migrateRelations(deps, input, rows),
  };
}

function dryRunSummary(
  input: MigrateRelationshipsInput,
  relations: DryRunRelation[],
): RelationshipBatchSummary {
  const outcome = dryRunRelations(relations);
  return {
    index: input.range.index,
    kind: input.kind,
    read: relations.length,
    migrated: outcome.wouldMigrate,
    skippedByReason: outcome.skippedByReason,
    byType: outcome.byType,
  };
}

async function migrateRelations(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  rows: RelationRow[],
): Promise<RelationshipBatchSummary> {
  const ledger = await readTargetLedger(
    deps,
    input,
    rows.flatMap((r) => [r.sourceMemoryId, r.targetMemoryId]),
  );
  // Only the ends the ledger did not migrate need the source to tell deleted, missing and rejected apart.
  const lookUp = endsToLookUp(rows, ledger);
  const states = await readFromSource(deps, input, (c) => readEndStates(c, deps.schema, lookUp));
  const relations = withEndStates(rows, ledger, states);
  const resolved = resolveRelations(relations, ledger);
  const work = await unchangedRelationships(deps, input, resolved);
  return writeChanged(deps, input, relations.length, work);
}

/**
 * A range of relations of which only those reaching `reaching` (memories written or removed since
 * the item was recorded) may resolve differently: the others keep what their relationship-ledger
 * rows say, and only the rest go through migrateRelations. A relation without a ledger row is
 * resolved too.
 */
async function migrateRelationsReaching(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  rows: RelationRow[],
  reaching: ReadonlySet<string>,
): Promise<RelationshipBatchSummary> {
  const reaches = (r: RelationRow) => reaching.has(r.sourceMemoryId) || reaching.has(r.targetMemoryId);
  const ledger = await onTarget(
    input,
    readRelationshipLedgerStates(
      deps.target,
      rows.filter((r) => !reaches(r)).map((r) => relationKey(r.id)),
    ),
  );
  const redo = rows.filter((r) => reaches(r) || !ledger.has(relationKey(r.id)));
  const resolved = await migrateRelations(deps, input, redo);
  const summary = { ...resolved, read: rows.length, resolved: redo.length };
  for (const r of rows) {
    const state = ledger.get(relationKey(r.id));
    if (!state || reaches(r)) continue;
    if (state.status === 'migrated') {
      summary.migrated += 1;
      increment(summary.byType, r.relationType);
    } else increment(summary.skippedByReason, state.reason ?? 'unknown');
  }
  return summary;
}
