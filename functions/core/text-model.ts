/**
 * The learned text model: a linear model over the features of `text-features.ts` (trained as
 * multinomial naive Bayes by `npm run train:classify`), shipped as a versioned JSON document.
 * Scores are turned into calibrated probabilities by a temperature fitted on held-out memories, and
 * the model abstains when the two best modules are closer than its tuned margin.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import {
  detectLanguage,
  type Language,
  type MemoryText,
  metadataFeatureNames,
  tagFeatureNames,
  tokenize,
  wordFeatureNames,
} from './text-features.js';

export const TEXT_MODEL_FORMAT = 'bigmemory-text-model';

const textModelSchema = z.strictObject({
  format: z.literal(TEXT_MODEL_FORMAT),
  version: z.literal(1),
  description: z.string().optional(),
  /** Modules in the order of every weight vector. */
  modules: z.array(z.string().min(1)).min(2),
  /** Added to every module's score: the log prior. */
  bias: z.array(z.number()),
  /** Softmax temperature: probabilities are softmax(score / temperature). */
  temperature: z.number().positive(),
  /** Below this difference between the two best probabilities the model abstains. */
  minMargin: z.number().min(0).max(1),
  /** Feature name → one weight per module (already scaled by its kind's weight). */
  features: z.record(z.string(), z.array(z.number())),
  /** How it was trained and how it scored on the held-out split, for people reading the file. */
  training: z.record(z.string(), z.unknown()).optional(),
});

export type TextModelDocument = z.infer<typeof textModelSchema>;

interface CachedWord {
  /** Index of the stem among those of the word-pair features; -1 when it is in none. */
  stemId: number;
  ids: Int32Array;
}

// Word pairs are looked up by a number made of their two stems' indexes: no string per pair.
const STEM_SPACE = 2 ** 21;

// Bounded so a migration of millions of distinct tokens cannot grow the cache without limit.
const WORD_CACHE_LIMIT = 200_000;
const EVIDENCE_FEATURES = 3;

export interface TextPrediction {
  /** Registered modules the model knows, best first, with calibrated probabilities. */
  ranked: { module: string; probability: number }[];
  /** Best probability minus the runner-up's. */
  margin: number;
  /** Whether the margin clears the model's tuned minimum. */
  decided: boolean;
  /** The features that pushed hardest toward the best module. */
  topFeatures: string[];
  /** How many features of the memory the model knows; 0 means it has nothing to go on. */
  knownFeatures: number;
}

/** A parsed model ready for the hot loop: feature ids, flat weights, per-language word caches. */
export class TextModel {
  readonly modules: readonly string[];
  readonly minMargin: number;
  readonly document: TextModelDocument;
  private readonly ids: Map<string, number>;
  private readonly names: string[];
  // Float32: half the memory of a Float64Array, so more of the rows a memory touches stay in cache.
  private readonly weights: Float32Array;
  private readonly bias: Float64Array;
  private readonly temperature: number;
  /** Scratch for one memory's module scores. */
  private readonly scores: Float64Array;
  private readonly wordCaches = new Map<Language, Map<string, CachedWord>>();
  private seen: Int32Array;
  private generation = 0;
  /** Whether any word-pair feature survived training. */
  private readonly hasPairs: boolean;
  private readonly stemIds = new Map<string, number>();
  private readonly pairIds = new Map<number, number>();
  /** `s:` features by their symbol run. */
  private readonly symbolIds = new Map<string, number>();
  private readonly allowed = new WeakMap<ReadonlySet<string>, number[]>();

  constructor(document: TextModelDocument) {
    this.document = document;
    this.modules = document.modules;
    this.minMargin = document.minMargin;
    this.temperature = document.temperature;
    const k = document.modules.length;
    this.bias = Float64Array.from(document.bias);
    this.scores = new Float64Array(k);
    this.names = Object.keys(document.features);
    this.ids = new Map(this.names.map((name, index) => [name, index]));
    this.weights = new Float32Array(this.names.length * k);
    this.names.forEach((name, index) => {
      this.weights.set(document.features[name] as number[], index * k);
    });
    this.seen = new Int32Array(this.names.length);
    const stemId = (stem: string) => {
      let id = this.stemIds.get(stem);
      if (id === undefined) {
        id = this.stemIds.size;
        this.stemIds.set(stem, id);
      }
      return id;
    };
    this.names.forEach((name, id) => {
      if (name.startsWith('s:')) this.symbolIds.set(name.slice(2), id);
      if (!name.startsWith('b:')) return;
      const [first, second] = name.slice(2).split(' ');
      if (first === undefined || second === undefined) return;
      this.pairIds.set(stemId(first) * STEM_SPACE + stemId(second), id);
    });
    this.hasPairs = this.pairIds.size > 0 && this.stemIds.size < STEM_SPACE;
  }

  private cachedWord(word: string, language: Language): CachedWord {
    let cache = this.wordCaches.get(language);
    if (!cache) {
      cache = new Map();
      this.wordCaches.set(language, cache);
    }
    let entry = cache.get(word);
    if (!entry) {
      const { stem, names } = wordFeatureNames(word, language);
      const ids: number[] = [];
      for (const name of names) {
        const id = this.ids.get(name);
        if (id !== undefined) ids.push(id);
      }
      entry = { stemId: this.stemIds.get(stem) ?? -1, ids: Int32Array.from(ids) };
      if (cache.size >= WORD_CACHE_LIMIT) cache.clear();
      cache.set(word, entry);
    }
    return entry;
  }

