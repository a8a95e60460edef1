import { setTimeout as realSleep } from 'node:timers/promises';
import OpenAI, { APIError } from 'openai';
import { EmbeddingUnavailableError, InvalidInputError, PreflightError } from '../errors.js';
import { decodeEmbeddingResponse } from './embedding-response.js';
import { expectedEmbeddingDimensions, MODELS_WITHOUT_DIMENSIONS_PARAMETER } from './models.js';
import { readRateLimitHeaders, waitFromRateLimitHeaders } from './rate-limit-headers.js';
import type { RatePacer, RatePermit } from './rate-pacer.js';
import {
  classifyEmbeddingFailure,
  type EmbeddingFailure,
  RETRY_AFTER_CEILING_MS,
  retryDelayMs,
} from './retry-policy.js';
import {
  type EmbeddingInput,
  type EmbeddingRequestGroup,
  type EmbeddingRequestLimits,
  OPENAI_EMBEDDING_LIMITS,
  planEmbeddingRequests,
} from './token-estimate.js';

export interface EmbeddingClientOptions {
  /** From Secrets Manager in AWS, `OPENAI_API_KEY` locally. Never logged, reported or thrown. */
  apiKey: string;
  /** Any OpenAI-compatible server; the SDK's default (OPENAI_BASE_URL, else api.openai.com) if absent. */
  baseURL?: string;
  model: string;
  /** Shorter vectors from text-embedding-3 models; the model's default length if absent. */
  dimensions?: number;
  /** Requests in flight at once, per client (one client per batch worker). */
  concurrency?: number;
  /** Tries per request, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt. */
  timeoutMs?: number;
  limits?: Partial<EmbeddingRequestLimits>;
  /** Injectable for tests; real timers otherwise. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** A prepared SDK client; one is built from apiKey/baseURL when absent. */
  openai?: OpenAI;
  /**
   * This worker's share of the account's rate budget, kept across batches. Without one, requests
   * go out as fast as `concurrency` allows and only 429s slow them down.
   */
  pacer?: RatePacer;
}

export interface EmbeddingClientStats {
  /** HTTP requests sent, failed attempts included. */
  requests: number;
  /** Inputs embedded. */
  inputs: number;
  /** Prompt tokens the server reported in `usage`. */
  tokens: number;
  /** Attempts after a first one. */
  retries: number;
  /** Wall-clock time inside embed(): requests in flight plus backoff waits. */
  waitMs: number;
  /** Inputs cut to the per-input token limit. */
  truncated: number;
  /** Attempts the server answered 429 (rate limit). */
  rateLimited: number;
  /** Requests held back by the rate budget before going out, and for how long in all. */
  paceWaits: number;
  paceWaitMs: number;
}

export interface EmbeddedBatch {
  vectors: Map<string, Float32Array>;
  truncatedIds: string[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Embeds many texts with few requests: packs inputs up to the API's limits, keeps `concurrency`
 * requests in flight (each one first waiting for its tokens from the pacer, when given), and retries transient failures with its own loop (the SDK's is switched off)
 * so retries and waits are counted and Retry-After is honoured. A batch gets all its vectors or
 * an error: EmbeddingUnavailableError after the last attempt (the state machine may retry the
 * batch), InvalidInputError when the request itself is wrong (model, dimensions, key).
 */
export class EmbeddingClient {
  readonly model: string;
  readonly dimensions: number | undefined;
  readonly #openai: OpenAI;
  readonly #options: Required<
    Pick<
      EmbeddingClientOptions,
      'concurrency' | 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs' | 'sleep' | 'random'
    >
  > & { limits: Partial<EmbeddingRequestLimits> };
  readonly #apiKey: string;
  readonly #endpoint: string;
  #observedDimensions: number | undefined;
  readonly #pacer: RatePacer | undefined;
  #stats: EmbeddingClientStats = {
    requests: 0,
    inputs: 0,
    tokens: 0,
    retries: 0,
    waitMs: 0,
    truncated: 0,
    rateLimited: 0,
    paceWaits: 0,
    paceWaitMs: 0,
  };

  constructor(options: EmbeddingClientOptions) {
    const {
      apiKey,
      baseURL,
      model,
      dimensions,
      concurrency = 4,
      maxAttempts = 6,
      baseDelayMs = 500,
      maxDelayMs = 20_000,
      timeoutMs = DEFAULT_TIMEOUT_MS,
      limits = {},
      sleep = (ms: number) => realSleep(ms),
      random = Math.random,
    } = options;
    if (apiKey === '' && options.openai === undefined) {
      throw new InvalidInputError('No OpenAI API key: set OPENAI_API_KEY or the API key secret');
    }
    if (model.trim() === '') throw new InvalidInputError('No embedding model configured');
    if (dimensions !== undefined && (!Number.isInteger(dimensions) || dimensions < 1)) {
      throw new InvalidInputError(`Embedding dimensions must be a positive integer, got ${dimensions}`);
    }
    if (dimensions !== undefined && MODELS_WITHOUT_DIMENSIONS_PARAMETER.has(model)) {
      throw new InvalidInputError(`Model ${model} has a fixed size and does not accept dimensions`, {
        context: { model, dimensions },
      });
    }
    for (const [name, value] of Object.entries({ concurrency, maxAttempts })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new InvalidInputError(`Embedding ${name} must be a positive integer, got ${value}`);
      }
    }
    this.model = model;
    this.dimensions = dimensions;
    this.#apiKey = apiKey;
    this.#endpoint = describeEndpoint(baseURL);
    this.#options = {
      concurrency,
      maxAttempts,
      baseDelayMs,
      maxDelayMs,
      timeoutMs,
      sleep,
      random,
      limits,
    };
    this.#pacer = options.pacer;
    this.#openai = options.openai ?? new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: timeoutMs });
  }

