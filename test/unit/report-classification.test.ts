import { describe, expect, it } from 'vitest';
import { classificationSection } from '../../functions/core/report/classification.js';
import type { ReportBatchInput } from '../../functions/core/report/input.js';
import { renderSectionMarkdown } from '../../functions/core/report/markdown.js';
import { classificationHealth } from '../../functions/core/report/sections.js';

function batch(overrides: Partial<ReportBatchInput>): ReportBatchInput {
  return {
    index: 0,
    read: 0,
    migrated: 0,
    rejected: 0,
    byModule: {},
    byRule: {},
    rejectsByReason: {},
    repairsByRule: {},
    load: null,
    embedding: null,
    samples: [],
    timings: { readMs: 0, embedMs: 0, prepareMs: 0, loadMs: 0 },
    ...overrides,
  };
}

const MODULES = ['work', 'personal'];

describe('Function: classificationSection', () => {
  it('sums rule kinds and the confidence histogram over batches, and scales the dry run to this run', () => {
    // Act
    const section = classificationSection(
      [
        batch({
          byRule: { 'model:work': 6, 'fallback:personal': 1 },
          confidenceHistogram: [0, 0, 1, 0, 0, 0, 0, 2, 3, 1],
        }),
        batch({
          index: 1,
          byRule: { 'model:personal': 2, 'type:project': 1 },
          confidenceHistogram: [0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
        }),
      ],
      MODULES,
      { work: 7, personal: 3 },
      {
        runId: 'dry-1',
        finishedAt: '2024-01-01T00:00:00Z',
        migrated: 20,
        byModule: { work: 10, personal: 10 },
      },
    );

    // Assess
    expect(section.decided).toBe(10);
    expect(section.fallback).toEqual({ count: 1, percent: 10 });
    expect(section.byKind).toEqual([
      { kind: 'model', count: 8, percent: 80 },
      { kind: 'fallback', count: 1, percent: 10 },
      { kind: 'type', count: 1, percent: 10 },
    ]);
    expect(section.confidenceHistogram.map((b) => b.count)).toEqual([0, 0, 1, 0, 0, 0, 0, 2, 3, 4]);
    expect(section.modules).toEqual([
      { module: 'work', count: 7, predicted: 5 },
      { module: 'personal', count: 3, predicted: 5 },
    ]);
    expect(section.warning).toBeNull();
  });

  it('warns past a 20% fallback share, naming the rules file and the LLM pass', () => {
    // Act
    const section = classificationSection(
      [batch({ byRule: { 'model:work': 3, 'fallback:personal': 1 } })],
      MODULES,
      { work: 3, personal: 1 },
      null,
    );

    // Assess
    expect(section.warning).toMatch(/^25% of memories fell back/);
    expect(section.warning).toContain('--rules');
    expect(section.warning).toContain('--classifier llm');
    expect(renderSectionMarkdown(classificationHealth(section))).toContain(
      `> **Warning:** ${section.warning}`,
    );
  });

  it('reports an LLM estimate with its cost', () => {
    // Act
    const section = classificationSection(
      [
        batch({
          byRule: { 'model:work': 2 },
          llm: {
            model: 'gpt-4o-mini',
            candidates: 60,
            requests: 2,
            decided: 0,
            fellBack: 0,
            malformed: 0,
            retries: 0,
            inputTokens: 3000,
            outputTokens: 1800,
            estimated: true,
            estimatedCostUsd: 0.00153,
          },
        }),
      ],
      MODULES,
      { work: 2 },
      null,
    );

    // Assess
    expect(section.llm).toMatchObject({
      model: 'gpt-4o-mini',
      estimated: true,
      candidates: 60,
      requests: 2,
      costUsd: 0.0015,
    });
    expect(renderSectionMarkdown(classificationHealth(section))).toContain(
      'LLM pass (gpt-4o-mini), estimate: 60 unclear memories in 2 requests, ~4800 tokens, $0.0015.',
    );
  });
});
