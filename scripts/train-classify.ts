/**
 * npm run train:classify [-- --labels file.jsonl] [--out model.json]
 *
 * Trains the text model that classifies memories no metadata decides, and writes it as a versioned
 * JSON document (by default the one the migration ships). Without --labels it learns from the
 * repository's corpus: tuned on the dev split, refitted on train and dev; the test split is never
 * read. With --labels it learns from your own labelled sample instead (one JSON object per line
 * with at least "content" and "label"; "tags" and "source_metadata" help), holding a fifth of it
 * out to tune on.
 */
import './require-node.cjs';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../functions/core/modules.js';
import { loadRules } from '../functions/core/rules.js';
import { InvalidInputError } from '../functions/errors.js';
import { type LabelledMemory, readLabelled, readSplit, splitOf } from './classify/labelled-memories.js';
import { loadPriors, tuneAndTrain } from './classify/train-model.js';
import { parseFlags, runCli } from './cli/database-flags.js';

export const SHIPPED_MODEL_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '../functions/core/rules/text-model.json',
);

const USAGE = `usage: npm run train:classify [-- options]

  --labels FILE   learn from your own labelled memories (JSONL: "content", "label", optional
                  "tags", "source_metadata", "id") instead of the repository's corpus
  --modules LIST  comma-separated module ids the model chooses among (default: the labels seen)
  --out FILE      where to write the model (default: ${SHIPPED_MODEL_PATH})
  --help          this text

Example: npm run train:classify -- --labels my-memories.jsonl`;

async function main(): Promise<number> {
  const values = parseFlags({
    labels: { type: 'string' },
    modules: { type: 'string' },
    out: { type: 'string', default: SHIPPED_MODEL_PATH },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let train: LabelledMemory[];
  let dev: LabelledMemory[];
  let source: string;
  if (values.labels) {
    const all = readLabelled(values.labels);
    // The sample's own dev share: the corpus's dev bucket, so a fifth is held out for tuning.
    dev = all.filter((m) => splitOf(m.id) === 'dev');
    train = all.filter((m) => splitOf(m.id) !== 'dev');
    source = values.labels;
  } else {
    train = readSplit('train');
    dev = readSplit('dev');
    source = 'the repository corpus (train, dev)';
  }
  const modules = values.modules
    ? values.modules
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m !== '')
    : [
        ...new Set([
          ...MODULE_IDS.filter((m) => train.some((t) => t.label === m)),
          ...train.map((t) => t.label),
        ]),
      ];
  const unknown = [...new Set([...train, ...dev].map((m) => m.label))].filter((l) => !modules.includes(l));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `labels ${unknown.join(', ')} are not among --modules ${modules.join(',')}: add them to --modules or fix the labels`,
    );
  }
  if (modules.length < 2 || train.length < 10 || dev.length < 2) {
    throw new InvalidInputError(
      `${source}: need at least 2 modules and a dozen labelled memories (found ${train.length + dev.length})`,
    );
  }
  const fallback = loadRules().fallback;
  console.log(
    `training on ${train.length} memories, tuning on ${dev.length} (${source}); modules ${modules.join(', ')}`,
  );
  const result = tuneAndTrain({
    train,
    dev,
    final: [...train, ...dev],
    modules,
    fallback: modules.includes(fallback) ? fallback : (modules[0] as string),
    priors: loadPriors(modules),
    log: (line) => console.log(line),
  });
  const document = {
    ...result.document,
    description: 'Text model for memories no metadata decides; written by npm run train:classify.',
    training: {
      source,
      trainMemories: train.length,
      devMemories: dev.length,
      devAccuracyTrainOnly: Math.round(result.devAccuracy * 1000) / 1000,
      options: result.options,
      refittedOn: 'train+dev',
    },
  };
  writeFileSync(values.out, `${JSON.stringify(document)}\n`);
  console.log(
    `wrote ${values.out}: ${Object.keys(document.features).length} features, ${modules.length} modules`,
  );
  return 0;
}

runCli(main);
