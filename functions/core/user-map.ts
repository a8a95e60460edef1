/**
 * The user map (`--user-map <file>`, `userMapS3Uri`): a JSON object whose keys are BigMemory user ids
 * or tokens and whose values are Federated Memory user ids. It overrides matching by token.
 *
 *     { "3f1c…-bigmemory-user-id": "fed-user-id", "<bigmemory token>": "other-fed-user-id" }
 *
 * The same object may sit under a `"users"` key: `{ "users": { … } }`. Keys and values are trimmed.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import type { UserMap } from './user-decisions.js';

const FORMAT_HINT =
  'Write the user map as a JSON object { "<BigMemory user id or token>": "<Federated Memory user id>" }, optionally wrapped as { "users": { … } }.';

// How many unknown entries an error message lists before it only counts the rest.
const LISTED_ENTRIES = 5;

const userMapSchema = z.record(z.string(), z.string());

/** Accepts parsed JSON or JSON text; throws InvalidInputError naming the bad entry and the fix. */
export function parseUserMap(json: unknown): UserMap {
  const value = typeof json === 'string' ? parseJsonText(json) : json;
  const entries = unwrap(value);
  const parsed = userMapSchema.safeParse(entries);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0];
    if (key === undefined) {
      throw new InvalidInputError(
        `The user map is not a JSON object (${describe(entries)}). ${FORMAT_HINT}`,
        {
          context: { issue: issue?.message },
        },
      );
    }
    const got = describe((entries as Record<string, unknown>)[String(key)]);
    throw new InvalidInputError(
      `User map entry "${String(key)}" must map to a Federated Memory user id (a non-empty string), got ${got}. ${FORMAT_HINT}`,
      { context: { entry: String(key) } },
    );
  }
  const map = new Map<string, string>();
  for (const [rawKey, rawValue] of Object.entries(parsed.data)) {
    const key = rawKey.trim();
    const target = rawValue.trim();
    if (key === '') {
      throw new InvalidInputError(`The user map has an empty key (mapped to "${target}"). ${FORMAT_HINT}`, {
        context: { entry: rawKey },
      });
    }
    if (target === '') {
      throw new InvalidInputError(
        `User map entry "${key}" maps to an empty Federated Memory user id. ${FORMAT_HINT}`,
        { context: { entry: key } },
      );
    }
    if (map.has(key) && map.get(key) !== target) {
      throw new InvalidInputError(
        `User map key "${key}" appears twice (after trimming) with different targets "${map.get(key)}" and "${target}". Keep one.`,
        { context: { entry: key } },
      );
    }
    map.set(key, target);
  }
  return map;
}

export interface KnownUsers {
  sourceUserIds: Iterable<string>;
  sourceTokens: Iterable<string>;
  targetUserIds: Iterable<string>;
}

/**
 * Every key must name a BigMemory user (by id or token) and every value an existing Federated
 * Memory user. Called before anything is written, so a typo stops the run instead of sending
 * memories to the wrong place or failing on a foreign key half-way.
 */
export function validateUserMap(map: UserMap, known: KnownUsers): void {
  const sources = new Set([...known.sourceUserIds, ...known.sourceTokens]);
  const targets = new Set(known.targetUserIds);
  const unknownSources = [...map.keys()].filter((key) => !sources.has(key));
  const unknownTargets = [...new Set([...map.values()].filter((id) => !targets.has(id)))];
  if (unknownSources.length === 0 && unknownTargets.length === 0) return;

  const problems: string[] = [];
  if (unknownTargets.length > 0) {
    problems.push(
      `${unknownTargets.length} target user id(s) do not exist in Federated Memory: ${listed(unknownTargets)}`,
    );
  }
  if (unknownSources.length > 0) {
    problems.push(
      `${unknownSources.length} key(s) are neither a BigMemory user id nor a token: ${listed(unknownSources)}`,
    );
  }
  throw new InvalidInputError(
    `The user map does not match the databases; nothing was written. ${problems.join('; ')}. Fix or remove those entries and run again.`,
    {
      context: {
        unknownTargetUserIds: unknownTargets.slice(0, LISTED_ENTRIES),
        unknownTargetCount: unknownTargets.length,
        unknownSourceKeys: unknownSources.slice(0, LISTED_ENTRIES),
        unknownSourceCount: unknownSources.length,
      },
    },
  );
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(
      `The user map is not valid JSON: ${(error as Error).message}. ${FORMAT_HINT}`,
      {
        cause: error,
      },
    );
  }
}

function unwrap(value: unknown): unknown {
  if (isPlainObject(value) && Object.keys(value).length === 1 && isPlainObject(value['users'])) {
    return value['users'];
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value}"`;
  return `a ${typeof value}`;
}

function listed(values: string[]): string {
  const shown = values
    .slice(0, LISTED_ENTRIES)
    .map((v) => `"${v}"`)
    .join(', ');
  return values.length > LISTED_ENTRIES ? `${shown} and ${values.length - LISTED_ENTRIES} more` : shown;
}
