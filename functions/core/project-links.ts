/**
 * Project–task links (docs/design.md, "Project–task links and relationships"): a task that names its project (by the project's source id and/or
 * its name) gets `project_id` = the project's *new* id in its metadata and a `belongs_to`
 * relationship task → project. Pure: the source query finds the candidate projects, this decides.
 */
import { relationshipId } from './ids.js';
import {
  checkLedgerEnd,
  increment,
  type LedgerEnd,
  type MigratedRelationship,
  type RelationshipSkipReason,
  type SkippedRelationship,
} from './relationships.js';

const BELONGS_TO = 'belongs_to';

/** A project candidate the source query found for a task: by id, or the earliest by name. */
interface ProjectCandidate {
  sourceId: string;
  deleted: boolean;
  /** The memory belongs to another user than the task (only a `projectId` can name one). */
  otherUser?: boolean;
}

/** A live task that names a project, with the candidates the source holds for each way it names it. */
export interface TaskProjectReference {
  taskSourceId: string;
  taskCreatedAt: Date;
  /** `source_metadata.projectId` as written, or null. */
  projectIdRef: string | null;
  /** `source_metadata.projectName` as written, or null. */
  projectNameRef: string | null;
  byId: ProjectCandidate | null;
  /** The user's earliest project whose `projectName` or `title` equals the name, case-insensitive. */
  byName: ProjectCandidate | null;
}

/** The metadata a linked task's module row gets. */
export interface ProjectIdUpdate {
  module: string;
  taskTargetId: string;
  projectTargetId: string;
  projectSourceId: string;
}

export interface ResolvedProjectLinks {
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
  updates: ProjectIdUpdate[];
}

const projectLinkKey = (taskSourceId: string) => `project:${taskSourceId}`;

type ProjectChoice =
  | { project: ProjectCandidate; resolvedBy: 'projectId' | 'projectName' }
  | { reason: RelationshipSkipReason; detail: string };

/**
 * The id wins over the name when it names a live memory; a deleted project is reported as such
 * only when no live one answers to either reference.
 */
export function chooseProject(ref: TaskProjectReference): ProjectChoice {
  if (ref.byId && !ref.byId.deleted && !ref.byId.otherUser)
    return { project: ref.byId, resolvedBy: 'projectId' };
  if (ref.byName && !ref.byName.deleted) return { project: ref.byName, resolvedBy: 'projectName' };
  const named = [
    ref.projectIdRef !== null ? `projectId ${JSON.stringify(ref.projectIdRef)}` : null,
    ref.projectNameRef !== null ? `projectName ${JSON.stringify(ref.projectNameRef)}` : null,
  ]
    .filter((n) => n !== null)
    .join(' / ');
  // A link belongs to the task's user: it may not point at another user's memory.
  if (ref.byId?.otherUser)
    return { reason: 'cross_user', detail: `${named}: memory ${ref.byId.sourceId} belongs to another user` };
  const deleted = ref.byId ?? ref.byName;
  if (deleted)
    return { reason: 'project_deleted', detail: `${named}: project ${deleted.sourceId} is soft-deleted` };
  return { reason: 'project_not_found', detail: `${named}: no such project` };
}

/**
 * What a project-link item's outcome rests on besides its users' tasks and projects as they are
 * now (docs/design.md, "Skipping what is done"): per task that named a project, the memories it
 * found and the id it named that found none. A later run resolves again only the tasks a change
 * reaches: one of these changed, or a change the source shows (affectedTasks in db/project-links.ts).
 */
export interface ProjectLinkInputs {
  tasks: ProjectLinkTask[];
}

export interface ProjectLinkTask {
  task: string;
  /** The memories it found, by id and by name. */
  found: string[];
  /** The `projectId` it named that found no memory. */
  unresolvedId?: string;
}

// An item with more than this many tasks is not kept across changes: the record stays small enough
// for one row of the Data API, and such an item is resolved again whole whenever anything changed.
const MAX_RECORDED_TASKS = 4_000;