  /**
   * The vector length every answer must have: configured, the model's default, or for a model we
   * know nothing about, the length of its first answer (so one batch cannot mix sizes).
   */
  get expectedDimensions(): number | undefined {
    return expectedEmbeddingDimensions(this.model, this.dimensions) ?? this.#observedDimensions;
  }

  stats(): EmbeddingClientStats {
    return { ...this.#stats };
  }

  async embed(items: readonly EmbeddingInput[]): Promise<Map<string, Float32Array>> {
    return (await this.embedBatch(items)).vectors;
  }

  /** Like embed(), and names the inputs that were truncated to the per-input token limit. */
  async embedBatch(items: readonly EmbeddingInput[]): Promise<EmbeddedBatch> {
    const plan = planEmbeddingRequests(items, withinShare(this.#options.limits, this.#pacer));
    const started = performance.now();
    const vectors = new Map<string, Float32Array>();
    try {
      await this.#runBounded(plan.requests, async (group, cancelled) => {
        const answer = await this.#requestWithRetries(group, cancelled);
        group.inputs.forEach((input, index) => {
          vectors.set(input.id, answer[index]!);
        });
      });
    } finally {
      this.#stats.waitMs += performance.now() - started;
    }
    this.#stats.truncated += plan.truncatedIds.length;
    return { vectors, truncatedIds: plan.truncatedIds };
  }

  // A fixed pool of workers pulls the next request. After a failure the batch is lost anyway: no
  // new request starts, those in flight stop retrying, and the first error is thrown once they have
  // settled, so nothing goes on calling the API behind the caller's back.
  async #runBounded<T>(
    tasks: readonly T[],
    run: (task: T, cancelled: () => boolean) => Promise<void>,
  ): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < tasks.length) {
        const task = tasks[next]!;
        next += 1;
        try {
          await run(task, () => failure !== undefined);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, tasks.length) }, worker));
    if (failure !== undefined) throw failure.error;
  }

  async #requestWithRetries(group: EmbeddingRequestGroup, cancelled: () => boolean): Promise<Float32Array[]> {
    const { maxAttempts, random, sleep } = this.#options;
    let last: Extract<EmbeddingFailure, { kind: 'retry' }> | undefined;
    let lastMessage = '';
    let attempts = 0;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (last !== undefined) {
        if (cancelled()) break;
        this.#stats.retries += 1;
        const delay = retryDelayMs(last, attempt - 1, this.#options, random);
        // Paced, the wait holds all of this worker's requests and the next acquire() serves it.
        if (this.#pacer) this.#pacer.hold(delay);
        else await sleep(delay);
      }
      let permit: RatePermit | undefined;
      if (this.#pacer) {
        permit = await this.#pacer.acquire(group.tokens);
        if (permit.waitedMs > 0) {
          this.#stats.paceWaits += 1;
          this.#stats.paceWaitMs += permit.waitedMs;
        }
        if (cancelled()) {
          this.#pacer.release(permit);
          break;
        }
      }
      attempts = attempt;
      this.#stats.requests += 1;
      let body: unknown;
      try {
        const { data, response } = await this.#openai.embeddings
          .create(
            {
              model: this.model,
              input: group.inputs.map((input) => input.text),
              encoding_format: 'base64',
              ...(this.dimensions === undefined ? {} : { dimensions: this.dimensions }),
            },
            { maxRetries: 0, timeout: this.#options.timeoutMs },
          )
          .withResponse();
        body = data;
        this.#pacer?.observe(readRateLimitHeaders(response.headers));
      } catch (error) {
        const failure = this.#failureOf(error, group, permit);
        if (failure === undefined) throw error;
        if (failure.kind !== 'retry') throw this.#permanentFailure(error, failure);
        last = failure;
        lastMessage = this.#redact(describeFailure(error));
        continue;
      }
      const decoded = decodeEmbeddingResponse(body, {
        inputs: group.inputs.length,
        dimensions: this.expectedDimensions,
      });
      if (decoded.ok) {
        this.#observedDimensions ??= decoded.dimensions;
        this.#stats.inputs += group.inputs.length;
        const tokens = promptTokens(body);
        this.#stats.tokens += tokens;
        if (permit && tokens > 0) this.#pacer?.settle(permit, tokens);
        return decoded.vectors;
      }
      if (decoded.problem === 'dimensions') {
        throw new InvalidInputError(
          `The embeddings API returned vectors of another size than configured: ${decoded.message}. ` +
            `Check the model (${this.model}) and dimensions settings`,
          { context: this.#context({ expectedDimensions: this.expectedDimensions }) },
        );
      }
      last = { kind: 'retry', status: 'invalid-response' };
      lastMessage = decoded.message;
    }
    const status = last?.status;
    throw new EmbeddingUnavailableError(
      `The embeddings API failed ${attempts} attempts for ${group.inputs.length} inputs; ` +
        `last status ${String(status)}: ${lastMessage}`,
      { context: this.#context({ attempts, lastStatus: status, inputs: group.inputs.length }) },
    );
  }

  // A 429 is counted, its tokens go back to the pacer (the API counted none), and with no
  // Retry-After its wait comes from the rate-limit headers. The headers of any failure then
  // correct the pacer as a success's do, after the refund, so what they say is left wins.
  #failureOf(
    error: unknown,
    group: EmbeddingRequestGroup,
    permit: RatePermit | undefined,
  ): EmbeddingFailure | undefined {
    const failure = classifyEmbeddingFailure(error);
    if (permit && failure?.status === 429) this.#pacer?.release(permit);
    const headers = error instanceof APIError ? readRateLimitHeaders(error.headers) : {};
    this.#pacer?.observe(headers);
    if (failure?.status !== 429) return failure;
    this.#stats.rateLimited += 1;
    if (failure.kind !== 'retry' || failure.retryAfterMs !== undefined) return failure;
    const wait = waitFromRateLimitHeaders(headers, { tokens: group.tokens });
    return wait === undefined
      ? failure
      : { ...failure, retryAfterMs: Math.min(wait, RETRY_AFTER_CEILING_MS) };
  }

  #permanentFailure(error: unknown, failure: Exclude<EmbeddingFailure, { kind: 'retry' }>): Error {
    const api = error as { code?: unknown; type?: unknown; param?: unknown; requestID?: unknown };
    const context = this.#context({
      status: failure.status,
      code: api.code ?? undefined,
      type: api.type ?? undefined,
      param: api.param ?? undefined,
      requestId: api.requestID ?? undefined,
    });
    if (failure.kind === 'quota') {
      return new PreflightError(
        'The embeddings API account has no quota left (429 insufficient_quota); add credit or raise the limit',
        { context },
      );
    }
    // OpenAI's 401 text quotes part of the key: say what to check instead of passing it on.
    if (failure.status === 401 || failure.status === 403) {
      return new InvalidInputError(
        `The embeddings API refused the API key (${failure.status}); check OPENAI_API_KEY or the API key secret`,
        { context },
      );
    }
    const message = this.#redact(error instanceof Error ? error.message : String(error));
    const hint =
      failure.status === 404
        ? `; check the model name (${this.model}) and the base URL`
        : failure.status === 400
          ? `; check the model (${this.model}) and dimensions (${this.dimensions ?? 'default'})`
          : '';
    return new InvalidInputError(`The embeddings API rejected the request: ${message}${hint}`, { context });
  }

  #context(extra: Record<string, unknown>): Record<string, unknown> {
    return { model: this.model, dimensions: this.dimensions, endpoint: this.#endpoint, ...extra };
  }

  #redact(text: string): string {
    const withoutKey = this.#apiKey.length >= 4 ? text.split(this.#apiKey).join('[redacted]') : text;
    return withoutKey.replace(/\bsk-[A-Za-z0-9_*.-]{4,}/g, 'sk-[redacted]');
  }
}

