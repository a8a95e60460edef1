import type { IncomingMessage, ServerResponse } from 'node:http';
import { estimateTokens } from './embedding-vectors.js';

/**
 * The harness's Files and Batch APIs, as OpenAI documents them for `/v1/embeddings` batches:
 * `POST /v1/files` (multipart upload), `GET /v1/files/:id`, `GET /v1/files/:id/content`,
 * `POST /v1/batches`, `GET /v1/batches/:id`, `GET /v1/batches` (newest first, `after` / `limit`).
 * A batch stays `in_progress` for `completionMs`, then completes: each line answered as the
 * embeddings endpoint answers it, every `failEvery`-th line (if set) into the error file instead;
 * every `expireEvery`-th batch (if set) expires with all its lines in the error file.
 */

export interface BatchApiKnobs {
  batchCompletionMs: number;
  batchFailEvery: number;
  batchExpireEvery: number;
  /** Tokens of batches in progress at once (the account's queue limit); a batch past it fails. Null: none. */
  batchQueueTokens: number | null;
}

export interface BatchApiStats {
  filesUploaded: number;
  batchesCreated: number;
  /** Lines of completed batches answered with a vector, and lines failed or expired. */
  batchInputs: number;
  batchFailedInputs: number;
  /** Batches failed at creation for the queue limit, and the most tokens ever in progress at once. */
  batchesRefused: number;
  peakQueuedTokens: number;
}

interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  content: Buffer;
}

interface StoredBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: 'in_progress' | 'completed' | 'expired' | 'failed';
  errors: { object: 'list'; data: { code: string; message: string }[] } | null;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  metadata: Record<string, string> | null;
  request_counts: { total: number; completed: number; failed: number };
  /** Creation order: every `expireEvery`-th expires. */
  ordinal: number;
  readyAt: number;
  /** The harness's estimate of the batch's tokens, counted against the queue limit. */
  tokens: number;
}

/** How the embeddings endpoint answers one request body (status and JSON body). */
export type EmbedBody = (body: unknown) => { status: number; body: unknown };

export class HarnessBatchApi {
  #files = new Map<string, StoredFile>();
  #batches: StoredBatch[] = [];
  #next = 0;
  stats: BatchApiStats = zeroBatchStats();

  constructor(
    private readonly knobs: () => BatchApiKnobs,
    private readonly embed: EmbedBody,
  ) {}

  reset(): void {
    this.#files.clear();
    this.#batches = [];
    this.stats = zeroBatchStats();
  }

  /** Handles the route when it is one of this API's; undefined otherwise. */
  route(
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    path: string,
  ): Promise<void> | undefined {
    const file = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
    const batch = /^\/v1\/batches\/([^/]+)$/.exec(path);
    if (method === 'POST' && path === '/v1/files') return this.#upload(request, response);
    if (method === 'GET' && file)
      return Promise.resolve(this.#file(response, file[1] as string, Boolean(file[2])));
    if (method === 'POST' && path === '/v1/batches') return this.#create(request, response);
    if (method === 'GET' && batch) return Promise.resolve(this.#retrieve(response, batch[1] as string));
    if (method === 'GET' && path === '/v1/batches') return Promise.resolve(this.#list(request, response));
    return undefined;
  }

  async #upload(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const form = await new Request('http://harness/v1/files', {
      method: 'POST',
      headers: { 'content-type': request.headers['content-type'] ?? '' },
      body: Buffer.concat(chunks),
    }).formData();
    const upload = form.get('file');
    const purpose = form.get('purpose');
    if (!(upload instanceof Blob) || purpose !== 'batch') {
      return send(response, 400, {
        error: { message: 'expected a file and purpose "batch"', type: 'invalid_request_error' },
      });
    }
    const content = Buffer.from(await upload.arrayBuffer());
    const stored = this.#store(content, upload instanceof File ? upload.name : 'upload.jsonl', 'batch');
    this.stats.filesUploaded += 1;
    send(response, 200, withoutContent(stored));
  }

