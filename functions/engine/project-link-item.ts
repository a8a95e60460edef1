/**
 * Project-link items (engine/migrate-relationships.ts): a range of users whose tasks name a project
 * get their `belongs_to` rows and `project_id`s, and lose the links an earlier run wrote that no
 * task names any more.
 */
import {
  boundedLinkInputs,
  dryRunProjectLinks,
  type ProjectLinkInputs,
  projectLinkInputs,
  recordedTasksReached,
  resolveProjectLinks,
  type TaskProjectReference,
} from '../core/project-links.js';
import { increment, type RelationshipBatchSummary } from '../core/relationships.js';
import { affectedTasks, memoriesOfUsers, readTaskProjectReferences } from '../db/project-links.js';
import { readLedgerWriteTimes, readRelationshipLedgerStates } from '../db/source-fingerprints.js';
import {
  type MigrateRelationshipsDeps,
  type MigrateRelationshipsInput,
  onTarget,
  type ResolvedItem,
  readFromSource,
  readTargetLedger,
  unchangedRelationships,
  writeChanged,
} from './relationship-item.js';

// Project links' ledger keys: `project:<task source id>`.
const PROJECT_KEY_PREFIX = 'project:';

/** The tasks of a project-link item a change reached, its record's inputs, and the change. */
export interface LinksReached {
  tasks: readonly string[];
  inputs: ProjectLinkInputs;
  changed: readonly string[];
}

/**
 * The tasks of a project-link item that memories written or removed since its record (`changed`)
 * reach: recorded tasks that are among them or found one of them (core/project-links.ts), and
 * those the source shows a change reaching (db/project-links.ts, affectedTasks).
 */
export async function linkTasksReached(
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

/**
 * A range of users' tasks that name a project, resolved whole, or (`reached`) only the tasks a
 * change reached since the item's record (migrateLinksReached). A dry run counts what would happen.
 */
export async function resolveProjectLinkItem(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  reached?: LinksReached,
): Promise<ResolvedItem> {
  if (reached) return migrateLinksReached(deps, input, reached);
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
  if (ledger.size < standing.length) return resolveProjectLinkItem(deps, input);
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