// The SDK says "Connection error."; the system code under it (ECONNREFUSED, ENOTFOUND) says why.
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return `${message} (${code})`;
    cause = cause.cause;
  }
  return message;
}

/**
 * Requests of at most a minute of the worker's share, so one request never takes more than the
 * budget can give; never below the per-input limit, which would cut memories short.
 */
function withinShare(
  limits: Partial<EmbeddingRequestLimits>,
  pacer: RatePacer | undefined,
): Partial<EmbeddingRequestLimits> {
  if (pacer === undefined) return limits;
  const perRequest = limits.maxTokensPerRequest ?? OPENAI_EMBEDDING_LIMITS.maxTokensPerRequest;
  const perInput =
    limits.maxTokensPerInput ?? Math.min(OPENAI_EMBEDDING_LIMITS.maxTokensPerInput, perRequest);
  return {
    ...limits,
    maxTokensPerInput: perInput,
    maxTokensPerRequest: Math.min(perRequest, Math.max(pacer.maxRequestTokens, perInput)),
  };
}

function promptTokens(body: unknown): number {
  const tokens = (body as { usage?: { prompt_tokens?: unknown } }).usage?.prompt_tokens;
  return typeof tokens === 'number' && Number.isFinite(tokens) ? tokens : 0;
}

// For error context: where the requests went, without any credentials a URL might carry.
function describeEndpoint(baseURL: string | undefined): string {
  if (baseURL === undefined) return 'default';
  try {
    const url = new URL(baseURL);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return 'unparseable base URL';
  }
}
