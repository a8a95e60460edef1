import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type BatchApiStats, HarnessBatchApi } from './batch-api.js';
import {
  DEFAULT_EMBEDDING_DIMENSIONS,
  embeddingFor,
  embeddingToBase64,
  estimateTokens,
} from './embedding-vectors.js';
import { RateLimiter } from './rate-limiter.js';

export { DEFAULT_EMBEDDING_DIMENSIONS, embeddingFor, embeddingToBase64 } from './embedding-vectors.js';

const MAX_INPUTS = 2048;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const knobsSchema = z
  .object({
    /** Delay before every embeddings answer, failures included. */
    latencyMs: z.number().min(0),
    /** The next n embeddings requests answer 429. */
    failNext429: z.number().int().min(0),
    /** Retry-After seconds sent with those 429s; fractional and 0 allowed, null sends none. */
    retryAfterSeconds: z.number().min(0).nullable(),
    /** The next n embeddings requests (after any 429s) answer `status5xx`. */
    failNext5xx: z.number().int().min(0),
    status5xx: z.number().int().min(500).max(599),
    /** Every embeddings request answers this status until set back to null. */
    failAlways: z.number().int().min(400).max(599).nullable(),
    /** Per API key, like OpenAI's limits (see rate-limiter.ts); null: unlimited. Changing either starts afresh. */
    tokensPerMinute: z.number().positive().nullable(),
    requestsPerMinute: z.number().positive().nullable(),
    rateLimitsStartEmpty: z.boolean(),
    keysStartSpent: z.boolean(),
    /** Added to `latencyMs` for every 1,000 prompt tokens of a request the server answers. */
    latencyMsPerThousandTokens: z.number().min(0),
    /** Batch API: a batch completes this long after it was created. */
    batchCompletionMs: z.number().min(0),
    /** Batch API: every n-th line of a batch goes to its error file instead of its output (0: none). */
    batchFailEvery: z.number().int().min(0),
    /** Batch API: every n-th batch created expires, all its lines in the error file (0: none). */
    batchExpireEvery: z.number().int().min(0),
    /** Batch API: tokens of batches in progress at once; a batch created past it fails. Null: no limit. */
    batchQueueTokens: z.number().positive().nullable(),
  })
  .strict();

export type EmbeddingsKnobs = z.infer<typeof knobsSchema>;

export interface EmbeddingsStats {
  /** Embeddings requests received, failures included. */
  requests: number;
  /** Inputs embedded in successful answers. */
  inputs: number;
  /** Estimated prompt tokens of successful answers. */
  tokens: number;
  served429: number;
  served5xx: number;
  servedFailAlways: number;
  served400: number;
  /** Chat completion requests received (the LLM classifier's), failures included. */
  chatRequests: number;
  /** Memories named in successful chat answers. */
  chatMemories: number;
  /** Chat answers sent malformed on purpose (a memory asked for it). */
  chatMalformed: number;
  /** 429s because a key passed its tokens or requests per minute (not the failNext429 ones). */
  servedRateLimited: number;
  /** The Files and Batch APIs' counters (batch-api.ts). */
  batchApi: BatchApiStats;
}

