import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTextModel } from '../../functions/core/text-model.js';
import { InvalidInputError } from '../../functions/errors.js';
import { readLabelled, splitOf } from '../../scripts/classify/labelled-memories.js';
import { loadPriors, tuneAndTrain } from '../../scripts/classify/train-model.js';

const SAMPLE: [string, string][] = [
  ['choir rehearsal moved to thursday evening', 'church'],
  ['bring the hymn books back to the vestry', 'church'],
  ['sunday service rota: I read the second lesson', 'church'],
  ['the parish bake sale raised enough for the roof', 'church'],
  ['pastor asked me to lead the youth group retreat', 'church'],
  ['church council meets after evensong', 'church'],
  ['quarterly invoice to Acme is overdue, chase their finance team', 'work'],
  ['my manager wants the roadmap slides by friday', 'work'],
  ['client kickoff moved, send the agenda to the team', 'work'],
  ['hiring: second interview with the backend candidate', 'work'],
  ['performance review self-assessment due next week', 'work'],
  ['standup notes: blocked on the vendor contract', 'work'],
  ['mom birthday dinner on saturday, book a table', 'personal'],
  ['dentist appointment tuesday 9am', 'personal'],
  ['buy dog food and pick up dry cleaning', 'personal'],
  ['I prefer aisle seats on long flights', 'personal'],
  ['rent goes up in march, check the lease', 'personal'],
  ['ran 5k this morning, knee felt fine', 'personal'],
];

async function labelledFile(lines: string[]): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'labels-')), 'labels.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

describe('Function: readLabelled', () => {
  it('names the file and line of a memory without a label', async () => {
    // Prepare
    const path = await labelledFile(['{"content":"fine","label":"work"}', '{"content":"no label here"}']);

    // Act & Assess
    expect(() => readLabelled(path)).toThrow(InvalidInputError);
    expect(() => readLabelled(path)).toThrow(`${path}:2: label:`);
  });
});

describe('Function: splitOf', () => {
  it('puts about 60/20/20 of ids in train/dev/test, the same way every time', () => {
    // Act
    const splits = Array.from({ length: 3000 }, (_, i) => splitOf(`id-${i}`));

    // Assess
    const share = (name: string) => splits.filter((s) => s === name).length / splits.length;
    expect(share('train')).toBeGreaterThan(0.56);
    expect(share('train')).toBeLessThan(0.64);
    expect(share('dev')).toBeGreaterThan(0.17);
    expect(share('test')).toBeGreaterThan(0.17);
    expect(splitOf('id-7')).toBe(splits[7]);
  });
});

describe('Function: loadPriors', () => {
  it('leans module-defining words of four languages, tags and mem0 categories toward their module', () => {
    // Act
    const priors = loadPriors(['work', 'personal', 'creative']);
    const lean = (feature: string) => [
      ...new Set(priors.filter((p) => p.feature === feature).map((p) => p.module)),
    ];

    // Assess
    expect(lean('w:invoic')).toEqual(['work']);
    expect(lean('w:reunion')).toEqual(['work']);
    expect(lean('w:geburtstag')).toEqual(['personal']);
    expect(lean('w:poem')).toEqual(['creative']);
    expect(lean('t:recipe')).toEqual(['personal']);
    expect(lean('m:categories=health')).toEqual(['personal']);
    expect(lean('w:code')).toEqual([]);
  });
});

describe('Function: tuneAndTrain on a user sample', () => {
  it('learns a module of its own from labelled memories, deterministically', async () => {
    // Prepare
    const path = await labelledFile(
      SAMPLE.map(([content, label], i) => JSON.stringify({ id: `u-${i}`, content, label, tags: [] })),
    );
    const memories = readLabelled(path);
    const modules = ['work', 'personal', 'church'];
    const train = () =>
      tuneAndTrain({
        train: memories.slice(0, 15),
        dev: memories.slice(15),
        final: memories,
        modules,
        fallback: 'personal',
        priors: loadPriors(modules),
      });

    // Act
    const first = train();
    const again = train();

    // Assess
    expect(JSON.stringify(again.document)).toBe(JSON.stringify(first.document));
    const model = parseTextModel(first.document, 'trained');
    const prediction = model.predict(
      { content: 'the choir sings at the parish service', tags: [], sourceMetadata: {} },
      new Set(modules),
    );
    expect(prediction?.ranked[0]?.module).toBe('church');
    expect(first.document.temperature).toBeGreaterThan(0);
  });
});
