/**
 * The benchmark's killed migration (`scripts/bench-limits.ts`, `killedRun`): one run through the
 * steps in a process of its own, so the parent can SIGKILL it mid-batches. Not a command of its
 * own: its one argument is the JSON the parent passes.
 */
import './require-node.cjs';
import { runSteps } from '../dev/support/run-steps.js';
import { FileRunStore } from '../functions/store/run-store.js';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  sourceUrl: string;
  targetUrl: string;
  input: Record<string, unknown>;
  concurrency: number;
  store: string;
};
const { runtime } = await runSteps({
  store: new FileRunStore(options.store),
  sourceUrl: options.sourceUrl,
  targetUrl: options.targetUrl,
  input: options.input,
  concurrency: options.concurrency,
});
await runtime.close();
