/**
 * Fits the text model: multinomial naive Bayes over feature occurrences (per distinct word, see
 * `memoryFeatureNames`), one multinomial per
 * feature kind (so thousands of 4-grams do not drown a handful of tags), each kind weighted.
 * Pseudo-counts from a prior vocabulary give words the labelled sample never shows a starting
 * lean. Deterministic: the same examples and options give the same document, byte for byte.
 */
import { FEATURE_KINDS, type FeatureKind, featureKind } from './text-features.js';
import { TEXT_MODEL_FORMAT, type TextModelDocument } from './text-model.js';

export interface TrainingExample {
  features: readonly string[];
  label: string;
}

export interface PriorCount {
  feature: string;
  module: string;
  count: number;
}

export interface TrainingOptions {
  modules: readonly string[];
  /** Additive smoothing per feature and module. */
  alpha: number;
  /** How much each kind's log-likelihood counts. */
  kindWeights: Record<FeatureKind, number>;
  /** Features seen in fewer documents (priors included) are dropped. */
  minCount: number;
  /** 0 gives every module the same prior; 1 the sample's own shares. */
  priorWeight: number;
  priors?: readonly PriorCount[];
}

const DECIMALS = 1000;

function round(value: number): number {
  return Math.round(value * DECIMALS) / DECIMALS;
}

/** Counts, smooths and centres the log-likelihoods; temperature and margin are set by `calibrate`. */
export function trainNaiveBayes(
  examples: readonly TrainingExample[],
  options: TrainingOptions,
): TextModelDocument {
  const k = options.modules.length;
  const moduleIndex = new Map(options.modules.map((m, i) => [m, i]));
  const counts = new Map<string, Float64Array>();
  const documents = new Map<string, number>();
  const classDocs = new Float64Array(k);
  const bump = (feature: string, index: number, by: number) => {
    let row = counts.get(feature);
    if (!row) {
      row = new Float64Array(k);
      counts.set(feature, row);
    }
    (row[index] as number) += by;
  };
  const present = (feature: string, by: number) => documents.set(feature, (documents.get(feature) ?? 0) + by);
  for (const example of examples) {
    const index = moduleIndex.get(example.label);
    if (index === undefined) continue;
    (classDocs[index] as number)++;
    for (const feature of example.features) bump(feature, index, 1);
    for (const feature of new Set(example.features)) present(feature, 1);
  }
  for (const prior of options.priors ?? []) {
    const index = moduleIndex.get(prior.module);
    if (index === undefined) continue;
    bump(prior.feature, index, prior.count);
    present(prior.feature, prior.count);
  }
  // Most frequent first: the weights a memory touches most then sit together, and stay in cache.
  const kept = [...counts.keys()]
    .filter((f) => (documents.get(f) ?? 0) >= options.minCount)
    .sort((a, b) => (documents.get(b) ?? 0) - (documents.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  const totals = new Map<FeatureKind, { sums: Float64Array; vocabulary: number }>(
    FEATURE_KINDS.map((kind) => [kind, { sums: new Float64Array(k), vocabulary: 0 }]),
  );
  for (const feature of kept) {
    const total = totals.get(featureKind(feature));
    if (!total) continue;
    total.vocabulary++;
    const row = counts.get(feature) as Float64Array;
    for (let j = 0; j < k; j++) (total.sums[j] as number) += row[j] as number;
  }
  const features: Record<string, number[]> = {};
  for (const feature of kept) {
    const kind = featureKind(feature);
    const total = totals.get(kind);
    const weight = options.kindWeights[kind] ?? 0;
    if (!total || weight === 0) continue;
    const row = counts.get(feature) as Float64Array;
    const logs = Array.from({ length: k }, (_, j) =>
      Math.log(
        ((row[j] as number) + options.alpha) / ((total.sums[j] as number) + options.alpha * total.vocabulary),
      ),
    );
    const mean = logs.reduce((a, b) => a + b, 0) / k;
    features[feature] = logs.map((value) => round(weight * (value - mean)));
  }
  const docs = classDocs.reduce((a, b) => a + b, 0);
  const logPriors = Array.from(classDocs, (n) => Math.log((n + 1) / (docs + k)));
  const priorMean = logPriors.reduce((a, b) => a + b, 0) / k;
  return {
    format: TEXT_MODEL_FORMAT,
    version: 1,
    modules: [...options.modules],
    bias: logPriors.map((value) => round(options.priorWeight * (value - priorMean))),
    temperature: 1,
    minMargin: 0,
    features,
  };
}
