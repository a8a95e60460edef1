import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ErrorContext, InvalidInputError, MigrationError } from '../errors.js';
import type { AslDefinition } from './asl-definition.js';
import { cachedDefinition, definitionCacheKey, storeDefinition } from './definition-cache.js';
import type { LoadDefinitionOptions } from './state-machine-definition.js';

/** What the child sends back over IPC: the definition, or the error that stopped it. */
export type DefinitionAnswer =
  | { definition: AslDefinition }
  | { error: { name: string; message: string; context: ErrorContext; stack?: string } };

/**
 * `loadSynthesizedDefinition` run in a child process. Synthesizing loads aws-cdk-lib and builds
 * the whole app, and a process never gives that memory back (docs/performance.md), even after a
 * forced collection. The local runner then carried it
 * through every batch; here the child takes it away when it exits. The child runs the same
 * TypeScript through tsx, a dependency of every local entry point. What it returns has passed
 * `validateForLocalExecution`.
 */
export async function synthesizeDefinitionApart(options: LoadDefinitionOptions = {}): Promise<AslDefinition> {
  const key = await definitionCacheKey(options);
  const cached = await cachedDefinition(key);
  if (cached) return cached;
  const definition = await synthesizeInChild(options);
  await storeDefinition(key, definition);
  return definition;
}

async function synthesizeInChild(options: LoadDefinitionOptions): Promise<AslDefinition> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const entry = fileURLToPath(new URL('./definition-process-entry.ts', import.meta.url));
  const child = fork(entry, [JSON.stringify(options)], {
    execArgv: ['--import', tsxLoader],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const answer = await new Promise<DefinitionAnswer | undefined>((resolve, reject) => {
    let received: DefinitionAnswer | undefined;
    child.on('message', (message) => {
      received = message as DefinitionAnswer;
    });
    child.once('error', reject);
    child.once('exit', () => resolve(received));
  });
  if (answer && 'definition' in answer) return answer.definition;
  if (answer && 'error' in answer) {
    const { name, message, context } = answer.error;
    if (name === 'InvalidInputError') throw new InvalidInputError(message, { context });
    throw new MigrationError(`Synthesizing the state machine definition failed: ${name}: ${message}`, {
      context: { ...context, stack: answer.error.stack },
    });
  }
  throw new MigrationError(
    `Synthesizing the state machine definition failed: the child process exited with ${child.signalCode ?? child.exitCode} and no answer`,
  );
}
