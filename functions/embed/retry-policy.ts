import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';

/**
 * When to try an embeddings request again and how long to wait first. Pure, so the policy is
 * tested without a server.
 */

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Servers asking for longer than this get it capped: a worker would rather spend the attempt. */
export const RETRY_AFTER_CEILING_MS = 60_000;

/** What a failed attempt means for the next one. */
export type EmbeddingFailure =
  | { kind: 'retry'; status: number | 'timeout' | 'connection' | 'invalid-response'; retryAfterMs?: number }
  | { kind: 'quota'; status: 429 }
  | { kind: 'rejected'; status: number };

// The statuses OpenAI documents as transient; everything else 4xx means the request itself is wrong.
const RETRYABLE_STATUSES = new Set([408, 409, 429]);

export function classifyEmbeddingFailure(error: unknown): EmbeddingFailure | undefined {
  if (error instanceof APIUserAbortError) return undefined;
  if (error instanceof APIConnectionError) {
    return { kind: 'retry', status: error instanceof APIConnectionTimeoutError ? 'timeout' : 'connection' };
  }
  if (!(error instanceof APIError) || error.status === undefined) return undefined;
  const { status } = error;
  // A 429 for an exhausted quota or billing limit does not pass with time.
  if (status === 429 && error.code === 'insufficient_quota') return { kind: 'quota', status };
  if (RETRYABLE_STATUSES.has(status) || status >= 500) {
    const retryAfterMs = retryAfterFromHeaders(error.headers);
    return retryAfterMs === undefined ? { kind: 'retry', status } : { kind: 'retry', status, retryAfterMs };
  }
  return { kind: 'rejected', status };
}

/**
 * `retry-after-ms` (OpenAI's, milliseconds) wins over `Retry-After` (seconds, possibly fractional,
 * or an HTTP date). Absent or unreadable headers give undefined.
 */
export function retryAfterFromHeaders(
  headers: Pick<Headers, 'get'> | undefined,
  now: number = Date.now(),
): number | undefined {
  if (headers === undefined) return undefined;
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && milliseconds.trim() !== '') {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return Math.min(value, RETRY_AFTER_CEILING_MS);
  }
  const header = headers.get('retry-after');
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds))
    return seconds < 0 ? undefined : Math.min(seconds * 1000, RETRY_AFTER_CEILING_MS);
  const date = Date.parse(header);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), RETRY_AFTER_CEILING_MS);
}

/**
 * Exponential backoff with full jitter (a uniform draw in [0, min(max, base * 2^(attempt-1))]):
 * workers that failed together do not come back together.
 */
function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before the next attempt: the server's Retry-After when it gave one, plus a little
 * jitter so a fleet told "1 s" does not return in the same millisecond; else the backoff.
 */
export function retryDelayMs(
  failure: Extract<EmbeddingFailure, { kind: 'retry' }>,
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
): number {
  if (failure.retryAfterMs !== undefined) {
    return Math.ceil(failure.retryAfterMs + random() * Math.min(policy.baseDelayMs, 1000));
  }
  return backoffDelayMs(attempt, policy, random);
}
