import { describe, expect, it } from 'vitest';
import {
  buildChatRequest,
  estimateLlmCost,
  LLM_TEXT_LIMIT,
  llmClassification,
  parseChatAnswer,
} from '../../functions/core/llm-classification.js';

const MODULES = ['work', 'personal', 'church'];

describe('Function: buildChatRequest', () => {
  it('asks for one registered module per memory through a strict JSON schema', () => {
    // Act
    const request = buildChatRequest(
      [
        { id: 'a', text: 'x'.repeat(LLM_TEXT_LIMIT + 50), tags: [] },
        { id: 'b', text: 'choir practice moved', tags: ['sunday'] },
      ],
      MODULES,
    );

    // Assess
    const schema = request.responseFormat.json_schema.schema as {
      properties: { choices: { items: { properties: { module: { enum: string[] } } } } };
    };
    expect(request.responseFormat.json_schema.strict).toBe(true);
    expect(schema.properties.choices.items.properties.module.enum).toEqual(MODULES);
    expect(request.messages[0]?.content).toContain('Modules: work, personal, church.');
    const sent = JSON.parse(request.messages[1]?.content as string) as {
      memories: { id: string; text: string; tags?: string[] }[];
    };
    expect(sent.memories[0]?.text).toHaveLength(LLM_TEXT_LIMIT + 1);
    expect(sent.memories[1]).toEqual({ id: 'b', text: 'choir practice moved', tags: ['sunday'] });
  });
});

describe('Function: parseChatAnswer', () => {
  it('keeps only asked ids with registered modules, first answer per id', () => {
    // Act
    const answer = parseChatAnswer(
      JSON.stringify({
        choices: [
          { id: 'a', module: 'church' },
          { id: 'a', module: 'work' },
          { id: 'b', module: 'finance' },
          { id: 'zzz', module: 'work' },
          { id: 'c' },
        ],
      }),
      ['a', 'b', 'c'],
      MODULES,
    );

    // Assess
    expect(answer).toEqual(new Map([['a', 'church']]));
  });

  it.each([['not json at all'], ['{"modules": []}'], ['null'], [null]])('calls %j malformed', (content) => {
    // Act & Assess
    expect(parseChatAnswer(content, ['a'], MODULES)).toBeNull();
  });
});

describe('Function: estimateLlmCost', () => {
  it('counts one request per 50 memories and prices input and output tokens', () => {
    // Prepare
    const items = Array.from({ length: 120 }, (_, i) => ({ id: `m${i}`, text: 'a short memory', tags: [] }));
    const countTokens = (text: string) => Math.ceil(text.length / 4);

    // Act
    const priced = estimateLlmCost(items, MODULES, countTokens, { input: 1, output: 2 });
    const unpriced = estimateLlmCost(items, MODULES, countTokens, undefined);

    // Assess
    expect(priced.requests).toBe(3);
    expect(priced.inputTokens).toBeGreaterThan(120 * 4);
    expect(priced.costUsd).toBeCloseTo((priced.inputTokens + 2 * priced.outputTokens) / 1_000_000, 12);
    expect(unpriced.costUsd).toBeNull();
  });
});

describe('Function: llmClassification', () => {
  it('names the model as the rule and the offline decision in the evidence', () => {
    // Act
    const decision = llmClassification('gpt-4o-mini', 'church', {
      module: 'personal',
      rule: 'fallback:personal',
      evidence: 'no rule matched',
      confidence: 0.2,
    });

    // Assess
    expect(decision).toEqual({
      module: 'church',
      rule: 'llm:gpt-4o-mini',
      evidence: 'gpt-4o-mini chose church; offline fallback:personal at 0.2',
      confidence: 0.8,
    });
  });
});
