import { describe, expect, it } from 'vitest';
import { classifyMemory, isConfident } from '../../functions/core/classify.js';
import { loadRules } from '../../functions/core/rules.js';
import { detectLanguage, memoryFeatureNames, tokenize } from '../../functions/core/text-features.js';
import { parseTextModel } from '../../functions/core/text-model.js';
import { trainNaiveBayes } from '../../functions/core/text-model-training.js';
import type { SourceMemory } from '../../functions/core/types.js';
import { InvalidInputError } from '../../functions/errors.js';

const rules = loadRules();

function sourceMemory(overrides: Partial<SourceMemory> = {}): SourceMemory {
  return {
    id: 'mem-1',
    userId: 'user-1',
    content: 'Something happened today.',
    contentHash: null,
    embedding: null,
    title: null,
    summary: null,
    tags: [],
    source: null,
    sourceMetadata: {},
    createdAt: new Date('2024-01-01T00:00:00.000Z'),
    updatedAt: new Date('2024-01-01T00:00:00.000Z'),
    accessedAt: null,
    accessCount: 0,
    ...overrides,
  };
}

const TRACE = `TypeError: Cannot read properties of undefined (reading 'map')
    at renderList (src/components/List.tsx:42:18)
    at processChild (node_modules/react-dom/cjs/react-dom.development.js:3990:14)`;

describe('Function: tokenize', () => {
  it('splits words from symbol runs, lower-cased, keeping accented letters in words', () => {
    // Act
    const tokens = tokenize('Café CONST x = () => {}; 🚀 Straße');

    // Assess
    expect(tokens.words).toEqual(['café', 'const', 'x', 'straße']);
    expect(tokens.symbols).toEqual(['=', '()', '=>', '{};', '🚀']);
  });
});

describe('Function: detectLanguage', () => {
  it.each([
    ['Mañana tengo que llamar a mi madre para lo de la cena del domingo', 'es'],
    ['Ich muss heute noch die Steuererklärung für meine Eltern machen und die Unterlagen sortieren', 'de'],
    ['Je dois appeler le plombier demain pour la fuite dans la salle de bain', 'fr'],
    ['Remind me to call the plumber about the leak in the bathroom', 'en'],
  ])('reads %j as %s', (text, language) => {
    // Act & Assess
    expect(detectLanguage(tokenize(text).words)).toBe(language);
  });
});

describe('Function: memoryFeatureNames', () => {
  it('stems inflections to one feature and adds 4-grams, tags and metadata hints', () => {
    // Act
    const names = memoryFeatureNames({
      content: 'Meetings moved',
      tags: ['#Recipe'],
      sourceMetadata: { type: 'Preference', categories: ['health', 7] },
    });

    // Assess
    expect(names).toEqual(
      expect.arrayContaining([
        'w:meet',
        'w:move',
        'c:_mee',
        'c:ngs_',
        't:recipe',
        'm:type=preference',
        'm:categories=health',
      ]),
    );
    expect(memoryFeatureNames({ content: 'meeting', tags: [], sourceMetadata: {} })).toContain('w:meet');
  });
});

