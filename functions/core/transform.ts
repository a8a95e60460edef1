/**
 * One BigMemory memory → one Federated Memory module row (docs/design.md, "Metadata, ids and timestamps"). Row defects never throw:
 * the memory is rejected with a stable reason, or migrated with a documented repair.
 */
import { hash } from 'node:crypto';
import { deriveCmiSummary, deriveCmiTitle } from './cmi.js';
import { validateEmbedding } from './embedding.js';
import { targetMemoryId } from './ids.js';
import { hasValue, moduleFields } from './module-fields.js';
import type { SoundMemory } from './source-values.js';
import type { Classification, ModuleMemoryRow, Rejection, Repair, SourceMemory } from './types.js';

export interface TransformInput {
  classification: Classification;
  targetUserId: string;
  /** A regenerated embedding replacing the source's; undefined keeps the source's own. */
  embedding?: Float32Array | null;
  embeddingModel?: string;
  /** The target's module vector size; every embedding written must have it. */
  embeddingDimensions?: number;
}

export type TransformResult =
  | { ok: true; row: ModuleMemoryRow; repairs: Repair[] }
  | { ok: false; rejection: Rejection };

/** sha256 hex of the UTF-8 content: how a later run sees that a memory's content changed. */
export function contentHash(content: string): string {
  return hash('sha256', content, 'hex');
}

function describeKind(value: unknown): string {
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Source metadata as an object; drifted installs hold arrays or scalars, kept rather than lost. */
function baseMetadata(memory: SourceMemory, repairs: Repair[]): Record<string, unknown> {
  const value = memory.sourceMetadata;
  if (value === null || value === undefined) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return { ...(value as Record<string, unknown>) };
  repairs.push({
    sourceId: memory.id,
    rule: 'metadata_not_object',
    detail: `source_metadata was ${describeKind(value)}; kept under metadata.original_source_metadata`,
  });
  return { original_source_metadata: value };
}

function sameJson(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Writes the migration's fields over the source's keys. "Keep everything from source_metadata" is
 * the guide's promise, so a source value that a migration field replaces moves to
 * `shadowed_source_metadata` instead of vanishing.
 */
const SHADOWED = 'shadowed_source_metadata';

function overlay(metadata: Record<string, unknown>, fields: Record<string, unknown>): void {
  const shadowed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key in metadata && !sameJson(metadata[key], value)) shadowed[key] = metadata[key];
    metadata[key] = value;
  }
  if (Object.keys(shadowed).length > 0) {
    const earlier = metadata['shadowed_source_metadata'];
    metadata['shadowed_source_metadata'] = { ...(typeof earlier === 'object' ? earlier : {}), ...shadowed };
  }
}

function firstWithValue(...values: unknown[]): unknown {
  return values.find(hasValue);
}

function pickEmbedding(
  memory: SourceMemory,
  input: TransformInput,
  repairs: Repair[],
): { ok: true; embedding: Float32Array | null } | { ok: false; rejection: Rejection } {
  const regenerated = input.embedding !== undefined;
  const embedding = regenerated ? (input.embedding ?? null) : memory.embedding;
  const check = validateEmbedding(embedding, input.embeddingDimensions);
  if (!check.ok) {
    const detail = regenerated ? `regenerated embedding: ${check.detail}` : check.detail;
    return { ok: false, rejection: { sourceId: memory.id, reason: check.reason, detail } };
  }
  if (regenerated) {
    const source = validateEmbedding(memory.embedding, input.embeddingDimensions);
    if (!source.ok) {
      repairs.push({
        sourceId: memory.id,
        rule: 'embedding_invalid_dropped',
        detail: `source embedding ${source.reason} (${source.detail}); replaced by the regenerated one`,
      });
    }
  }
  if (embedding === null) {
    repairs.push({
      sourceId: memory.id,
      rule: 'embedding_missing',
      detail: 'embedding was NULL; migrated as NULL',
    });
  }
  return { ok: true, embedding };
}

/**
 * Federated Memory's `lastAccessed` is NOT NULL: a memory never accessed (no `accessed_at`) gets
 * its last update, else its creation, as the closest thing to an access the source knows.
 */
function lastAccessedOf(memory: SoundMemory, repairs: Repair[]): Date {
  if (memory.accessedAt !== null) return new Date(memory.accessedAt.getTime());
  repairs.push({
    sourceId: memory.id,
    rule: 'last_accessed_derived',
    detail: 'accessed_at was NULL; lastAccessed set to updated_at (created_at when that is NULL too)',
  });
  return new Date(memory.updatedAt.getTime());
}

export function transformMemory(memory: SoundMemory, input: TransformInput): TransformResult {
  const content = memory.content;
  if (content === null || content.trim() === '') {
    const detail = content === null ? 'content is NULL' : 'content is empty or whitespace only';
    return { ok: false, rejection: { sourceId: memory.id, reason: 'empty_content', detail } };
  }
  const repairs: Repair[] = [];
  const picked = pickEmbedding(memory, input, repairs);
  if (!picked.ok) return picked;

  const module = input.classification.module;
  const metadata = baseMetadata(memory, repairs);
  // The source's own key of that name must not be merged into, or lost under, the migration's.
  const sourceShadowed = metadata[SHADOWED];
  delete metadata[SHADOWED];
  if (memory.tags === null) {
    repairs.push({ sourceId: memory.id, rule: 'tags_null', detail: 'tags was NULL; migrated as []' });
  }
  overlay(metadata, moduleFields(module, metadata));

  const { rule, evidence, confidence } = input.classification;
  const migration: Record<string, unknown> = {
    migrated_from: 'bigmemory',
    original_id: memory.id,
    original_created_at: memory.createdAt.toISOString(),
    original_tags: memory.tags ?? [],
    title: firstWithValue(memory.title, metadata['title']) ?? deriveCmiTitle(content),
    summary: firstWithValue(memory.summary, metadata['summary']) ?? deriveCmiSummary(content),
    access_count: memory.accessCount,
    classification: { rule, evidence, confidence },
  };
  if (hasValue(memory.source)) migration['source'] = memory.source;
  if (hasValue(memory.contentHash)) migration['content_hash'] = memory.contentHash;
  if (input.embeddingModel !== undefined) migration['embedding_model'] = input.embeddingModel;
  overlay(metadata, migration);
  if (sourceShadowed !== undefined) {
    const ours = metadata[SHADOWED] as Record<string, unknown> | undefined;
    if (ours) {
      ours[SHADOWED] = sourceShadowed;
      repairs.push({
        sourceId: memory.id,
        rule: 'shadowed_metadata_nested',
        detail: `source_metadata had its own ${SHADOWED}; kept under ${SHADOWED}.${SHADOWED}`,
      });
    } else {
      metadata[SHADOWED] = sourceShadowed;
    }
  }

  return {
    ok: true,
    repairs,
    row: {
      id: targetMemoryId(memory.id),
      module,
      userId: input.targetUserId,
      content,
      embedding: picked.embedding,
      metadata,
      accessCount: memory.accessCount,
      lastAccessed: lastAccessedOf(memory, repairs),
      createdAt: new Date(memory.createdAt.getTime()),
      updatedAt: new Date(memory.updatedAt.getTime()),
    },
  };
}