  #store(content: Buffer, filename: string, purpose: string): StoredFile {
    const stored: StoredFile = {
      id: `file-harness-${++this.#next}`,
      object: 'file',
      bytes: content.length,
      created_at: Math.floor(Date.now() / 1000),
      filename,
      purpose,
      content,
    };
    this.#files.set(stored.id, stored);
    return stored;
  }

  #file(response: ServerResponse, id: string, content: boolean): void {
    const stored = this.#files.get(id);
    if (!stored) {
      send(response, 404, {
        error: { message: `No such File object: ${id}`, type: 'invalid_request_error' },
      });
    } else if (!content) {
      send(response, 200, withoutContent(stored));
    } else {
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': stored.content.length,
      });
      response.end(stored.content);
    }
  }

  async #create(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const input = this.#files.get(String(body.input_file_id));
    if (!input || body.endpoint !== '/v1/embeddings' || body.completion_window !== '24h') {
      return send(response, 400, {
        error: {
          message: 'expected an uploaded input_file_id, endpoint /v1/embeddings and a 24h window',
          type: 'invalid_request_error',
        },
      });
    }
    const now = Date.now();
    const batch: StoredBatch = {
      id: `batch_harness_${++this.#next}`,
      object: 'batch',
      endpoint: '/v1/embeddings',
      input_file_id: input.id,
      completion_window: '24h',
      status: 'in_progress',
      output_file_id: null,
      error_file_id: null,
      created_at: Math.floor(now / 1000),
      metadata: (body.metadata as Record<string, string> | undefined) ?? null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      ordinal: this.#batches.length + 1,
      readyAt: now + this.knobs().batchCompletionMs,
      tokens: requestTokens(input.content),
      errors: null,
    };
    for (const other of this.#batches) this.#settle(other);
    const queued = this.#batches.reduce((n, b) => n + (b.status === 'in_progress' ? b.tokens : 0), 0);
    const limit = this.knobs().batchQueueTokens;
    this.#batches.push(batch);
    this.stats.batchesCreated += 1;
    if (limit !== null && queued + batch.tokens > limit) {
      batch.status = 'failed';
      batch.errors = {
        object: 'list',
        data: [{ code: 'token_limit_exceeded', message: `Enqueued token limit reached (${limit})` }],
      };
      this.stats.batchesRefused += 1;
    } else {
      this.stats.peakQueuedTokens = Math.max(this.stats.peakQueuedTokens, queued + batch.tokens);
    }
    send(response, 200, view(batch));
  }

  #retrieve(response: ServerResponse, id: string): void {
    const batch = this.#batches.find((b) => b.id === id);
    if (!batch) {
      send(response, 404, { error: { message: `No such batch: ${id}`, type: 'invalid_request_error' } });
      return;
    }
    this.#settle(batch);
    send(response, 200, view(batch));
  }

  #list(request: IncomingMessage, response: ServerResponse): void {
    const query = new URL(request.url ?? '/', 'http://harness').searchParams;
    const limit = Number(query.get('limit') ?? 20);
    const newestFirst = [...this.#batches].reverse();
    const after = query.get('after');
    const start = after ? newestFirst.findIndex((b) => b.id === after) + 1 : 0;
    const page = newestFirst.slice(start, start + limit);
    for (const batch of page) this.#settle(batch);
    send(response, 200, {
      object: 'list',
      data: page.map(view),
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: start + limit < newestFirst.length,
    });
  }

  // Once its time has come, a batch is answered line by line (or expires) and writes its files.
  #settle(batch: StoredBatch): void {
    if (batch.status !== 'in_progress' || Date.now() < batch.readyAt) return;
    const knobs = this.knobs();
    const lines = (this.#files.get(batch.input_file_id)?.content.toString('utf8') ?? '')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { custom_id: string; body: unknown });
    const expired = knobs.batchExpireEvery > 0 && batch.ordinal % knobs.batchExpireEvery === 0;
    const output: string[] = [];
    const errors: string[] = [];
    lines.forEach((line, index) => {
      const id = `batch_req_${batch.id}_${index}`;
      if (expired || (knobs.batchFailEvery > 0 && (index + 1) % knobs.batchFailEvery === 0)) {
        const code = expired ? 'batch_expired' : 'server_error';
        errors.push(
          JSON.stringify({
            id,
            custom_id: line.custom_id,
            response: null,
            error: { code, message: `harness: ${code}` },
          }),
        );
        return;
      }
      const answer = this.embed(line.body);
      const entry = {
        id,
        custom_id: line.custom_id,
        response: { status_code: answer.status, request_id: id, body: answer.body },
        error: null,
      };
      (answer.status === 200 ? output : errors).push(JSON.stringify(entry));
    });
    this.stats.batchInputs += output.length;
    this.stats.batchFailedInputs += errors.length;
    const write = (entries: string[], kind: string) =>
      entries.length === 0
        ? null
        : this.#store(Buffer.from(`${entries.join('\n')}\n`), `${batch.id}_${kind}.jsonl`, 'batch_output').id;
    batch.status = expired ? 'expired' : 'completed';
    batch.output_file_id = write(output, 'output');
    batch.error_file_id = write(errors, 'error');
    batch.request_counts = { total: lines.length, completed: output.length, failed: errors.length };
  }
}

function requestTokens(content: Buffer): number {
  let tokens = 0;
  for (const line of content.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const input = (JSON.parse(line) as { body?: { input?: unknown } }).body?.input;
    for (const text of Array.isArray(input) ? input : [input])
      if (typeof text === 'string') tokens += estimateTokens(text);
  }
  return tokens;
}

function zeroBatchStats(): BatchApiStats {
  return {
    filesUploaded: 0,
    batchesCreated: 0,
    batchInputs: 0,
    batchFailedInputs: 0,
    batchesRefused: 0,
    peakQueuedTokens: 0,
  };
}

function withoutContent({ content: _content, ...file }: StoredFile) {
  return file;
}

function view({ ordinal: _ordinal, readyAt: _readyAt, ...batch }: StoredBatch) {
  return batch;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
