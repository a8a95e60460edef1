import { describe, expect, it } from 'vitest';
import { defaultModuleRegistry, ModuleRegistry } from '../../functions/core/modules.js';
import { loadRules } from '../../functions/core/rules.js';
import { InvalidInputError, PreflightError } from '../../functions/errors.js';

function captureError(action: () => unknown): InvalidInputError {
  try {
    action();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}

describe('Function: loadRules', () => {
  it('loads the default rules with personal as the fallback and the shipped text model', () => {
    // Act
    const rules = loadRules();

    // Assess
    expect(rules.fallback).toBe('personal');
    expect(rules.typeRules.get('project')).toBe('work');
    expect(rules.categoryAliases.get('programming')).toBe('technical');
    expect(rules.centroid.enabled).toBe(true);
    expect(rules.textModel?.modules).toEqual(
      expect.arrayContaining(['communication', 'creative', 'learning', 'personal', 'technical', 'work']),
    );
  });

  it('leaves tasks, tags and content words to the text model, not to decisive default rules', () => {
    // Act
    const rules = loadRules();

    // Assess: a task can be a personal errand; a tag or a word is evidence, not a verdict.
    expect(rules.typeRules.has('task')).toBe(false);
    expect(rules.typeRules.has('todo')).toBe(false);
    expect(rules.tagRules.size).toBe(0);
    expect(rules.content.modules).toEqual([]);
  });

  it('runs without a text model when asked', () => {
    // Act & Assess
    expect(loadRules(undefined, { textModel: null }).textModel).toBeNull();
  });

  it('compiles regexes once, case-insensitive and multi-line', () => {
    // Act
    const rules = loadRules({ contentPatterns: { modules: { communication: { patterns: ['^subject:'] } } } });
    const communication = rules.content.modules.find((m) => m.module === 'communication');
    const subject = communication?.matchers.find((m) => m.label === '/^subject:/');

    // Assess
    expect(subject?.regex.flags).toBe('im');
    expect(subject?.regex.test('hello\nSubject: quarterly numbers')).toBe(true);
  });

  it('lets a user override one key and add others, keeping the remaining defaults', () => {
    // Act
    const rules = loadRules({
      typeRules: { note: 'learning', Meeting: 'communication' },
      categoryAliases: { Hobby: 'creative' },
      tagRules: { code: 'learning' },
      fallback: 'work',
      centroid: { minMargin: 0.1 },
    });

    // Assess
    expect(rules.typeRules.get('note')).toBe('learning');
    expect(rules.typeRules.get('meeting')).toBe('communication');
    expect(rules.typeRules.get('project')).toBe('work');
    expect(rules.categoryAliases.get('hobby')).toBe('creative');
    expect(rules.categoryAliases.get('job')).toBe('work');
    expect(rules.tagRules.get('code')).toBe('learning');
    expect(rules.fallback).toBe('work');
    expect(rules.centroid).toMatchObject({ enabled: true, minMargin: 0.1, minSimilarity: 0.3 });
  });

  it('removes a default mapping given null', () => {
    // Act
    const rules = loadRules({ typeRules: { meeting: null } });

    // Assess
    expect(rules.typeRules.has('meeting')).toBe(false);
  });

  it('appends user content patterns to the defaults, or replaces them when asked', () => {
    // Act
    const extended = loadRules({
      contentPatterns: { modules: { creative: { keywords: ['haiku', 'poem'] } } },
    });
    const replaced = loadRules({
      contentPatterns: { minScore: 1, modules: { creative: { patterns: ['\\bhaiku\\b'], replace: true } } },
    });

    // Assess
    const creative = (rules: ReturnType<typeof loadRules>) =>
      rules.content.modules.find((m) => m.module === 'creative')?.matchers.map((m) => m.label) ?? [];
    expect(creative(extended)).toContain('"haiku"');
    expect(creative(extended)).toContain('"poem"');
    expect(creative(replaced)).toEqual(['/\\bhaiku\\b/']);
    expect(replaced.content.minScore).toBe(1);
  });

  it('names the path of every module the target registry lacks, as a Preflight error', () => {
    // Act
    const error = (() => {
      try {
        loadRules(
          {
            typeRules: { meeting: 'meetings' },
            contentPatterns: { modules: { finance: { keywords: ['invoice'] } } },
          },
          { registry: defaultModuleRegistry() },
        );
      } catch (e) {
        return e as PreflightError;
      }
      throw new Error('expected a PreflightError');
    })();

    // Assess
    expect(error).toBeInstanceOf(PreflightError);
    expect(error.message).toContain('module "meetings" (typeRules.meeting)');
    expect(error.message).toContain('module "finance" (contentPatterns.modules.finance)');
    expect(error.message).toContain(
      'The target has work, personal, technical, learning, communication, creative',
    );
  });

  it('resolves a module by its table stem to the registry id', () => {
    // Prepare
    const registry = new ModuleRegistry([
      ...defaultModuleRegistry().modules,
      { id: 'project-management', table: 'project_management_memories' },
    ]);

    // Act
    const rules = loadRules({ typeRules: { task: 'project_management' } }, { registry });

    // Assess
    expect(rules.typeRules.get('task')).toBe('project-management');
    expect(rules.typeRules.get('project')).toBe('work');
  });

  it('names an unknown key', () => {
    // Act
    const error = captureError(() => loadRules({ tagsRules: {} }));

    // Assess
    expect(error.message).toContain('tagsRules: unknown key');
  });

  it('names the index of a pattern that is not a regular expression', () => {
    // Act
    const error = captureError(() =>
      loadRules({
        contentPatterns: { modules: { technical: { patterns: ['ok', '(unclosed'], replace: true } } },
      }),
    );

    // Assess
    expect(error.message).toMatch(
      /contentPatterns\.modules\.technical\.patterns\[1\]: not a valid regular expression/,
    );
  });

  it.each([
    [{ fallback: '' }, 'fallback'],
    [{ centroid: { minSimilarity: 2 } }, 'centroid.minSimilarity'],
    [{ version: 2 }, 'version'],
    [{ tagRules: ['code'] }, 'tagRules'],
    [
      { contentPatterns: { modules: { work: { keywords: [''] } } } },
      'contentPatterns.modules.work.keywords[0]',
    ],
  ])('rejects %j at %s', (document, path) => {
    // Act
    const error = captureError(() => loadRules(document));

    // Assess
    expect(error.message).toContain(`${path}: `);
  });

  it.each(['rules', 42, ['work']])('rejects a document that is not an object (%j)', (document) => {
    // Act & Assess
    expect(() => loadRules(document)).toThrow(InvalidInputError);
  });
});
