import { openPgSession, type PgConnection } from '../../functions/db/pg/pg-session.js';
import { classifyDatabaseFailure, InvalidInputError, PreflightError } from '../../functions/errors.js';
import { redactDatabaseUrl } from '../../functions/runtime/database-urls.js';
import { defaultTargetVariant } from '../harness/templates.js';
import { copyRows } from './copy-rows.js';
import { EmbeddingSpace } from './embedding-space.js';
import {
  AMBIGUITY_KINDS,
  type AmbiguityKind,
  type DatasetShape,
  MEMORY_DEFECTS,
  type MemoryDefect,
  planMemory,
  SIGNAL_KINDS,
  type SignalKind,
  TASK_REFERENCES,
  type TaskReference,
} from './memory-plan.js';
import { encodeMemory, MEMORY_COLUMNS } from './memory-row.js';
import { MODULE_IDS, type ModuleId } from './modules.js';
import { encodeRelation, hasDeletedEnd, planRelation, RELATION_COLUMNS } from './relation-plan.js';
import { chooseCollisionUsers, createTargetCollisions, type TargetCollisions } from './target-users.js';
import { encodeUser, planUser, USER_COLUMNS } from './user-plan.js';

export interface GenerateBigMemoryOptions {
  databaseUrl: string;
  memories: number;
  users: number;
  /** An integer in [0, 2^32). */
  seed: number;
  /** Relations to write; defaults to 0.6 per memory. */
  relations?: number;
  /** Plant the rare row defects (non-object metadata, NULL tags/content, unknown user). Default true. */
  defects?: boolean;
  /**
   * Give some users no email. Default: unless the process writes the older Federated Memory
   * schema, which requires one (its users' memories would be rejected, past the default reject
   * threshold, unless a run names a placeholder email domain — tested on its own).
   */
  usersWithoutEmail?: boolean;
  targetDatabaseUrl?: string;
  targetCollisions?: TargetCollisions;
  onProgress?: (done: number, total: number) => void;
}

export interface GeneratorSummary {
  seed: number;
  memories: number;
  users: number;
  relations: number;
  signals: Record<SignalKind, number>;
  ambiguity: Record<AmbiguityKind, number>;
  /** The module a correct migration chooses; ambiguous memories count under their embedding's module. */
  modules: Record<ModuleId, number>;
  projects: number;
  tasks: Record<TaskReference, number>;
  softDeleted: { memories: number; projects: number };
  nullEmbeddings: number;
  relationDefects: { self: number; duplicate: number; dangling: number; deletedEnd: number };
  userVariants: { active: number; inactive: number; withoutEmail: number; withoutPassword: number };
  targetCollisions: TargetCollisions;
  defects: Record<MemoryDefect, number>;
  elapsedMs: number;
  memoriesPerSecond: number;
  /** Users, memories and relations together. */
  rowsPerSecond: number;
}

const PROGRESS_EVERY = 1000;
const DEFAULT_RELATIONS_PER_MEMORY = 0.6;

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function requireCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidInputError(`${name} must be an integer ≥ ${min}, got ${value}`, {
      context: { [name]: value },
    });
  }
}

function validate(options: GenerateBigMemoryOptions): void {
  requireCount('memories', options.memories, 0);
  requireCount('users', options.users, 1);
  if (options.relations !== undefined) requireCount('relations', options.relations, 0);
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed >= 2 ** 32) {
    throw new InvalidInputError(`seed must be an integer in [0, 2^32), got ${options.seed}`, {
      context: { seed: options.seed },
    });
  }
  const collisions = options.targetCollisions;
  if (collisions) {
    requireCount('sameToken', collisions.sameToken, 0);
    requireCount('sameEmail', collisions.sameEmail, 0);
    if (collisions.sameToken + collisions.sameEmail > 0 && !options.targetDatabaseUrl) {
      throw new InvalidInputError('target collisions need a target database url', {
        context: { ...collisions },
      });
    }
  }
}

async function connect(url: string, role: string): Promise<PgConnection> {
  try {
    return await openPgSession(url);
  } catch (error) {
    throw new PreflightError(
      `cannot connect to the ${role} database ${redactDatabaseUrl(url)}: ${(error as Error).message}`,
      {
        cause: error,
        context: { role, database: redactDatabaseUrl(url) },
      },
    );
  }
}

/**
 * Writes a deterministic BigMemory dataset (users, memories, relations) into an existing BigMemory
 * schema, streamed through binary COPY in one transaction; optionally pre-creates colliding users in
 * a Federated Memory target. Same options and seed → the same bytes in every table.
 */
