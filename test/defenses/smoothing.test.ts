// Randomized smoothing: Clopper–Pearson against scipy and the binomial tail, the certified radius of a linear model
// against its closed form, seeded reproducibility, errors, leaks.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { fromFunction } from '../../src/model.js';
import { certify, certifiedAccuracy, clopperPearsonLower } from '../../defenses/index.js';
import { expectNoLeak } from '../helpers/models.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

/** P(Binomial(n, p) >= k), exactly enough for small n. */
function upperTail(k: number, n: number, p: number): number {
  let s = 0;
  let logC = 0; // log C(n, j), built up from j = 0
  for (let j = 0; j <= n; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    if (j >= k) s += Math.exp(logC + j * Math.log(p) + (n - j) * Math.log1p(-p));
  }
  return s;
}

const Phi = (z: number) => {
  // Φ through Numerical Recipes' Chebyshev erfc (relative error < 1.2e-7), independent of jstat
  const t = 1 / (1 + (0.5 * Math.abs(z)) / Math.SQRT2);
  const y =
    t *
    Math.exp(
      -((z / Math.SQRT2) ** 2) -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - y / 2 : y / 2;
};

describe('clopperPearsonLower', () => {
  it('equals scipy.stats.beta.ppf(alpha, k, n - k + 1)', () => {
    const cases: [number, number, number, number][] = [
      [1, 10, 0.05, 0.005116196891823701],
      [5, 10, 0.05, 0.2224411010081294],
      [990, 1000, 0.001, 0.9760361871553114],
      [9000, 10000, 0.001, 0.8904097336749064],
      [52, 100, 0.01, 0.3999906769034821],
    ];
    for (const [k, n, a, ref] of cases) expect(Math.abs(clopperPearsonLower(k, n, a) - ref)).toBeLessThan(1e-9);
    expect(clopperPearsonLower(0, 10, 0.05)).toBe(0);
    expect(clopperPearsonLower(1000, 1000, 0.001)).toBeCloseTo(0.001 ** (1 / 1000), 15);
  });

  it('is the p at which the binomial upper tail P(X >= k) equals alpha (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.double({ min: 0.001, max: 0.2, noNaN: true }), fc.nat(), (n, alpha, r) => {
        const k = 1 + (r % (n - 1));
        const p = clopperPearsonLower(k, n, alpha);
        expect(Math.abs(upperTail(k, n, p) - alpha)).toBeLessThan(1e-7);
      }),
      { numRuns: 60, seed: 2 },
    );
  });

  it('refuses arguments out of range', () => {
    expectThrows(() => clopperPearsonLower(11, 10, 0.05), ConfigError, /k to be an integer in \[0, 10\]/);
    expectThrows(() => clopperPearsonLower(1, 10, 1), ConfigError, /alpha/);
  });
});

