import { createHash } from 'node:crypto';
import { encodeTuple, type PgBinaryType } from '../../functions/db/pg-binary.js';
import type { EmbeddingSpace } from './embedding-space.js';
import { type DatasetShape, type MemoryPlan, memoryId } from './memory-plan.js';
import { MODULE_IDS, type ModuleId } from './modules.js';
import { RowRandom, STREAM } from './seeded-random.js';
import {
  CATEGORY_SPELLINGS,
  CONFLICTING_TEXTS,
  CONTENT_TEMPLATES,
  FIRST_NAMES,
  NEUTRAL_TEXTS,
  PRIORITIES,
  PROJECT_STATUSES,
  projectNameOf,
  SOURCES,
  TAG_SETS,
  TASK_STATUSES,
  taskTitle,
  UNKNOWN_CATEGORIES,
} from './vocabulary.js';

export const MEMORY_COLUMNS = [
  ['id', 'uuid'],
  ['user_id', 'uuid'],
  ['content', 'text'],
  ['content_hash', 'text'],
  ['embedding', 'vector'],
  ['title', 'text'],
  ['summary', 'text'],
  ['tags', 'text[]'],
  ['source', 'text'],
  ['source_metadata', 'jsonb'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
  ['accessed_at', 'timestamptz'],
  ['access_count', 'int4'],
  ['is_deleted', 'bool'],
] as const satisfies readonly (readonly [string, PgBinaryType])[];
const MEMORY_TYPES: readonly PgBinaryType[] = MEMORY_COLUMNS.map(([, type]) => type);

/** Fixed, so timestamps never depend on when the generator ran. */
export const BASE_TIME_MS = Date.UTC(2023, 0, 1);
const SPAN_MS = 730 * 86_400_000;
const DAY_MS = 86_400_000;

/** created_at grows with the index (with jitter and milliseconds), so relations can derive it too. */
export function createdAtOf(shape: DatasetShape, index: number): number {
  const step = SPAN_MS / Math.max(shape.memories, 1);
  const random = new RowRandom(shape.seed, STREAM.memory + 0x100, index);
  return BASE_TIME_MS + Math.floor(index * step + random.float() * step);
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function otherModule(module: ModuleId, random: RowRandom): ModuleId {
  const others = MODULE_IDS.filter((m) => m !== module);
  return random.pick(others);
}

interface MemoryText {
  content: string | null;
  title: string | null;
  tags: string[] | null;
  metadata: unknown;
}

function projectText(plan: MemoryPlan, random: RowRandom, createdAt: number): MemoryText {
  const name = projectNameOf(plan.projectSlot as number);
  const owner = random.pick(FIRST_NAMES);
  const metadata: Record<string, unknown> = {
    type: 'project',
    projectName: name,
    status: random.pick(PROJECT_STATUSES),
    priority: random.pick(PRIORITIES),
    owner,
    team: [random.pick(FIRST_NAMES), random.pick(FIRST_NAMES)],
  };
  if (random.chance(0.7)) metadata.dueDate = isoDate(createdAt + (30 + random.int(300)) * DAY_MS);
  if (random.chance(0.3)) metadata.category = 'Work';
  return {
    content: `Project ${name}: ${random.pick(['deliver', 'plan', 'coordinate'])} the ${name.toLowerCase()} with the team. Owner: ${owner}.`,
    title: `Project: ${name}`,
    tags: random.chance(0.5) ? ['project'] : [],
    metadata,
  };
}

function taskText(shape: DatasetShape, plan: MemoryPlan, random: RowRandom, createdAt: number): MemoryText {
  const title = taskTitle(random);
  const metadata: Record<string, unknown> = {
    type: 'task',
    status: random.pick(TASK_STATUSES),
    priority: random.pick(PRIORITIES),
    assignee: random.pick(FIRST_NAMES),
  };
  if (random.chance(0.8)) metadata.dueDate = isoDate(createdAt + (1 + random.int(60)) * DAY_MS);
  if (random.chance(0.3)) metadata.team = [random.pick(FIRST_NAMES), random.pick(FIRST_NAMES)];
  const reference = plan.taskReference;
  if ((reference === 'id' || reference === 'id_and_name') && plan.projectIndex !== null) {
    metadata.projectId = memoryId(shape.seed, plan.projectIndex);
  }
  if ((reference === 'name' || reference === 'id_and_name') && plan.projectSlot !== null) {
    metadata.projectName = projectNameOf(plan.projectSlot);
  }
  if (reference === 'unknown_name') metadata.projectName = `Retired Initiative ${plan.index}`;
  return { content: `${title}. ${random.pick(CONTENT_TEMPLATES.work)(random)}`, title, tags: [], metadata };
}

function noteText(plan: MemoryPlan, random: RowRandom): MemoryText {
  const module = plan.module;
  const body = random.pick(CONTENT_TEMPLATES[module])(random);
  const extra: Record<string, unknown> = random.chance(0.3)
    ? { client: random.pick(['web', 'mobile', 'cli']) }
    : {};
  switch (plan.signal) {
    case 'category': {
      const metadata: Record<string, unknown> = {
        ...extra,
        category: random.pick(CATEGORY_SPELLINGS[module]),
      };
      if (random.chance(0.3)) metadata.type = 'note';
      // Weaker evidence for another module must lose to the category (first decisive signal wins).
      const tags = random.chance(0.2) ? [...random.pick(TAG_SETS[otherModule(module, random)])] : [];
      return { content: body, title: null, tags, metadata };
    }
    case 'tags': {
      const content = random.chance(0.2)
        ? random.pick(CONTENT_TEMPLATES[otherModule(module, random)])(random)
        : body;
      return { content, title: null, tags: [...random.pick(TAG_SETS[module])], metadata: extra };
    }
    case 'ambiguous': {
      if (plan.ambiguity === 'unknown_category') {
        return {
          content: random.pick(NEUTRAL_TEXTS),
          title: null,
          tags: [],
          metadata: { category: random.pick(UNKNOWN_CATEGORIES) },
        };
      }
      const content =
        plan.ambiguity === 'conflicting_content'
          ? random.pick(CONFLICTING_TEXTS)
          : random.pick(NEUTRAL_TEXTS);
      return { content, title: null, tags: [], metadata: extra };
    }
    default:
      return { content: body, title: null, tags: [], metadata: extra };
  }
}

function applyDefect(plan: MemoryPlan, text: MemoryText): MemoryText {
  switch (plan.defect) {
    case 'metadata_array':
      return { ...text, metadata: [plan.module, 'imported'] };
    case 'metadata_string':
      return { ...text, metadata: `legacy note ${plan.index}` };
    case 'metadata_null':
      return { ...text, metadata: null };
    case 'tags_null':
      return { ...text, tags: null };
    case 'content_null':
      return { ...text, content: null };
    case 'content_empty':
      return { ...text, content: '' };
    default:
      return text;
  }
}

function firstLine(content: string, max: number): string {
  const line = content.split('\n', 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The COPY tuple of one memory. */
export function encodeMemory(shape: DatasetShape, plan: MemoryPlan, space: EmbeddingSpace): Buffer {
  const random = new RowRandom(shape.seed, STREAM.memory + 0x200, plan.index);
  const createdAt = createdAtOf(shape, plan.index);
  const base =
    plan.role === 'project'
      ? projectText(plan, random, createdAt)
      : plan.role === 'task'
        ? taskText(shape, plan, random, createdAt)
        : noteText(plan, random);
  const text = applyDefect(plan, base);
  const content = text.content;
  const title = text.title ?? (content && random.chance(0.6) ? firstLine(content, 60) : null);
  const summary = content && random.chance(0.3) ? firstLine(content, 120) : null;
  const contentHash =
    content !== null && random.chance(0.96) ? createHash('sha256').update(content).digest('hex') : null;
  const updatedAt = random.chance(0.3) ? createdAt : createdAt + random.int(90 * DAY_MS);
  const accessedAt = random.chance(0.2) ? null : updatedAt + random.int(60 * DAY_MS);
  const accessCount = accessedAt === null ? 0 : 1 + Math.floor(random.float() ** 3 * 200);
  const embedding = plan.hasEmbedding ? space.encode(plan.module, random, plan.embeddingBlend) : null;
  return encodeTuple(MEMORY_TYPES, [
    plan.id,
    plan.userId,
    content,
    contentHash,
    embedding,
    title,
    summary,
    text.tags,
    random.pick(SOURCES),
    // jsonb NULL (SQL NULL) versus the JSON text; a string defect must be stored as a JSON string.
    text.metadata === null ? null : JSON.stringify(text.metadata),
    createdAt,
    updatedAt,
    accessedAt,
    accessCount,
    plan.deleted,
  ]);
}
