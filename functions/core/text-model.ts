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
  /**
   * Feature name → one weight per module (already scaled by its kind's weight). Checked by hand in
   * `parseTextModel`: a schema per entry costs more than the rest of loading put together.
   */
  features: z.record(z.string(), z.unknown()),
  /** How it was trained and how it scored on the held-out split, for people reading the file. */
  training: z.record(z.string(), z.unknown()).optional(),
});

export type TextModelDocument = Omit<z.infer<typeof textModelSchema>, 'features'> & {
  features: Record<string, number[]>;
};

interface CachedWord {
  /** Index of the stem among those of the word-pair features; -1 when it is in none. */
  stemId: number;
  /** The summed weights of the word's known features, one per module. */
  vector: Float32Array;
  /** How many of its features the model knows. */
  known: number;
  /** How the evidence names the word: its stem feature. */
  label: string;
  /** The memory (generation) that last counted it: a word counts once per memory. */
  stamp: number;
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
      const k = this.modules.length;
      const vector = new Float32Array(k);
      let known = 0;
      for (const name of names) {
        const id = this.ids.get(name);
        if (id === undefined) continue;
        known++;
        for (let j = 0; j < k; j++) (vector[j] as number) += this.weights[id * k + j] as number;
      }
      entry = { stemId: this.stemIds.get(stem) ?? -1, vector, known, label: `w:${stem}`, stamp: 0 };
      if (cache.size >= WORD_CACHE_LIMIT) cache.clear();
      cache.set(word, entry);
    }
    return entry;
  }

  /**
   * Adds the memory's evidence to `scores`: each distinct word's cached sum, then word pairs, symbol
   * runs, tags and metadata values once each. Returns the words and other features that counted.
   */
  private accumulate(
    memory: MemoryText,
    scores: Float64Array,
  ): { words: CachedWord[]; others: number[]; known: number } {
    this.generation++;
    if (this.generation === 0x7fffffff) {
      this.seen.fill(0);
      for (const cache of this.wordCaches.values()) cache.clear();
      this.generation = 1;
    }
    const generation = this.generation;
    const seen = this.seen;
    const weights = this.weights;
    const k = this.modules.length;
    const words: CachedWord[] = [];
    const others: number[] = [];
    let known = 0;
    const addFeature = (id: number | undefined) => {
      if (id === undefined || seen[id] === generation) return;
      seen[id] = generation;
      others.push(id);
      known++;
      const base = id * k;
      for (let j = 0; j < k; j++) (scores[j] as number) += weights[base + j] as number;
    };
    const tokens = tokenize(memory.content);
    const language = detectLanguage(tokens.words);
    let previous = -1;
    for (const word of tokens.words) {
      const entry = this.cachedWord(word, language);
      if (entry.stamp !== generation) {
        entry.stamp = generation;
        if (entry.known > 0) {
          words.push(entry);
          known += entry.known;
          const vector = entry.vector;
          for (let j = 0; j < k; j++) (scores[j] as number) += vector[j] as number;
        }
      }
      if (this.hasPairs) {
        if (previous >= 0 && entry.stemId >= 0)
          addFeature(this.pairIds.get(previous * STEM_SPACE + entry.stemId));
        previous = entry.stemId;
      }
    }
    for (const symbol of tokens.symbols) addFeature(this.symbolIds.get(symbol));
    if (memory.tags && memory.tags.length > 0) {
      for (const name of tagFeatureNames(memory.tags)) addFeature(this.ids.get(name));
    }
    if (memory.sourceMetadata !== null && typeof memory.sourceMetadata === 'object') {
      for (const name of metadataFeatureNames(memory.sourceMetadata)) addFeature(this.ids.get(name));
    }
    return { words, others, known };
  }

  /**
   * Probabilities over the registered modules the model knows (others get none: a module outside
   * the registry is never chosen), or null when fewer than two of them are known.
   */
  predict(memory: MemoryText, registered: ReadonlySet<string>): TextPrediction | null {
    const allowed = this.allowedIndices(registered);
    if (allowed.length < 2) return null;
    const scores = this.scores;
    scores.set(this.bias);
    const counted = this.accumulate(memory, scores);
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
      decided: counted.known > 0 && margin >= this.minMargin,
      topFeatures: this.strongest(counted.words, counted.others, best.index, second.index),
      knownFeatures: counted.known,
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

  /** The words and features with the largest weight for `winner` over `runnerUp`, each name once. */
  private strongest(
    words: readonly CachedWord[],
    others: readonly number[],
    winner: number,
    runnerUp: number,
  ): string[] {
    const k = this.modules.length;
    const top: { name: string; gain: number }[] = [];
    const consider = (name: string, gain: number) => {
      if (gain <= 0) return;
      const same = top.findIndex((t) => t.name === name);
      if (same >= 0) {
        if ((top[same] as { gain: number }).gain >= gain) return;
        top.splice(same, 1);
      }
      let at = top.length;
      while (
        at > 0 &&
        ((top[at - 1] as { gain: number }).gain < gain ||
          ((top[at - 1] as { gain: number }).gain === gain && (top[at - 1] as { name: string }).name > name))
      )
        at--;
      if (at >= EVIDENCE_FEATURES) return;
      top.splice(at, 0, { name, gain });
      if (top.length > EVIDENCE_FEATURES) top.pop();
    };
    for (const word of words)
      consider(word.label, (word.vector[winner] as number) - (word.vector[runnerUp] as number));
    for (const id of others) {
      consider(
        this.names[id] as string,
        (this.weights[id * k + winner] as number) - (this.weights[id * k + runnerUp] as number),
      );
    }
    return top.map((t) => t.name);
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
    if (!Array.isArray(weights) || !weights.every((w) => typeof w === 'number' && Number.isFinite(w))) {
      throw new InvalidInputError(
        `invalid text model ${origin}: feature ${JSON.stringify(name)} needs an array of numbers`,
        {
          context: { origin },
        },
      );
    }
    if (weights.length !== k) {
      throw new InvalidInputError(
        `invalid text model ${origin}: feature ${JSON.stringify(name)} has ${weights.length} weights for ${k} modules`,
        { context: { origin } },
      );
    }
  }
  return new TextModel(document as TextModelDocument);
}
