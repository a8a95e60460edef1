/**
 * What a person should do after reading the report: the real-run command after a dry run, the
 * hint after a failure. Kept apart from the numbers because it changes with the CLI and the console.
 * What to do about a failure is the error contract's hint, never worded again here.
 */
import { hintFor } from '../../error-contract.js';

export interface NextStep {
  text: string;
  /** A command or execution input to copy, shown verbatim. */
  code?: string;
  /** How to read `code`: a shell command (the default) or JSON. */
  language?: 'sh' | 'json';
}

/** The execution input's default batch size: the command leaves it out when unchanged. */
const DEFAULT_BATCH_SIZE = 500;

function migrateCommand(options: Record<string, unknown>, dryRun: boolean): string {
  const flags: string[] = [];
  if (dryRun) flags.push('--dry-run');
  if (options.preserveEmbeddings === true) flags.push('--preserve-embeddings');
  if (typeof options.batchSize === 'number' && options.batchSize !== DEFAULT_BATCH_SIZE) {
    flags.push(`--batch-size ${options.batchSize}`);
  }
  if (options.userMap === true) flags.push('--user-map <your user map file>');
  return flags.length > 0 ? `npm run migrate:bigmemory -- ${flags.join(' ')}` : 'npm run migrate:bigmemory';
}

function executionInput(options: Record<string, unknown>): string {
  const input: Record<string, unknown> = { dryRun: false };
  for (const key of ['preserveEmbeddings', 'batchSize', 'createUsers', 'mergeOnEmail'] as const) {
    if (options[key] !== undefined) input[key] = options[key];
  }
  return JSON.stringify(input);
}

export interface GuidanceFacts {
  /** The fallback-share warning of the classification section, if any. */
  classificationWarning?: string | null;
  dryRun: boolean;
  failed: boolean;
  hint: string | null;
  options: Record<string, unknown>;
  rejected: number;
  unmappedUsers: number;
  conflicts: number;
  verification: { ok: boolean; failedChecks: string[] } | null;
  /** The exact commands (every flag the run had); built from the options alone when absent. */
  commands?: { rerun: string; realRun: string } | null;
}

export function nextSteps(facts: GuidanceFacts): NextStep[] {
  const steps: NextStep[] = [];
  if (facts.failed) {
    if (facts.hint) steps.push({ text: facts.hint });
    steps.push({
      text: 'Then start the run again:',
      code: facts.commands?.rerun ?? migrateCommand(facts.options, facts.dryRun),
    });
    return steps;
  }
  if (facts.classificationWarning) steps.push({ text: facts.classificationWarning });
  if (facts.rejected > 0) {
    steps.push({
      text: `Review the ${facts.rejected} rejected memories: the reasons are above, every decision is in decisions.jsonl.gz.`,
    });
  }
  if (facts.unmappedUsers > 0) {
    steps.push({
      text: `${facts.unmappedUsers} users have no target user and their memories were rejected: map them (a user map), create them (drop --no-create-users), or resolve their email conflicts (mergeOnEmail, placeholderEmailDomain).`,
    });
  }
  if (facts.dryRun) {
    steps.push({
      text: 'Run the real migration:',
      code: facts.commands?.realRun ?? migrateCommand(facts.options, false),
    });
    steps.push({
      text: 'Or start an execution of the state machine in the console with:',
      code: executionInput(facts.options),
      language: 'json',
    });
    return steps;
  }
  if (!facts.verification) {
    steps.push({ text: 'Verification did not run: check the target before relying on it.' });
  } else if (facts.verification.ok) {
    steps.push({
      text: 'Verification passed: the target reconciles with the source. Spot-check a few searches.',
    });
  } else {
    steps.push({
      text: `Verification failed (${facts.verification.failedChecks.join(', ')}): ${hintFor('VerificationError')}`,
    });
  }
  return steps;
}
