import { MODULE_IDS, type ModuleId } from './modules.js';
import { hash32, RowRandom, STREAM, seededUuid, unitFloat } from './seeded-random.js';

/** Which kind of evidence decides a memory's module (docs/design.md, "Classification": first decisive signal wins). */
export const SIGNAL_KINDS = ['type', 'category', 'tags', 'content', 'ambiguous'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export const AMBIGUITY_KINDS = ['no_signal', 'unknown_category', 'conflicting_content'] as const;
export type AmbiguityKind = (typeof AMBIGUITY_KINDS)[number];

/** How a task names its project: by source id, by name, both, neither, or a name no project has. */
export const TASK_REFERENCES = ['id', 'name', 'id_and_name', 'none', 'unknown_name'] as const;
export type TaskReference = (typeof TASK_REFERENCES)[number];

/** Row defects the migration must survive; rare, at fixed positions so every dataset ≥ 550 rows has each. */
export const MEMORY_DEFECTS = [
  'metadata_array',
  'metadata_string',
  'metadata_null',
  'tags_null',
  'content_null',
  'content_empty',
  'orphan_user',
] as const;
export type MemoryDefect = (typeof MEMORY_DEFECTS)[number];

type MemoryRole = 'project' | 'task' | 'note';

export interface DatasetShape {
  seed: number;
  memories: number;
  users: number;
  defects: boolean;
}

/** Everything decided about one memory before its text is written; a pure function of its index. */
export interface MemoryPlan {
  index: number;
  id: string;
  /** Index into the users table, or null when the row's user exists nowhere (`orphan_user`). */
  userIndex: number | null;
  userId: string;
  role: MemoryRole;
  signal: SignalKind;
  ambiguity: AmbiguityKind | null;
  /** The module a correct migration puts it in (for ambiguous rows: the one its embedding leans to). */
  module: ModuleId;
  /** A second module the embedding leans toward too (conflicting memories), or null. */
  embeddingBlend: ModuleId | null;
  deleted: boolean;
  hasEmbedding: boolean;
  defect: MemoryDefect | null;
  /** Project slot (block number) of a project, or of the project a task belongs to. */
  projectSlot: number | null;
  projectIndex: number | null;
  taskReference: TaskReference | null;
}

const PROJECT_BLOCK = 40;
const DEFECT_PERIOD = 2500;
const DEFECT_OFFSET = 500;
const DELETED_SHARE = 0.05;
const NULL_EMBEDDING_SHARE = 0.005;

export function memoryId(seed: number, index: number): string {
  return seededUuid(seed, STREAM.memoryId, index);
}

function userId(seed: number, userIndex: number): string {
  return seededUuid(seed, STREAM.userId, userIndex);
}

/** One project per block of PROJECT_BLOCK memories, at a seeded position inside the block. */
function projectIndexOf(shape: DatasetShape, slot: number): number | null {
  const index = slot * PROJECT_BLOCK + (hash32(shape.seed, STREAM.projectSlot, slot) % PROJECT_BLOCK);
  return index < shape.memories ? index : null;
}

export function isDeleted(shape: DatasetShape, index: number): boolean {
  return unitFloat(shape.seed, STREAM.memoryDeleted, index) < DELETED_SHARE;
}

/** Skewed toward low user indices: a few heavy users, a long tail, some users with nothing. */
function ownerOf(shape: DatasetShape, index: number): number {
  const u = unitFloat(shape.seed, STREAM.memoryUser, index);
  return Math.min(shape.users - 1, Math.floor(shape.users * u * u));
}

function defectAt(shape: DatasetShape, index: number): MemoryDefect | null {
  if (!shape.defects) return null;
  const position = (index % DEFECT_PERIOD) - DEFECT_OFFSET;
  if (position < 0 || position % 7 !== 0) return null;
  return MEMORY_DEFECTS[position / 7] ?? null;
}

function pickTaskReference(random: RowRandom): TaskReference {
  const r = random.float();
  if (r < 0.4) return 'id';
  if (r < 0.7) return 'name';
  if (r < 0.93) return 'id_and_name';
  if (r < 0.97) return 'none';
  return 'unknown_name';
}

export function planMemory(shape: DatasetShape, index: number): MemoryPlan {
  const random = new RowRandom(shape.seed, STREAM.memory, index);
  const slot = Math.floor(index / PROJECT_BLOCK);
  const isProject = projectIndexOf(shape, slot) === index;
  const defect = isProject ? null : defectAt(shape, index);
  const plan: MemoryPlan = {
    index,
    id: memoryId(shape.seed, index),
    userIndex: ownerOf(shape, index),
    userId: '',
    role: 'note',
    signal: 'content',
    ambiguity: null,
    module: 'personal',
    embeddingBlend: null,
    deleted: isDeleted(shape, index),
    hasEmbedding: unitFloat(shape.seed, STREAM.memoryEmbedding, index) >= NULL_EMBEDDING_SHARE,
    defect,
    projectSlot: null,
    projectIndex: null,
    taskReference: null,
  };
  const roll = random.float();
  if (isProject) {
    Object.assign(plan, {
      role: 'project',
      signal: 'type',
      module: 'work',
      projectSlot: slot,
      projectIndex: index,
    });
  } else if (defect !== null) {
    // Defect rows stay plain content notes so the defect is the only thing unusual about them.
    plan.module = random.pick(MODULE_IDS);
  } else if (roll < 0.12) {
    planTask(shape, plan, random, slot);
  } else if (roll < 0.37) {
    Object.assign(plan, { signal: 'category', module: random.pick(MODULE_IDS) });
  } else if (roll < 0.57) {
    Object.assign(plan, { signal: 'tags', module: random.pick(MODULE_IDS) });
  } else if (roll < 0.87) {
    plan.module = random.pick(MODULE_IDS);
  } else {
    const kind = random.float();
    plan.signal = 'ambiguous';
    plan.ambiguity = kind < 0.5 ? 'no_signal' : kind < 0.75 ? 'unknown_category' : 'conflicting_content';
    plan.module = random.pick(MODULE_IDS);
    if (plan.ambiguity === 'conflicting_content') {
      plan.embeddingBlend = random.pick(MODULE_IDS.filter((m) => m !== plan.module));
    }
  }
  if (plan.defect === 'orphan_user') plan.userIndex = null;
  plan.userId =
    plan.userIndex === null
      ? seededUuid(shape.seed, STREAM.ghostUser, index)
      : userId(shape.seed, plan.userIndex);
  return plan;
}

function planTask(shape: DatasetShape, plan: MemoryPlan, random: RowRandom, slot: number): void {
  Object.assign(plan, { role: 'task', signal: 'type', module: 'work' });
  // Mostly the project of the own block; sometimes an older one, as tasks trickle in over time.
  let projectSlot = slot > 0 && random.chance(0.2) ? slot - 1 : slot;
  let projectIndex = projectIndexOf(shape, projectSlot);
  if (projectIndex === null && projectSlot > 0) {
    projectSlot -= 1;
    projectIndex = projectIndexOf(shape, projectSlot);
  }
  const reference = pickTaskReference(random);
  if (projectIndex === null || reference === 'none' || reference === 'unknown_name') {
    plan.taskReference = projectIndex === null ? 'none' : reference;
    return;
  }
  plan.taskReference = reference;
  plan.projectSlot = projectSlot;
  plan.projectIndex = projectIndex;
  // A task lives with its project's owner, so the migration can resolve it within one user.
  plan.userIndex = ownerOf(shape, projectIndex);
}
