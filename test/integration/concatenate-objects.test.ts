import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { concatenateObjects } from '../../functions/store/concatenate-objects.js';
import { FileRunStore, type RunStore, S3RunStore } from '../../functions/store/run-store.js';

// Incompressible bytes, so the parts together pass the 8 MiB upload part several times.
function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

async function stores(): Promise<[string, RunStore][]> {
  const s3 = makeS3Client(services().s3Endpoint);
  return [
    ['S3 (s3rver)', new S3RunStore(s3, await createBucket(s3))],
    ['a folder', new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-store-')))],
  ];
}

describe('Function: concatenateObjects', () => {
  it('joins many parts in their order into one object, past several upload parts', async () => {
    for (const [name, store] of await stores()) {
      // Prepare: 300 parts of 80 KiB, listed in key order
      const parts = Array.from({ length: 300 }, (_, i) => noise(80 * 1024, i + 1));
      const keys = parts.map((_, i) => `runs/r/parts/${String(i).padStart(6, '0')}.bin`);
      for (const [i, key] of keys.entries()) await store.put(key, parts[i] as Buffer);

      // Act
      await concatenateObjects(
        store,
        await store.list('runs/r/parts/'),
        'runs/r/joined.bin',
        'application/octet-stream',
      );

      // Assess
      const joined = await store.get('runs/r/joined.bin');
      expect(joined.length, name).toBe(300 * 80 * 1024);
      expect(joined.equals(Buffer.concat(parts)), name).toBe(true);
    }
  });

  it('makes concatenated gzip members one readable gzip file, and an empty object of no parts', async () => {
    for (const [name, store] of await stores()) {
      // Prepare
      const lines = ['{"a":1}\n', '{"b":2}\n', '{"c":3}\n'];
      for (const [i, line] of lines.entries()) await store.put(`runs/g/${i}.jsonl.gz`, gzipSync(line));

      // Act
      await concatenateObjects(store, await store.list('runs/g/'), 'runs/all.jsonl.gz', 'application/gzip');
      await concatenateObjects(store, [], 'runs/none.jsonl.gz', 'application/gzip');

      // Assess
      expect(gunzipSync(await store.get('runs/all.jsonl.gz')).toString(), name).toBe(lines.join(''));
      expect((await store.get('runs/none.jsonl.gz')).length, name).toBe(0);
    }
  });

  it('fails when a part cannot be read, and leaves no joined object behind', async () => {
    for (const [name, store] of await stores()) {
      // Prepare
      await store.put('runs/m/0.bin', Buffer.from('first'));

      // Act
      const failure = await concatenateObjects(
        store,
        ['runs/m/0.bin', 'runs/m/missing.bin'],
        'runs/m.bin',
        'application/octet-stream',
      ).then(
        () => null,
        (error: Error) => error,
      );

      // Assess
      expect(failure, name).toBeInstanceOf(Error);
      expect(await store.list('runs/m.bin'), name).toEqual([]);
    }
  });
});
