import { describe, expect, it } from 'vitest';
import {
  BATCH_FILE_LIMITS,
  BatchFileBuilder,
  type BatchInput,
  type BatchRequestFile,
  readBatchOutput,
} from '../../functions/embed/batch-files.js';

const inputs = (n: number, rangeSize: number, text = 'a memory'): BatchInput[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    text: `${text} ${i}`,
    rangeIndex: Math.floor(i / rangeSize),
  }));

function build(items: BatchInput[], builder: BatchFileBuilder): BatchRequestFile[] {
  const files: BatchRequestFile[] = [];
  for (const item of items) {
    const closed = builder.add(item);
    if (closed) files.push(closed);
  }
  const last = builder.finish();
  if (last) files.push(last);
  return files;
}

const vectorBase64 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString('base64');

describe('Class: BatchFileBuilder', () => {
  it('writes one embeddings request per memory, as the Batch API documents the line', () => {
    // Act
    const [file] = build(
      inputs(2, 10),
      new BatchFileBuilder({ model: 'text-embedding-3-small', dimensions: 512 }),
    );

    // Assess
    const lines = file?.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        custom_id: 'm0',
        method: 'POST',
        url: '/v1/embeddings',
        body: {
          model: 'text-embedding-3-small',
          input: 'a memory 0',
          encoding_format: 'base64',
          dimensions: 512,
        },
      },
      {
        custom_id: 'm1',
        method: 'POST',
        url: '/v1/embeddings',
        body: {
          model: 'text-embedding-3-small',
          input: 'a memory 1',
          encoding_format: 'base64',
          dimensions: 512,
        },
      },
    ]);
    expect(file).toMatchObject({ firstRange: 0, lastRange: 0, inputs: 2 });
    expect(file?.tokens).toBeGreaterThan(0);
  });

  it('holds at most 50,000 requests a file and names the ranges each file covers', () => {
    // Act
    const files = build(inputs(120_000, 10_000), new BatchFileBuilder({ model: 'm' }));

    // Assess
    expect(BATCH_FILE_LIMITS.maxInputs).toBe(50_000);
    expect(files.map((f) => [f.inputs, f.firstRange, f.lastRange])).toEqual([
      [50_000, 0, 4],
      [50_000, 5, 9],
      [20_000, 10, 11],
    ]);
  });

  it('closes a file before it passes the byte limit', () => {
    // Prepare: lines of about 1 KB, files of at most 10 KB
    const builder = new BatchFileBuilder({ model: 'm', limits: { maxInputs: 50_000, maxBytes: 10_000 } });

    // Act
    const files = build(inputs(25, 100, 'x'.repeat(1000)), builder);

    // Assess
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect(Buffer.byteLength(file.body)).toBeLessThanOrEqual(10_000);
    expect(files.reduce((n, f) => n + f.inputs, 0)).toBe(25);
  });

  it('cuts a text over the per-input token limit, as the synchronous client does', () => {
    // Act
    const [file] = build(
      [{ id: 'long', text: 'word '.repeat(20_000), rangeIndex: 0 }],
      new BatchFileBuilder({ model: 'm' }),
    );

    // Assess
    expect(file?.tokens).toBeLessThanOrEqual(8192);
    expect(JSON.parse(file?.body ?? '{}').body.input.length).toBeLessThan(100_000);
  });
});

describe('Function: readBatchOutput', () => {
  it('gives each answered line its vector bit for bit and counts every other line as failed', () => {
    // Prepare
    const vector = [0.1, -0.25, 1e-30];
    const ok = (id: string) =>
      JSON.stringify({
        custom_id: id,
        response: {
          status_code: 200,
          body: { data: [{ index: 0, embedding: vectorBase64(vector) }], usage: { prompt_tokens: 4 } },
        },
        error: null,
      });
    const output = [
      ok('a'),
      JSON.stringify({ custom_id: 'b', response: { status_code: 500, body: {} }, error: null }),
      'not json',
      ok('c'),
    ].join('\n');
    const errors = JSON.stringify({ custom_id: 'd', response: null, error: { code: 'batch_expired' } });

    // Act
    const read = readBatchOutput(output, errors, { dimensions: 3 });

    // Assess
    expect([...read.vectors.keys()]).toEqual(['a', 'c']);
    expect(Buffer.from(read.vectors.get('a')!.buffer)).toEqual(Buffer.from(new Float32Array(vector).buffer));
    expect(read.tokens).toBe(8);
    expect([...read.failed].sort()).toEqual(['b', 'd']);
  });

  it('refuses a vector of another length than expected', () => {
    // Prepare
    const line = JSON.stringify({
      custom_id: 'a',
      response: { status_code: 200, body: { data: [{ index: 0, embedding: vectorBase64([1, 2]) }] } },
    });

    // Act
    const read = readBatchOutput(line, '', { dimensions: 3 });

    // Assess
    expect(read.vectors.size).toBe(0);
    expect([...read.failed]).toEqual(['a']);
  });
});
