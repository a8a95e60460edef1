/**
 * Classification rules are data (docs/design.md, "Classification"): `rules/default-rules.json`, optionally overlaid by a
 * user's rules document. Both are validated here and compiled once (regexes included), so the
 * classifier's hot loop only looks things up.
 */
import { z } from 'zod';
import { InvalidInputError, PreflightError } from '../errors.js';
import { inModuleOrder, type ModuleRegistry } from './modules.js';
import defaultRulesDocument from './rules/default-rules.json' with { type: 'json' };
import shippedTextModel from './rules/text-model.json' with { type: 'json' };
import { parseTextModel, type TextModel } from './text-model.js';
import type { ModuleId } from './types.js';

/** A module id of the target's registry (or its table's stem): checked against it in `loadRules`. */
const moduleId = z.string().trim().min(1);

const contentModuleSchema = z.strictObject({
  /** Regex sources, compiled case-insensitive and multi-line (`^` matches at every line start). */
  patterns: z.array(z.string().min(1)),
  /** Whole words or phrases, matched case-insensitively. */
  keywords: z.array(z.string().min(1)),
});

const centroidSchema = z.strictObject({
  enabled: z.boolean(),
  minSimilarity: z.number().min(-1).max(1),
  minMargin: z.number().min(0).max(2),
  maxSamplesPerModule: z.number().int().positive(),
});

const rulesDocumentSchema = z.strictObject({
  version: z.literal(1),
  description: z.string().optional(),
  typeRules: z.record(z.string(), moduleId),
  categoryAliases: z.record(z.string(), moduleId),
  tagRules: z.record(z.string(), moduleId),
  contentPatterns: z.strictObject({
    minScore: z.number().positive(),
    modules: z.record(moduleId, contentModuleSchema),
  }),
  fallback: moduleId,
  centroid: centroidSchema,
});

type RulesDocument = z.infer<typeof rulesDocumentSchema>;
type CentroidRules = z.infer<typeof centroidSchema>;

/**
 * A user's overlay: every part optional. Map entries add or override one key each (`null` removes a
 * default). Content patterns and keywords are appended to the defaults unless `replace` is true.
 */
const userRulesDocumentSchema = z.strictObject({
  version: z.literal(1).optional(),
  description: z.string().optional(),
  typeRules: z.record(z.string(), moduleId.nullable()).optional(),
  categoryAliases: z.record(z.string(), moduleId.nullable()).optional(),
  tagRules: z.record(z.string(), moduleId.nullable()).optional(),
  contentPatterns: z
    .strictObject({
      minScore: z.number().positive().optional(),
      modules: z
        .record(
          moduleId,
          z.strictObject({
            patterns: z.array(z.string().min(1)).optional(),
            keywords: z.array(z.string().min(1)).optional(),
            replace: z.boolean().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  fallback: moduleId.optional(),
  centroid: centroidSchema.partial().optional(),
});

type UserRulesDocument = z.infer<typeof userRulesDocumentSchema>;

/** One compiled content signal; `label` is how evidence names it (`/regex/` or `"keyword"`). */
export interface ContentMatcher {
  label: string;
  regex: RegExp;
  /**
   * Set for a keyword of ASCII word characters only (most of them), lower-cased: its regex then
   * matches exactly when the text has that word (see `contentWords`), so one scan of the text
   * answers all such keywords instead of one regex scan each.
   */
  word?: string;
}

const ASCII_WORD = /^\w+$/;

/**
 * Calls `onRun(start, end)` for each maximal run of ASCII word characters (`\w` without the `u`
 * flag) in the text, in order, while it returns true. A scan of char codes: no match arrays and
 * no substrings for runs the caller skips.
 */
export function forEachWordRun(text: string, onRun: (start: number, end: number) => boolean): void {
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0;
    const isWord = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
    if (isWord) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      if (!onRun(start, i)) return;
      start = -1;
    }
  }
}

/**
 * The text's maximal runs of ASCII word characters, lower-cased. A keyword regex
 * `(?<!\w)kw(?!\w)` with flag `i` and an all-`\w` keyword matches exactly when its lower case is
 * one of these: `\w` is ASCII, and case-insensitive matching never maps a non-ASCII character onto
 * an ASCII one. Lower-casing each ASCII run (not the whole text) keeps characters like "İ", whose
 * lower case is two characters, out of it.
 */
export function contentWords(text: string): Set<string> {
  const words = new Set<string>();
  forEachWordRun(text, (start, end) => {
    words.add(text.slice(start, end).toLowerCase());
    return true;
  });
  return words;
}

export interface CompiledRules {
  /** The merged document, for the report. */
  document: RulesDocument;
  /** Keys trimmed and lower-cased. */
  typeRules: ReadonlyMap<string, ModuleId>;
  categoryAliases: ReadonlyMap<string, ModuleId>;
  tagRules: ReadonlyMap<string, ModuleId>;
  content: {
    minScore: number;
    modules: ReadonlyArray<{ module: ModuleId; matchers: readonly ContentMatcher[] }>;
  };
  fallback: ModuleId;
  centroid: CentroidRules;
  /** The learned text model consulted after the rules; null when turned off. */
  textModel: TextModel | null;
}

let shipped: TextModel | null = null;

/** The model shipped with the migration (`npm run train:classify` writes it), parsed once. */
function shippedModel(): TextModel {
  shipped ??= parseTextModel(shippedTextModel, 'functions/core/rules/text-model.json');
  return shipped;
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    text += typeof part === 'number' ? `[${part}]` : `${text === '' ? '' : '.'}${String(part)}`;
  }
  return text === '' ? '(root)' : text;
}

interface RulesIssue {
  path: string;
  message: string;
}

function describeIssues(error: z.ZodError): RulesIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const message = formatPath(issue.path).endsWith('modules') ? 'unknown module id' : 'unknown key';
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message }));
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