export interface EmbeddingsServer {
  /** OpenAI-style base URL, ending in /v1: pass it as the `openai` client's baseURL. */
  baseURL: string;
  stats(): EmbeddingsStats;
  configure(knobs: Partial<EmbeddingsKnobs>): void;
  /** Knobs back to their start values, counters to zero. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_KNOBS: EmbeddingsKnobs = {
  latencyMs: 0,
  failNext429: 0,
  retryAfterSeconds: 0.1,
  failNext5xx: 0,
  status5xx: 500,
  failAlways: null,
  tokensPerMinute: null,
  requestsPerMinute: null,
  rateLimitsStartEmpty: false,
  keysStartSpent: false,
  latencyMsPerThousandTokens: 0,
  batchCompletionMs: 0,
  batchFailEvery: 0,
  batchExpireEvery: 0,
  batchQueueTokens: null,
};

const zeroStats = (): EmbeddingsStats => ({
  requests: 0,
  inputs: 0,
  tokens: 0,
  served429: 0,
  served5xx: 0,
  servedFailAlways: 0,
  served400: 0,
  chatRequests: 0,
  chatMemories: 0,
  chatMalformed: 0,
  servedRateLimited: 0,
  batchApi: {
    filesUploaded: 0,
    batchesCreated: 0,
    batchInputs: 0,
    batchFailedInputs: 0,
    batchesRefused: 0,
    peakQueuedTokens: 0,
  },
});

/** A memory whose text holds this gets its whole chat batch a malformed (non-JSON) answer. */
export const MALFORMED_CHAT_MARKER = 'MALFORMED-CHAT-ANSWER';

/**
 * The harness model's deterministic choice: the first offered module whose name the text holds as
 * a word, else the first module offered.
 */
export function chatModuleFor(text: string, modules: readonly string[]): string {
  const lower = text.toLowerCase();
  return modules.find((m) => new RegExp(`\\b${m.toLowerCase()}\\b`).test(lower)) ?? (modules[0] as string);
}

function chatAnswer(body: unknown): {
  content: string;
  memories: number;
  malformed: boolean;
  promptTokens: number;
} {
  const request = body as {
    messages?: { role?: string; content?: unknown }[];
    response_format?: {
      json_schema?: {
        schema?: { properties?: { choices?: { items?: { properties?: { module?: { enum?: unknown } } } } } };
      };
    };
  };
  const modules =
    request.response_format?.json_schema?.schema?.properties?.choices?.items?.properties?.module?.enum;
  const user = request.messages?.find((m) => m.role === 'user')?.content;
  if (!Array.isArray(modules) || modules.length === 0 || typeof user !== 'string') {
    throw new InvalidRequest(
      'expected a user message and a json_schema response_format with a module enum',
      'messages',
    );
  }
  const { memories } = JSON.parse(user) as { memories: { id: string; text: string }[] };
  const promptTokens = (request.messages ?? []).reduce(
    (n, m) => n + (typeof m.content === 'string' ? estimateTokens(m.content) : 0),
    0,
  );
  if (memories.some((m) => m.text.includes(MALFORMED_CHAT_MARKER))) {
    return {
      content: 'Sure! Here are the modules: work, personal…',
      memories: 0,
      malformed: true,
      promptTokens,
    };
  }
  const choices = memories.map((m) => ({ id: m.id, module: chatModuleFor(m.text, modules as string[]) }));
  return { content: JSON.stringify({ choices }), memories: choices.length, malformed: false, promptTokens };
}

class InvalidRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}

/**
 * An OpenAI-compatible `POST /v1/embeddings` with deterministic vectors and a
 * `POST /v1/chat/completions` that answers the LLM classifier's requests deterministically
 * (`chatModuleFor`), plus `POST /_control`,
 * `POST /_reset` and `GET /_stats` so tests in other processes can steer a shared instance.
 */
