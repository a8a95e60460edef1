import { describe, expect, it } from 'vitest';
import {
  BlockPool,
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  CopyBinaryParser,
  decodeField,
  decodeVector,
  encodeField,
  encodeTuple,
  encodeVector,
  Float32Slab,
  TupleWriter,
} from '../../functions/db/pg-binary.js';

describe('Function: encodeVector', () => {
  it('writes pgvector binary form: int16 dims, int16 zero, float4 big-endian', () => {
    // Act
    const bytes = encodeVector([1, -2.5]);

    // Assess
    expect(bytes.toString('hex')).toBe('00020000' + '3f800000' + 'c0200000');
  });

  it('round-trips float32 values bit-exactly', () => {
    // Prepare
    const values = Float32Array.from([0.1, -0.333333, 1e-30, 3.4e38]);

    // Act
    const decoded = decodeVector(encodeVector(values));

    // Assess
    expect(Buffer.from(decoded.buffer).equals(Buffer.from(values.buffer))).toBe(true);
  });

  it('refuses a buffer whose length does not match its dimension header', () => {
    expect(() => decodeVector(Buffer.from('000300003f800000', 'hex'))).toThrow(/3 dimensions/);
  });
});

describe('Function: encodeField', () => {
  it('encodes timestamps as microseconds since 2000-01-01 UTC', () => {
    // Act
    const bytes = encodeField('timestamp', new Date('2000-01-01T00:00:01.234Z'));

    // Assess
    expect(bytes.readBigInt64BE(0)).toBe(1_234_000n);
  });

  it('encodes jsonb with a version byte', () => {
    const bytes = encodeField('jsonb', { a: 1 });
    expect(bytes[0]).toBe(1);
    expect(bytes.subarray(1).toString()).toBe('{"a":1}');
  });

  it('encodes text[] in array_send layout with NULL elements', () => {
    // Act
    const bytes = encodeField('text[]', ['ab', null]);

    // Assess: ndim 1, hasnull 1, oid 25, length 2, lbound 1, "ab", NULL
    expect(bytes.toString('hex')).toBe(
      '00000001' + '00000001' + '00000019' + '00000002' + '00000001' + '00000002' + '6162' + 'ffffffff',
    );
  });

  it('encodes an empty text[] with zero dimensions', () => {
    expect(encodeField('text[]', []).toString('hex')).toBe('00000000' + '00000000' + '00000019');
  });

  it.each([
    ['text', 'héllo'],
    ['uuid', '123e4567-e89b-12d3-a456-426614174000'],
    ['int4', -42],
    ['float8', 0.1],
    ['bool', true],
    ['jsonb', { nested: [1, 'x', null] }],
    ['text[]', ['a', 'b c']],
  ] as const)('round-trips %s', (type, value) => {
    expect(decodeField(type, encodeField(type, value))).toEqual(value);
  });

  it('writes and reads timestamps as int64 division and BigInt would, before 2000 and beyond the safe range', () => {
    // Prepare: microsecond values on both sides of 0, of the 32-bit halves and of 2^53.
    const micros = [
      0n,
      1n,
      -1n,
      999n,
      -999n,
      -1_500n,
      2n ** 32n - 1n,
      2n ** 32n,
      -(2n ** 32n),
      -(2n ** 32n) - 1n,
      2n ** 53n - 1n,
      2n ** 53n,
      -(2n ** 53n) + 1n,
      -(2n ** 53n) - 1_001n,
      2n ** 63n - 1n, // 'infinity'
      -(2n ** 63n), // '-infinity'
      -3_155_760_000_000_001n, // 1900-01-01 less a microsecond
    ];
    for (const value of micros) {
      const bytes = Buffer.alloc(8);
      bytes.writeBigInt64BE(value, 0);

      // Act
      const decoded = (decodeField('timestamp', bytes) as Date).getTime();

      // Assess
      // Beyond a Date's range ('infinity') both give an invalid Date.
      expect(decoded).toBe(new Date(Number(value / 1000n) + Date.UTC(2000, 0, 1)).getTime());
    }
    for (const millis of [
      0,
      -1,
      1,
      -4_294_968,
      4_294_968,
      8.64e15,
      -8.64e15,
      Date.UTC(1900, 0, 1, 0, 0, 0, 1),
    ]) {
      const expected = BigInt(millis - Date.UTC(2000, 0, 1)) * 1000n;
      expect(encodeField('timestamptz', new Date(millis)).readBigInt64BE(0)).toBe(expected);
    }
  });

  it('round-trips timestamps to the millisecond', () => {
    const at = new Date('2024-02-29T23:59:59.999Z');
    expect((decodeField('timestamptz', encodeField('timestamptz', at)) as Date).toISOString()).toBe(
      at.toISOString(),
    );
  });
});