export function projectLinkInputs(refs: readonly TaskProjectReference[]): ProjectLinkInputs | null {
  return boundedLinkInputs(
    refs.map((ref) => {
      const found = [ref.byId?.sourceId, ref.byName?.sourceId].filter((id) => id !== undefined);
      const unresolved = ref.byId === null && ref.projectIdRef !== null ? ref.projectIdRef : undefined;
      return {
        task: ref.taskSourceId,
        found: [...new Set(found)],
        ...(unresolved ? { unresolvedId: unresolved } : {}),
      };
    }),
  );
}

/** These tasks as a record's inputs, or null when there are too many to record. */
export function boundedLinkInputs(tasks: ProjectLinkTask[]): ProjectLinkInputs | null {
  return tasks.length > MAX_RECORDED_TASKS ? null : { tasks };
}

/** The recorded tasks a change reaches through what the record holds: the task itself or a memory it found. */
export function recordedTasksReached(inputs: ProjectLinkInputs, changed: ReadonlySet<string>): string[] {
  return inputs.tasks
    .filter((t) => changed.has(t.task) || t.found.some((id) => changed.has(id)))
    .map((t) => t.task);
}

/** Resolves task → project references through the memory ledger into links and metadata updates. */
export function resolveProjectLinks(
  refs: readonly TaskProjectReference[],
  ledger: ReadonlyMap<string, LedgerEnd>,
): ResolvedProjectLinks {
  const result: ResolvedProjectLinks = { migrated: [], skipped: [], updates: [] };
  for (const ref of refs) {
    const key = projectLinkKey(ref.taskSourceId);
    const choice = chooseProject(ref);
    if ('reason' in choice) {
      result.skipped.push({ key, reason: choice.reason, detail: choice.detail });
      continue;
    }
    if (choice.project.sourceId === ref.taskSourceId) {
      result.skipped.push({
        key,
        reason: 'self_relation',
        detail: `task ${ref.taskSourceId} names itself as its project`,
      });
      continue;
    }
    const task = checkLedgerEnd('task', ref.taskSourceId, ledger);
    if (!task.ok) {
      result.skipped.push({ key, reason: task.reason, detail: task.detail });
      continue;
    }
    const project = checkLedgerEnd('project', choice.project.sourceId, ledger);
    if (!project.ok) {
      result.skipped.push({ key, reason: project.reason, detail: project.detail });
      continue;
    }
    const { end: t } = task;
    const { end: p } = project;
    if (t.targetUserId !== p.targetUserId) {
      result.skipped.push({
        key,
        reason: 'cross_user',
        detail: `task ${ref.taskSourceId} belongs to user ${t.targetUserId}, project ${choice.project.sourceId} to user ${p.targetUserId}`,
      });
      continue;
    }
    result.migrated.push({
      key,
      row: {
        id: relationshipId(t.module, t.targetId, p.module, p.targetId, BELONGS_TO),
        userId: t.targetUserId,
        sourceModule: t.module,
        sourceMemoryId: t.targetId,
        targetModule: p.module,
        targetMemoryId: p.targetId,
        relationshipType: BELONGS_TO,
        strength: 1.0,
        metadata: {
          migrated_from: 'bigmemory',
          link: 'project_task',
          original_task_id: ref.taskSourceId,
          original_project_id: choice.project.sourceId,
          resolved_by: choice.resolvedBy,
        },
        createdAt: ref.taskCreatedAt,
      },
    });
    result.updates.push({
      module: t.module,
      taskTargetId: t.targetId,
      projectTargetId: p.targetId,
      projectSourceId: choice.project.sourceId,
    });
  }
  return result;
}

/** Dry run: the source alone tells found / deleted / not found; rejections cannot be foreseen. */
export function dryRunProjectLinks(refs: readonly TaskProjectReference[]): {
  wouldMigrate: number;
  skippedByReason: Record<string, number>;
} {
  const outcome = { wouldMigrate: 0, skippedByReason: {} as Record<string, number> };
  for (const ref of refs) {
    const choice = chooseProject(ref);
    if ('reason' in choice) increment(outcome.skippedByReason, choice.reason);
    else outcome.wouldMigrate++;
  }
  return outcome;
}