describe('Function: classifyMemory with the shipped text model', () => {
  it('places a stack trace in technical, naming the model, its features and a calibrated confidence', () => {
    // Act
    const result = classifyMemory(sourceMemory({ content: TRACE }), rules);

    // Assess
    expect(result.module).toBe('technical');
    expect(result.rule).toBe('model:technical');
    expect(result.evidence).toMatch(/^text model p=\d\.\d\d over \w+ \d\.\d\d; features \S+/);
    expect(result.confidence).toBeGreaterThan(0.5);
    expect(result.confidence).toBeLessThanOrEqual(1);
    expect(isConfident(result)).toBe(true);
  });

  it.each([
    ['User is allergic to penicillin and prefers morning appointments with Dr. Ruiz', 'personal'],
    [
      'Draft reply to Tomás: thanks for the intro, happy to hop on a call Thursday — just send a time',
      'communication',
    ],
    ['Chapter 3 notes: opportunity cost is the value of the next best alternative you give up', 'learning'],
  ])('places %j in %s', (content, module) => {
    // Act & Assess
    expect(classifyMemory(sourceMemory({ content }), rules).module).toBe(module);
  });

  it('decides the same way every time', () => {
    // Act
    const first = classifyMemory(sourceMemory({ content: TRACE }), rules);
    const again = classifyMemory(sourceMemory({ content: TRACE }), rules);

    // Assess
    expect(again).toEqual(first);
  });

  it('lets decisive metadata and user rules win over the model', () => {
    // Act
    const byType = classifyMemory(sourceMemory({ content: TRACE, sourceMetadata: { type: 'poem' } }), rules);
    const byUserTag = classifyMemory(
      sourceMemory({ content: TRACE, tags: ['Inbox'] }),
      loadRules({ tagRules: { inbox: 'communication' } }),
    );

    // Assess
    expect(byType).toMatchObject({ module: 'creative', rule: 'type:poem' });
    expect(byUserTag).toMatchObject({ module: 'communication', rule: 'tag:inbox' });
  });

  it('treats a task as evidence, not a verdict', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({
        content: 'pick up dry cleaning and buy a birthday present for mom',
        sourceMetadata: { type: 'task' },
      }),
      rules,
    );

    // Assess
    expect(result.module).toBe('personal');
    expect(result.rule).toBe('model:personal');
  });

  it('never chooses a module outside the registry, whichever rule points there', () => {
    // Prepare
    const registry = ['personal', 'creative', 'church'];

    // Act
    const byModel = classifyMemory(sourceMemory({ content: TRACE }), rules, undefined, registry);
    const byType = classifyMemory(
      sourceMemory({ content: TRACE, sourceMetadata: { type: 'project' } }),
      rules,
      undefined,
      registry,
    );
    const noFallback = classifyMemory(
      sourceMemory({ content: 'x' }),
      loadRules(undefined, { textModel: null }),
      undefined,
      ['church', 'work'],
    );

    // Assess
    expect(registry).toContain(byModel.module);
    expect(byType.rule).not.toBe('type:project');
    expect(registry).toContain(byType.module);
    expect(noFallback).toMatchObject({ module: 'church', rule: 'fallback:church' });
  });

  it('abstains to the fallback when the memory has nothing the model knows', () => {
    // Act
    const result = classifyMemory(sourceMemory({ content: '💥💥' }), rules);

    // Assess
    expect(result).toMatchObject({ module: 'personal', rule: 'fallback:personal' });
  });
});

describe('Function: trainNaiveBayes', () => {
  const words = (content: string) =>
    memoryFeatureNames({ content, tags: [], sourceMetadata: {} }).filter((f) => f.startsWith('w:'));
  const examples = [
    { features: words('deploys server'), label: 'technical' },
    { features: words('deploy cluster'), label: 'technical' },
    { features: words('mom dinner'), label: 'personal' },
    { features: words('mom birthday'), label: 'personal' },
  ];
  const options = {
    modules: ['technical', 'personal'],
    alpha: 0.5,
    kindWeights: { w: 1, b: 1, c: 1, s: 1, t: 1, m: 1 },
    minCount: 2,
    priorWeight: 1,
  };

  it('keeps features seen often enough and leans each toward the module it came with', () => {
    // Act
    const document = trainNaiveBayes(examples, options);

    // Assess
    expect(Object.keys(document.features).sort()).toEqual(['w:deploi', 'w:mom']);
    const [technical, personal] = document.features['w:deploi'] as number[];
    expect(technical).toBeGreaterThan(personal as number);
    const model = parseTextModel(document, 'test');
    const prediction = model.predict(
      { content: 'deploy', tags: [], sourceMetadata: {} },
      new Set(['technical', 'personal']),
    );
    expect(prediction?.ranked[0]?.module).toBe('technical');
    expect(prediction?.topFeatures).toEqual(['w:deploi']);
  });

  it('counts a prior vocabulary as labelled memories', () => {
    // Act
    const document = trainNaiveBayes(examples, {
      ...options,
      priors: [{ feature: 'w:flashcard', module: 'personal', count: 2 }],
    });

    // Assess
    const [technical, personal] = document.features['w:flashcard'] as number[];
    expect(personal).toBeGreaterThan(technical as number);
  });

  it('writes the same document for the same input', () => {
    // Act & Assess
    expect(JSON.stringify(trainNaiveBayes(examples, options))).toBe(
      JSON.stringify(trainNaiveBayes(examples, options)),
    );
  });
});

describe('Function: parseTextModel', () => {
  it('names what is wrong with a model document', () => {
    // Act
    let caught: unknown;
    try {
      parseTextModel(
        {
          format: 'bigmemory-text-model',
          version: 1,
          modules: ['a', 'b'],
          bias: [0, 0],
          temperature: 1,
          minMargin: 0,
          features: { 'w:x': [1] },
        },
        'model.json',
      );
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as Error).message).toBe(
      'invalid text model model.json: feature "w:x" has 1 weights for 2 modules',
    );
  });
});