describe('Class: CopyBinaryParser', () => {
  it('parses tuples split across arbitrary chunk boundaries', () => {
    // Prepare
    const stream = Buffer.concat([
      COPY_BINARY_HEADER,
      encodeTuple(['text', 'int4'], ['first', 1]),
      encodeTuple(['text', 'int4'], [null, 2]),
      COPY_BINARY_TRAILER,
    ]);
    const parser = new CopyBinaryParser();
    const tuples: (Buffer | null)[][] = [];

    // Act: feed it three bytes at a time
    for (let i = 0; i < stream.length; i += 3) tuples.push(...parser.push(stream.subarray(i, i + 3)));

    // Assess
    expect(tuples.map((t) => [decodeField('text', t[0] ?? null), decodeField('int4', t[1] ?? null)])).toEqual(
      [
        ['first', 1],
        [null, 2],
      ],
    );
    expect(parser.done).toBe(true);
  });

  it('rejects a stream without the PGCOPY signature', () => {
    expect(() => new CopyBinaryParser().push(Buffer.alloc(32))).toThrow(/bad signature/);
  });
});

describe('Class: TupleWriter', () => {
  it('writes the same bytes whatever the chunk size, fields landing on every chunk boundary', () => {
    // Prepare: every type, with values of varying size so fields fall across chunk edges
    const types = [
      'text',
      'uuid',
      'int4',
      'int8',
      'float8',
      'bool',
      'timestamp',
      'jsonb',
      'text[]',
      'vector',
    ] as const;
    const rows = Array.from({ length: 200 }, (_, i) => [
      `row ${i} ${'é'.repeat(i % 13)}`,
      '123e4567-e89b-12d3-a456-426614174000',
      i,
      BigInt(i) * 1_000_000_007n,
      i / 7,
      i % 2 === 0,
      new Date(1_700_000_000_000 + i),
      { i, s: '日本'.repeat(i % 5) },
      i % 3 === 0 ? [] : ['a', null, `k${i}`],
      i % 4 === 0 ? null : Float32Array.from({ length: (i % 5) * 3 + 3 }, (_, j) => i + j / 10),
    ]);
    const reference = Buffer.concat(rows.map((r) => encodeTuple(types, r)));

    // Act: chunks far smaller than a tuple
    for (const chunkBytes of [64, 100, 4096]) {
      const writer = new TupleWriter(chunkBytes);
      const chunks: Buffer[] = [];
      for (const r of rows) chunks.push(...writer.tuple(types, r).take());

      // Assess
      expect(Buffer.concat(chunks).equals(reference), `chunk size ${chunkBytes}`).toBe(true);
    }
  });
});

