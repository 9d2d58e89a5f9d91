// Input transforms: shape and bounds kept, exact values where they are known, seeded draws, typed errors, no leaks.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { ConfigError } from '../../src/errors.js';
import type { Bounds, Layout } from '../../src/model-types.js';
import { bitDepth, gaussianNoise, jpeg, medianSmoothing, parseDefense, randomResizePad, tvDenoise, type InputTransform } from '../../defenses/index.js';
import { expectNoLeak, seededValues } from '../helpers/models.js';
import { expectThrows } from '../helpers/errors.js';

const ctx = (bounds: Bounds = [0, 1], layout: Layout = 'NHWC', seed = 0) => ({ bounds, layout, seed });

async function run(t: InputTransform, x: tf.Tensor, bounds: Bounds = [0, 1], layout: Layout = 'NHWC', seed = 0): Promise<Float32Array> {
  const y = t.apply(x, ctx(bounds, layout, seed));
  expect(y.shape).toEqual(x.shape);
  const v = (await y.data()) as Float32Array;
  y.dispose();
  return v;
}

const ALL: InputTransform[] = [jpeg(75), bitDepth(3), medianSmoothing(2), medianSmoothing(3), gaussianNoise(0.3), randomResizePad(), tvDenoise()];

describe('input transforms', () => {
  it('keep shape and bounds on any batch (property, every transform, bounds other than [0, 1])', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 4, max: 9 }),
        fc.constantFrom<[number, number]>([0, 1], [-1, 2], [0, 255]),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(...ALL),
        async (n, side, bounds, seed, t) => {
          const [lo, hi] = bounds;
          const x = tf.tensor4d(seededValues(n * side * side, seed, lo, hi), [n, side, side, 1]);
          const y = await run(t, x, bounds, 'NHWC', seed);
          x.dispose();
          for (const v of y) {
            expect(v).toBeGreaterThanOrEqual(lo - 1e-5 * (hi - lo));
            expect(v).toBeLessThanOrEqual(hi + 1e-5 * (hi - lo));
          }
        },
      ),
      { numRuns: 30, seed: 1 },
    );
  });

  it('bit-depth reduction rounds to 2^bits − 1 levels inside the bounds', async () => {
    const x = tf.tensor2d([[0, 0.2, 0.49, 0.51, 1]]);
    expect(Array.from(await run(bitDepth(1), x, [0, 1], 'flat'))).toEqual([0, 0, 0, 1, 1]);
    const y = await run(bitDepth(2), tf.tensor2d([[-1, 0, 0.4, 2]]), [-1, 2], 'flat');
    expect(Array.from(y)).toEqual([-1, 0, 0, 2]); // levels −1, 0, 1, 2
    const z = await run(bitDepth(8), x, [0, 1], 'flat');
    for (const [i, v] of [0, 0.2, 0.49, 0.51, 1].entries()) expect(Math.abs(z[i]! - v)).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    x.dispose();
  });

  it('median smoothing equals scipy.ndimage.median_filter (mode reflect) and routes the gradient to the picked pixel', async () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    // scipy.ndimage.median_filter(np.arange(1, 10).reshape(3, 3), size=3) and size=2
    expect(Array.from(await run(medianSmoothing(3), x, [0, 10]))).toEqual([2, 3, 3, 4, 5, 6, 7, 7, 8]);
    expect(Array.from(await run(medianSmoothing(2), x, [0, 10]))).toEqual([1, 2, 3, 4, 4, 5, 7, 7, 8]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(medianSmoothing(3).apply(v, ctx([0, 10]))))(x);
    // Every output is one input pixel: the gradient counts how often each pixel was picked (2 and 7 twice; the
    // mirrored copies of a pixel at the edge count as that pixel).
    expect(Array.from(await g.data())).toEqual([0, 1, 2, 1, 1, 1, 2, 1, 0]);
    expect(((await g.data()) as Float32Array).reduce((a, b) => a + b, 0)).toBeCloseTo(9, 5);
    tf.dispose([x, g]);
  });

  it('JPEG: the real codec, deterministic, layout-independent, closer to the input at higher quality', async () => {
    const x = tf.tensor4d(seededValues(2 * 16 * 16 * 3, 5), [2, 16, 16, 3]);
    const q90 = await run(jpeg(90), x);
    const q10 = await run(jpeg(10), x);
    expect(await run(jpeg(90), x)).toEqual(q90);
    const xs = await x.data();
    const err = (y: Float32Array) => y.reduce((a, v, i) => a + Math.abs(v - xs[i]!), 0) / y.length;
    expect(err(q90)).toBeLessThan(err(q10));
    expect(err(q10)).toBeGreaterThan(0.05);
    for (const v of q90) expect(Math.abs(Math.round(v * 255) - v * 255)).toBeLessThan(1e-3); // decoded bytes
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const y = jpeg(90).apply(nchw, ctx([0, 1], 'NCHW'));
    const back = tf.transpose(y, [0, 2, 3, 1]);
    expect(await back.data()).toEqual(q90);
    // A flat 8×8 grey image survives JPEG exactly.
    const grey = tf.fill([1, 8, 8, 1], 128 / 255);
    expect(Array.from(await run(jpeg(50), grey)).every((v) => Math.abs(v - 128 / 255) < 1e-6)).toBe(true);
    tf.dispose([x, nchw, y, back, grey]);
  });

  it('random transforms reproduce under a seed and differ across seeds; resize-and-pad draws per sample', async () => {
    const x = tf.tensor4d(seededValues(2 * 12 * 12, 9), [2, 12, 12, 1]);
    for (const t of [gaussianNoise(0.2), randomResizePad(1.3)]) {
      const a = await run(t, x, [0, 1], 'NHWC', 3);
      expect(await run(t, x, [0, 1], 'NHWC', 3)).toEqual(a);
      expect(await run(t, x, [0, 1], 'NHWC', 4)).not.toEqual(a);
    }
    // The same image twice in a batch gets two different draws.
    const twin = tf.concat([tf.slice(x, [0, 0, 0, 0], [1, 12, 12, 1]), tf.slice(x, [0, 0, 0, 0], [1, 12, 12, 1])]);
    const rp = await run(randomResizePad(1.3), twin, [0, 1], 'NHWC', 1);
    expect(rp.subarray(0, 144)).not.toEqual(rp.subarray(144));
    // Noise has the requested spread (inside the bounds, far from them).
    const mid = tf.fill([1, 4000], 0.5);
    const noisy = await run(gaussianNoise(0.05), mid, [0, 1], 'flat', 2);
    const mean = noisy.reduce((a, b) => a + b, 0) / noisy.length;
    const sd = Math.sqrt(noisy.reduce((a, b) => a + (b - mean) ** 2, 0) / noisy.length);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sd - 0.05)).toBeLessThan(0.005);
    tf.dispose([x, twin, mid]);
  });

  it('TV denoising lowers the total variation and keeps a constant image', async () => {
    const x = tf.tensor4d(seededValues(10 * 10, 11), [1, 10, 10, 1]);
    const tv = (v: Float32Array) => {
      let s = 0;
      for (let i = 0; i < 10; i++)
        for (let j = 0; j < 9; j++) s += Math.abs(v[i * 10 + j + 1]! - v[i * 10 + j]!) + Math.abs(v[(j + 1) * 10 + i]! - v[j * 10 + i]!);
      return s;
    };
    const y = await run(tvDenoise({ weight: 0.1 }), x);
    expect(tv(y)).toBeLessThan(0.8 * tv((await x.data()) as Float32Array));
    const c = tf.fill([1, 6, 6, 1], 0.3);
    expect(Array.from(await run(tvDenoise(), c)).every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
    tf.dispose([x, c]);
  });

  it('leave no tensors behind', async () => {
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 1), [2, 8, 8, 3]);
    for (const t of ALL) await expectNoLeak(() => t.apply(x, ctx()).dispose());
    x.dispose();
  });

  it('refuse bad options and inputs with typed errors naming the option', () => {
    expectThrows(() => jpeg(0), ConfigError, /jpeg: .*quality.*\[1, 100\].*got 0/);
    expectThrows(() => jpeg(101), ConfigError, /quality/);
    expectThrows(() => jpeg(7.5), ConfigError, /quality/);
    expectThrows(() => bitDepth(9), ConfigError, /bitDepth: .*bits/);
    expectThrows(() => medianSmoothing(1), ConfigError, /medianSmoothing: .*size/);
    expectThrows(() => gaussianNoise(0), ConfigError, /gaussianNoise: .*sigma.*got 0/);
    expectThrows(() => gaussianNoise(-1), ConfigError, /sigma/);
    expectThrows(() => randomResizePad(1), ConfigError, /randomResizePad: .*scale/);
    expectThrows(() => tvDenoise({ steps: 0 }), ConfigError, /tvDenoise: .*steps/);
    const flat = tf.zeros([1, 4]);
    expectThrows(() => jpeg(75).apply(flat, ctx([0, 1], 'flat')), ConfigError, /jpeg: expected image inputs/);
    expectThrows(() => medianSmoothing(2).apply(flat, ctx([0, 1], 'flat')), ConfigError, /medianSmoothing/);
    const four = tf.zeros([1, 8, 8, 4]);
    expectThrows(() => jpeg(75).apply(four, ctx()), ConfigError, /1 or 3 channels, got 4/);
    tf.dispose([flat, four]);
  });

  it('parseDefense reads the CLI syntax and refuses bad items', () => {
    expect(parseDefense('jpeg:75, bits:4,median:2,noise:0.1,resize-pad,tv:0.1').map((t) => t.spec)).toEqual([
      'jpeg:75',
      'bits:4',
      'median:2',
      'noise:0.1',
      'resize-pad:1.11',
      'tv:0.1',
    ]);
    expectThrows(() => parseDefense(''), ConfigError, /--defense/);
    expectThrows(() => parseDefense('gzip:3'), ConfigError, /--defense: expected one of jpeg, bits/);
    expectThrows(() => parseDefense('jpeg'), ConfigError, /jpeg:<quality/);
    expectThrows(() => parseDefense('jpeg:high'), ConfigError, /parameter to be a number/);
    expectThrows(() => parseDefense('jpeg:0'), ConfigError, /quality/);
  });
});
