/**
 * What a memory's migrated form depends on (docs/design.md, "Skipping what is done"): the source
 * row (hashed in SQL by the source, vectors never read), the user it maps to, and the versions of
 * the classification and embedding settings. The ledger keeps it per memory; a later run that
 * computes the same fingerprint leaves the memory alone.
 */
import { createHash } from 'node:crypto';
import type { ModuleCentroids } from './centroids.js';
import type { CompiledRules } from './rules.js';
import type { RejectReason } from './types.js';

export interface ProcessingSettings {
  rules: CompiledRules;
  centroids?: ModuleCentroids;
  /** The target's registered modules, in registry order: a new module can take memories. */
  modules: readonly string[];
  embedMode: 'preserve' | 'all' | 'missing-only';
  embeddingModel?: string;
  embeddingDimensions: number;
  cmiDimensions: number;
  llm?: { model: string; threshold: number };
}

/** The two halves of a run's version: one every memory depends on, one only centroid-placed ones do. */
export interface ProcessingVersion {
  base: string;
  centroids: string;
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

// Rules and centroids do not change within a run, and their documents are large: hashed once each.
const rulesVersions = new WeakMap<CompiledRules, string>();
const centroidVersions = new WeakMap<ModuleCentroids, string>();

/** The version of a rules document and its text model: one hash, computed once per document. */
export function rulesVersion(rules: CompiledRules): string {
  let version = rulesVersions.get(rules);
  if (version === undefined) {
    const model = rules.textModel ? md5(JSON.stringify(rules.textModel.document)) : 'no-text-model';
    version = md5(`${JSON.stringify(rules.document)}\u001f${model}`);
    rulesVersions.set(rules, version);
  }
  return version;
}

function centroidsVersion(centroids: ModuleCentroids | undefined): string {
  if (!centroids) return 'no-centroids';
  let version = centroidVersions.get(centroids);
  if (version === undefined) {
    const hash = createHash('md5').update(String(centroids.dimensions));
    for (const [module, vector] of Object.entries(centroids.modules).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!vector) continue;
      hash.update(module);
      hash.update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
    }
    version = hash.digest('hex');
    centroidVersions.set(centroids, version);
  }
  return version;
}

export function processingVersion(settings: ProcessingSettings): ProcessingVersion {
  const embedding =
    settings.embedMode === 'preserve'
      ? 'preserve'
      : `${settings.embedMode}:${settings.embeddingModel ?? ''}:${settings.embeddingDimensions}`;
  const base = md5(
    [
      rulesVersion(settings.rules),
      settings.modules.join(','),
      embedding,
      `${settings.embeddingDimensions}/${settings.cmiDimensions}`,
      settings.llm ? `${settings.llm.model}@${settings.llm.threshold}` : 'offline',
    ].join('\u001f'),
  );
  return { base, centroids: centroidsVersion(settings.centroids) };
}

// Signals tried before the centroids: a memory one of them decided does not depend on the
// centroids (the first decisive signal wins). Centroid, LLM and fallback decisions do; a memory
// rejected before it was classified (no rule) does not.
const DECIDED_BEFORE_CENTROIDS = /^(type|category|tag|content|model):/;

const dependsOnCentroids = (rule: string | null) => rule !== null && !DECIDED_BEFORE_CENTROIDS.test(rule);

/**
 * A memory's fingerprint: its source row's hash, the target user its source user maps to (or
 * none), and the version of what decided it.
 */
export function memoryFingerprint(
  rowHash: string,
  targetUserId: string | null,
  rule: string | null,
  version: ProcessingVersion,
): string {
  return md5(
    [rowHash, targetUserId ?? '-', version.base, dependsOnCentroids(rule) ? version.centroids : ''].join(
      '\u001f',
    ),
  );
}

// Rejects that a rerun may turn out differently with no change to the source: a failed embedding
// request, or a row the target refused (its constraint may since have been fixed).
const RETRIED_REJECTS: ReadonlySet<RejectReason> = new Set(['embedding_unavailable', 'target_constraint']);

export const isRetriedReject = (reason: string) => RETRIED_REJECTS.has(reason as RejectReason);

export interface LedgerFingerprint {
  status: 'migrated' | 'rejected';
  rule: string | null;
  reason: string | null;
  fingerprint: string | null;
}

/**
 * A key range's source rows (id, soft-deleted or not, row hash, in key order) under a processing
 * version, as one value: what a range's record keeps (db/memory-ranges.ts).
 */
export function rangeDigest(
  rows: readonly { id: string; deleted: boolean; rowHash: string }[],
  version: ProcessingVersion,
): string {
  const hash = createHash('md5').update(`${version.base}\u001f${version.centroids}`);
  for (const row of rows) hash.update(`\u001e${row.id}\u001f${row.deleted ? 1 : 0}\u001f${row.rowHash}`);
  return hash.digest('hex');
}

/** Whether an earlier run's result for this memory still stands: same fingerprint, not a retried reject. */
export function isUnchanged(
  ledger: LedgerFingerprint | undefined,
  rowHash: string,
  targetUserId: string | null,
  version: ProcessingVersion,
): boolean {
  if (!ledger?.fingerprint) return false;
  if (ledger.status === 'rejected' && RETRIED_REJECTS.has(ledger.reason as RejectReason)) return false;
  return ledger.fingerprint === memoryFingerprint(rowHash, targetUserId, ledger.rule, version);
}

/**
 * What a source relation resolved to: the row it makes (both ends' modules and ids included), or
 * the reason it is skipped. A later run that resolves it alike leaves it alone.
 */
export function relationshipFingerprint(
  resolved: { row: object } | { reason: string; detail: string },
  also = '',
): string {
  const outcome =
    'row' in resolved ? JSON.stringify(resolved.row) : `${resolved.reason}\u001f${resolved.detail}`;
  return md5(`${outcome}\u001f${also}`);
}

/** Whether a relation's ledger row still stands: resolved alike, and not a duplicate that lost to another. */
export function relationshipUnchanged(
  ledger: { status: string; reason: string | null; fingerprint: string | null } | undefined,
  fingerprint: string,
): boolean {
  if (!ledger?.fingerprint || ledger.fingerprint !== fingerprint) return false;
  return !(ledger.status === 'skipped' && ledger.reason === 'duplicate');
}
