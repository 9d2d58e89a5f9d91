// Norm helpers: projection, steepest direction, random starts, per-sample select.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { batchNorm, checkNorm, perSample, project, randomInBall, selectSamples, signExact, steepestDirection } from '../../src/norms.js';
import { seededValues } from '../helpers/models.js';

describe('norms', () => {
  it('projects onto the L2 ball by rescaling, and leaves inside points alone', async () => {
    const x0 = tf.tensor2d([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    const x = tf.tensor2d([
      [0.5 + 0.3, 0.5 + 0.4],
      [0.5 + 0.03, 0.5 - 0.04],
    ]);
    const p = tf.tidy(() => project(x0, x, 0.1, 'l2', [0, 1]));
    const v = Array.from(await p.data());
    expect(v[0]).toBeCloseTo(0.56, 6);
    expect(v[1]).toBeCloseTo(0.58, 6);
    expect(v[2]).toBeCloseTo(0.53, 6);
    expect(v[3]).toBeCloseTo(0.46, 6);
    tf.dispose([x0, x, p]);
  });

  it('gives sign for Linf and unit L2 directions, zero stays zero', async () => {
    const g = tf.tensor2d([
      [3, -4],
      [0, 0],
    ]);
    const [s, u] = tf.tidy(() => [steepestDirection(g, 'linf'), steepestDirection(g, 'l2')]);
    expect(Array.from(await s!.data())).toEqual([1, -1, 0, 0]);
    const uv = Array.from(await u!.data());
    expect(uv[0]).toBeCloseTo(0.6, 6);
    expect(uv[1]).toBeCloseTo(-0.8, 6);
    expect(uv.slice(2)).toEqual([0, 0]);
    tf.dispose([g, s!, u!]);
  });

  it('selects whole samples', async () => {
    const a = tf.ones([3, 2, 2]);
    const b = tf.zeros([3, 2, 2]);
    const m = tf.tensor1d([true, false, true], 'bool');
    const r = tf.tidy(() => batchNorm(selectSamples(m, a, b), 'l2'));
    expect(Array.from(await r.data())).toEqual([2, 0, 2]);
    tf.dispose([a, b, m, r]);
  });

  it('random starts lie in the ball, are seeded, and leak nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 1e-3, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
        (n, d, eps, seed, norm) => {
          const before = tf.memory().numTensors;
          const [norms, same] = tf.tidy(() => {
            const a = randomInBall([n, d], eps, norm, seed);
            const b = randomInBall([n, d], eps, norm, seed);
            return [batchNorm(a, norm).dataSync(), tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]];
          });
          for (const v of norms!) expect(v).toBeLessThanOrEqual(eps * (1 + 1e-6));
          expect(same).toBe(0);
          expect(tf.memory().numTensors).toBe(before);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it('L2 random starts: radius ε/10 (not ≈ ε, as a uniform point of a high-dimensional ball), direction isotropic', async () => {
    // 400 starts in d = 784 (MNIST): a uniform point of the ball would have every radius above 0.99·ε.
    const eps = 2;
    const starts = randomInBall([400, 28, 28, 1], eps, 'l2', 5);
    const [norms, mean] = tf.tidy(() => {
      const n = batchNorm(starts, 'l2');
      return [n, tf.mean(tf.div(tf.reshape(starts, [400, -1]), tf.reshape(n, [400, 1])), 0)];
    });
    for (const v of await norms.data()) expect(v).toBeCloseTo(eps / 10, 6);
    // The mean unit direction is ≈ 0 in every coordinate (isotropic): |mean| ≤ 4.5 standard errors of 1/√(784·400).
    const m = await mean.data();
    expect(Math.max(...Array.from(m, Math.abs))).toBeLessThan(4.5 / Math.sqrt(784 * 400));
    // Different samples get different directions.
    const cos = tf.tidy(() => tf.div(tf.sum(tf.mul(tf.slice(starts, [0], [1]), tf.slice(starts, [1], [1]))), (eps / 10) ** 2));
    expect(Math.abs((await cos.data())[0]!)).toBeLessThan(0.2);
    tf.dispose([starts, norms, mean, cos]);
  });

  it('projection keeps any point inside the ball and the bounds (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
        (n, d, eps, seed, norm) => {
          const r = tf.tidy(() => {
            const x0 = tf.tensor2d(seededValues(n * d, seed), [n, d]);
            const x = tf.tensor2d(seededValues(n * d, seed + 1, -2, 3), [n, d]);
            const p = project(x0, x, eps, norm, [0, 1]);
            return [batchNorm(tf.sub(p, x0), norm).dataSync(), tf.min(p).dataSync()[0]!, tf.max(p).dataSync()[0]!] as const;
          });
          for (const v of r[0]) expect(v).toBeLessThanOrEqual(eps + 1e-6);
          expect(r[1]).toBeGreaterThanOrEqual(0);
          expect(r[2]).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });
});

describe('signExact and the Linf direction on this backend', () => {
  // tfjs-wasm 4.22's Sign kernel returns 0 for |x| <= 1e-7; the Linf direction must not depend on it.
  const values = [1e-45, -1e-45, 1e-40, -1e-40, 1e-38, 1e-30, -1e-30, 1e-7, -1e-7, 1e-6, 0, -0, 0.5, -2, 3e38, -3e38, Infinity, -Infinity, NaN];
  const expected = [1, -1, 1, -1, 1, 1, -1, 1, -1, 1, 0, 0, 1, -1, 1, -1, 1, -1, 0];

  it('is exact for tiny (denormal too), zero, -0, huge, infinite and NaN inputs', async () => {
    const x = tf.tensor1d(values);
    const s = signExact(x);
    expect(Array.from(await s.data())).toEqual(expected);
    expect(s.dtype).toBe('float32');
    tf.dispose([x, s]);
  });

  it('gives the Linf steepest direction of a gradient whose every component is below 1e-7', async () => {
    const g = tf.tensor2d([
      [3e-9, -1e-12, 0],
      [-5e-8, 2e-20, 1e-30],
    ]);
    const d = tf.tidy(() => steepestDirection(g, 'linf'));
    expect(Array.from(await d.data())).toEqual([1, -1, 0, -1, 1, 1]);
    tf.dispose([g, d]);
  });

  it('leaks no tensors', async () => {
    const x = tf.tensor1d(values);
    const before = tf.memory().numTensors;
    signExact(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('perSample and checkNorm', () => {
  it('perSample reshapes [N] to broadcast against a batch of any rank', async () => {
    const v = tf.tensor1d([1, 2]);
    const b = tf.ones([2, 2, 3]);
    const r = tf.tidy(() => tf.mul(b, perSample(v, 3)));
    expect(r.shape).toEqual([2, 2, 3]);
    expect(Array.from(await r.data())).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(tf.tidy(() => perSample(v, 1)).shape).toEqual([2]);
    tf.dispose([v, b, r]);
  });

  it('checkNorm accepts linf and l2 and refuses anything else with a one-line ConfigError', () => {
    expect(checkNorm('linf', 'x')).toBe('linf');
    expect(checkNorm('l2', 'x')).toBe('l2');
    expect(() => checkNorm('l1', 'fmn')).toThrow('fmn: expected norm to be one of linf, l2, got "l1"');
    expect(() => checkNorm(undefined, 'pgd')).toThrow(/^pgd: expected norm to be one of linf, l2, got undefined$/);
  });
});
