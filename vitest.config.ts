// First: on an older Node this stops with one line naming the Node needed.
import './scripts/require-node.cjs';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Two cores: two forked workers, each file in its own process, leave PostgreSQL room to work.
    pool: 'forks',
    maxWorkers: 2,
  },
});
