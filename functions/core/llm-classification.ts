/**
 * The optional LLM pass: memories the offline classifier is unsure of go to a chat model in
 * batches, with a JSON-schema answer naming one registered module per memory. Pure parts here
 * (what to send, how to read the answer, what it costs); the HTTP client lives in functions/embed.
 */
import type { Classification, ModuleId } from './types.js';

/** Memories per chat request: small enough for a short answer, large enough to share the prompt. */
export const LLM_BATCH_SIZE = 50;
/** Offline decisions below this confidence are sent to the model. */
export const DEFAULT_LLM_THRESHOLD = 0.6;
/** What the model sees of each memory: enough to recognise it, bounded for cost. */
export const LLM_TEXT_LIMIT = 1200;
/** Answer tokens per memory: `{"id":"…","module":"…"}` with a UUID. */
const ANSWER_TOKENS_PER_MEMORY = 30;

/** USD per million input and output tokens, for the dry run's estimate; others need a price. */
export const KNOWN_CHAT_PRICES: Readonly<Record<string, { input: number; output: number }>> = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
};

export interface LlmItem {
  id: string;
  text: string;
  tags: readonly string[];
}

export interface ChatRequest {
  messages: { role: 'system' | 'user'; content: string }[];
  responseFormat: {
    type: 'json_schema';
    json_schema: { name: string; strict: true; schema: Record<string, unknown> };
  };
}

const SYSTEM_PROMPT = (modules: readonly string[]) =>
  [
    'You file memories that an AI assistant stored about its user into one module each.',
    `Modules: ${modules.join(', ')}.`,
    'Choose the module that matches the primary purpose of each memory: work (job, colleagues, clients, business),',
    'personal (own life, family, health, home, tastes), technical (software, code, systems), learning (studying,',
    'courses, knowledge), communication (messages, emails, replies, contact preferences), creative (writing, art,',
    'music, design made by the user), and any other listed module by its name.',
    'Answer with one entry per memory id, using only the listed modules.',
  ].join(' ');

export function buildChatRequest(items: readonly LlmItem[], modules: readonly string[]): ChatRequest {
  const memories = items.map((item) => ({
    id: item.id,
    text: item.text.length > LLM_TEXT_LIMIT ? `${item.text.slice(0, LLM_TEXT_LIMIT)}…` : item.text,
    ...(item.tags.length > 0 ? { tags: item.tags } : {}),
  }));
  return {
    messages: [
      { role: 'system', content: SYSTEM_PROMPT(modules) },
      { role: 'user', content: JSON.stringify({ memories }) },
    ],
    responseFormat: {
      type: 'json_schema',
      json_schema: {
        name: 'module_choices',
        strict: true,
        schema: {
          type: 'object',
          properties: {
            choices: {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'string' }, module: { type: 'string', enum: [...modules] } },
                required: ['id', 'module'],
                additionalProperties: false,
              },
            },
          },
          required: ['choices'],
          additionalProperties: false,
        },
      },
    },
  };
}

/**
 * The modules an answer names, by memory id: only ids that were asked about and modules that are
 * registered. Null when the answer is not the JSON the schema asked for at all.
 */
export function parseChatAnswer(
  content: string | null | undefined,
  askedIds: readonly string[],
  modules: readonly string[],
): Map<string, string> | null {
  if (typeof content !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    return null;
  }
  const choices = (parsed as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return null;
  const asked = new Set(askedIds);
  const registered = new Set(modules);
  const out = new Map<string, string>();
  for (const choice of choices) {
    const { id, module } = (choice ?? {}) as { id?: unknown; module?: unknown };
    if (typeof id !== 'string' || typeof module !== 'string') continue;
    if (!asked.has(id) || !registered.has(module) || out.has(id)) continue;
    out.set(id, module);
  }
  return out;
}

export function needsLlm(classification: Classification, threshold: number): boolean {
  return classification.confidence < threshold;
}

export function llmClassification(model: string, module: string, offline: Classification): Classification {
  return {
    module: module as ModuleId,
    rule: `llm:${model}`,
    evidence: `${model} chose ${module}; offline ${offline.rule} at ${offline.confidence}`,
    // The model gives no probability; this places its choices above the offline pass's unsure ones.
    confidence: 0.8,
  };
}

export interface LlmEstimate {
  memories: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Null for a model with no known price. */
  costUsd: number | null;
}

/** What sending these memories would take: requests, tokens by `countTokens`, and the price. */
export function estimateLlmCost(
  items: readonly LlmItem[],
  modules: readonly string[],
  countTokens: (text: string) => number,
  price: { input: number; output: number } | undefined,
): LlmEstimate {
  let inputTokens = 0;
  for (let start = 0; start < items.length; start += LLM_BATCH_SIZE) {
    const request = buildChatRequest(items.slice(start, start + LLM_BATCH_SIZE), modules);
    for (const message of request.messages) inputTokens += countTokens(message.content);
  }
  const outputTokens = items.length * ANSWER_TOKENS_PER_MEMORY;
  return {
    memories: items.length,
    requests: Math.ceil(items.length / LLM_BATCH_SIZE),
    inputTokens,
    outputTokens,
    costUsd: price ? (inputTokens * price.input + outputTokens * price.output) / 1_000_000 : null,
  };
}
