/**
 * The domain model shared by core, adapters and handlers. Core knows no driver: embeddings are
 * Float32Array (float4 is what pgvector stores, so a round trip is bit-exact), times are Date (ms).
 */

/** A module of the target's registry (`memory_modules."moduleId"`); see modules.ts. */
export type ModuleId = string;

/** One row of BigMemory's `memories` as the source reader hands it over (soft-deleted rows never are). */
export interface SourceMemory {
  id: string;
  userId: string;
  content: string | null;
  contentHash: string | null;
  embedding: Float32Array | null;
  title: string | null;
  summary: string | null;
  tags: string[] | null;
  source: string | null;
  /** jsonb as stored: usually an object, but drifted installs hold arrays, strings or NULL. */
  sourceMetadata: unknown;
  /** As stored: NULL, infinite or out-of-range values (an invalid Date) are repaired by `soundSourceValues`. */
  createdAt: Date | null;
  updatedAt: Date | null;
  accessedAt: Date | null;
  /** As stored (bigint sources may exceed the target's int4); NULL where the column allows it. */
  accessCount: number | null;
}

/** How a memory's module was decided: which rule, on what evidence, how sure. */
export interface Classification {
  module: ModuleId;
  /** Rule id from the rules file, e.g. `type:project`, `category:work`, `tag:code`, `centroid`, `fallback`. */
  rule: string;
  /** The value that matched, e.g. `source_metadata.category="Work"` or `content~/\bfunction\b/`. */
  evidence: string;
  /** 1 for a decisive metadata signal, lower for weaker signals; centroid placement gives the similarity margin. */
  confidence: number;
}

/** A row for one of the target's module tables. */
export interface ModuleMemoryRow {
  id: string;
  module: ModuleId;
  userId: string;
  content: string;
  embedding: Float32Array | null;
  metadata: Record<string, unknown>;
  accessCount: number;
  /** Never NULL: the column is NOT NULL in Federated Memory (see `lastAccessedOf`). */
  lastAccessed: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** A row of `memory_index` (the Central Memory Index), derived as Federated Memory derives it. */
export interface CmiRow {
  id: string;
  userId: string;
  moduleId: ModuleId;
  remoteMemoryId: string;
  embedding: Float32Array | null;
  title: string;
  summary: string;
  keywords: string[];
  categories: string[];
  importanceScore: number;
  accessCount: number;
  lastAccessed: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** Why a source memory was not migrated. Stable strings: reports group and count by them. */
const REJECT_REASONS = [
  'empty_content',
  'unmapped_user',
  'invalid_embedding_dimension',
  'non_finite_embedding',
  'embedding_unavailable',
  'database_error',
  /** A CHECK constraint or trigger of the target refused the row. */
  'target_constraint',
  'invalid_timestamps',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  sourceId: string;
  reason: RejectReason;
  detail: string;
}

/** A repair applied to a row that was migrated anyway (documented rule, kept for the report). */
export interface Repair {
  sourceId: string;
  rule:
    | 'metadata_not_object'
    | 'tags_null'
    | 'embedding_missing'
    | 'embedding_invalid_dropped'
    | 'last_accessed_derived'
    | 'created_at_repaired'
    | 'updated_at_repaired'
    | 'accessed_at_dropped'
    | 'access_count_repaired'
    | 'shadowed_metadata_nested';
  detail: string;
}
