import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const { REQUIRED_MAJOR } = require('../../scripts/require-node.cjs') as { REQUIRED_MAJOR: number };
// The CI image's own Node (20): what a new shell finds before `source .ci/node-env.sh`.
const OLD_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (path) =>
    existsSync(path) &&
    Number(spawnSync(path, ['-p', 'process.versions.node.split(".")[0]']).stdout.toString()) < REQUIRED_MAJOR,
);

describe('Node version check', () => {
  it('asks for the Node that package.json, CI and Lambda use', () => {
    // Prepare
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
      engines: { node: string };
      scripts: Record<string, string>;
    };
    const nodeEnv = readFileSync(`${root}.ci/node-env.sh`, 'utf8');

    // Assess
    expect(pkg.engines.node).toBe(`>=${REQUIRED_MAJOR}`);
    expect(nodeEnv).toContain(`node@${REQUIRED_MAJOR}`);
    expect(nodeEnv).toContain(`-lt ${REQUIRED_MAJOR}`);
    expect(pkg.scripts.pretest).toBe('node scripts/require-node.cjs');
    // Every tsx entry point imports the check before anything else.
    for (const [name, command] of Object.entries(pkg.scripts)) {
      const entry = /tsx (\S+\.ts)/.exec(command)?.[1];
      if (!entry) continue;
      const firstImport = readFileSync(`${root}${entry}`, 'utf8')
        .split('\n')
        .find((line) => line.startsWith('import '));
      expect(firstImport, name).toMatch(/^import '(\.\.\/scripts|\.\.|\.)\/require-node\.cjs';$/);
    }
  });

  it.runIf(OLD_NODE)('stops a command on an older Node with one line naming the Node needed', () => {
    // Act: an entry point as `npm run migrate:test` starts it, and the test runner's config
    const tsx = pathToFileURL(require.resolve('tsx')).href;
    const outcomes = [
      spawnSync(OLD_NODE as string, ['--import', tsx, 'scripts/migrate-test.ts'], { cwd: root }),
      spawnSync(OLD_NODE as string, ['scripts/require-node.cjs'], { cwd: root }),
    ];

    // Assess
    for (const outcome of outcomes) {
      expect(outcome.status).toBe(1);
      const lines = outcome.stderr.toString().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/needs Node\.js 24 or newer, but this is Node\.js 20\./);
      expect(lines[0]).toContain('source .ci/node-env.sh');
      expect(outcome.stdout.toString()).toBe('');
    }
  });
});
