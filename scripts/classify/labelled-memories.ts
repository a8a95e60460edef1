/**
 * Labelled memories for training and evaluation: the repository's corpus (split once into
 * train/dev/test files) or a user's own JSONL sample (`--labels`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidInputError } from '../../functions/errors.js';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../data/classification');
export const SPLITS = ['train', 'dev', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

const labelledSchema = z.object({
  id: z.string().optional(),
  content: z.string(),
  tags: z.array(z.string()).nullable().optional(),
  source_metadata: z.unknown().optional(),
  label: z.string().min(1),
  alt_label: z.string().nullable().optional(),
  difficulty: z.enum(['easy', 'medium', 'hard']).optional(),
  style: z.string().optional(),
  lang: z.string().optional(),
});

export interface LabelledMemory {
  id: string;
  content: string;
  tags: string[];
  sourceMetadata: unknown;
  label: string;
  altLabel: string | null;
  difficulty: 'easy' | 'medium' | 'hard' | null;
  style: string | null;
  lang: string | null;
}

/**
 * Parses JSONL. Strict by default: a bad line is an error naming the file and line. `tolerant`
 * skips lines that do not parse (a file still being appended to).
 */
export function readLabelled(path: string, options: { tolerant?: boolean } = {}): LabelledMemory[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: LabelledMemory[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      if (options.tolerant) return;
      throw new InvalidInputError(`${path}:${index + 1}: not JSON (${(error as Error).message})`, {
        cause: error,
      });
    }
    const parsed = labelledSchema.safeParse(value);
    if (!parsed.success) {
      if (options.tolerant) return;
      const issue = parsed.error.issues[0];
      throw new InvalidInputError(
        `${path}:${index + 1}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}; each line needs at least "content" and "label"`,
      );
    }
    const m = parsed.data;
    out.push({
      id: m.id ?? `line-${index + 1}`,
      content: m.content,
      tags: m.tags ?? [],
      sourceMetadata: m.source_metadata ?? {},
      label: m.label,
      altLabel: m.alt_label ?? null,
      difficulty: m.difficulty ?? null,
      style: m.style ?? null,
      lang: m.lang ?? null,
    });
  });
  return out;
}

/** The split an id falls in, 60/20/20 by a hash of the id: stable whatever order the items come in. */
export function splitOf(id: string): SplitName {
  const bucket = createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32;
  return bucket < 0.6 ? 'train' : bucket < 0.8 ? 'dev' : 'test';
}

export function readSplit(split: SplitName): LabelledMemory[] {
  return readLabelled(join(CORPUS_DIR, `${split}.jsonl`));
}
