import { decodeEmbeddingResponse } from './embedding-response.js';
import { OPENAI_EMBEDDING_LIMITS, truncateToTokens } from './token-estimate.js';

/**
 * The request files of OpenAI's Batch API for embeddings, and the reading of its output files.
 * Pure: it knows the JSONL formats, not HTTP.
 */

/** The Batch API's limits for one input file (its documentation): requests and bytes. */
export interface BatchFileLimits {
  maxInputs: number;
  maxBytes: number;
}

export const BATCH_FILE_LIMITS: Readonly<BatchFileLimits> = Object.freeze({
  maxInputs: 50_000,
  maxBytes: 200 * 1024 * 1024,
});

/** One memory to embed, with the key range (Plan's index) it belongs to. */
export interface BatchInput {
  id: string;
  text: string;
  rangeIndex: number;
}

/** A request file: its JSONL text, the ranges it covers (first and last index) and its size. */
export interface BatchRequestFile {
  firstRange: number;
  lastRange: number;
  inputs: number;
  /** Tokens of the inputs as sent (after truncation to the per-input limit). */
  tokens: number;
  body: string;
}

export interface BatchRequestOptions {
  model: string;
  dimensions?: number;
  limits?: BatchFileLimits;
}

/**
 * Cuts request lines into files: one line per memory (`custom_id` is its id), in the order added,
 * at most `limits` requests and bytes a file. The cut depends only on the inputs, so a rerun over
 * the same memories cuts the same files (and finds the batches it made from them by their
 * ranges). Texts over the per-input token limit are cut as the synchronous client cuts them.
 * Only one file is held at a time: `add` hands back each file as it closes.
 */
export class BatchFileBuilder {
  readonly #options: BatchRequestOptions;
  readonly #limits: BatchFileLimits;
  #lines: string[] = [];
  #bytes = 0;
  #tokens = 0;
  #firstRange = -1;
  #lastRange = -1;

  constructor(options: BatchRequestOptions) {
    this.#options = options;
    this.#limits = options.limits ?? BATCH_FILE_LIMITS;
  }

  /** Adds a memory; returns the file this closed, if it did. */
  add(input: BatchInput): BatchRequestFile | undefined {
    const cut = truncateToTokens(input.text, OPENAI_EMBEDDING_LIMITS.maxTokensPerInput);
    const line = batchRequestLine(input.id, cut.text, this.#options);
    const size = Buffer.byteLength(line) + 1;
    const full =
      this.#lines.length > 0 &&
      (this.#lines.length + 1 > this.#limits.maxInputs || this.#bytes + size > this.#limits.maxBytes);
    const closed = full ? this.finish() : undefined;
    if (this.#lines.length === 0) this.#firstRange = input.rangeIndex;
    this.#lastRange = input.rangeIndex;
    this.#lines.push(line);
    this.#bytes += size;
    this.#tokens += cut.tokens;
    return closed;
  }

  /** The open file, closed; undefined when it holds nothing. */
  finish(): BatchRequestFile | undefined {
    if (this.#lines.length === 0) return undefined;
    const file = {
      firstRange: this.#firstRange,
      lastRange: this.#lastRange,
      inputs: this.#lines.length,
      tokens: this.#tokens,
      body: `${this.#lines.join('\n')}\n`,
    };
    this.#lines = [];
    this.#bytes = 0;
    this.#tokens = 0;
    return file;
  }
}

/**
 * A line as the Batch API documents it. base64, as the synchronous client asks: the output then
 * holds the float32 bytes themselves, a quarter of the JSON numbers' size.
 */
function batchRequestLine(customId: string, text: string, options: BatchRequestOptions): string {
  return JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/embeddings',
    body: {
      model: options.model,
      input: text,
      encoding_format: 'base64',
      ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions }),
    },
  });
}

export interface BatchOutput {
  /** The vectors the batch made, by custom_id (memory id). */
  vectors: Map<string, Float32Array>;
  /** Prompt tokens of those answers. */
  tokens: number;
  /** custom_ids the output or error file names as failed (they go through the synchronous path). */
  failed: Set<string>;
}

/**
 * Reads an output file line by line (and the error file's failed custom_ids): every line answered
 * 200 with one vector of the expected length gives that vector, bit for bit as the file holds it;
 * any other line is a failed input. Line by line, so a file of 50,000 vectors is never one string.
 */
export class BatchOutputReader {
  readonly #expected: { dimensions: number | undefined };
  readonly #output: BatchOutput = { vectors: new Map(), tokens: 0, failed: new Set() };

  constructor(expected: { dimensions: number | undefined }) {
    this.#expected = expected;
  }

  outputLine(raw: string): void {
    const line = jsonLine(raw);
    const customId = typeof line?.custom_id === 'string' ? line.custom_id : undefined;
    if (customId === undefined) return;
    const response = line?.response as { status_code?: unknown; body?: unknown } | null | undefined;
    const decoded =
      response?.status_code === 200
        ? decodeEmbeddingResponse(response.body, { inputs: 1, dimensions: this.#expected.dimensions })
        : undefined;
    if (decoded?.ok) {
      this.#output.vectors.set(customId, decoded.vectors[0] as Float32Array);
      this.#output.failed.delete(customId);
      const usage = (response?.body as { usage?: { prompt_tokens?: unknown } } | undefined)?.usage
        ?.prompt_tokens;
      if (typeof usage === 'number') this.#output.tokens += usage;
    } else {
      this.#output.failed.add(customId);
    }
  }

  errorLine(raw: string): void {
    const customId = jsonLine(raw)?.custom_id;
    if (typeof customId === 'string' && !this.#output.vectors.has(customId))
      this.#output.failed.add(customId);
  }

  result(): BatchOutput {
    return this.#output;
  }
}

/** Both files at once, as strings (tests and small files). */
export function readBatchOutput(
  output: string,
  errors: string,
  expected: { dimensions: number | undefined },
): BatchOutput {
  const reader = new BatchOutputReader(expected);
  for (const line of output.split('\n')) reader.outputLine(line);
  for (const line of errors.split('\n')) reader.errorLine(line);
  return reader.result();
}

// A line the file holds broken is an input without a vector: the synchronous path embeds it.
function jsonLine(raw: string): Record<string, unknown> | undefined {
  if (raw.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
