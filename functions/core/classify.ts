/**
 * Which module a memory goes to (docs/design.md, "Classification"): the first decisive signal wins — metadata type, category, the
 * user's tag and content rules, the learned text model, nearest centroid, fallback — and the
 * decision names its rule and evidence so a report can show why. Only registered modules are ever
 * chosen: a rule that points elsewhere is passed over.
 */
import { centroidCount, type ModuleCentroids, nearestCentroid } from './centroids.js';
import { validateEmbedding } from './embedding.js';
import { DEFAULT_MODULE_IDS } from './modules.js';
import { type CompiledRules, type ContentMatcher, contentWords } from './rules.js';
import type { Classification, ModuleId, SourceMemory } from './types.js';

const CONFIDENCE = { type: 1, category: 0.95, tag: 0.85, contentMin: 0.5, contentMax: 0.8, fallback: 0.2 };
// Centroid placements sit between the fallback and the weakest content match.
const CENTROID_CONFIDENCE_MIN = 0.2;
const CENTROID_CONFIDENCE_MAX = 0.5;
/** Below this a classification is too weak to shape a centroid: it excludes content near-ties. */
const CONFIDENT_THRESHOLD = 0.6;
const CONFIDENT_RULE_KINDS = new Set(['type', 'category', 'tag', 'content', 'model', 'llm']);
// Content beyond this is not scanned: the opening decides, and user regexes stay cheap on huge rows.
const CONTENT_SCAN_LIMIT = 20_000;
const EVIDENCE_SIGNALS_SHOWN = 3;
// A learned guess is never certainty: 1 stays the mark of decisive metadata.
const MODEL_CONFIDENCE_MAX = 0.99;

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
  registered: ReadonlySet<string>,
): Classification | null {
  const value = metadata?.[field];
  if (typeof value !== 'string') return null;
  const key = normalise(value);
  const module = table.get(key);
  if (!module || !registered.has(module)) return null;
  return {
    module,
    rule: `${field}:${key}`,
    evidence: `source_metadata.${field}=${JSON.stringify(value)}`,
    confidence,
  };
}

/** The module most tags point to; null when none match or the top modules tie. */
function byTags(
  tags: string[] | null,
  rules: CompiledRules,
  registered: ReadonlySet<string>,
): Classification | null {
  if (!tags) return null;
  const votes = new Map<ModuleId, string[]>();
  const seen = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== 'string') continue;
    const key = normalise(tag);
    const module = rules.tagRules.get(key);
    if (!module || !registered.has(module) || seen.has(key)) continue;
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
function byContent(
  content: string | null,
  rules: CompiledRules,
  registered: ReadonlySet<string>,
): Classification | null {
  if (!content || rules.content.modules.length === 0) return null;
  const text = content.length > CONTENT_SCAN_LIMIT ? content.slice(0, CONTENT_SCAN_LIMIT) : content;
  const words = contentWords(text);
  const scores = rules.content.modules
    .filter(({ module }) => registered.has(module))
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

/** The text model's pick when it is sure enough (its tuned margin); its top features are the evidence. */
function byModel(
  memory: SourceMemory,
  rules: CompiledRules,
  registered: ReadonlySet<string>,
): Classification | null {
  if (!rules.textModel) return null;
  const prediction = rules.textModel.predict(memory, registered);
  if (!prediction?.decided) return null;
  const [best, second] = prediction.ranked;
  if (!best) return null;
  const features = prediction.topFeatures.length > 0 ? prediction.topFeatures.join(', ') : 'none';
  return {
    module: best.module as ModuleId,
    rule: `model:${best.module}`,
    evidence: `text model p=${best.probability.toFixed(2)}${second ? ` over ${second.module} ${second.probability.toFixed(2)}` : ''}; features ${features}`,
    confidence: Math.min(MODEL_CONFIDENCE_MAX, round(best.probability)),
  };
}

function byCentroid(
  memory: SourceMemory,
  rules: CompiledRules,
  centroids: ModuleCentroids | undefined,
  registered: ReadonlySet<string>,
): Classification | null {
  if (!centroids || !rules.centroid.enabled || memory.embedding === null) return null;
  // One centroid gives no second opinion to measure a margin against.
  if (centroidCount(centroids) < 2) return null;
  if (!validateEmbedding(memory.embedding, centroids.dimensions).ok) return null;
  const nearest = nearestCentroid(memory.embedding, centroids);
  if (
    !nearest ||
    !registered.has(nearest.module) ||
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

const DEFAULT_REGISTRY: ReadonlySet<string> = new Set(DEFAULT_MODULE_IDS);
const registries = new WeakMap<readonly string[], ReadonlySet<string>>();

function registryOf(modules: readonly string[] | undefined): ReadonlySet<string> {
  if (!modules) return DEFAULT_REGISTRY;
  let registry = registries.get(modules);
  if (!registry) {
    registry = new Set(modules);
    registries.set(modules, registry);
  }
  return registry;
}

/** The rules' fallback when registered, else the first registered module. */
function fallbackOf(
  rules: CompiledRules,
  registered: ReadonlySet<string>,
  modules: readonly string[] | undefined,
) {
  const module = registered.has(rules.fallback)
    ? rules.fallback
    : ((modules?.[0] ?? rules.fallback) as ModuleId);
  return {
    module,
    rule: `fallback:${module}`,
    evidence: 'no rule matched',
    confidence: CONFIDENCE.fallback,
  };
}

/**
 * `modules` is the target's registry of module ids (default: the six standard ones); nothing
 * outside it is ever chosen.
 */
export function classifyMemory(
  memory: SourceMemory,
  rules: CompiledRules,
  centroids?: ModuleCentroids,
  modules?: readonly string[],
): Classification {
  const metadata = metadataObject(memory.sourceMetadata);
  const registered = registryOf(modules);
  return (
    byMetadataField(metadata, 'type', rules.typeRules, CONFIDENCE.type, registered) ??
    byMetadataField(metadata, 'category', rules.categoryAliases, CONFIDENCE.category, registered) ??
    byTags(memory.tags, rules, registered) ??
    byContent(memory.content, rules, registered) ??
    byModel(memory, rules, registered) ??
    byCentroid(memory, rules, centroids, registered) ??
    fallbackOf(rules, registered, modules)
  );
}

/** Whether a classification is sure enough to shape its module's centroid. */
export function isConfident(classification: Classification, threshold = CONFIDENT_THRESHOLD): boolean {
  const kind = classification.rule.split(':', 1)[0] ?? '';
  return CONFIDENT_RULE_KINDS.has(kind) && classification.confidence >= threshold;
}