export async function generateBigMemory(options: GenerateBigMemoryOptions): Promise<GeneratorSummary> {
  validate(options);
  const started = performance.now();
  const shape: DatasetShape = {
    seed: options.seed,
    memories: options.memories,
    users: options.users,
    defects: options.defects ?? true,
  };
  const usersWithoutEmail = options.usersWithoutEmail ?? defaultTargetVariant() !== 'older';
  const relationCount = options.relations ?? Math.floor(options.memories * DEFAULT_RELATIONS_PER_MEMORY);
  const collisions = options.targetCollisions ?? { sameToken: 0, sameEmail: 0 };
  const chosen = chooseCollisionUsers(shape.seed, shape.users, collisions);
  const summary = emptySummary(shape, relationCount, collisions);

  const sourceConnection = await connect(options.databaseUrl, 'source');
  const source = sourceConnection.session;
  try {
    await source.query('BEGIN');
    await copyRows(
      source,
      'users',
      USER_COLUMNS.map(([c]) => c),
      userTuples(shape, summary, usersWithoutEmail),
    );
    await copyRows(
      source,
      'memories',
      MEMORY_COLUMNS.map(([c]) => c),
      memoryTuples(shape, summary, options.onProgress),
    );
    await copyRows(
      source,
      'memory_relations',
      RELATION_COLUMNS.map(([c]) => c),
      relationTuples(shape, relationCount, summary),
    );
    await source.query('COMMIT');
  } catch (error) {
    await source.query('ROLLBACK').catch(() => undefined);
    throw classifyDatabaseFailure(error, {
      step: 'seed source',
      database: redactDatabaseUrl(options.databaseUrl),
    });
  } finally {
    await sourceConnection.close();
  }

  if (options.targetDatabaseUrl && collisions.sameToken + collisions.sameEmail > 0) {
    const target = await connect(options.targetDatabaseUrl, 'target');
    try {
      await createTargetCollisions(target.session, shape.seed, chosen);
    } catch (error) {
      throw classifyDatabaseFailure(error, {
        step: 'seed target users',
        database: redactDatabaseUrl(options.targetDatabaseUrl),
      });
    } finally {
      await target.close();
    }
  }

  summary.elapsedMs = Math.round(performance.now() - started);
  const seconds = Math.max(summary.elapsedMs, 1) / 1000;
  summary.memoriesPerSecond = Math.round(shape.memories / seconds);
  summary.rowsPerSecond = Math.round((shape.memories + shape.users + relationCount) / seconds);
  return summary;
}

function emptySummary(
  shape: DatasetShape,
  relations: number,
  collisions: TargetCollisions,
): GeneratorSummary {
  return {
    seed: shape.seed,
    memories: shape.memories,
    users: shape.users,
    relations,
    signals: zeroCounts(SIGNAL_KINDS),
    ambiguity: zeroCounts(AMBIGUITY_KINDS),
    modules: zeroCounts(MODULE_IDS),
    projects: 0,
    tasks: zeroCounts(TASK_REFERENCES),
    softDeleted: { memories: 0, projects: 0 },
    nullEmbeddings: 0,
    relationDefects: { self: 0, duplicate: 0, dangling: 0, deletedEnd: 0 },
    userVariants: { active: 0, inactive: 0, withoutEmail: 0, withoutPassword: 0 },
    targetCollisions: { ...collisions },
    defects: zeroCounts(MEMORY_DEFECTS),
    elapsedMs: 0,
    memoriesPerSecond: 0,
    rowsPerSecond: 0,
  };
}

function* userTuples(
  shape: DatasetShape,
  summary: GeneratorSummary,
  usersWithoutEmail: boolean,
): Generator<Buffer> {
  const variants = summary.userVariants;
  for (let index = 0; index < shape.users; index++) {
    const user = planUser(shape.seed, index, usersWithoutEmail);
    if (user.isActive) variants.active++;
    else variants.inactive++;
    if (user.email === null) variants.withoutEmail++;
    if (user.passwordHash === null) variants.withoutPassword++;
    yield encodeUser(user);
  }
}

function* memoryTuples(
  shape: DatasetShape,
  summary: GeneratorSummary,
  onProgress: GenerateBigMemoryOptions['onProgress'],
): Generator<Buffer> {
  const space = new EmbeddingSpace(shape.seed);
  for (let index = 0; index < shape.memories; index++) {
    const plan = planMemory(shape, index);
    summary.signals[plan.signal]++;
    summary.modules[plan.module]++;
    if (plan.ambiguity) summary.ambiguity[plan.ambiguity]++;
    if (plan.role === 'project') summary.projects++;
    if (plan.taskReference) summary.tasks[plan.taskReference]++;
    if (plan.deleted) {
      summary.softDeleted.memories++;
      if (plan.role === 'project') summary.softDeleted.projects++;
    }
    if (!plan.hasEmbedding) summary.nullEmbeddings++;
    if (plan.defect) summary.defects[plan.defect]++;
    yield encodeMemory(shape, plan, space);
    if ((index + 1) % PROGRESS_EVERY === 0) onProgress?.(index + 1, shape.memories);
  }
  onProgress?.(shape.memories, shape.memories);
}

function* relationTuples(shape: DatasetShape, count: number, summary: GeneratorSummary): Generator<Buffer> {
  if (shape.memories === 0) return;
  const defects = summary.relationDefects;
  for (let index = 0; index < count; index++) {
    const plan = planRelation(shape, index);
    if (plan.targetIndex === plan.sourceIndex) defects.self++;
    if (plan.targetIndex === null) defects.dangling++;
    if (plan.defect === 'duplicate') defects.duplicate++;
    if (hasDeletedEnd(shape, plan)) defects.deletedEnd++;
    yield encodeRelation(shape, plan);
  }
}