describe('Class: CopyBinaryParser with large tuples', () => {
  it('parses tuples larger than a chunk and split anywhere, in chunks of any size', () => {
    // Prepare: vectors of 6 KB and more, as embeddings arrive
    const types = ['text', 'vector'] as const;
    const rows = Array.from({ length: 40 }, (_, i) => [
      `m${i}`,
      Float32Array.from({ length: 1536 + i * 300 }, (_, j) => j + i),
    ]);
    const stream = Buffer.concat([
      COPY_BINARY_HEADER,
      ...rows.map((r) => encodeTuple(types, r)),
      COPY_BINARY_TRAILER,
    ]);

    for (const size of [7, 1000, 6150, 65_536, stream.length]) {
      const parser = new CopyBinaryParser();
      const ids: unknown[] = [];
      // Act
      for (let i = 0; i < stream.length; i += size) {
        for (const t of parser.push(stream.subarray(i, i + size))) {
          ids.push(decodeField('text', t[0] ?? null));
          expect((decodeField('vector', t[1] ?? null) as Float32Array)[5]).toBe(5 + ids.length - 1);
        }
      }
      // Assess
      expect(ids, `chunk size ${size}`).toEqual(rows.map((r) => r[0]));
      expect(parser.done).toBe(true);
    }
  });
});

describe('Class: Float32Slab', () => {
  it('hands out disjoint views that decodeVector fills', () => {
    const slab = new Float32Slab(10);
    const a = decodeVector(encodeVector([1, 2, 3, 4]), slab);
    const b = decodeVector(encodeVector([5, 6, 7, 8]), slab);
    const c = decodeVector(encodeVector([9, 10, 11, 12]), slab);
    expect([...a, ...b, ...c]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(a.buffer).toBe(b.buffer);
    expect(c.buffer).not.toBe(a.buffer);
  });
});

describe('Class: BlockPool', () => {
  it('hands back released blocks before making new ones, and keeps only as many as it may', () => {
    // Prepare
    let made = 0;
    const pool = new BlockPool(() => ({ n: ++made }), 2);
    const blocks = [pool.acquire(), pool.acquire(), pool.acquire()];

    // Act
    pool.release(blocks);
    const again = [pool.acquire(), pool.acquire(), pool.acquire()];

    // Assess: two came back from the pool, the third was made anew
    expect(made).toBe(4);
    expect(again.slice(0, 2)).toEqual(expect.arrayContaining([blocks[0], blocks[1]]));
    expect(again[2]).toEqual({ n: 4 });
  });
});

describe('Pooled blocks', () => {
  it('lets a recycled slab’s blocks carry the next slab’s vectors, and keeps oversized vectors out of the pool', () => {
    // Prepare
    const pool = new BlockPool(() => new Float32Array(8), 4);
    const first = new Float32Slab(8, pool);
    const a = first.take(6);
    const big = first.take(20);

    // Act
    first.recycle();
    const second = new Float32Slab(8, pool);
    const b = second.take(6);
    b.set([1, 2, 3, 4, 5, 6]);

    // Assess: the same memory, now the second slab's; the oversized array was never pooled
    expect(b.buffer).toBe(a.buffer);
    expect([...a]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(second.take(8).buffer).not.toBe(big.buffer);
  });

  it('writes COPY chunks into pooled buffers and gives them back on recycle, but not a field larger than a chunk', () => {
    // Prepare
    const made: Buffer[] = [];
    const pool = new BlockPool(() => {
      const chunk = Buffer.alloc(64);
      made.push(chunk);
      return chunk;
    }, 100);
    const writer = new TupleWriter(64, pool);
    const rows = [['a'.repeat(20)], ['b'.repeat(20)], ['c'.repeat(200)], ['d'.repeat(20)]];
    const chunks: Buffer[] = [];

    // Act
    for (const r of rows) chunks.push(...writer.tuple(['text'], r).take());
    const pooled = made.length;
    writer.recycle();
    const next = Array.from({ length: pooled }, () => pool.acquire());

    // Assess: the bytes are right, every pooled chunk came back, the 200-byte field's buffer is not one
    expect(Buffer.concat(chunks).equals(Buffer.concat(rows.map((r) => encodeTuple(['text'], r))))).toBe(true);
    expect(made.length).toBe(pooled);
    expect(new Set(next)).toEqual(new Set(made));
    const big = chunks.find((c) => c.includes('c'.repeat(200)));
    expect(big).toBeDefined();
    expect(made.some((m) => m.buffer === big?.buffer)).toBe(false);
  });
});
