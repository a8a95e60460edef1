import { describe, expect, it } from 'vitest';
import { ModuleCentroidAccumulator, nearestCentroid } from '../../functions/core/centroids.js';
import { InvalidInputError } from '../../functions/errors.js';

function vector(...values: number[]): Float32Array {
  return Float32Array.from(values);
}

describe('Class: ModuleCentroidAccumulator', () => {
  it('finishes with the unit mean direction of each module', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator();
    accumulator.add('work', vector(2, 0, 0));
    accumulator.add('work', vector(0, 5, 0));
    accumulator.add('creative', vector(0, 0, 3));

    // Act
    const centroids = accumulator.finish();

    // Assess: samples are normalised first, so the 5 does not outweigh the 2
    expect(centroids.dimensions).toBe(3);
    expect([...(centroids.modules.work ?? [])]).toEqual([
      Math.fround(Math.SQRT1_2),
      Math.fround(Math.SQRT1_2),
      0,
    ]);
    expect([...(centroids.modules.creative ?? [])]).toEqual([0, 0, 1]);
    expect(centroids.modules.personal).toBeUndefined();
    expect(centroids.samples).toEqual({ work: 2, creative: 1 });
  });

  it('refuses zero, non-finite and wrongly sized samples, and samples over the cap', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator(2);

    // Act
    const taken = [
      accumulator.add('work', vector(1, 0)),
      accumulator.add('work', vector(0, 0)),
      accumulator.add('work', vector(Number.NaN, 1)),
      accumulator.add('work', vector(1, 0, 0)),
      accumulator.add('work', vector(0, 1)),
      accumulator.add('work', vector(1, 1)),
    ];

    // Assess
    expect(taken).toEqual([true, false, false, false, true, false]);
    expect(accumulator.finish().samples).toEqual({ work: 2 });
  });

  it('merges to the same centroids as one accumulator fed everything', () => {
    // Prepare
    const samples: Array<['work' | 'technical', Float32Array]> = [
      ['work', vector(1, 0.2, 0)],
      ['technical', vector(0, 1, 0.1)],
      ['work', vector(0.8, 0, 0.3)],
      ['technical', vector(0.1, 0.9, 0)],
    ];
    const whole = new ModuleCentroidAccumulator();
    const left = new ModuleCentroidAccumulator();
    const right = new ModuleCentroidAccumulator();
    samples.forEach(([module, embedding], i) => {
      whole.add(module, embedding);
      (i % 2 === 0 ? left : right).add(module, embedding);
    });

    // Act
    const merged = new ModuleCentroidAccumulator().merge(left).merge(right).finish();

    // Assess
    const expected = whole.finish();
    expect(merged.samples).toEqual(expected.samples);
    for (const module of ['work', 'technical'] as const) {
      const a = merged.modules[module]!;
      const b = expected.modules[module]!;
      for (const [i, value] of a.entries()) expect(value).toBeCloseTo(b[i]!, 6);
    }
  });

  it('caps merged counts while keeping the mean direction', () => {
    // Prepare
    const left = new ModuleCentroidAccumulator(3);
    const right = new ModuleCentroidAccumulator(3);
    left.add('work', vector(1, 0));
    left.add('work', vector(1, 0));
    right.add('work', vector(0, 1));
    right.add('work', vector(0, 1));

    // Act
    const centroids = left.merge(right).finish();

    // Assess
    expect(centroids.samples).toEqual({ work: 3 });
    expect(centroids.modules.work![0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(centroids.modules.work![1]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('refuses to merge accumulators of different dimensions', () => {
    // Prepare
    const a = new ModuleCentroidAccumulator();
    const b = new ModuleCentroidAccumulator();
    a.add('work', vector(1, 0));
    b.add('work', vector(1, 0, 0));

    // Act & Assess
    expect(() => a.merge(b)).toThrow(InvalidInputError);
  });

  it('survives a JSON round trip, as it does between Lambda steps', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator(10);
    accumulator.add('learning', vector(0.3, 0.1, 0.7));
    accumulator.add('personal', vector(0.2, 0.9, 0.1));

    // Act
    const restored = ModuleCentroidAccumulator.fromJSON(JSON.parse(JSON.stringify(accumulator)));

    // Assess
    expect(restored.maxSamplesPerModule).toBe(10);
    expect(restored.finish()).toEqual(accumulator.finish());
    expect(restored.toJSON()).toEqual(accumulator.toJSON());
  });

  it('round-trips an empty accumulator', () => {
    // Act
    const restored = ModuleCentroidAccumulator.fromJSON(
      JSON.parse(JSON.stringify(new ModuleCentroidAccumulator(5))),
    );

    // Assess
    expect(restored.finish()).toEqual({ dimensions: 0, modules: {}, samples: {} });
  });

  it.each([
    ['not an object', 'centroids'],
    [
      'an empty module name',
      { version: 1, dimensions: 2, maxSamplesPerModule: 5, modules: { '': { count: 1, sum: [1, 0] } } },
    ],
    [
      'a sum of the wrong length',
      { version: 1, dimensions: 3, maxSamplesPerModule: 5, modules: { work: { count: 1, sum: [1, 0] } } },
    ],
  ])('rejects stored JSON with %s', (_why, json) => {
    // Act & Assess
    expect(() => ModuleCentroidAccumulator.fromJSON(json)).toThrow(InvalidInputError);
  });
});

describe('Function: nearestCentroid', () => {
  it('returns the most similar module, its cosine and the margin over the runner-up', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator();
    accumulator.add('technical', vector(1, 0));
    accumulator.add('creative', vector(0, 1));

    // Act
    const nearest = nearestCentroid(vector(3, 4), accumulator.finish());

    // Assess
    expect(nearest?.module).toBe('creative');
    expect(nearest?.similarity).toBeCloseTo(0.8, 6);
    expect(nearest?.margin).toBeCloseTo(0.2, 6);
  });

  it('measures the margin against -1 when there is a single centroid', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator();
    accumulator.add('work', vector(1, 0));

    // Act
    const nearest = nearestCentroid(vector(1, 0), accumulator.finish());

    // Assess
    expect(nearest).toEqual({ module: 'work', similarity: 1, margin: 2 });
  });

  it('breaks ties by module order, not insertion order', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator();
    accumulator.add('creative', vector(0, 1));
    accumulator.add('work', vector(1, 0));

    // Act
    const nearest = nearestCentroid(vector(1, 1), accumulator.finish());

    // Assess
    expect(nearest?.module).toBe('work');
    expect(nearest?.margin).toBe(0);
  });

  it('returns null for no centroids, another dimension or a zero vector', () => {
    // Prepare
    const accumulator = new ModuleCentroidAccumulator();
    accumulator.add('work', vector(1, 0));
    const centroids = accumulator.finish();

    // Act & Assess
    expect(nearestCentroid(vector(1, 0), new ModuleCentroidAccumulator().finish())).toBeNull();
    expect(nearestCentroid(vector(1, 0, 0), centroids)).toBeNull();
    expect(nearestCentroid(vector(0, 0), centroids)).toBeNull();
  });
});
