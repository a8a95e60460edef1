import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/errors.js';
import { synthesizeDefinitionApart } from '../../functions/local/definition-process.js';
import { loadSynthesizedDefinition } from '../../functions/local/state-machine-definition.js';

const CONCURRENCY = 'bigmemory-migration:maxConcurrency';

/** The URLs of every module `entry` loads, ESM and CommonJS, seen by a resolve hook in a fresh process. */
async function modulesLoadedBy(entry: URL): Promise<string[]> {
  const script = `import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
await import(${JSON.stringify(entry.href)});
console.log(JSON.stringify([...seen]));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as string[];
}

describe('Function: synthesizeDefinitionApart', () => {
  it('returns from a child process the definition this process synthesizes, options applied', async () => {
    // Prepare
    const options = { bucket: 'runs-bucket-apart', context: { [CONCURRENCY]: 3 } };

    // Act
    const [apart, here] = await Promise.all([
      synthesizeDefinitionApart(options),
      loadSynthesizedDefinition(options),
    ]);

    // Assess
    expect(apart).toEqual(here);
    expect(apart.States.MigrateBatches?.MaxConcurrency).toBe(3);
    expect(apart.States.MigrateBatches?.ItemReader?.Parameters).toMatchObject({
      Bucket: 'runs-bucket-apart',
    });
  });

  it("rethrows the child's InvalidInputError with its message", async () => {
    // Act
    const failure = synthesizeDefinitionApart({ context: { [CONCURRENCY]: 0 } });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toThrow(`Context ${CONCURRENCY} must be a positive integer`);
  });

  it('keeps aws-cdk-lib out of the local runner, which only the child loads', async () => {
    // Act
    const [runner, synthesis] = await Promise.all([
      modulesLoadedBy(new URL('../../scripts/cli/local-migration.ts', import.meta.url)),
      modulesLoadedBy(new URL('../../functions/local/definition-process-entry.ts', import.meta.url)),
    ]);

    // Assess
    const cdk = (urls: string[]) => urls.filter((url) => url.includes('/node_modules/aws-cdk-lib/'));
    expect(runner.some((url) => url.endsWith('/functions/local/definition-process.ts'))).toBe(true);
    expect(cdk(runner)).toEqual([]);
    expect(cdk(synthesis).length).toBeGreaterThan(0);
  }, 60_000);
});