  /** Feature ids of a memory, each once. */
  featureIds(memory: MemoryText): number[] {
    this.generation++;
    if (this.generation === 0x7fffffff) {
      this.seen.fill(0);
      this.generation = 1;
    }
    const generation = this.generation;
    const seen = this.seen;
    const out: number[] = [];
    const { words, symbols } = tokenize(memory.content);
    const language = detectLanguage(words);
    let previous = -1;
    for (const word of words) {
      const entry = this.cachedWord(word, language);
      const ids = entry.ids;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (seen[id] !== generation) {
          seen[id] = generation;
          out.push(id);
        }
      }
      if (this.hasPairs) {
        if (previous >= 0 && entry.stemId >= 0) {
          const id = this.pairIds.get(previous * STEM_SPACE + entry.stemId);
          if (id !== undefined && seen[id] !== generation) {
            seen[id] = generation;
            out.push(id);
          }
        }
        previous = entry.stemId;
      }
    }
    const add = (name: string) => {
      const id = this.ids.get(name);
      if (id !== undefined && seen[id] !== generation) {
        seen[id] = generation;
        out.push(id);
      }
    };
    for (const symbol of symbols) {
      const id = this.symbolIds.get(symbol);
      if (id !== undefined && seen[id] !== generation) {
        seen[id] = generation;
        out.push(id);
      }
    }
    if (memory.tags && memory.tags.length > 0) for (const name of tagFeatureNames(memory.tags)) add(name);
    if (memory.sourceMetadata !== null && typeof memory.sourceMetadata === 'object') {
      for (const name of metadataFeatureNames(memory.sourceMetadata)) add(name);
    }
    return out;
  }

  /**
   * Probabilities over the registered modules the model knows (others get none: a module outside
   * the registry is never chosen), or null when fewer than two of them are known.
   */
  predict(memory: MemoryText, registered: ReadonlySet<string>): TextPrediction | null {
    const k = this.modules.length;
    const allowed = this.allowedIndices(registered);
    if (allowed.length < 2) return null;
    const ids = this.featureIds(memory);
    const scores = this.scores;
    scores.set(this.bias);
    const weights = this.weights;
    for (let n = 0; n < ids.length; n++) {
      const base = (ids[n] as number) * k;
      for (let j = 0; j < k; j++) (scores[j] as number) += weights[base + j] as number;
    }
    let max = Number.NEGATIVE_INFINITY;
    for (const j of allowed) max = Math.max(max, (scores[j] as number) / this.temperature);
    let total = 0;
    const exp = allowed.map((j) => {
      const value = Math.exp((scores[j] as number) / this.temperature - max);
      total += value;
      return value;
    });
    const ranked = allowed
      .map((j, index) => ({
        module: this.modules[j] as string,
        index: j,
        probability: (exp[index] as number) / total,
      }))
      .sort((a, b) => b.probability - a.probability || a.index - b.index);
    const best = ranked[0] as (typeof ranked)[number];
    const second = ranked[1] as (typeof ranked)[number];
    const margin = best.probability - second.probability;
    return {
      ranked: ranked.map(({ module, probability }) => ({ module, probability })),
      margin,
      decided: ids.length > 0 && margin >= this.minMargin,
      topFeatures: this.strongest(ids, best.index, second.index),
      knownFeatures: ids.length,
    };
  }

  private allowedIndices(registered: ReadonlySet<string>): readonly number[] {
    let allowed = this.allowed.get(registered);
    if (!allowed) {
      allowed = [];
      for (let j = 0; j < this.modules.length; j++)
        if (registered.has(this.modules[j] as string)) allowed.push(j);
      this.allowed.set(registered, allowed);
    }
    return allowed;
  }

  /** The features with the largest weight for `winner` over `runnerUp`. */
  private strongest(ids: readonly number[], winner: number, runnerUp: number): string[] {
    const k = this.modules.length;
    const top: { id: number; gain: number }[] = [];
    for (const id of ids) {
      const gain = (this.weights[id * k + winner] as number) - (this.weights[id * k + runnerUp] as number);
      if (gain <= 0) continue;
      if (top.length < EVIDENCE_FEATURES) top.push({ id, gain });
      else {
        let weakest = 0;
        for (let i = 1; i < top.length; i++)
          if ((top[i] as { gain: number }).gain < (top[weakest] as { gain: number }).gain) weakest = i;
        if ((top[weakest] as { gain: number }).gain < gain) top[weakest] = { id, gain };
      }
    }
    return top.sort((a, b) => b.gain - a.gain || a.id - b.id).map((t) => this.names[t.id] as string);
  }
}

/** Validates a model document; `origin` names it in the error (a file path or "the shipped model"). */
export function parseTextModel(value: unknown, origin: string): TextModel {
  const parsed = textModelSchema.safeParse(value);
  if (!parsed.success) {
    const summary = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new InvalidInputError(`invalid text model ${origin}: ${summary}`, { context: { origin } });
  }
  const document = parsed.data;
  const k = document.modules.length;
  if (document.bias.length !== k) {
    throw new InvalidInputError(
      `invalid text model ${origin}: bias has ${document.bias.length} values for ${k} modules`,
      {
        context: { origin },
      },
    );
  }
  for (const [name, weights] of Object.entries(document.features)) {
    if (weights.length !== k) {
      throw new InvalidInputError(
        `invalid text model ${origin}: feature ${JSON.stringify(name)} has ${weights.length} weights for ${k} modules`,
        { context: { origin } },
      );
    }
  }
  return new TextModel(document);
}
