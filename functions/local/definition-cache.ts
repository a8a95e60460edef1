/**
 * The synthesized definition, kept on disk between local runs. Synthesis loads aws-cdk-lib and
 * builds the app in a child process, about ten seconds on a small machine: a run that fails in
 * Preflight should not wait that long to say so. The key hashes the options and every file the
 * definition is built from (the CDK app, the step registry, the local runner's rewriting, the error
 * names the retries match, the locked dependency versions), so any change to them synthesizes anew.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AslDefinition } from './asl-definition.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCES = [
  'infra',
  'functions/local',
  'functions/errors.ts',
  // The step registry: the functions, and the chained steps' states, follow from it.
  'functions/steps/index.ts',
  'package-lock.json',
  'cdk.json',
];
const CACHE_DIR = join(ROOT, '.cache', 'state-machine');

async function filesUnder(path: string): Promise<string[]> {
  const full = join(ROOT, path);
  try {
    const entries = await readdir(full, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOTDIR') return [full];
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  }
}

export async function definitionCacheKey(options: unknown): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(options ?? {}));
  for (const source of SOURCES) {
    for (const file of await filesUnder(source)) {
      hash.update(file.slice(ROOT.length)).update(await readFile(file));
    }
  }
  return hash.digest('hex').slice(0, 32);
}

export async function cachedDefinition(key: string): Promise<AslDefinition | null> {
  try {
    return JSON.parse(await readFile(join(CACHE_DIR, `${key}.json`), 'utf8')) as AslDefinition;
  } catch {
    return null;
  }
}

/** Written aside and renamed, so a run never reads half a file another run is writing. */
export async function storeDefinition(key: string, definition: AslDefinition): Promise<void> {
  try {
    await mkdir(CACHE_DIR, { recursive: true });
    const aside = join(CACHE_DIR, `${key}.${process.pid}.tmp`);
    await writeFile(aside, JSON.stringify(definition));
    await rename(aside, join(CACHE_DIR, `${key}.json`));
  } catch {
    // A read-only checkout only loses the cache: the next run synthesizes again.
  }
}
