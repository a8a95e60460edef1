/**
 * npm run eval:classify [-- --split dev|test|both] [--confusions N]
 *
 * Scores the migration's classifier and, as a baseline, the original script's rules on the labelled
 * corpus's dev and test splits: accuracy overall and per difficulty, per-module precision and
 * recall, the confusion matrix, the fallback share and the share each rule kind decided. The last
 * line is `classify: test accuracy X%, fallback Y%` for the migration's classifier.
 */
import './require-node.cjs';
import { pathToFileURL } from 'node:url';
import { classifyMemory } from '../functions/core/classify.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../functions/core/modules.js';
import { loadRules } from '../functions/core/rules.js';
import type { SourceMemory } from '../functions/core/types.js';
import { guideRulesModule } from './classify/guide-rules.js';
import { type LabelledMemory, readSplit, type SplitName } from './classify/labelled-memories.js';
import { parseFlags, runCli } from './cli/database-flags.js';

interface Outcome {
  memory: LabelledMemory;
  module: string;
  kind: string;
}

const pct = (part: number, whole: number) => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);

export function toSourceMemory(memory: LabelledMemory): SourceMemory {
  const at = new Date('2024-01-01T00:00:00.000Z');
  return {
    id: memory.id,
    userId: 'eval',
    content: memory.content,
    contentHash: null,
    embedding: null,
    title: null,
    summary: null,
    tags: memory.tags,
    source: null,
    sourceMetadata: memory.sourceMetadata,
    createdAt: at,
    updatedAt: at,
    accessedAt: null,
    accessCount: 0,
  };
}

function report(
  title: string,
  outcomes: readonly Outcome[],
  modules: readonly string[],
): { accuracy: number; fallback: number } {
  const n = outcomes.length;
  const correct = outcomes.filter((o) => o.module === o.memory.label).length;
  const lenient = outcomes.filter(
    (o) => o.module === o.memory.label || o.module === o.memory.altLabel,
  ).length;
  const fallback = outcomes.filter((o) => o.kind === 'fallback').length;
  const lines = [`## ${title} (${n} memories)`];
  lines.push(
    `accuracy ${pct(correct, n)} (alt label accepted: ${pct(lenient, n)}), fallback ${pct(fallback, n)}`,
  );
  const byDifficulty = ['easy', 'medium', 'hard']
    .map((d) => {
      const group = outcomes.filter((o) => o.memory.difficulty === d);
      return `${d} ${pct(group.filter((o) => o.module === o.memory.label).length, group.length)} of ${group.length}`;
    })
    .join(', ');
  lines.push(`by difficulty: ${byDifficulty}`);
  const kinds = new Map<string, number>();
  for (const o of outcomes) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
  lines.push(
    `decided by: ${[...kinds]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, count]) => `${kind} ${pct(count, n)}`)
      .join(', ')}`,
  );
  lines.push('module         precision  recall  support');
  for (const module of modules) {
    const predicted = outcomes.filter((o) => o.module === module);
    const actual = outcomes.filter((o) => o.memory.label === module);
    const hits = predicted.filter((o) => o.memory.label === module).length;
    lines.push(
      `${module.padEnd(14)} ${pct(hits, predicted.length).padStart(9)}  ${pct(hits, actual.length).padStart(6)}  ${String(actual.length).padStart(7)}`,
    );
  }
  const short = (m: string) => m.slice(0, 6);
  lines.push(`confusion (rows: label, columns: chosen)`);
  lines.push(`${''.padEnd(14)}${modules.map((m) => short(m).padStart(7)).join('')}`);
  for (const label of modules) {
    const row = modules.map((chosen) =>
      String(outcomes.filter((o) => o.memory.label === label && o.module === chosen).length).padStart(7),
    );
    lines.push(`${label.padEnd(14)}${row.join('')}`);
  }
  console.log(lines.join('\n'));
  return { accuracy: correct / n, fallback: fallback / n };
}

function topConfusions(outcomes: readonly Outcome[], count: number): string {
  const pairs = new Map<string, number>();
  for (const o of outcomes) {
    if (o.module === o.memory.label) continue;
    const key = `${o.memory.label} → ${o.module}`;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
  }
  return [...pairs]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, count)
    .map(([pair, n]) => `${pair} ${n}`)
    .join('; ');
}

const USAGE = `usage: npm run eval:classify [-- options]

Scores the offline classifier and, as a baseline, the guide's original rules on the labelled
corpus's dev and test splits: accuracy overall and by difficulty, precision and recall per module,
the confusion matrix, the fallback share and the share each rule kind decided.

  --split dev|test|both   which split(s) to score (default: both)
  --confusions <n>        how many of the most common confusions to list (default: 10)
  --help                  this text

Example: npm run eval:classify -- --split test`;

async function main(): Promise<number> {
  const values = parseFlags({
    split: { type: 'string', default: 'both' },
    confusions: { type: 'string', default: '10' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const splits: SplitName[] = values.split === 'both' ? ['dev', 'test'] : [values.split as SplitName];
  const rules = loadRules();
  const modules = [...MODULE_IDS];
  const training = rules.textModel?.document.training as { devAccuracyTrainOnly?: number } | undefined;
  if (training?.devAccuracyTrainOnly !== undefined) {
    console.log(
      `text model alone, fitted on train only, on dev: ${(100 * training.devAccuracyTrainOnly).toFixed(1)}% (the honest dev figure; the shipped model was refitted on train and dev)`,
    );
  }
  let last = { accuracy: 0, fallback: 0 };
  for (const split of splits) {
    const memories = readSplit(split);
    const ours: Outcome[] = memories.map((memory) => {
      const decision = classifyMemory(toSourceMemory(memory), rules, undefined, modules);
      return { memory, module: decision.module, kind: decision.rule.split(':', 1)[0] ?? '' };
    });
    const guide: Outcome[] = memories.map((memory) => ({ memory, ...guideRulesModule(memory) }));
    const note =
      split === 'dev'
        ? " — tuned on, and part of the shipped model's training"
        : ' — never trained or tuned on';
    console.log(`\n# ${split}${note}`);
    last = report(`${split}: migration classifier`, ours, modules);
    console.log(`most common confusions: ${topConfusions(ours, Number(values.confusions))}`);
    report(`${split}: original script's rules (baseline)`, guide, modules);
  }
  const split = splits[splits.length - 1];
  console.log(
    `classify: ${split} accuracy ${(100 * last.accuracy).toFixed(1)}%, fallback ${(100 * last.fallback).toFixed(1)}%`,
  );
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(main);
