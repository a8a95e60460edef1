/**
 * Which module a memory goes to (docs/design.md, "Classification"): the first decisive signal wins — metadata type,
 * category, tags, content patterns, nearest centroid, fallback — and the decision names its rule
 * and evidence so a report can show why.
 */
import { centroidCount, type ModuleCentroids, nearestCentroid } from './centroids.js';
import { validateEmbedding } from './embedding.js';
import { type CompiledRules, type ContentMatcher, contentWords } from './rules.js';
import type { Classification, ModuleId, SourceMemory } from './types.js';

const CONFIDENCE = { type: 1, category: 0.95, tag: 0.85, contentMin: 0.5, contentMax: 0.8, fallback: 0.2 };
// Centroid placements sit between the fallback and the weakest content match.
const CENTROID_CONFIDENCE_MIN = 0.2;
const CENTROID_CONFIDENCE_MAX = 0.5;
/** Below this a classification is too weak to shape a centroid: it excludes content near-ties. */
export const CONFIDENT_THRESHOLD = 0.6;
const CONFIDENT_RULE_KINDS = new Set(['type', 'category', 'tag', 'content']);
// Content beyond this is not scanned: the opening decides, and user regexes stay cheap on huge rows.
const CONTENT_SCAN_LIMIT = 20_000;
const EVIDENCE_SIGNALS_SHOWN = 3;

function metadataObject(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function normalise(value: string): string {
  return value.trim().toLowerCase();
}

function byMetadataField(
  metadata: Record<string, unknown> | null,
  field: 'type' | 'category',
  table: ReadonlyMap<string, ModuleId>,
  confidence: number,
): Classification | null {
  const value = metadata?.[field];
  if (typeof value !== 'string') return null;
  const key = normalise(value);
  const module = table.get(key);
  if (!module) return null;
  return {
    module,
    rule: `${field}:${key}`,
    evidence: `source_metadata.${field}=${JSON.stringify(value)}`,
    confidence,
  };
}

/** The module most tags point to; null when none match or the top modules tie. */
function byTags(tags: string[] | null, rules: CompiledRules): Classification | null {
  if (!tags) return null;
  const votes = new Map<ModuleId, string[]>();
  const seen = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== 'string') continue;
    const key = normalise(tag);
    const module = rules.tagRules.get(key);
    if (!module || seen.has(key)) continue;
    seen.add(key);
    votes.set(module, [...(votes.get(module) ?? []), tag]);
  }
  const ranked = [...votes].sort((a, b) => b[1].length - a[1].length);
  const [winner, runnerUp] = ranked;
  if (!winner || (runnerUp && runnerUp[1].length === winner[1].length)) return null;
  const [module, matched] = winner;
  return {
    module,
    rule: `tag:${normalise(matched[0] as string)}`,
    evidence: `tags=${JSON.stringify(matched)}`,
    confidence: CONFIDENCE.tag,
  };
}

function matchesContent(m: ContentMatcher, text: string, words: ReadonlySet<string>): boolean {
  return m.word === undefined ? m.regex.test(text) : words.has(m.word);
}

/** Score = distinct signals matched; the winner must reach minScore and strictly beat the runner-up. */
function byContent(content: string | null, rules: CompiledRules): Classification | null {
  if (!content) return null;
  const text = content.length > CONTENT_SCAN_LIMIT ? content.slice(0, CONTENT_SCAN_LIMIT) : content;
  const words = contentWords(text);
  const scores = rules.content.modules
    .map(({ module, matchers }) => ({
      module,
      matched: matchers.filter((m) => matchesContent(m, text, words)).map((m) => m.label),
    }))
    .sort((a, b) => b.matched.length - a.matched.length);
  const [winner, runnerUp] = scores;
  if (!winner || winner.matched.length < rules.content.minScore) return null;
  const secondScore = runnerUp?.matched.length ?? 0;
  if (secondScore === winner.matched.length) return null;
  const margin = (winner.matched.length - secondScore) / winner.matched.length;
  const shown = winner.matched.slice(0, EVIDENCE_SIGNALS_SHOWN).join(', ');
  const more =
    winner.matched.length > EVIDENCE_SIGNALS_SHOWN
      ? ` (+${winner.matched.length - EVIDENCE_SIGNALS_SHOWN} more)`
      : '';
  return {
    module: winner.module,
    rule: `content:${winner.module}`,
    evidence: `content matched ${shown}${more}`,
    confidence: round(CONFIDENCE.contentMin + (CONFIDENCE.contentMax - CONFIDENCE.contentMin) * margin),
  };
}

function byCentroid(
  memory: SourceMemory,
  rules: CompiledRules,
  centroids: ModuleCentroids | undefined,
): Classification | null {
  if (!centroids || !rules.centroid.enabled || memory.embedding === null) return null;
  // One centroid gives no second opinion to measure a margin against.
  if (centroidCount(centroids) < 2) return null;
  if (!validateEmbedding(memory.embedding, centroids.dimensions).ok) return null;
  const nearest = nearestCentroid(memory.embedding, centroids);
  if (
    !nearest ||
    nearest.similarity < rules.centroid.minSimilarity ||
    nearest.margin < rules.centroid.minMargin
  ) {
    return null;
  }
  return {
    module: nearest.module,
    rule: `centroid:${nearest.module}`,
    evidence: `embedding nearest ${nearest.module} centroid (cosine ${nearest.similarity.toFixed(3)}, margin ${nearest.margin.toFixed(3)})`,
    confidence: round(Math.min(CENTROID_CONFIDENCE_MAX, CENTROID_CONFIDENCE_MIN + nearest.margin)),
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function classifyMemory(
  memory: SourceMemory,
  rules: CompiledRules,
  centroids?: ModuleCentroids,
): Classification {
  const metadata = metadataObject(memory.sourceMetadata);
  return (
    byMetadataField(metadata, 'type', rules.typeRules, CONFIDENCE.type) ??
    byMetadataField(metadata, 'category', rules.categoryAliases, CONFIDENCE.category) ??
    byTags(memory.tags, rules) ??
    byContent(memory.content, rules) ??
    byCentroid(memory, rules, centroids) ?? {
      module: rules.fallback,
      rule: `fallback:${rules.fallback}`,
      evidence: 'no rule matched',
      confidence: CONFIDENCE.fallback,
    }
  );
}

/** Whether a classification is sure enough to shape its module's centroid. */
export function isConfident(classification: Classification, threshold = CONFIDENT_THRESHOLD): boolean {
  const kind = classification.rule.split(':', 1)[0] ?? '';
  return CONFIDENT_RULE_KINDS.has(kind) && classification.confidence >= threshold;
}
