/**
 * Training and tuning shared by `npm run train:classify` and the tests: features of labelled
 * memories, the prior vocabulary, a small grid over smoothing and kind weights scored on the dev
 * split, then a temperature (calibration) and an abstention margin fitted on dev.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FeatureKind,
  type Language,
  memoryFeatureNames,
  tokenize,
  wordFeatureNames,
} from '../../functions/core/text-features.js';
import { TextModel, type TextModelDocument } from '../../functions/core/text-model.js';
import {
  type PriorCount,
  type TrainingExample,
  type TrainingOptions,
  trainNaiveBayes,
} from '../../functions/core/text-model-training.js';
import type { LabelledMemory } from './labelled-memories.js';

const PRIORS_PATH = join(dirname(fileURLToPath(import.meta.url)), 'priors.json');

interface PriorsFile {
  count: number;
  words: Record<string, string[]>;
  tags: Record<string, string[]>;
  byLanguage?: Partial<Record<Language, Record<string, string[]>>>;
  /** `key=value` metadata features, e.g. `categories=health`. */
  metadata?: Record<string, string[]>;
}

/** A prior phrase's word features as a memory of that language would have them (stems and 4-grams). */
function phraseFeatures(phrase: string, language: Language): string[] {
  const { words } = tokenize(phrase);
  const out: string[] = [];
  let previous: string | null = null;
  for (const word of words) {
    const { stem, names } = wordFeatureNames(word, language);
    out.push(...names);
    if (previous !== null) out.push(`b:${previous} ${stem}`);
    previous = stem;
  }
  return out;
}

export function loadPriors(modules: readonly string[], path = PRIORS_PATH): PriorCount[] {
  const file = JSON.parse(readFileSync(path, 'utf8')) as PriorsFile;
  const priors: PriorCount[] = [];
  for (const module of modules) {
    const phrases: [string, Language][] = (file.words[module] ?? []).map((p) => [p, 'en']);
    for (const [language, words] of Object.entries(file.byLanguage ?? {})) {
      for (const phrase of words?.[module] ?? []) phrases.push([phrase, language as Language]);
    }
    for (const [phrase, language] of phrases) {
      for (const feature of new Set(phraseFeatures(phrase, language))) {
        priors.push({ feature, module, count: file.count });
      }
    }
    for (const value of file.metadata?.[module] ?? [])
      priors.push({ feature: `m:${value}`, module, count: file.count });
    for (const tag of file.tags[module] ?? []) {
      for (const feature of memoryFeatureNames({ content: null, tags: [tag], sourceMetadata: {} })) {
        priors.push({ feature, module, count: file.count });
      }
    }
  }
  return priors;
}

export function toExample(memory: LabelledMemory): TrainingExample {
  return {
    features: memoryFeatureNames({
      content: memory.content,
      tags: memory.tags,
      sourceMetadata: memory.sourceMetadata,
    }),
    label: memory.label,
  };
}

export interface TuningResult {
  document: TextModelDocument;
  /** Accuracy on dev of the model fitted on train alone, abstentions counted as the fallback. */
  devAccuracy: number;
  devAbstained: number;
  options: Omit<TrainingOptions, 'priors' | 'modules'> & { priorScale: number };
}

const scaled = (priors: readonly PriorCount[], scale: number) =>
  priors.map((p) => ({ ...p, count: p.count * scale }));

interface Scored {
  label: string;
  ranked: { module: string; probability: number }[];
  margin: number;
  known: number;
}

function predictAll(
  document: TextModelDocument,
  dev: readonly LabelledMemory[],
  modules: readonly string[],
): Scored[] {
  const model = new TextModel(document);
  const registered = new Set(modules);
  return dev.map((memory) => {
    const prediction = model.predict(
      { content: memory.content, tags: memory.tags, sourceMetadata: memory.sourceMetadata },
      registered,
    );
    return {
      label: memory.label,
      ranked: prediction?.ranked ?? [],
      margin: prediction?.margin ?? 0,
      known: prediction?.knownFeatures ?? 0,
    };
  });
}

function accuracy(
  scored: readonly Scored[],
  minMargin: number,
  fallback: string,
): { correct: number; abstained: number } {
  let correct = 0;
  let abstained = 0;
  for (const s of scored) {
    const decided = s.known > 0 && s.margin >= minMargin;
    const module = decided ? s.ranked[0]?.module : fallback;
    if (!decided) abstained++;
    if (module === s.label) correct++;
  }
  return { correct, abstained };
}