export async function startEmbeddingsServer(
  opts: Partial<EmbeddingsKnobs> & { port?: number } = {},
): Promise<EmbeddingsServer> {
  const { port = 0, ...startKnobs } = opts;
  const initialKnobs: EmbeddingsKnobs = { ...DEFAULT_KNOBS, ...knobsSchema.partial().parse(startKnobs) };
  let knobs = { ...initialKnobs };
  let stats = zeroStats();
  let limiter = new RateLimiter(knobs);
  // A batch's lines are answered as the embeddings endpoint answers them, without its rate limits
  // (the Batch API has its own queue limit instead).
  const batchApi = new HarnessBatchApi(
    () => knobs,
    (body) => {
      try {
        return { status: 200, body: embed(parseEmbeddingRequest(body)) };
      } catch (error) {
        if (!(error instanceof InvalidRequest)) throw error;
        return {
          status: 400,
          body: { error: { message: error.message, type: 'invalid_request_error', param: error.param } },
        };
      }
    },
  );

  const configure = (changes: Partial<EmbeddingsKnobs>): void => {
    const parsed = knobsSchema.partial().parse(changes);
    knobs = { ...knobs, ...parsed };
    if (
      ['tokensPerMinute', 'requestsPerMinute', 'rateLimitsStartEmpty', 'keysStartSpent'].some(
        (knob) => knob in parsed,
      )
    ) {
      limiter = new RateLimiter(knobs);
    }
  };
  const reset = (): void => {
    knobs = { ...initialKnobs };
    stats = zeroStats();
    limiter = new RateLimiter(knobs);
    batchApi.reset();
  };

  const statsNow = (): EmbeddingsStats => ({ ...stats, batchApi: { ...batchApi.stats } });

  const chat = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    stats.chatRequests += 1;
    const body = await readJson(request).catch((error: Error) => error);
    if (knobs.latencyMs > 0) await sleep(knobs.latencyMs);
    if (knobs.failNext429 > 0) {
      knobs.failNext429 -= 1;
      stats.served429 += 1;
      if (knobs.retryAfterSeconds !== null)
        response.setHeader('Retry-After', String(knobs.retryAfterSeconds));
      return sendError(response, 429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded');
    }
    try {
      if (body instanceof Error) throw new InvalidRequest(body.message, null);
      const answer = chatAnswer(body);
      stats.chatMemories += answer.memories;
      if (answer.malformed) stats.chatMalformed += 1;
      sendJson(response, 200, {
        id: `chatcmpl-harness-${stats.chatRequests}`,
        object: 'chat.completion',
        created: 0,
        model: (body as { model?: string }).model ?? 'unknown',
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            message: { role: 'assistant', content: answer.content, refusal: null },
          },
        ],
        usage: {
          prompt_tokens: answer.promptTokens,
          completion_tokens: answer.memories * 12,
          total_tokens: answer.promptTokens + answer.memories * 12,
        },
      });
    } catch (error) {
      if (!(error instanceof InvalidRequest)) throw error;
      stats.served400 += 1;
      sendError(response, 400, error.message, 'invalid_request_error', null, error.param);
    }
  };

  const embeddings = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    stats.requests += 1;
    const body = await readJson(request).catch((error: Error) => error);
    if (knobs.latencyMs > 0) await sleep(knobs.latencyMs);
    if (knobs.failAlways !== null) {
      stats.servedFailAlways += 1;
      return sendError(
        response,
        knobs.failAlways,
        'The embeddings service is failing (failAlways)',
        'server_error',
      );
    }
    if (knobs.failNext429 > 0) {
      knobs.failNext429 -= 1;
      stats.served429 += 1;
      if (knobs.retryAfterSeconds !== null)
        response.setHeader('Retry-After', String(knobs.retryAfterSeconds));
      return sendError(response, 429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded');
    }
    if (knobs.failNext5xx > 0) {
      knobs.failNext5xx -= 1;
      stats.served5xx += 1;
      return sendError(
        response,
        knobs.status5xx,
        'The server had an error processing your request',
        'server_error',
      );
    }
    try {
      if (body instanceof Error) throw new InvalidRequest(body.message, null);
      const parsed = parseEmbeddingRequest(body);
      if (limiter.limited) {
        const admission = limiter.admit(apiKeyOf(request), parsed.tokens);
        for (const [name, value] of Object.entries(admission.headers)) response.setHeader(name, value);
        if (!admission.admitted) {
          stats.servedRateLimited += 1;
          response.setHeader('retry-after-ms', String(Math.ceil(admission.retryAfterMs)));
          response.setHeader('Retry-After', String(Math.ceil(admission.retryAfterMs / 1000)));
          return sendError(
            response,
            429,
            `Rate limit reached for ${parsed.model} on ${admission.limitedBy} per min`,
            admission.limitedBy,
            'rate_limit_exceeded',
          );
        }
      }
      if (knobs.latencyMsPerThousandTokens > 0) {
        await sleep((parsed.tokens / 1000) * knobs.latencyMsPerThousandTokens);
      }
      const answer = embed(parsed);
      stats.inputs += answer.data.length;
      stats.tokens += answer.usage.prompt_tokens;
      sendJson(response, 200, answer);
    } catch (error) {
      if (!(error instanceof InvalidRequest)) throw error;
      stats.served400 += 1;
      sendError(response, 400, error.message, 'invalid_request_error', null, error.param);
    }
  };

  const control = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const parsed = knobsSchema.partial().safeParse(await readJson(request).catch(() => undefined));
    if (!parsed.success) return sendError(response, 400, parsed.error.message, 'invalid_request_error');
    configure(parsed.data);
    sendJson(response, 200, { knobs });
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = `${request.method} ${path.replace(/\/+$/, '')}`;
    const handled =
      batchApi.route(request, response, request.method ?? 'GET', path.replace(/\/+$/, '')) ??
      (route === 'POST /v1/embeddings'
        ? embeddings(request, response)
        : route === 'POST /v1/chat/completions'
          ? chat(request, response)
          : route === 'POST /_control'
            ? control(request, response)
            : route === 'POST /_reset'
              ? Promise.resolve(reset()).then(() => sendJson(response, 200, { knobs }))
              : route === 'GET /_stats'
                ? Promise.resolve(sendJson(response, 200, { stats: statsNow(), knobs }))
                : Promise.resolve(sendError(response, 404, `No route ${route}`, 'invalid_request_error')));
    handled.catch((error: Error) => {
      if (!response.headersSent) sendError(response, 500, error.message, 'server_error');
      else response.destroy(error);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${address.port}/v1`,
    stats: statsNow,
    configure,
    reset,
    close: async () => {
      // Clients keep sockets alive; without this, close() waits for them to time out.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function apiKeyOf(request: IncomingMessage): string {
  return /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
}

interface EmbeddingRequest {
  texts: string[];
  model: string;
  size: number;
  encoding: unknown;
  tokens: number;
}

function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  if (typeof body !== 'object' || body === null)
    throw new InvalidRequest('The body must be a JSON object', null);
  const { input, model, dimensions, encoding_format: encoding } = body as Record<string, unknown>;
  if (typeof model !== 'string' || model === '') {
    throw new InvalidRequest('you must provide a model parameter', 'model');
  }
  if (input === undefined || input === null)
    throw new InvalidRequest("'input' is a required property", 'input');
  const inputs = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(inputs) || inputs.some((text) => typeof text !== 'string' || text === '')) {
    throw new InvalidRequest("'$.input' is invalid: expected a non-empty string or array of them", 'input');
  }
  if (inputs.length === 0 || inputs.length > MAX_INPUTS) {
    throw new InvalidRequest(`'$.input' must hold 1 to ${MAX_INPUTS} inputs, got ${inputs.length}`, 'input');
  }
  const size = dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 8192) {
    throw new InvalidRequest(`Invalid dimensions: ${String(dimensions)}`, 'dimensions');
  }
  if (encoding !== undefined && encoding !== 'float' && encoding !== 'base64') {
    throw new InvalidRequest(`Invalid encoding_format: ${String(encoding)}`, 'encoding_format');
  }
  const texts = inputs as string[];
  const tokens = texts.reduce((sum, text) => sum + estimateTokens(text), 0);
  return { texts, model, size, encoding, tokens };
}

function embed({ texts, model, size, encoding, tokens }: EmbeddingRequest) {
  return {
    object: 'list' as const,
    data: texts.map((text, index) => {
      const vector = embeddingFor(text, size);
      return {
        object: 'embedding' as const,
        index,
        embedding: encoding === 'base64' ? embeddingToBase64(vector) : Array.from(vector),
      };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('We could not parse the JSON body of your request');
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): void {
  sendJson(response, status, { error: { message, type, param, code } });
}

// For tests in another process than the server (the shared instance of global setup).
const controlRoot = (baseURL: string): string => baseURL.replace(/\/v1\/?$/, '');

async function callControl(url: string, init?: RequestInit): Promise<unknown> {
  const response = await fetch(url, init);
  const body = await response.json();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

export async function configureEmbeddingsServer(
  baseURL: string,
  knobs: Partial<EmbeddingsKnobs>,
): Promise<void> {
  await callControl(`${controlRoot(baseURL)}/_control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(knobs),
  });
}

export async function embeddingsServerStats(baseURL: string): Promise<EmbeddingsStats> {
  const body = (await callControl(`${controlRoot(baseURL)}/_stats`)) as { stats: EmbeddingsStats };
  return body.stats;
}

export async function resetEmbeddingsServer(baseURL: string): Promise<void> {
  await callControl(`${controlRoot(baseURL)}/_reset`, { method: 'POST' });
}
