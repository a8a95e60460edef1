import { describe, expect, it } from 'vitest';
import {
  estimateTokens,
  OPENAI_EMBEDDING_LIMITS,
  planEmbeddingRequests,
  truncateToTokens,
} from '../../functions/embed/token-estimate.js';
import { InvalidInputError } from '../../functions/errors.js';

const ENGLISH =
  'The user prefers dark mode in every editor and asked me to remember that the standup is at 9:30 ' +
  'on weekdays. They are migrating the memory store and want short answers. ';
const CHINESE = '用户喜欢在所有编辑器中使用深色模式，并要求我记住他们的站会在每个工作日的九点半。';

const items = (count: number, text: (index: number) => string) =>
  Array.from({ length: count }, (_, index) => ({ id: `m${index}`, text: text(index) }));

describe('Function: estimateTokens', () => {
  it('counts cl100k tokens as OpenAI embedding models do', () => {
    // Act & Assess
    expect(estimateTokens('hello world')).toBe(2);
    expect(estimateTokens('')).toBe(0);
  });

  it('counts scripts and blobs a characters-per-token rule would under-count', () => {
    // Prepare
    const chinese = CHINESE.repeat(10);
    const hex = 'deadbeef0123456789abcdef'.repeat(40);

    // Act & Assess: chars/4 would give a quarter of these
    expect(estimateTokens(chinese)).toBeGreaterThan(chinese.length * 0.8);
    expect(estimateTokens(hex)).toBeGreaterThan(hex.length / 4);
  });

  it('treats special-token markup in a memory as plain text', () => {
    // Act & Assess
    expect(estimateTokens('notes <|endoftext|> more notes')).toBeGreaterThan(4);
  });
});

describe('Function: truncateToTokens', () => {
  it('leaves text within the limit as it is', () => {
    // Act
    const result = truncateToTokens(ENGLISH, 1000);

    // Assess
    expect(result).toEqual({ text: ENGLISH, tokens: estimateTokens(ENGLISH), truncated: false });
  });

  it('cuts long English text at a word boundary within the token budget', () => {
    // Prepare
    const text = ENGLISH.repeat(50);

    // Act
    const result = truncateToTokens(text, 100);

    // Assess
    expect(result.truncated).toBe(true);
    expect(result.tokens).toBeLessThanOrEqual(100);
    expect(result.tokens).toBeGreaterThan(80);
    expect(result.tokens).toBe(estimateTokens(result.text));
    expect(text.startsWith(result.text)).toBe(true);
    expect(text.charAt(result.text.length)).toMatch(/\s/);
  });

  it('cuts text without spaces at a whole character', () => {
    // Prepare
    const text = CHINESE.repeat(40);

    // Act
    const result = truncateToTokens(text, 64);

    // Assess
    expect(result.tokens).toBeLessThanOrEqual(64);
    expect(result.tokens).toBeGreaterThan(55);
    expect(text.startsWith(result.text)).toBe(true);
    expect(result.text).not.toContain('\uFFFD');
  });
});

describe('Function: planEmbeddingRequests', () => {
  it('states the OpenAI limits', () => {
    // Act & Assess
    expect(OPENAI_EMBEDDING_LIMITS).toEqual({
      maxInputsPerRequest: 2048,
      maxTokensPerInput: 8192,
      maxTokensPerRequest: 300_000,
    });
  });

  it('packs 1,000 inputs into 10 requests of 100, in order', () => {
    // Prepare
    const inputs = items(1000, (index) => `memory number ${index}`);

    // Act
    const plan = planEmbeddingRequests(inputs, { maxInputsPerRequest: 100 });

    // Assess
    expect(plan.requests).toHaveLength(10);
    expect(plan.requests.every((request) => request.inputs.length === 100)).toBe(true);
    expect(plan.requests.flatMap((request) => request.inputs.map((input) => input.id))).toEqual(
      inputs.map((input) => input.id),
    );
    expect(plan.truncatedIds).toEqual([]);
  });

  it('packs at most 2,048 inputs per request by default', () => {
    // Act
    const plan = planEmbeddingRequests(items(5000, (index) => `m ${index}`));

    // Assess
    expect(plan.requests.map((request) => request.inputs.length)).toEqual([2048, 2048, 904]);
  });

  it('closes a request before its token budget would be passed', () => {
    // Prepare: every input costs the same, so 3 fit in a 1,000-token request
    const text = ENGLISH.repeat(7);
    const perInput = estimateTokens(text);
    expect(perInput * 3).toBeLessThanOrEqual(1000);
    expect(perInput * 4).toBeGreaterThan(1000);

    // Act
    const plan = planEmbeddingRequests(
      items(10, () => text),
      { maxTokensPerRequest: 1000 },
    );

    // Assess
    expect(plan.requests.map((request) => request.inputs.length)).toEqual([3, 3, 3, 1]);
    expect(plan.requests.every((request) => request.tokens <= 1000)).toBe(true);
    expect(plan.tokens).toBe(perInput * 10);
  });

  it('truncates inputs over the per-input limit and names them', () => {
    // Prepare
    const inputs = [
      { id: 'short', text: ENGLISH },
      { id: 'long', text: ENGLISH.repeat(200) },
    ];

    // Act
    const plan = planEmbeddingRequests(inputs, { maxTokensPerInput: 500 });

    // Assess
    expect(plan.truncatedIds).toEqual(['long']);
    const long = plan.requests[0]!.inputs[1]!;
    expect(long.tokens).toBeLessThanOrEqual(500);
    expect(long.text).toBe(truncateToTokens(ENGLISH.repeat(200), 500).text);
  });

  it('plans nothing for no inputs', () => {
    // Act & Assess
    expect(planEmbeddingRequests([])).toEqual({ requests: [], tokens: 0, truncatedIds: [] });
  });

  it('refuses empty texts and repeated ids before any request', () => {
    // Act & Assess
    expect(() => planEmbeddingRequests([{ id: 'a', text: '  ' }])).toThrow(InvalidInputError);
    expect(() =>
      planEmbeddingRequests([
        { id: 'a', text: 'x' },
        { id: 'a', text: 'y' },
      ]),
    ).toThrow(/repeat ids: a/);
  });

  it('refuses limits that cannot be met', () => {
    // Act & Assess
    expect(() => planEmbeddingRequests([], { maxInputsPerRequest: 0 })).toThrow(InvalidInputError);
    expect(() => planEmbeddingRequests([], { maxTokensPerInput: 10, maxTokensPerRequest: 5 })).toThrow(
      /cannot exceed/,
    );
  });
});
