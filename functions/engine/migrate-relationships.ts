import { relationshipFingerprint, relationshipUnchanged } from '../core/fingerprint.js';
import type { ModuleRegistry } from '../core/modules.js';
import {
  boundedLinkInputs,
  dryRunProjectLinks,
  type ProjectLinkInputs,
  projectLinkInputs,
  recordedTasksReached,
  resolveProjectLinks,
  type TaskProjectReference,
} from '../core/project-links.js';
import {
  type DryRunRelation,
  dryRunRelations,
  endsToLookUp,
  increment,
  type MigratedRelationship,
  type RelationRow,
  type RelationshipBatchSummary,
  type RelationshipKind,
  relationKey,
  resolveRelations,
  type SkippedRelationship,
  withEndStates,
} from '../core/relationships.js';
import { ledgerChangesSince } from '../db/ledger-changes.js';
import { readModuleRegistry } from '../db/module-registry.js';
import type { Database, DatabaseSession } from '../db/port.js';
import { affectedTasks, memoriesOfUsers, readTaskProjectReferences } from '../db/project-links.js';
import { relationshipBasis } from '../db/relationship-basis.js';
import { recordedRelationshipItem, recordRelationshipOutcome } from '../db/relationship-items.js';
import { type RelationshipBatch, RelationshipLoader, readLedgerEnds } from '../db/relationship-loader.js';
import {
  readEndStates,
  readRelationRange,
  readRelationRows,
  relationsReach,
} from '../db/relationship-reader.js';
import { readLedgerWriteTimes, readRelationshipLedgerStates } from '../db/source-fingerprints.js';

// Project links' ledger keys: `project:<task source id>`.
const PROJECT_KEY_PREFIX = 'project:';

