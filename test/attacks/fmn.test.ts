// FMN against closed-form boundary distances on a linear model, against DeepFool on a non-linear one, and its
// options, errors, determinism and memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { fmn } from '../../attacks/fmn.js';
import { deepfool } from '../../attacks/deepfool.js';
import type { DifferentiableModel } from '../../src/model.js';
import { countingModel, linearParts, prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';
import { ConfigError } from '../../src/errors.js';

/**
 * Per sample, the exact minimal perturbation of a linear model in `norm` (the nearest of the boundaries between
 * the label and each other class), and whether the minimiser stays inside [0, 1] (then the bounds do not matter).
 */
function exactDistances(x: Float32Array, labels: ArrayLike<number>, w: number[][], b: number[], norm: 'l2' | 'linf'): { distance: number; inside: boolean }[] {
  const d = w.length;
  const k = b.length;
  return Array.from(labels, (y, i) => {
    const xi = Array.from(x.subarray(i * d, (i + 1) * d));
    const z = Array.from({ length: k }, (_, c) => b[c]! + xi.reduce((a, v, j) => a + v * w[j]![c]!, 0));
    let best = { distance: Infinity, inside: false };
    for (let c = 0; c < k; c++) {
      if (c === y) continue;
      const diff = w.map((row) => row[c]! - row[y]!);
      const dual = norm === 'l2' ? Math.hypot(...diff) : diff.reduce((a, v) => a + Math.abs(v), 0);
      const distance = (z[y]! - z[c]!) / dual;
      if (distance >= best.distance) continue;
      const step = diff.map((v) => (norm === 'l2' ? (distance * v) / dual : distance * Math.sign(v)));
      best = { distance, inside: xi.every((v, j) => v + step[j]! >= 0 && v + step[j]! <= 1) };
    }
    return best;
  });
}

describe('fmn on a linear model', () => {
  const d = 16;
  const k = 4;
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12, d, numClasses: k });
  });
  afterAll(() => p.dispose());

  // Measured on cpu, above the exact distance: L2 at most 0.001%; L∞ at most 1.4% (on one point FMN follows the
  // runner-up class, whose boundary is not the nearest one in L∞).
  for (const [norm, tolerance] of [
    ['l2', 0.001],
    ['linf', 0.02],
  ] as const) {
    it(`${norm}: the minimal norm is the exact distance to the nearest boundary, from above, within ${tolerance * 100}%`, async () => {
      const { w, b } = await linearParts(p.model, d, k);
      const exact = exactDistances((await p.x.data()) as Float32Array, p.labels, w, b, norm);
      expect(exact.every((e) => e.inside)).toBe(true);
      const r = await fmn({ norm }).run(p.model, p.x, p.labels, { epsilons: [10] });
      expect(r.results[0]!.success.every(Boolean)).toBe(true);
      r.minimalNorms!.forEach((m, i) => {
        const e = exact[i]!.distance;
        expect(m).toBeGreaterThanOrEqual(e * (1 - 1e-5));
        expect(m).toBeLessThanOrEqual(e * (1 + tolerance));
      });
      r.dispose();
    });
  }

  it('decides success from model.logits, not from the gradient engine’s loss value (engines may differ in the last bits)', async () => {
    // A gradient engine whose loss value says "adversarial" too early (the margin shifted up by 0.05): FMN still keeps
    // only points the model's logits call adversarial, so every point is fooled, at no less than the exact distance.
    const { w, b } = await linearParts(p.model, d, k);
    const exact = exactDistances((await p.x.data()) as Float32Array, p.labels, w, b, 'l2');
    const inner = p.model;
    const model: DifferentiableModel = {
      kind: 'differentiable',
      bounds: inner.bounds,
      numClasses: inner.numClasses,
      inputShape: inner.inputShape,
      layout: inner.layout,
      name: 'early-engine',
      engine: 'test',
      warnings: [],
      fingerprint: () => inner.fingerprint(),
      dispose: () => {},
      logits: (x) => inner.logits(x),
      valueAndGrad: async (x, loss) => {
        const r = await inner.valueAndGrad(x, loss);
        const value = tf.tidy(() => tf.add(r.value, 0.05) as tf.Tensor1D);
        r.value.dispose();
        return { value, grad: r.grad };
      },
    };
    const r = await fmn().run(model, p.x, p.labels, { epsilons: [10] });
    expect(r.results[0]!.success.every(Boolean)).toBe(true);
    r.minimalNorms!.forEach((m, i) => expect(m).toBeGreaterThanOrEqual(exact[i]!.distance * (1 - 1e-5)));
    r.dispose();
  });

  it('targeted: every success is the target, and needs at least the untargeted norm', async () => {
    const targets = randomTargets(p.labels, k, 3);
    const un = await fmn().run(p.model, p.x, p.labels, { epsilons: [10] });
    const to = await fmn().run(p.model, p.x, p.labels, { epsilons: [10], targets });
    const e = to.results[0]!;
    expect(e.success.every(Boolean)).toBe(true);
    expect(Array.from(e.predictions)).toEqual(Array.from(targets));
    to.minimalNorms!.forEach((m, i) => expect(m).toBeGreaterThanOrEqual(un.minimalNorms![i]! * (1 - 1e-5)));
    // Some targets are not the nearest class, so they cost strictly more.
    expect(Array.from(to.minimalNorms!).some((m, i) => m > un.minimalNorms![i]! * 1.05)).toBe(true);
    un.dispose();
    to.dispose();
  });

  it('a point already misclassified has minimal norm 0 and is returned unchanged', async () => {
    const wrong = Array.from(p.labels, (y) => (y + 1) % k);
    const r = await fmn({ steps: 10 }).run(p.model, p.x, wrong, { epsilons: [0, 1] });
    expect(Array.from(r.minimalNorms!)).toEqual(new Array(12).fill(0));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(r.results[0]!.adversarial, p.x))));
    expect((await diff.data())[0]).toBe(0);
    diff.dispose();
    r.dispose();
  });
});

