/**
 * The `x-ratelimit-*` headers OpenAI sends with every answer, 429s included: the account's limits,
 * what is left of them, and how long until they are whole again. Pure: it reads header values.
 */

export interface RateLimitHeaders {
  limitTokens?: number;
  limitRequests?: number;
  remainingTokens?: number;
  remainingRequests?: number;
  /** Until the token budget is full again. */
  resetTokensMs?: number;
  /** Until the request budget is full again. */
  resetRequestsMs?: number;
}

const NUMBER_HEADERS = {
  limitTokens: 'x-ratelimit-limit-tokens',
  limitRequests: 'x-ratelimit-limit-requests',
  remainingTokens: 'x-ratelimit-remaining-tokens',
  remainingRequests: 'x-ratelimit-remaining-requests',
} as const;

const DURATION_HEADERS = {
  resetTokensMs: 'x-ratelimit-reset-tokens',
  resetRequestsMs: 'x-ratelimit-reset-requests',
} as const;

export function readRateLimitHeaders(headers: Pick<Headers, 'get'> | undefined): RateLimitHeaders {
  const read: RateLimitHeaders = {};
  if (headers === undefined) return read;
  for (const [key, name] of Object.entries(NUMBER_HEADERS)) {
    const raw = headers.get(name)?.trim();
    const value = raw ? Number(raw) : Number.NaN;
    if (Number.isFinite(value) && value >= 0) read[key as keyof typeof NUMBER_HEADERS] = value;
  }
  for (const [key, name] of Object.entries(DURATION_HEADERS)) {
    const value = parseResetDuration(headers.get(name));
    if (value !== undefined) read[key as keyof typeof DURATION_HEADERS] = value;
  }
  return read;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * OpenAI writes resets the way Go prints durations: `20ms`, `1s`, `6m0s`, `1h2m3.5s`. A bare number
 * is taken as seconds. Anything else gives undefined rather than a guess.
 */
export function parseResetDuration(raw: string | null | undefined): number | undefined {
  const text = raw?.trim();
  if (!text) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = DURATION_PART.exec(text); match !== null; match = DURATION_PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = DURATION_PART.lastIndex;
  }
  return consumed === text.length ? total : undefined;
}

/** Formats milliseconds the way the API does, for the test server. */
export function formatResetDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000) / 10) / 100;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

/**
 * After a 429 that names no Retry-After: how long until the budget that ran short holds what the
 * request needs, read from the reset headers. The API refills a budget evenly, so a reset "until
 * full" is scaled to the part missing. Undefined when the headers show nothing short.
 */
export function waitFromRateLimitHeaders(
  read: RateLimitHeaders,
  need: { tokens: number },
): number | undefined {
  const waits = [
    shortfallWait(need.tokens, read.remainingTokens, read.limitTokens, read.resetTokensMs),
    shortfallWait(1, read.remainingRequests, read.limitRequests, read.resetRequestsMs),
  ].filter((wait): wait is number => wait !== undefined);
  return waits.length > 0 ? Math.max(...waits) : undefined;
}

function shortfallWait(
  need: number,
  remaining: number | undefined,
  limit: number | undefined,
  resetMs: number | undefined,
): number | undefined {
  if (remaining === undefined || resetMs === undefined || remaining >= need) return undefined;
  if (limit === undefined || limit <= remaining) return resetMs;
  return Math.ceil(resetMs * Math.min(1, (need - remaining) / (limit - remaining)));
}
