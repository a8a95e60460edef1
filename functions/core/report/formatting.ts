import type { EmbeddingApiModes } from '../embedding-api-modes.js';

/**
 * How numbers read in both renderings. Locale-free on purpose: `toLocaleString` depends on the
 * runtime's ICU data, and a report must read the same wherever it was rendered.
 */

export function formatCount(n: number): string {
  const [whole = '0', fraction] = String(n).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function formatPercent(p: number): string {
  return `${p.toFixed(1)}%`;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(s).padStart(2, '0')} s`;
}

export function formatRate(perSecond: number | null): string {
  return perSecond === null ? '—' : `${formatCount(Math.round(perSecond))} memories/s`;
}

export function formatUsd(usd: number | null): string {
  if (usd === null) return '—';
  return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/**
 * Both APIs for a dry run's tokens: the synchronous one at the rate budget, the Batch API at half
 * the price, in as many waves as its queue limit needs, each within the 24-hour window.
 */
export function formatEmbeddingApis(m: EmbeddingApiModes, chosen: 'sync' | 'batch' | null): string {
  const mark = (api: 'sync' | 'batch') => (chosen === api ? ' (this run)' : '');
  const sync = `sync${mark('sync')}: ${formatUsd(m.sync.costUsd)}, at least ${formatDuration(m.sync.minutes * 60_000)} at ${formatCount(m.sync.tokensPerMinute)} tokens/min`;
  const waves =
    m.batch.waves <= 1
      ? 'one wave within the queue limit'
      : `${formatCount(m.batch.waves)} waves of at most ${formatCount(m.batch.queueTokens)} queued tokens`;
  const batch = `Batch API${mark('batch')}: ${formatUsd(m.batch.costUsd)}, ${waves}, each done within 24 h (at most ${formatCount(m.batch.hoursAtMost)} h; usually much less)`;
  return `${sync}; ${batch}`;
}

/** The embeddings rate budget and how the run used it, for the report's embeddings table. */
export function formatRateBudget(e: {
  limitTokensPerMinute: number | null;
  limitRequestsPerMinute: number | null;
  tokensPerMinute: number | null;
  rateLimited: number | null;
  paceWaitMs: number | null;
  estimatedTokens: number | null;
}): string | null {
  if (e.limitTokensPerMinute === null) return null;
  // A dry run: the budget bounds how fast the real run can embed.
  const atLeast =
    e.estimatedTokens === null || e.tokensPerMinute !== null
      ? ''
      : `; the estimated tokens take at least ${formatDuration((e.estimatedTokens * 60_000) / e.limitTokensPerMinute)} at this budget`;
  const reached =
    e.tokensPerMinute === null
      ? ''
      : `; reached ${formatCount(Math.round(e.tokensPerMinute))} tokens/min (${formatPercent((e.tokensPerMinute * 100) / e.limitTokensPerMinute)})`;
  const refused = e.rateLimited === null ? '' : `; ${formatCount(e.rateLimited)} answered 429`;
  const held = e.paceWaitMs === null ? '' : `; held back ${formatDuration(e.paceWaitMs)} in all`;
  return (
    `${formatCount(e.limitTokensPerMinute)} tokens, ${formatOptional(e.limitRequestsPerMinute)} requests a minute` +
    `${reached}${refused}${held}${atLeast}`
  );
}

export function formatOptional(n: number | null): string {
  return n === null ? '—' : formatCount(n);
}

/** Expected/actual values of a check: numbers and strings as they are, anything else as JSON. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return formatCount(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function formatConfidence(c: number | null): string {
  return c === null ? '—' : c.toFixed(2);
}

/** A fixed-width bar of block characters for plain-text tables. */
export function textBar(percent: number, width = 20): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

export function runBadge(report: { run: { dryRun: boolean; status: 'succeeded' | 'failed' } }): string {
  const status = report.run.status === 'succeeded' ? '✅ SUCCEEDED' : '❌ FAILED';
  return report.run.dryRun ? `DRY RUN · ${status}` : status;
}

export function checkMark(ok: boolean | null, skipped = false): string {
  if (skipped) return '⏭️';
  if (ok === null) return '❔';
  return ok ? '✅' : '❌';
}
