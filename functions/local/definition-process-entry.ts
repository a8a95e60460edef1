/**
 * The child side of `synthesizeDefinitionApart`: synthesizes the definition with the options in
 * argv[2] and sends it, or the error, to the parent over IPC.
 */
import { MigrationError } from '../errors.js';
import type { DefinitionAnswer } from './definition-process.js';
import { type LoadDefinitionOptions, loadSynthesizedDefinition } from './state-machine-definition.js';

const options = JSON.parse(process.argv[2] ?? '{}') as LoadDefinitionOptions;
let answer: DefinitionAnswer;
try {
  answer = { definition: await loadSynthesizedDefinition(options) };
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
