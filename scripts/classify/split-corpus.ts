/**
 * npm run corpus:split -- FILE...
 *
 * Splits labelled corpus files once into data/classification/{train,dev,test}.jsonl by a hash of
 * each id (60/20/20), so an item's split never depends on file order or on what else is added.
 */
import '../require-node.cjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR, readLabelled, SPLITS, splitOf } from './labelled-memories.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npm run corpus:split -- FILE...');
  process.exit(1);
}
const lines = new Map<string, string>();
for (const file of files) {
  const ids = new Set(readLabelled(file, { tolerant: true }).map((m) => m.id));
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let id: unknown;
    try {
      id = (JSON.parse(line) as { id?: unknown }).id;
    } catch {
      continue;
    }
    if (typeof id === 'string' && ids.has(id) && !lines.has(id)) lines.set(id, line);
  }
}
const sorted = [...lines.keys()].sort();
for (const split of SPLITS) {
  const chosen = sorted.filter((id) => splitOf(id) === split).map((id) => lines.get(id));
  writeFileSync(join(CORPUS_DIR, `${split}.jsonl`), `${chosen.join('\n')}\n`);
  console.log(`${split}: ${chosen.length}`);
}
