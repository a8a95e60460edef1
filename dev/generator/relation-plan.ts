import { encodeTuple, type PgBinaryType } from '../../functions/db/pg-binary.js';
import { type DatasetShape, isDeleted, memoryId, planMemory } from './memory-plan.js';
import { createdAtOf } from './memory-row.js';
import { RowRandom, STREAM, seededUuid } from './seeded-random.js';
import { nextOfUser, userMemories } from './user-memories.js';
import { RELATION_TYPES } from './vocabulary.js';

export const RELATION_COLUMNS = [
  ['id', 'uuid'],
  ['user_id', 'uuid'],
  ['source_memory_id', 'uuid'],
  ['target_memory_id', 'uuid'],
  ['relation_type', 'text'],
  ['strength', 'float8'],
  ['metadata', 'jsonb'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly (readonly [string, PgBinaryType])[];
const RELATION_TYPES_BINARY: readonly PgBinaryType[] = RELATION_COLUMNS.map(([, type]) => type);

/** Defects at fixed residues, so each appears in every dataset of a few hundred relations. */
const RELATION_DEFECTS = ['self', 'duplicate', 'dangling', 'deleted_end'] as const;
type RelationDefect = (typeof RELATION_DEFECTS)[number];

export interface RelationPlan {
  index: number;
  sourceIndex: number;
  /** null for a dangling relation: its target id exists nowhere. */
  targetIndex: number | null;
  /** Seeds the id of a dangling target; kept when a duplicate copies a dangling relation. */
  danglingKey: number | null;
  relationType: string;
  strength: number;
  defect: RelationDefect | null;
}

function defectAt(index: number): RelationDefect | null {
  if (index % 500 === 17) return 'self';
  if (index % 300 === 29) return 'duplicate';
  if (index % 700 === 41) return 'dangling';
  if (index % 250 === 53) return 'deleted_end';
  return null;
}

function basePlan(shape: DatasetShape, index: number): RelationPlan {
  const random = new RowRandom(shape.seed, STREAM.relation, index);
  const sourceIndex = random.int(shape.memories);
  // Mostly near in time (same era); sometimes anywhere. Either way the target is the next memory
  // of the source's own user from there: BigMemory relates one user's memories to each other. A
  // memory whose user exists nowhere, or a user with one memory, relates to itself.
  const near = sourceIndex + random.int(401) - 200;
  const candidate = random.chance(0.7)
    ? Math.min(shape.memories - 1, Math.max(0, near))
    : random.int(shape.memories);
  const memories = userMemories(shape);
  const targetIndex =
    nextOfUser(memories, memories.owner[sourceIndex] as number, candidate, (i) => i !== sourceIndex) ??
    sourceIndex;
  const strength = random.chance(0.1) ? 1 : Math.round(random.float() * 1000) / 1000;
  return {
    index,
    sourceIndex,
    targetIndex,
    danglingKey: null,
    relationType: random.pick(RELATION_TYPES),
    strength,
    defect: null,
  };
}

/** A soft-deleted memory of the source's user, searched from `start`. */
function nextDeleted(shape: DatasetShape, sourceIndex: number, start: number): number | null {
  const memories = userMemories(shape);
  return nextOfUser(
    memories,
    memories.owner[sourceIndex] as number,
    start,
    (i) => i !== sourceIndex && isDeleted(shape, i),
  );
}

export function planRelation(shape: DatasetShape, index: number): RelationPlan {
  const defect = defectAt(index);
  const plan = basePlan(shape, index);
  switch (defect) {
    case 'self':
      return { ...plan, targetIndex: plan.sourceIndex, defect };
    case 'duplicate': {
      // index - 1 is never itself a duplicate (same residue class), so this recursion is one level.
      const original = planRelation(shape, index - 1);
      return { ...original, index, defect };
    }
    case 'dangling':
      return { ...plan, targetIndex: null, danglingKey: index, defect };
    case 'deleted_end': {
      const target = nextDeleted(shape, plan.sourceIndex, plan.targetIndex ?? 0);
      return target === null ? plan : { ...plan, targetIndex: target, defect };
    }
    default:
      return plan;
  }
}

/** True when either end is soft-deleted (planted or by chance). */
export function hasDeletedEnd(shape: DatasetShape, plan: RelationPlan): boolean {
  return (
    isDeleted(shape, plan.sourceIndex) || (plan.targetIndex !== null && isDeleted(shape, plan.targetIndex))
  );
}

export function encodeRelation(shape: DatasetShape, plan: RelationPlan): Buffer {
  const random = new RowRandom(shape.seed, STREAM.relation + 0x100, plan.index);
  const source = planMemory(shape, plan.sourceIndex);
  const targetId =
    plan.targetIndex === null
      ? seededUuid(shape.seed, STREAM.danglingTarget, plan.danglingKey ?? plan.index)
      : memoryId(shape.seed, plan.targetIndex);
  const endsCreated = Math.max(
    createdAtOf(shape, plan.sourceIndex),
    plan.targetIndex === null ? 0 : createdAtOf(shape, plan.targetIndex),
  );
  const metadata = random.chance(0.25)
    ? {
        createdBy: random.pick(['auto-linker', 'user', 'import']),
        score: Math.round(random.float() * 100) / 100,
      }
    : {};
  return encodeTuple(RELATION_TYPES_BINARY, [
    seededUuid(shape.seed, STREAM.relationId, plan.index),
    source.userId,
    source.id,
    targetId,
    plan.relationType,
    plan.strength,
    JSON.stringify(metadata),
    endsCreated + random.int(7 * 86_400_000),
  ]);
}
