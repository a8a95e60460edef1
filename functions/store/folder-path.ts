import { resolve, sep } from 'node:path';
import { InvalidInputError } from '../errors.js';

/**
 * Where a key of a folder-backed store lives under its root. Keys come from run ids and user input
 * (`--snapshot`), so one that would climb out of the root (`../…`, an absolute path) is refused.
 */
export function pathWithin(root: string, key: string, store: string): string {
  const path = resolve(root, key);
  if (path !== root && !path.startsWith(root + sep)) {
    throw new InvalidInputError(`key escapes the ${store}: ${key}`, { context: { key } });
  }
  return path;
}