describe('certify', () => {
  // A linear two-class model: logits [w·x + b, 0]. Its smoothed classifier's exact radius is the distance
  // |w·x + b| / ‖w‖ to the hyperplane (Cohen et al. 2019, §3.1): P(f(x + ε) = A) = Φ((w·x + b)/(σ‖w‖)).
  const w = [0.6, -0.8, 0.3, 0.5]; // ‖w‖ = √1.34
  const b = -0.2;
  const norm = Math.hypot(...w);
  const wt = tf.tensor2d(
    w.map((v) => [v, 0]),
    [4, 2],
  );
  const bt = tf.tensor1d([b, 0]);
  const model = fromFunction((x) => tf.add(tf.matMul(x as tf.Tensor2D, wt), bt), { numClasses: 2, inputShape: [4], weights: [wt, bt], name: 'linear' });
  const points = [
    [0.9, 0.1, 0.5, 0.7],
    [0.1, 0.9, 0.2, 0.1],
    [0.5, 0.5, 0.5, 0.3],
    [0.7, 0.6, 0.4, 0.6],
    [0.2, 0.2, 0.9, 0.3],
  ];
  const x = tf.tensor2d(points);
  const sigma = 0.5;

  it('gives the linear model its closed-form radius, from below, within the Clopper–Pearson slack', async () => {
    const n = 4000;
    const alpha = 0.001;
    const result = await certify(model, { x }, { sigma, n0: 100, n, alpha, batchSize: 1000, seed: 1 });
    for (const [i, p] of points.entries()) {
      const margin = p.reduce((s, v, j) => s + v * w[j]!, b);
      const distance = Math.abs(margin) / norm;
      const c = result.certificates[i]!;
      const pA = Phi(distance / sigma);
      if (pA > 0.6) {
        expect(c.prediction).toBe(margin > 0 ? 0 : 1);
        expect(c.radius).toBeLessThanOrEqual(distance);
        // p̲A lies below the empirical frequency by ~3.1 standard deviations (α = 0.001) and the frequency within a few
        // of pA: together within 7, so the radius is within σ·(Φ⁻¹(pA) − Φ⁻¹(pA − slack)) of the distance.
        const slack = 7 * Math.sqrt((pA * (1 - pA)) / n);
        expect(c.pALower).toBeGreaterThan(pA - slack);
        expect(c.pALower).toBeLessThan(pA);
        expect(c.radius).toBeGreaterThan(sigma * inverseNormal(pA - slack));
        expect(c.radius).toBeGreaterThan(distance - 0.15 * sigma);
      }
      expect(c.radius).toBeCloseTo(c.prediction === -1 ? 0 : sigma * inverseNormal(c.pALower), 5);
    }
    // A point on the boundary (margin 0, pA = ½ exactly): its lower bound is below ½, so g abstains.
    expect(result.certificates[2]!.prediction).toBe(-1);
    expect(result.config).toEqual({ sigma, n0: 100, n, alpha, batchSize: 1000, seed: 1 });
  });

  it('is reproducible under a seed and independent of the batch size; certified accuracy counts correct certificates', async () => {
    const a = await certify(model, { x }, { sigma, n: 600, batchSize: 600, seed: 3 });
    const b2 = await certify(model, { x }, { sigma, n: 600, batchSize: 600, seed: 3 });
    expect(b2.certificates).toEqual(a.certificates);
    const other = await certify(model, { x }, { sigma, n: 600, batchSize: 600, seed: 4 });
    expect(other.certificates.map((c) => c.count)).not.toEqual(a.certificates.map((c) => c.count));
    const labels = a.certificates.map((c) => Math.max(0, c.prediction));
    const acc = certifiedAccuracy(a, labels, [0, 0.2, 10]);
    const right = a.certificates.filter((c) => c.prediction >= 0);
    expect(acc[0]).toEqual({ radius: 0, accuracy: right.length / 5, count: right.length });
    expect(acc[1]!.count).toBe(right.filter((c) => c.radius >= 0.2).length);
    expect(acc[2]!.count).toBe(0);
    expectThrows(() => certifiedAccuracy(a, [0], [0]), ShapeError, /5 labels/);
    expectThrows(() => certifiedAccuracy(a, labels, [-1]), ConfigError, /radii/);
  });

  it('accepts a Dataset as well as tensors, and leaves no tensors behind', async () => {
    const ds = {
      images: Float32Array.from(points.flat()),
      shape: [4],
      labels: Int32Array.from([0, 1, 0, 0, 1]),
      count: 5,
      source: 'points',
      sha256: 'unknown',
    };
    let fromDs: Awaited<ReturnType<typeof certify>> | undefined;
    await expectNoLeak(async () => {
      fromDs = await certify(model, ds, { sigma, n0: 50, n: 200, batchSize: 64, seed: 2 });
    });
    const fromTensor = await certify(model, { x }, { sigma, n0: 50, n: 200, batchSize: 64, seed: 2 });
    expect(fromDs!.certificates).toEqual(fromTensor.certificates);
  });

  it('refuses bad options with typed errors naming the option', async () => {
    await expectRejects(certify(model, { x }, { sigma: 0 }), ConfigError, /certify: expected sigma to be a positive number, got 0/);
    await expectRejects(certify(model, { x }, { sigma: -1 }), ConfigError, /sigma/);
    await expectRejects(certify(model, { x }, { sigma: 1, n0: 200, n: 100 }), ConfigError, /n0 <= n, got n0 = 200 > n = 100/);
    await expectRejects(certify(model, { x }, { sigma: 1, alpha: 0 }), ConfigError, /alpha to be in \(0, 1\), got 0/);
    await expectRejects(certify(model, { x }, { sigma: 1, alpha: 1 }), ConfigError, /alpha/);
    await expectRejects(certify(model, { x }, { sigma: 1, n: 0 }), ConfigError, /certify: expected n to be an integer in \[1, /);
    const bad = tf.zeros([2, 3]);
    await expectRejects(certify(model, { x: bad }, { sigma: 1 }), ShapeError, /shape/);
    bad.dispose();
  });
});

/** Φ⁻¹ by bisection on {@link Phi}: an independent check of the library's quantile. */
function inverseNormal(p: number): number {
  let [lo, hi] = [-10, 10];
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (Phi(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