import type { KeyRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface MigrateRelationshipsDeps {
  source: Database;
  target: Database;
  schema: SourceSchema;
  /** The target's modules (the run's, from Preflight); read from its registry when absent. */
  modules?: ModuleRegistry;
}

async function loaderFor(deps: MigrateRelationshipsDeps): Promise<RelationshipLoader> {
  const modules = await modulesOf(deps);
  return new RelationshipLoader(deps.target, { relationIdType: deps.schema.relationIdType, modules });
}

export interface MigrateRelationshipsInput {
  runId: string;
  /** `relations`: a key range of `memory_relations`; `project-links`: a range of `memories.user_id`. */
  kind: RelationshipKind;
  range: KeyRange;
  dryRun: boolean;
  /** Redo the item whatever an earlier run recorded (`--force-reprocess`). */
  forceReprocess?: boolean;
}

async function readFromSource<T>(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  read: (client: DatabaseSession) => Promise<T>,
): Promise<T> {
  const client = await deps.source.connect();
  try {
    return await read(client);
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', kind: input.kind, batch: input.range.index });
  } finally {
    client.release();
  }
}

function summarize(
  input: MigrateRelationshipsInput,
  read: number,
  migrated: MigratedRelationship[],
  skipped: SkippedRelationship[],
): RelationshipBatchSummary {
  const skippedByReason: Record<string, number> = {};
  const byType: Record<string, number> = {};
  for (const s of skipped) increment(skippedByReason, s.reason);
  for (const m of migrated) increment(byType, m.row.relationshipType);
  return {
    index: input.range.index,
    kind: input.kind,
    read,
    migrated: migrated.length,
    skippedByReason,
    byType,
  };
}

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

/** An item's outcome, and for a project-link item what it rests on (core/project-links.ts). */
interface ResolvedItem {
  summary: RelationshipBatchSummary;
  linkInputs?: ProjectLinkInputs | null;
}

/** The tasks of a project-link item a change reached, its record's inputs, and the change. */
interface LinksReached {
  tasks: readonly string[];
  inputs: ProjectLinkInputs;
  changed: readonly string[];
}

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
 * The tasks of a project-link item that memories written or removed since its record (`changed`)
 * reach: recorded tasks that are among them or found one of them (core/project-links.ts), and
 * those the source shows a change reaching (db/project-links.ts, affectedTasks).
 */
async function linkTasksReached(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  inputs: ProjectLinkInputs,
  changed: readonly string[],
): Promise<string[]> {
  const unresolved = inputs.tasks.flatMap((t) =>
    t.unresolvedId ? [{ task: t.task, id: t.unresolvedId }] : [],
  );
  const shown = await readFromSource(deps, input, (c) =>
    affectedTasks(c, deps.schema, input.range, changed, unresolved),
  );
  return [...new Set([...recordedTasksReached(inputs, new Set(changed)), ...shown])];
}

/** A target read or write of the item: a database failure becomes the named error, naming the item. */
function onTarget<T>(input: MigrateRelationshipsInput, work: Promise<T>): Promise<T> {
  return work.catch((error: unknown) => {
    throw classifyDatabaseFailure(error, { database: 'target', kind: input.kind, batch: input.range.index });
  });
}

async function modulesOf(deps: MigrateRelationshipsDeps): Promise<ModuleRegistry> {
  return deps.modules ?? (await readModuleRegistry(deps.target)).registry;
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
  const reaching = standing && 'reaching' in standing ? standing.reaching : undefined;
  if (input.kind === 'relations') {
    if (input.dryRun) {
      const relations = await readFromSource(deps, input, (c) =>
        readRelationRange(c, deps.schema, input.range),
      );
      return { summary: dryRunSummary(input, relations) };
    }
    const rows = await readFromSource(deps, input, (c) => readRelationRows(c, deps.schema, input.range));
    return {
      summary: reaching
        ? await migrateRelationsReaching(deps, input, rows, reaching)
        : await migrateRelations(deps, input, rows),
    };
  }
  if (standing && 'tasks' in standing) return migrateLinksReached(deps, input, standing);
  const refs = await readFromSource(deps, input, (c) =>
    readTaskProjectReferences(c, deps.schema, input.range),
  );
  if (input.dryRun) {
    const outcome = dryRunProjectLinks(refs);
    return {
      summary: {
        index: input.range.index,
        kind: input.kind,
        read: refs.length,
        migrated: outcome.wouldMigrate,
        skippedByReason: outcome.skippedByReason,
        byType: outcome.wouldMigrate > 0 ? { belongs_to: outcome.wouldMigrate } : {},
      },
    };
  }
  const memories = await readFromSource(deps, input, (c) => memoriesOfUsers(c, deps.schema, input.range));
  const retired = await retiredLinks(deps, input, refs, memories);
  return {
    summary: await migrateProjectLinks(deps, input, refs, retired),
    linkInputs: projectLinkInputs(refs),
  };
}

/**
 * A project-link item of which only the tasks a change reached are resolved again: the others keep
 * what their relationship-ledger rows say, and the item's totals are summed from both. A recorded
 * task without a ledger row (a record out of step with the ledger) has the whole item resolved.
 */
async function migrateLinksReached(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  reached: LinksReached,
): Promise<ResolvedItem> {
  const again = new Set(reached.tasks);
  const standing = reached.inputs.tasks.filter((t) => !again.has(t.task));
  const ledger = await onTarget(
    input,
    readRelationshipLedgerStates(
      deps.target,
      standing.map((t) => `${PROJECT_KEY_PREFIX}${t.task}`),
    ),
  );
  if (ledger.size < standing.length) return resolveItem(deps, input);
  const refs = await readFromSource(deps, input, (c) =>
    readTaskProjectReferences(c, deps.schema, input.range, reached.tasks),
  );
  // Of the memories the change touched, those of this item's users may have a link to retire.
  const touched = await readFromSource(deps, input, (c) =>
    memoriesOfUsers(c, deps.schema, input.range, [...new Set([...reached.tasks, ...reached.changed])]),
  );
  const retired = await retiredLinks(deps, input, refs, touched);
  const summary = {
    ...(await migrateProjectLinks(deps, input, refs, retired)),
    read: refs.length + standing.length,
    resolved: refs.length,
  };
  for (const { task } of standing) {
    const state = ledger.get(`${PROJECT_KEY_PREFIX}${task}`);
    if (state?.status === 'migrated') {
      summary.migrated += 1;
      increment(summary.byType, 'belongs_to');
    } else increment(summary.skippedByReason, state?.reason ?? 'unknown');
  }
  const resolved = projectLinkInputs(refs);
  return { summary, linkInputs: resolved && boundedLinkInputs([...standing, ...resolved.tasks]) };
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

async function migrateProjectLinks(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  refs: TaskProjectReference[],
  retired: readonly string[],
): Promise<RelationshipBatchSummary> {
  const ids = refs.flatMap((r) =>
    [r.taskSourceId, r.byId?.sourceId, r.byName?.sourceId].filter((id) => id !== undefined),
  );
  const ledger = await readTargetLedger(deps, input, ids);
  const resolved = resolveProjectLinks(refs, ledger);
  const written = await onTarget(
    input,
    readLedgerWriteTimes(
      deps.target,
      refs.map((r) => r.taskSourceId),
    ),
  );
  const work = await unchangedRelationships(deps, input, resolved, (key) =>
    written.get(key.slice(PROJECT_KEY_PREFIX.length)),
  );
  const changedTasks = new Set(work.migrated.map((m) => m.row.sourceMemoryId));
  return writeChanged(
    deps,
    input,
    refs.length,
    work,
    resolved.updates.filter((u) => changedTasks.has(u.taskTargetId)),
    retired,
  );
}

/**
 * The links an earlier run wrote for `memories` of the item's users that name no project now (a
 * task whose reference was taken away, or that is a task no more): a fresh run would have none.
 */
async function retiredLinks(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  refs: readonly TaskProjectReference[],
  memories: readonly string[],
): Promise<string[]> {
  const naming = new Set(refs.map((r) => r.taskSourceId));
  const keys = memories.filter((id) => !naming.has(id)).map((id) => `${PROJECT_KEY_PREFIX}${id}`);
  return [...(await onTarget(input, readRelationshipLedgerStates(deps.target, keys))).keys()];
}

/**
 * Writes what an item resolved differently from the ledger, and removes the links it retired, in
 * one transaction, and sums it with what was left alone. Project links (`projectUpdates` given)
 * also count the `project_id`s written; relations, the earlier rows they displaced.
 */
async function writeChanged(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  read: number,
  work: UnchangedSplit,
  projectUpdates?: RelationshipBatch['projectUpdates'],
  retired: readonly string[] = [],
): Promise<RelationshipBatchSummary> {
  if (work.migrated.length === 0 && work.skipped.length === 0 && retired.length === 0) {
    const summary = summarize(input, read, work.unchanged.migrated, work.unchanged.skipped);
    return projectUpdates ? { ...summary, projectIdsWritten: 0 } : summary;
  }
  const loader = await loaderFor(deps);
  const result = await loader.load({
    runId: input.runId,
    kind: input.kind,
    migrated: work.migrated,
    skipped: work.skipped,
    fingerprints: work.fingerprints,
    ...(projectUpdates ? { projectUpdates } : {}),
    ...(retired.length > 0 ? { retired } : {}),
  });
  const summary = {
    ...summarize(
      input,
      read,
      [...result.migrated, ...work.unchanged.migrated],
      [...result.skipped, ...work.unchanged.skipped],
    ),
    withdrawn: result.withdrawn,
  };
  return projectUpdates
    ? { ...summary, projectIdsWritten: result.projectIdsWritten }
    : { ...summary, displaced: result.displaced };
}

/**
 * Splits a batch's resolved relations into those to write and those whose ledger row already
 * records the same resolution (docs/design.md, "Skipping what is done"), which are left alone.
 */
interface UnchangedSplit {
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
  fingerprints: Map<string, string>;
  unchanged: { migrated: MigratedRelationship[]; skipped: SkippedRelationship[] };
}

async function unchangedRelationships(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  resolved: { migrated: MigratedRelationship[]; skipped: SkippedRelationship[] },
  /** What else a key's outcome depends on (a project link: when its task was last written). */
  alsoOf: (key: string) => string | undefined = () => undefined,
): Promise<UnchangedSplit> {
  const fingerprints = new Map<string, string>();
  for (const m of resolved.migrated) fingerprints.set(m.key, relationshipFingerprint(m, alsoOf(m.key)));
  for (const s of resolved.skipped) fingerprints.set(s.key, relationshipFingerprint(s, alsoOf(s.key)));
  const ledger = await onTarget(input, readRelationshipLedgerStates(deps.target, [...fingerprints.keys()]));
  const same = (key: string) => relationshipUnchanged(ledger.get(key), fingerprints.get(key) as string);
  return {
    migrated: resolved.migrated.filter((m) => !same(m.key)),
    skipped: resolved.skipped.filter((s) => !same(s.key)),
    fingerprints,
    unchanged: {
      migrated: resolved.migrated.filter((m) => same(m.key)),
      skipped: resolved.skipped.filter((s) => same(s.key)),
    },
  };
}

function readTargetLedger(deps: MigrateRelationshipsDeps, input: MigrateRelationshipsInput, ids: string[]) {
  return onTarget(input, readLedgerEnds(deps.target, ids));
}
