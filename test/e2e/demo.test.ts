import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultTargetVariant } from '../../dev/harness/databases.js';

const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));
const VARIANT = defaultTargetVariant();

describe(`End to end: npm run demo (${VARIANT} target)`, () => {
  it('starts its own services, dry-runs and migrates a sample, and prints the module statistics', async () => {
    // Prepare
    const reports = await mkdtemp(join(tmpdir(), 'demo-reports-'));

    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', DEMO, '--memories', '150', '--target', VARIANT, '--reports-dir', reports],
      {
        env: { ...process.env, FEDERATED_TARGET_VARIANT: '' },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 240_000,
      },
    );

    // Assess
    expect(stdout).toMatch(/== Dry run/);
    expect(stdout).toMatch(/== Migration/);
    expect(stdout).toMatch(/Federated Memory after the migration:/);
    const total = stdout.split('\n').find((line) => line.startsWith('total'));
    expect(Number(total?.trim().split(/\s+/)[1])).toBeGreaterThan(100);
    // The newest schema lists its two extra modules, empty under the default rules.
    if (VARIANT === 'newest') expect(stdout).toMatch(/project-management\s+0/);
    else expect(stdout).not.toMatch(/project-management/);
  }, 300_000);
});
