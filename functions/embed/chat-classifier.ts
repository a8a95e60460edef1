import { setTimeout as realSleep } from 'node:timers/promises';
import OpenAI from 'openai';
import {
  buildChatRequest,
  estimateLlmCost as estimateWith,
  KNOWN_CHAT_PRICES,
  LLM_BATCH_SIZE,
  type LlmEstimate,
  type LlmItem,
  parseChatAnswer,
} from '../core/llm-classification.js';
import { InvalidInputError, PreflightError } from '../errors.js';
import { classifyEmbeddingFailure, type EmbeddingFailure, retryDelayMs } from './retry-policy.js';
import { estimateTokens } from './token-estimate.js';

export interface ChatClassifierOptions {
  /** The same key as the embeddings client's: never logged, reported or thrown. */
  apiKey: string;
  baseURL?: string;
  model: string;
  concurrency?: number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  batchSize?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  openai?: OpenAI;
}

export interface ChatClassifierStats {
  requests: number;
  retries: number;
  /** Memories the model placed. */
  decided: number;
  /** Memories left to the offline decision: malformed answers, missing ids, requests that kept failing. */
  fellBack: number;
  /** Requests whose answer was not the JSON asked for. */
  malformed: number;
  inputTokens: number;
  outputTokens: number;
  waitMs: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** The dry run's estimate for these memories with this model (tokens counted with cl100k). */
export function estimateChatCost(
  items: readonly LlmItem[],
  modules: readonly string[],
  model: string,
): LlmEstimate {
  return estimateWith(items, modules, estimateTokens, KNOWN_CHAT_PRICES[model]);
}

/**
 * Asks a chat model which module each memory belongs to, `batchSize` memories per request with a
 * JSON-schema answer. Retries and waits as the embeddings client does (same policy, Retry-After
 * honoured, the SDK's own retries off). It never fails a batch over an answer: a malformed answer,
 * or a request that kept failing, leaves those memories to the offline decision. Only a refused
 * key or an exhausted quota throws, since every later request would fail the same way.
 */
export class ChatClassifier {
  readonly model: string;
  readonly #openai: OpenAI;
  readonly #apiKey: string;
  readonly #options: Required<
    Pick<
      ChatClassifierOptions,
      | 'concurrency'
      | 'maxAttempts'
      | 'baseDelayMs'
      | 'maxDelayMs'
      | 'timeoutMs'
      | 'batchSize'
      | 'sleep'
      | 'random'
    >
  >;
  #stats: ChatClassifierStats = {
    requests: 0,
    retries: 0,
    decided: 0,
    fellBack: 0,
    malformed: 0,
    inputTokens: 0,
    outputTokens: 0,
    waitMs: 0,
  };

  constructor(options: ChatClassifierOptions) {
    if (options.apiKey === '' && options.openai === undefined) {
      throw new InvalidInputError(
        'No OpenAI API key for the LLM classifier: set OPENAI_API_KEY or the API key secret',
      );
    }
    if (options.model.trim() === '') throw new InvalidInputError('No LLM model: set --llm-model / llmModel');
    this.model = options.model;
    this.#apiKey = options.apiKey;
    this.#options = {
      concurrency: options.concurrency ?? 4,
      maxAttempts: options.maxAttempts ?? 6,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 20_000,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      batchSize: options.batchSize ?? LLM_BATCH_SIZE,
      sleep: options.sleep ?? ((ms: number) => realSleep(ms)),
      random: options.random ?? Math.random,
    };
    this.#openai =
      options.openai ??
      new OpenAI({
        apiKey: options.apiKey,
        baseURL: options.baseURL,
        maxRetries: 0,
        timeout: this.#options.timeoutMs,
      });
  }

  stats(): ChatClassifierStats {
    return { ...this.#stats };
  }

  /** The module the model chose for each memory it placed; memories it did not place are absent. */
  async classify(items: readonly LlmItem[], modules: readonly string[]): Promise<Map<string, string>> {
    const groups: LlmItem[][] = [];
    for (let start = 0; start < items.length; start += this.#options.batchSize) {
      groups.push(items.slice(start, start + this.#options.batchSize));
    }
    const chosen = new Map<string, string>();
    const started = performance.now();
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < groups.length) {
        const group = groups[next++] as LlmItem[];
        try {
          const answer = await this.#requestWithRetries(group, modules);
          for (const item of group) {
            const module = answer?.get(item.id);
            if (module === undefined) this.#stats.fellBack++;
            else {
              chosen.set(item.id, module);
              this.#stats.decided++;
            }
          }
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, groups.length) }, worker));
    } finally {
      this.#stats.waitMs += performance.now() - started;
    }
    if (failure !== undefined) throw failure.error;
    return chosen;
  }

  /** The parsed answer, or null when it stayed malformed or the requests kept failing. */
  async #requestWithRetries(
    group: readonly LlmItem[],
    modules: readonly string[],
  ): Promise<Map<string, string> | null> {
    const request = buildChatRequest(group, modules);
    const { maxAttempts, random, sleep } = this.#options;
    let last: Extract<EmbeddingFailure, { kind: 'retry' }> | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (last !== undefined) {
        this.#stats.retries += 1;
        await sleep(retryDelayMs(last, attempt - 1, this.#options, random));
      }
      this.#stats.requests += 1;
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await this.#openai.chat.completions.create(
          {
            model: this.model,
            messages: request.messages,
            response_format: request.responseFormat,
            temperature: 0,
          },
          { maxRetries: 0, timeout: this.#options.timeoutMs },
        );
      } catch (error) {
        const failure = classifyEmbeddingFailure(error);
        if (failure === undefined) throw error;
        if (failure.kind !== 'retry') throw this.#permanentFailure(error, failure);
        last = failure;
        continue;
      }
      this.#stats.inputTokens += completion.usage?.prompt_tokens ?? 0;
      this.#stats.outputTokens += completion.usage?.completion_tokens ?? 0;
      const answer = parseChatAnswer(
        completion.choices?.[0]?.message?.content,
        group.map((item) => item.id),
        modules,
      );
      if (answer === null) this.#stats.malformed += 1;
      return answer;
    }
    return null;
  }

  #permanentFailure(error: unknown, failure: Exclude<EmbeddingFailure, { kind: 'retry' }>): Error {
    const context = { model: this.model, status: failure.status };
    if (failure.kind === 'quota') {
      return new PreflightError(
        'The chat API account has no quota left (429 insufficient_quota); add credit or raise the limit',
        {
          context,
        },
      );
    }
    if (failure.status === 401 || failure.status === 403) {
      return new InvalidInputError(
        `The chat API refused the API key (${failure.status}); check OPENAI_API_KEY or the API key secret`,
        { context },
      );
    }
    const message = this.#redact(error instanceof Error ? error.message : String(error));
    const hint =
      failure.status === 404 || failure.status === 400
        ? `; check --llm-model / llmModel (${this.model})`
        : '';
    return new InvalidInputError(`The chat API rejected the request: ${message}${hint}`, { context });
  }

  #redact(text: string): string {
    const withoutKey = this.#apiKey.length >= 4 ? text.split(this.#apiKey).join('[redacted]') : text;
    return withoutKey.replace(/\bsk-[A-Za-z0-9_*.-]{4,}/g, 'sk-[redacted]');
  }
}