/** Log-likelihood of dev labels when every score is divided by `temperature`. */
function devLogLikelihood(
  document: TextModelDocument,
  dev: readonly LabelledMemory[],
  modules: readonly string[],
  temperature: number,
): number {
  const scored = predictAll({ ...document, temperature }, dev, modules);
  let total = 0;
  for (const s of scored) {
    const p = s.ranked.find((r) => r.module === s.label)?.probability ?? 0;
    total += Math.log(Math.max(p, 1e-9));
  }
  return total;
}

const GRID = {
  alpha: [0.1, 0.3, 1],
  c: [0.3, 0.5, 0.8],
  b: [0, 0.5, 1],
  t: [1, 2],
  m: [1, 2],
  /** Multiplies the prior vocabulary's pseudo-counts. */
  priorScale: [1, 2, 4],
};

const TEMPERATURES = Array.from({ length: 41 }, (_, i) => 0.25 * 1.1 ** i);
const MARGINS = Array.from({ length: 16 }, (_, i) => i * 0.02);

/**
 * Picks the options with the best dev accuracy (ties: the earlier, simpler grid point), fits the
 * temperature and margin on dev, then refits on `final` examples (train alone, or train and dev).
 */
export function tuneAndTrain(options: {
  train: readonly LabelledMemory[];
  dev: readonly LabelledMemory[];
  final: readonly LabelledMemory[];
  modules: readonly string[];
  fallback: string;
  priors: readonly PriorCount[];
  log?: (line: string) => void;
}): TuningResult {
  const { train, dev, modules, fallback, priors } = options;
  const trainExamples = train.map(toExample);
  let best: { options: TuningResult['options']; correct: number; document: TextModelDocument } | null = null;
  for (const alpha of GRID.alpha)
    for (const c of GRID.c)
      for (const b of GRID.b)
        for (const t of GRID.t)
          for (const m of GRID.m)
            for (const priorScale of GRID.priorScale) {
              const kindWeights: Record<FeatureKind, number> = { w: 1, b, c, s: 0.5, t, m };
              // Every module equally likely a priori: another user's mix of modules is unknown.
              const fitted = { alpha, kindWeights, minCount: 2, priorWeight: 0, priorScale };
              const document = trainNaiveBayes(trainExamples, {
                ...fitted,
                modules,
                priors: scaled(priors, priorScale),
              });
              const { correct } = accuracy(predictAll(document, dev, modules), 0, fallback);
              if (!best || correct > best.correct) best = { options: fitted, correct, document };
            }
  if (!best) throw new Error('no grid point');
  options.log?.(
    `grid: best dev accuracy ${((100 * best.correct) / dev.length).toFixed(1)}% with ${JSON.stringify(best.options)}`,
  );
  let temperature = 1;
  let bestLikelihood = Number.NEGATIVE_INFINITY;
  for (const candidate of TEMPERATURES) {
    const likelihood = devLogLikelihood(best.document, dev, modules, candidate);
    if (likelihood > bestLikelihood) {
      bestLikelihood = likelihood;
      temperature = candidate;
    }
  }
  const calibrated = predictAll({ ...best.document, temperature }, dev, modules);
  let minMargin = 0;
  let bestCorrect = -1;
  let abstained = 0;
  for (const margin of MARGINS) {
    const result = accuracy(calibrated, margin, fallback);
    if (result.correct > bestCorrect) {
      bestCorrect = result.correct;
      minMargin = margin;
      abstained = result.abstained;
    }
  }
  options.log?.(
    `calibration: temperature ${temperature.toFixed(3)}, dev mean log-likelihood ${(bestLikelihood / dev.length).toFixed(3)}; margin ${minMargin} (dev ${((100 * bestCorrect) / dev.length).toFixed(1)}%, ${abstained} abstained)`,
  );
  const finalDocument = trainNaiveBayes(options.final.map(toExample), {
    ...best.options,
    modules,
    priors: scaled(priors, best.options.priorScale),
  });
  return {
    document: { ...finalDocument, temperature: Math.round(temperature * 1000) / 1000, minMargin },
    devAccuracy: bestCorrect / dev.length,
    devAbstained: abstained,
    options: best.options,
  };
}
