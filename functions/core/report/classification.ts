/**
 * Classification health for the report: how much fell back to the default module, how sure the
 * decisions were, which kind of rule decided, what the LLM pass did or would cost, and the module
 * counts next to what the last dry run predicted.
 */
import type { BatchLlmSummary } from '../batch.js';
import type { ReportBatchInput } from './input.js';

/** Above this fallback share the dry run warns: the classifier is guessing for too many memories. */
const FALLBACK_WARNING_SHARE = 0.2;

/** The module counts a dry run saw, kept so the next real run's report can set its own beside them. */
export interface ClassificationPrediction {
  runId: string;
  finishedAt: string;
  migrated: number;
  byModule: Record<string, number>;
}

export interface ClassificationSection {
  decided: number;
  fallback: { count: number; percent: number };
  /** Rule kinds (`type`, `category`, `tag`, `content`, `model`, `centroid`, `llm`, `fallback`), largest first. */
  byKind: Array<{ kind: string; count: number; percent: number }>;
  /** Migrated memories per tenth of confidence, lowest first. */
  confidenceHistogram: Array<{ from: number; to: number; count: number }>;
  /** This run's module counts and, when a dry run came before, its predicted share scaled to this run. */
  modules: Array<{ module: string; count: number; predicted: number | null }>;
  predictedBy: string | null;
  llm: {
    model: string;
    estimated: boolean;
    candidates: number;
    requests: number;
    decided: number;
    fellBack: number;
    malformed: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number | null;
  } | null;
  /** Set when the fallback share passes FALLBACK_WARNING_SHARE. */
  warning: string | null;
}

const percentOf = (count: number, total: number) => (total > 0 ? Math.round((count * 1000) / total) / 10 : 0);

function llmSection(parts: BatchLlmSummary[]): ClassificationSection['llm'] {
  const first = parts[0];
  if (!first) return null;
  const total = (pick: (p: BatchLlmSummary) => number) => parts.reduce((n, p) => n + pick(p), 0);
  const costs = parts.map((p) => p.estimatedCostUsd);
  return {
    model: first.model,
    estimated: parts.every((p) => p.estimated),
    candidates: total((p) => p.candidates),
    requests: total((p) => p.requests),
    decided: total((p) => p.decided),
    fellBack: total((p) => p.fellBack),
    malformed: total((p) => p.malformed),
    inputTokens: total((p) => p.inputTokens),
    outputTokens: total((p) => p.outputTokens),
    costUsd: costs.every((c) => c !== null)
      ? Math.round(total((p) => p.estimatedCostUsd ?? 0) * 10_000) / 10_000
      : null,
  };
}

export function classificationSection(
  batches: readonly ReportBatchInput[],
  modules: readonly string[],
  byModule: Record<string, number>,
  prediction: ClassificationPrediction | null,
): ClassificationSection {
  const byKind: Record<string, number> = {};
  const histogram = new Array<number>(10).fill(0);
  for (const b of batches) {
    for (const [rule, count] of Object.entries(b.byRule)) {
      const kind = rule.split(':', 1)[0] ?? rule;
      byKind[kind] = (byKind[kind] ?? 0) + count;
    }
    (b.confidenceHistogram ?? []).forEach((count, i) => {
      if (i < histogram.length) histogram[i] = (histogram[i] as number) + count;
    });
  }
  const decided = Object.values(byKind).reduce((a, b) => a + b, 0);
  const fallback = byKind['fallback'] ?? 0;
  const migrated = Object.values(byModule).reduce((a, b) => a + b, 0);
  const fallbackShare = decided > 0 ? fallback / decided : 0;
  const known = [
    ...new Set([...modules, ...Object.keys(byModule), ...Object.keys(prediction?.byModule ?? {})]),
  ];
  return {
    decided,
    fallback: { count: fallback, percent: percentOf(fallback, decided) },
    byKind: Object.entries(byKind)
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .map(([kind, count]) => ({ kind, count, percent: percentOf(count, decided) })),
    confidenceHistogram: histogram.map((count, i) => ({ from: i / 10, to: (i + 1) / 10, count })),
    modules: known.map((module) => ({
      module,
      count: byModule[module] ?? 0,
      predicted:
        prediction && prediction.migrated > 0
          ? Math.round(((prediction.byModule[module] ?? 0) * migrated) / prediction.migrated)
          : null,
    })),
    predictedBy: prediction?.runId ?? null,
    llm: llmSection(batches.flatMap((b) => (b.llm ? [b.llm] : []))),
    warning:
      fallbackShare > FALLBACK_WARNING_SHARE
        ? `${percentOf(fallback, decided)}% of memories fell back to the default module: no rule, model or centroid placed them. Add your own rules (--rules / "rules") or let a chat model place the unclear ones (--classifier llm / "classifier": "llm").`
        : null,
  };
}
