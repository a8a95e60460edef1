import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { STEPS, type StepEntry, type StepName } from '../steps/index.js';
import { lambdaHandler } from './lambda-handler.js';

/**
 * A step of the registry as a Lambda handler: its event checked against the step's schema, its
 * work loaded at the first call, its result checked before the state machine reads it.
 */
export function stepHandler(name: StepName, runtime?: () => MigrationRuntime) {
  const entry: StepEntry<never, unknown> = STEPS[name];
  // `as never`: the handler has checked the event against `entry.event`, the schema of this step.
  const work = async (clients: MigrationRuntime, event: unknown) =>
    (await entry.work())(clients, event as never);
  return lambdaHandler(name, work, { runtime, event: entry.event, result: entry.result });
}