function invalidRules(origin: string, issues: RulesIssue[]): InvalidInputError {
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new InvalidInputError(`invalid ${origin}: ${summary}`, { context: { origin, issues } });
}

function mergeMap(
  base: Record<string, ModuleId>,
  overlay: Record<string, ModuleId | null> | undefined,
): Record<string, ModuleId> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(overlay ?? {})) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function mergeDocuments(base: RulesDocument, user: UserRulesDocument): RulesDocument {
  const modules = { ...base.contentPatterns.modules };
  for (const [module, overlay] of Object.entries(user.contentPatterns?.modules ?? {})) {
    const current = overlay.replace
      ? { patterns: [], keywords: [] }
      : (modules[module] ?? { patterns: [], keywords: [] });
    modules[module] = {
      patterns: [...new Set([...current.patterns, ...(overlay.patterns ?? [])])],
      keywords: [...new Set([...current.keywords, ...(overlay.keywords ?? [])])],
    };
  }
  return {
    version: base.version,
    ...(user.description !== undefined ? { description: user.description } : {}),
    typeRules: mergeMap(base.typeRules, user.typeRules),
    categoryAliases: mergeMap(base.categoryAliases, user.categoryAliases),
    tagRules: mergeMap(base.tagRules, user.tagRules),
    contentPatterns: { minScore: user.contentPatterns?.minScore ?? base.contentPatterns.minScore, modules },
    fallback: user.fallback ?? base.fallback,
    centroid: { ...base.centroid, ...user.centroid },
  };
}

