import { STEPS, type StepName } from '../steps/index.js';
import { stepHandler } from './step-handler.js';

/**
 * The step this function runs, written into its bundle by esbuild's `define`
 * (infra/constructs/migration-function.ts): one entry file serves every function, and the bundles
 * still differ, so functions that share a process locally keep their own step.
 */
declare const MIGRATION_STEP: StepName;

// The step's modules load in the function's init phase, before the first invocation's clock starts.
await STEPS[MIGRATION_STEP].work();

/** Every function's entry point: the step named at bundling time, from the registry (functions/steps/index.ts). */
export const handler = stepHandler(MIGRATION_STEP);
