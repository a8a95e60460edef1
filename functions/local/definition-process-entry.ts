/**
 * The child side of `synthesizeDefinitionApart`: synthesizes the definition with the options in
 * argv[2], checks that the local runner's interpreter accepts it, and sends it, or the error, to the
 * parent over IPC.
 */
import { MigrationError } from '../errors.js';
import type { DefinitionAnswer } from './definition-process.js';
import { validateForLocalExecution } from './local-execution.js';
import { type LoadDefinitionOptions, loadSynthesizedDefinition } from './state-machine-definition.js';

const options = JSON.parse(process.argv[2] ?? '{}') as LoadDefinitionOptions;
let answer: DefinitionAnswer;
try {
  const definition = await loadSynthesizedDefinition(options);
  // Checked once here, so that the runs reading it from the cache need not check it again.
  validateForLocalExecution(definition);
  answer = { definition };
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  answer = {
    error: {
      name: e.name,
      message: e.message,
      context: e instanceof MigrationError ? e.context : {},
      stack: e.stack,
    },
  };
}
process.send?.(answer, () => process.disconnect());
