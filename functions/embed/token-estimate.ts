import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { InvalidInputError } from '../errors.js';

/**
 * Token counts come from cl100k_base, the encoding of every OpenAI embedding model
 * (text-embedding-3-small/-large, ada-002), so for OpenAI they are exact, and for another
 * OpenAI-compatible server with its own tokenizer they are an estimate.
 *
 * Why a tokenizer and not a character heuristic: measured against cl100k, max(chars/4, words*1.3)
 * under-counts Chinese, Japanese, Hindi and Thai text by about 4x, base64 or hex blobs by about 3x,
 * and numbers or JSON by up to 2x. An under-count is not a cost rounding error here: a memory sent
 * over 8,192 tokens makes the API answer 400 and fails its batch on every retry. A heuristic safe
 * for those texts (bytes/1.5 or so) over-counts English 3x and would truncate it needlessly.
 * gpt-tokenizer has no dependencies, ships cl100k as one module and counts far faster than the
 * API answers, so its cost is noise next to the API's latency.
 */

// Memories are user text: a literal "<|endoftext|>" in one is text to embed, as the API treats it,
// not a special token (the tokenizer's default would throw on it).
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens `text` costs on an OpenAI embedding model. */
export function estimateTokens(text: string): number {
  return countTokens(text, AS_PLAIN_TEXT);
}

export interface EmbeddingRequestLimits {
  maxInputsPerRequest: number;
  maxTokensPerInput: number;
  maxTokensPerRequest: number;
}

/** The limits of OpenAI's `POST /v1/embeddings`. */
export const OPENAI_EMBEDDING_LIMITS: Readonly<EmbeddingRequestLimits> = Object.freeze({
  maxInputsPerRequest: 2048,
  maxTokensPerInput: 8192,
  maxTokensPerRequest: 300_000,
});

export interface TruncatedText {
  text: string;
  tokens: number;
  truncated: boolean;
}

// Cutting back to a space is worth at most this share of the kept text; text without spaces
// (Chinese, Japanese, a long URL) is cut at the last whole character instead.
const WORD_BOUNDARY_SEARCH_SHARE = 0.2;

/**
 * The rule for an input over the per-input limit: keep its first `maxTokens` tokens, cut back to
 * the last whitespace so no word is split (or to the last whole character when there is no space
 * near the end). Truncating keeps the memory's meaning where it usually is, at the start, and
 * lets the batch succeed; the caller reports which memories were cut.
 */
export function truncateToTokens(text: string, maxTokens: number): TruncatedText {
  const tokens = encode(text, AS_PLAIN_TEXT);
  if (tokens.length <= maxTokens) return { text, tokens: tokens.length, truncated: false };
  // A token can end inside a multi-byte character; the decoder marks the broken tail with U+FFFD.
  let kept = decode(tokens.slice(0, maxTokens)).replace(/\uFFFD+$/u, '');
  const lastSpace = kept.search(/\s\S*$/u);
  if (lastSpace > 0 && lastSpace >= kept.length * (1 - WORD_BOUNDARY_SEARCH_SHARE)) {
    kept = kept.slice(0, lastSpace);
  }
  kept = kept.trimEnd();
  let count = countTokens(kept, AS_PLAIN_TEXT);
  // Re-encoding a prefix can merge differently at the cut; shrink until it fits (rarely runs).
  while (count > maxTokens && kept.length > 0) {
    const characters = Array.from(kept);
    kept = characters.slice(0, Math.floor(characters.length * 0.95)).join('');
    count = countTokens(kept, AS_PLAIN_TEXT);
  }
  return { text: kept, tokens: count, truncated: true };
}

export interface EmbeddingInput {
  id: string;
  text: string;
}

interface PlannedInput extends EmbeddingInput {
  tokens: number;
}

export interface EmbeddingRequestGroup {
  inputs: PlannedInput[];
  tokens: number;
}

export interface EmbeddingRequestPlan {
  requests: EmbeddingRequestGroup[];
  /** Tokens of all inputs as sent (after truncation). */
  tokens: number;
  /** Ids whose text was cut to `maxTokensPerInput` tokens. */
  truncatedIds: string[];
}

/**
 * Packs inputs, in order, into as few requests as the limits allow: a request closes when one
 * more input would pass the input count or the request's token budget.
 */
export function planEmbeddingRequests(
  items: readonly EmbeddingInput[],
  limits: Partial<EmbeddingRequestLimits> = OPENAI_EMBEDDING_LIMITS,
): EmbeddingRequestPlan {
  const maxTokensPerRequest = limits.maxTokensPerRequest ?? OPENAI_EMBEDDING_LIMITS.maxTokensPerRequest;
  const bounds = checkedLimits({
    maxInputsPerRequest: limits.maxInputsPerRequest ?? OPENAI_EMBEDDING_LIMITS.maxInputsPerRequest,
    // A smaller request budget alone also bounds each input (an input must fit in a request).
    maxTokensPerInput:
      limits.maxTokensPerInput ?? Math.min(OPENAI_EMBEDDING_LIMITS.maxTokensPerInput, maxTokensPerRequest),
    maxTokensPerRequest,
  });
  checkInputs(items);
  const requests: EmbeddingRequestGroup[] = [];
  const truncatedIds: string[] = [];
  let current: EmbeddingRequestGroup = { inputs: [], tokens: 0 };
  let total = 0;
  for (const item of items) {
    const fitted = truncateToTokens(item.text, bounds.maxTokensPerInput);
    if (fitted.truncated) truncatedIds.push(item.id);
    const full =
      current.inputs.length === bounds.maxInputsPerRequest ||
      current.tokens + fitted.tokens > bounds.maxTokensPerRequest;
    if (full && current.inputs.length > 0) {
      requests.push(current);
      current = { inputs: [], tokens: 0 };
    }
    current.inputs.push({ id: item.id, text: fitted.text, tokens: fitted.tokens });
    current.tokens += fitted.tokens;
    total += fitted.tokens;
  }
  if (current.inputs.length > 0) requests.push(current);
  return { requests, tokens: total, truncatedIds };
}

function checkedLimits(limits: EmbeddingRequestLimits): EmbeddingRequestLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidInputError(`Embedding limit ${name} must be a positive integer, got ${value}`, {
        context: { limits },
      });
    }
  }
  if (limits.maxTokensPerInput > limits.maxTokensPerRequest) {
    throw new InvalidInputError('Embedding limit maxTokensPerInput cannot exceed maxTokensPerRequest', {
      context: { limits },
    });
  }
  return limits;
}

// The API answers 400 to an empty input and results are keyed by id: refuse both before any call.
function checkInputs(items: readonly EmbeddingInput[]): void {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const empty: string[] = [];
  for (const { id, text } of items) {
    if (seen.has(id)) duplicates.push(id);
    seen.add(id);
    if (text.trim() === '') empty.push(id);
  }
  if (duplicates.length > 0) {
    throw new InvalidInputError(`Embedding inputs repeat ids: ${duplicates.slice(0, 10).join(', ')}`, {
      context: { duplicateIds: duplicates.length },
    });
  }
  if (empty.length > 0) {
    throw new InvalidInputError(
      `Embedding inputs have no text to embed: ${empty.slice(0, 10).join(', ')}` +
        (empty.length > 10 ? ` and ${empty.length - 10} more` : ''),
      { context: { emptyIds: empty } },
    );
  }
}