function normalisedMap(entries: Record<string, ModuleId>): Map<string, ModuleId> {
  return new Map(Object.entries(entries).map(([key, module]) => [key.trim().toLowerCase(), module]));
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The document with every module named as the target's registry names it (a rules file may use a
 * module's table stem, e.g. `project_management` for `project-management`). A module the target
 * lacks is refused here, in Preflight, rather than failing batches later.
 */
function resolveModules(document: RulesDocument, registry: ModuleRegistry, origin: string): RulesDocument {
  const unknown: RulesIssue[] = [];
  const resolve = (name: string, path: PropertyKey[]) => {
    const module = registry.resolve(name);
    if (!module) unknown.push({ path: formatPath(path), message: `module "${name}"` });
    return module?.id ?? name;
  };
  const resolveMap = (map: Record<string, ModuleId>, key: string) =>
    Object.fromEntries(Object.entries(map).map(([k, m]) => [k, resolve(m, [key, k])]));
  const resolved: RulesDocument = {
    ...document,
    typeRules: resolveMap(document.typeRules, 'typeRules'),
    categoryAliases: resolveMap(document.categoryAliases, 'categoryAliases'),
    tagRules: resolveMap(document.tagRules, 'tagRules'),
    contentPatterns: {
      minScore: document.contentPatterns.minScore,
      modules: Object.fromEntries(
        Object.entries(document.contentPatterns.modules).map(([m, entry]) => [
          resolve(m, ['contentPatterns', 'modules', m]),
          entry,
        ]),
      ),
    },
    fallback: resolve(document.fallback, ['fallback']),
  };
  if (unknown.length > 0) {
    throw new PreflightError(
      `The ${origin} routes to module(s) the target's memory_modules registry lacks: ${unknown.map((u) => `${u.message} (${u.path})`).join('; ')}. The target has ${registry.ids.join(', ')}: change those entries (a rules file can set a default's entry to null to drop it; --rules / "rules") or register the module in Federated Memory.`,
      { context: { origin, issues: unknown, registered: registry.ids } },
    );
  }
  return resolved;
}

function compileContent(document: RulesDocument, origin: string): CompiledRules['content'] {
  const issues: RulesIssue[] = [];
  // Content ties break in this order, whatever the file's.
  const modules = inModuleOrder(Object.keys(document.contentPatterns.modules)).flatMap((module) => {
    const entry = document.contentPatterns.modules[module];
    if (!entry) return [];
    const matchers: ContentMatcher[] = [];
    entry.patterns.forEach((source, index) => {
      try {
        matchers.push({ label: `/${source}/`, regex: new RegExp(source, 'im') });
      } catch (error) {
        issues.push({
          path: formatPath(['contentPatterns', 'modules', module, 'patterns', index]),
          message: `not a valid regular expression (${(error as Error).message})`,
        });
      }
    });
    // Lookarounds instead of \b so keywords starting or ending in a symbol ("c++", "@here") still work.
    for (const keyword of entry.keywords) {
      const trimmed = keyword.trim();
      const source = `(?<!\\w)${escapeRegex(trimmed)}(?!\\w)`;
      matchers.push({
        label: `"${trimmed}"`,
        regex: new RegExp(source, 'i'),
        ...(ASCII_WORD.test(trimmed) ? { word: trimmed.toLowerCase() } : {}),
      });
    }
    return matchers.length > 0 ? [{ module, matchers }] : [];
  });
  if (issues.length > 0) throw invalidRules(origin, issues);
  return { minScore: document.contentPatterns.minScore, modules };
}

function compile(document: RulesDocument, origin: string, textModel: TextModel | null): CompiledRules {
  return {
    document,
    typeRules: normalisedMap(document.typeRules),
    categoryAliases: normalisedMap(document.categoryAliases),
    tagRules: normalisedMap(document.tagRules),
    content: compileContent(document, origin),
    fallback: document.fallback,
    centroid: document.centroid,
    textModel,
  };
}

function parseDefaults(): RulesDocument {
  const parsed = rulesDocumentSchema.safeParse(defaultRulesDocument);
  if (!parsed.success) throw invalidRules('default rules document', describeIssues(parsed.error));
  return parsed.data;
}

/**
 * The default rules, overlaid by `userRules` when given (a parsed JSON value from a rules file).
 * Throws `InvalidInputError` naming every bad path (unknown keys, bad regexes), and, given the
 * target's registry, `PreflightError` naming every module it lacks.
 */
export function loadRules(
  userRules?: unknown,
  options: { textModel?: TextModel | null; registry?: ModuleRegistry } = {},
): CompiledRules {
  const defaults = parseDefaults();
  const textModel = options.textModel === undefined ? shippedModel() : options.textModel;
  let document = defaults;
  let origin = 'default rules document';
  if (userRules !== undefined && userRules !== null) {
    const parsed = userRulesDocumentSchema.safeParse(userRules);
    if (!parsed.success) throw invalidRules('rules document', describeIssues(parsed.error));
    document = mergeDocuments(defaults, parsed.data);
    origin = 'rules document';
  }
  const resolved = options.registry ? resolveModules(document, options.registry, origin) : document;
  return compile(resolved, origin, textModel);
}