describe('fmn on a non-linear model', () => {
  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: fools every point and finds smaller norms than DeepFool`, async () => {
      const { model, dispose } = tinyConvModel({ size: 6, seed: 4 });
      const x = tf.tensor4d(seededValues(12 * 36, 25), [12, 6, 6, 1]);
      // The clean predictions as labels: every point needs a perturbation.
      const pred = tf.tidy(() => tf.argMax(model.logits(x), 1));
      const labels = Array.from(await pred.data());
      pred.dispose();
      const a = await fmn({ norm }).run(model, x, labels, { epsilons: [10] });
      const b = await deepfool({ norm }).run(model, x, labels, { epsilons: [10] });
      const f = Array.from(a.minimalNorms!);
      const g = Array.from(b.minimalNorms!);
      expect(f.every((v) => v < Infinity)).toBe(true);
      // Measured on cpu: smaller on every point; in total 12% smaller (L2) and 4.5% smaller (L∞) than DeepFool with
      // its default overshoot of 2%.
      f.forEach((v, i) => expect(v).toBeLessThan(g[i]!));
      const sum = (v: number[]) => v.reduce((s, t) => s + t, 0);
      expect(sum(f)).toBeLessThan((norm === 'l2' ? 0.9 : 0.97) * sum(g));
      a.dispose();
      b.dispose();
      x.dispose();
      dispose();
    });
  }
});

describe('fmn options, determinism, memory and errors', () => {
  it('records its full configuration with the reference defaults', () => {
    expect(fmn().config).toEqual({ norm: 'l2', steps: 100, stepSize: 1, finalStepSize: 0.01, gamma: 0.05, finalGamma: 0.001 });
    expect(fmn({ norm: 'linf' }).config).toEqual({ norm: 'linf', steps: 100, stepSize: 10, finalStepSize: 0.1, gamma: 0.05, finalGamma: 0.001 });
    expect(fmn({ norm: 'linf' })).toMatchObject({ name: 'fmn', kind: 'minimum-norm', search: 'minimum-norm', requires: 'gradients', norm: 'linf' });
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => fmn({ steps: 0 })).toThrow(ConfigError);
    expect(() => fmn({ steps: 0 })).toThrow('fmn: expected steps to be an integer in [1, 100000], got 0');
    expect(() => fmn({ steps: 2.5 })).toThrow('fmn: expected steps to be an integer in [1, 100000], got 2.5');
    expect(() => fmn({ stepSize: 0 })).toThrow('fmn: expected stepSize to be a finite number > 0, got 0');
    expect(() => fmn({ finalStepSize: -1 })).toThrow('fmn: expected finalStepSize to be a finite number > 0, got -1');
    expect(() => fmn({ gamma: 1 })).toThrow('fmn: expected gamma to be a number in (0, 1), got 1');
    expect(() => fmn({ finalGamma: 0 })).toThrow('fmn: expected finalGamma to be a number in (0, 1), got 0');
    expect(() => fmn({ norm: 'l1' as 'l2' })).toThrow('fmn: expected norm to be one of linf, l2, got "l1"');
    for (const f of [() => fmn({ steps: 0 }), () => fmn({ gamma: Number.NaN })]) {
      try {
        f();
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });

  it('is deterministic and leaks nothing, on both norms, targeted or not', async () => {
    const { model, dispose } = tinyConvModel({ size: 6, seed: 2 });
    const x = tf.tensor4d(seededValues(6 * 36, 8), [6, 6, 6, 1]);
    const labels = [0, 1, 2, 0, 1, 2];
    for (const norm of ['l2', 'linf'] as const) {
      for (const targets of [undefined, [1, 2, 0, 1, 2, 0]]) {
        await expectNoLeak(async () => {
          const a = await fmn({ norm, steps: 20 }).run(model, x, labels, { epsilons: [0.5], ...(targets ? { targets } : {}) });
          const b = await fmn({ norm, steps: 20 }).run(model, x, labels, { epsilons: [0.5], seed: 7, ...(targets ? { targets } : {}) });
          expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
          expect(a.minimalNorms).toEqual(b.minimalNorms);
          a.dispose();
          b.dispose();
        });
      }
    }
    x.dispose();
    dispose();
  });

  it('takes gradients only from model.valueAndGrad, one call per step', async () => {
    const p = prototypeProblem({ n: 4 });
    const { model, calls } = countingModel(p.model);
    const r = await fmn({ steps: 17 }).run(model, p.x, p.labels, { epsilons: [1] });
    expect(calls()).toBe(17);
    r.dispose();
    p.dispose();
  });
});
