// MI-FGSM against a hand computation of its momentum update on a linear model, its special cases, options and
// errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { miFgsm } from '../../attacks/mi-fgsm.js';
import { bim } from '../../attacks/bim.js';
import { linearParts, prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';
import { ConfigError } from '../../src/errors.js';
import { fromFunction } from '../../src/model.js';

/** ∇ₓ of the cross-entropy of a linear model at x: W·(softmax(z) − e_y), in float64. */
function ceGradient(x: number[], y: number, w: number[][], b: number[]): number[] {
  const z = b.map((bc, c) => bc + x.reduce((a, v, j) => a + v * w[j]![c]!, 0));
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  const coef = e.map((v, c) => v / s - (c === y ? 1 : 0));
  return w.map((row) => row.reduce((a, v, c) => a + v * coef[c]!, 0));
}

/** Two MI-FGSM steps by hand: g ← μ·g + ∇/‖∇‖₁; x ← x + α·sign(g) (L∞) or x + α·g/‖g‖₂ (L2). */
function byHand(x0: number[], y: number, w: number[][], b: number[], eps: number, decay: number, norm: 'linf' | 'l2', steps: number): number[] {
  const alpha = eps / steps;
  let x = x0.slice();
  let g = x.map(() => 0);
  for (let t = 0; t < steps; t++) {
    const grad = ceGradient(x, y, w, b);
    const l1 = grad.reduce((a, v) => a + Math.abs(v), 0);
    g = g.map((v, j) => decay * v + grad[j]! / l1);
    const l2 = Math.hypot(...g);
    // Inside the ball by construction (t·α ≤ ε), then into the bounds [0, 1].
    x = x.map((v, j) => Math.min(1, Math.max(0, v + alpha * (norm === 'linf' ? Math.sign(g[j]!) : g[j]! / l2))));
  }
  return x;
}

describe('mi-fgsm on a linear model', () => {
  const d = 16;
  const k = 4;
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12, d, numClasses: k });
  });
  afterAll(() => p.dispose());

  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: two steps equal the hand-computed momentum update`, async () => {
      const eps = norm === 'l2' ? 0.3 : 0.4;
      const steps = 2;
      const { w, b } = await linearParts(p.model, d, k);
      const xs = await p.x.data();
      const r = await miFgsm({ norm, steps }).run(p.model, p.x, p.labels, { epsilons: [eps] });
      const got = await r.results[0]!.adversarial.data();
      let differs = 0;
      for (let i = 0; i < 12; i++) {
        const x0 = Array.from(xs.subarray(i * d, (i + 1) * d));
        const want = byHand(x0, p.labels[i]!, w, b, eps, 1, norm, steps);
        want.forEach((v, j) => expect(got[i * d + j]).toBeCloseTo(v, 5));
        const plain = byHand(x0, p.labels[i]!, w, b, eps, 0, norm, steps);
        if (plain.some((v, j) => Math.abs(v - want[j]!) > 1e-4)) differs++;
      }
      // L2: the momentum changes the second step on every point. L∞: on this model no sign of the accumulated
      // gradient differs from the fresh one's, so the update is the same (the next test has one that does).
      expect(differs).toBe(norm === 'l2' ? 12 : 0);
      r.dispose();
    });
  }

  it('L∞: the momentum keeps a direction that the fresh gradient flips (2-D case by hand)', async () => {
    // z = x·W + b with W = [[0, 1, 4], [0, −1, 1]], b = [0, 0.1, −2.5], label 0, x0 = (0.5, 0.5), ε = 0.3, 2 steps
    // of 0.15. Step 1: z1 = 0.1 > z2 = 0, so ∂CE/∂x₂ = p2 − p1 < 0: x1 = (0.65, 0.35). There z2 = 0.45 > z1 = 0.4
    // and the fresh ∂CE/∂x₂ turns positive, but by less (in L1-normalised units) than the stored negative one: with
    // momentum x₂ keeps falling, x2 = (0.8, 0.2); without (decay 0, BIM) it climbs back, x2 = (0.8, 0.5).
    const w = tf.tensor2d([0, 1, 4, 0, -1, 1], [2, 3]);
    const b = tf.tensor1d([0, 0.1, -2.5]);
    const model = fromFunction((x) => tf.add(tf.matMul(x as tf.Tensor2D, w), b), { numClasses: 3, inputShape: [2], weights: [w, b], name: 'two-d' });
    const x = tf.tensor2d([[0.5, 0.5]]);
    for (const [decay, want] of [
      [1, [0.8, 0.2]],
      [0, [0.8, 0.5]],
    ] as const) {
      const r = await miFgsm({ steps: 2, decay }).run(model, x, [0], { epsilons: [0.3] });
      Array.from(await r.results[0]!.adversarial.data()).forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 6));
      r.dispose();
    }
    tf.dispose([w, b, x]);
  });

  it('with decay 0 it is BIM with step ε/steps, bit for bit (L∞)', async () => {
    const eps = 0.2;
    const a = await miFgsm({ decay: 0, steps: 5 }).run(p.model, p.x, p.labels, { epsilons: [eps] });
    const b = await bim({ steps: 5, stepSize: eps / 5 }).run(p.model, p.x, p.labels, { epsilons: [eps] });
    expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
    a.dispose();
    b.dispose();
  });

  it('targeted: successes are the targets, and most points reach theirs', async () => {
    const targets = randomTargets(p.labels, k, 4);
    const r = await miFgsm({ norm: 'l2' }).run(p.model, p.x, p.labels, { epsilons: [1.5], targets });
    const e = r.results[0]!;
    expect(r.targeted).toBe(true);
    e.success.forEach((s, i) => expect(s).toBe(e.predictions[i] === targets[i]));
    expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(9);
    r.dispose();
  });

  it('records no loss trajectory (its loss rises to the last step by design), so the not-converged check skips it', async () => {
    const r = await miFgsm({ steps: 8 }).run(p.model, p.x, p.labels, { epsilons: [0.05] });
    const rise = Array.from(r.results[0]!.lateLossRise!);
    expect(rise).toHaveLength(12);
    expect(rise.every((v) => Number.isNaN(v))).toBe(true);
    r.dispose();
  });
});

describe('mi-fgsm options, determinism, memory and errors', () => {
  it('records its full configuration with the paper defaults', () => {
    expect(miFgsm().config).toEqual({ norm: 'linf', steps: 10, decay: 1, loss: 'ce', randomStart: false });
    expect(miFgsm({ norm: 'l2', loss: 'margin' })).toMatchObject({ name: 'mi-fgsm', kind: 'fixed-epsilon', requires: 'gradients', norm: 'l2' });
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => miFgsm({ steps: 0 })).toThrow(ConfigError);
    expect(() => miFgsm({ steps: 0 })).toThrow('mi-fgsm: expected steps to be an integer in [1, 100000], got 0');
    expect(() => miFgsm({ decay: -1 })).toThrow('mi-fgsm: expected decay to be a finite number >= 0, got -1');
    expect(() => miFgsm({ decay: Infinity })).toThrow('mi-fgsm: expected decay to be a finite number >= 0, got Infinity');
    expect(() => miFgsm({ loss: 'hinge' as 'ce' })).toThrow('mi-fgsm: expected loss to be one of ce, margin, dlr, got "hinge"');
    expect(() => miFgsm({ norm: 'l1' as 'l2' })).toThrow('mi-fgsm: expected norm to be one of linf, l2, got "l1"');
    expect(() => miFgsm({ randomStart: 1 as unknown as boolean })).toThrow('mi-fgsm: expected randomStart to be a boolean, got 1');
  });

  it('is deterministic and leaks nothing on a conv model, both norms', async () => {
    const { model, dispose } = tinyConvModel({ size: 6, seed: 2 });
    const x = tf.tensor4d(seededValues(6 * 36, 8), [6, 6, 6, 1]);
    const labels = [0, 1, 2, 0, 1, 2];
    for (const norm of ['l2', 'linf'] as const) {
      const eps = norm === 'l2' ? 0.5 : 0.1;
      await expectNoLeak(async () => {
        const a = await miFgsm({ norm }).run(model, x, labels, { epsilons: [eps], seed: 1 });
        const b = await miFgsm({ norm }).run(model, x, labels, { epsilons: [eps], seed: 2 });
        expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
        a.dispose();
        b.dispose();
      });
    }
    x.dispose();
    dispose();
  });
});
