// First: on an older Node this stops with one line naming the Node needed.
import './scripts/require-node.cjs';
import { defineConfig } from 'vitest/config';

// Every test that writes a Federated Memory target runs against both real variants of its schema
// (see dev/fixtures): the whole suite against the newest, and the paths that write a target
// (integration and end-to-end) once more against the older install's schema.
export default defineConfig({
  test: {
    // Generous: a timeout is a hang detector here, not a speed goal (those live in the benchmarks).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Two cores: two forked workers, each file in its own process, leave PostgreSQL room to work.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'newest',
          include: ['test/**/*.test.ts'],
          globalSetup: ['dev/harness/global-setup.ts'],
          env: { FEDERATED_TARGET_VARIANT: 'newest' },
        },
      },
      {
        extends: true,
        test: {
          name: 'older',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['dev/harness/global-setup.ts'],
          env: { FEDERATED_TARGET_VARIANT: 'older' },
        },
      },
    ],
  },
});
