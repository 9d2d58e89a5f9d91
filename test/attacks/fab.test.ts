// FAB and FAB-T: the box-constrained hyperplane projections against brute force, the minimal norm on a linear
// model against its closed form, FAB against DeepFool on a non-linear model, seeding, leaks and options.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { fab, projectOnHyperplaneInBox } from '../../attacks/fab.js';
import { deepfool } from '../../attacks/deepfool.js';
import type { Norm } from '../../src/norms.js';
import { countingModel, linearParts, prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { ConfigError } from '../../src/errors.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
const normOf = (d: ArrayLike<number>, norm: Norm): number => (norm === 'linf' ? Math.max(0, ...Array.from(d, Math.abs)) : Math.hypot(...Array.from(d)));

/** The box point nearest the hyperplane when the box cannot reach it: every coordinate at the bound that helps. */
function fullSaturation(t: number[], w: number[], b: number, lo: number, hi: number): number[] {
  const c = dot(w, t) - b;
  return t.map((ti, i) => (w[i] === 0 ? 0 : c * w[i]! > 0 ? lo - ti : hi - ti));
}

/** Whether the box reaches the hyperplane: `b` between the least and the greatest `⟨w, z⟩` over the box. */
function reachable(w: number[], b: number, lo: number, hi: number): boolean {
  const least = w.reduce((s, v) => s + Math.min(v * lo, v * hi), 0);
  const most = w.reduce((s, v) => s + Math.max(v * lo, v * hi), 0);
  return b >= least - 1e-12 && b <= most + 1e-12;
}

/**
 * L2 by brute force: every assignment of the coordinates with a weight to {free, at lo, at hi}; the free ones take
 * the least-norm solution of the remaining equation; the least norm over the assignments that stay in the box.
 */
function bruteL2(t: number[], w: number[], b: number, lo: number, hi: number): number[] {
  const dim = t.length;
  const idx = t.map((_, i) => i).filter((i) => w[i] !== 0);
  let best: number[] | undefined;
  let bestNorm = Infinity;
  for (let code = 0; code < 3 ** idx.length; code++) {
    const d = new Array<number>(dim).fill(0);
    const free: number[] = [];
    let rest = b - dot(w, t);
    for (let j = 0, k = code; j < idx.length; j++, k = Math.floor(k / 3)) {
      const i = idx[j]!;
      if (k % 3 === 0) free.push(i);
      else {
        d[i] = (k % 3 === 1 ? lo : hi) - t[i]!;
        rest -= w[i]! * d[i]!;
      }
    }
    const ww = free.reduce((s, i) => s + w[i]! ** 2, 0);
    if (ww === 0) {
      if (Math.abs(rest) > 1e-9) continue;
    } else for (const i of free) d[i] = (rest * w[i]!) / ww;
    if (d.some((v, i) => t[i]! + v < lo - 1e-9 || t[i]! + v > hi + 1e-9)) continue;
    const size = Math.hypot(...d);
    if (size < bestNorm) [best, bestNorm] = [d, size];
  }
  return best ?? fullSaturation(t, w, b, lo, hi);
}

/** L∞ by bisection on the radius μ: the least μ whose cube ∩ box reaches the hyperplane (an interval test per μ). */
function bruteLinfRadius(t: number[], w: number[], b: number, lo: number, hi: number): number {
  const need = b - dot(w, t);
  const reaches = (mu: number): boolean => {
    let least = 0;
    let most = 0;
    t.forEach((ti, i) => {
      const [a, z] = [Math.max(-mu, lo - ti), Math.min(mu, hi - ti)];
      least += Math.min(w[i]! * a, w[i]! * z);
      most += Math.max(w[i]! * a, w[i]! * z);
    });
    return need >= least - 1e-12 && need <= most + 1e-12;
  };
  let [a, z] = [0, hi - lo];
  for (let k = 0; k < 200; k++) {
    const mid = (a + z) / 2;
    if (reaches(mid)) z = mid;
    else a = mid;
  }
  return z;
}

// Weights are zero or of a size a gradient has (denormal weights make every test degenerate).
const weight = fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 2, noNaN: true }), fc.double({ min: -2, max: -0.01, noNaN: true }));
const caseArb = fc
  .record({
    dim: fc.integer({ min: 1, max: 6 }),
    box: fc.constantFrom<[number, number]>([0, 1], [-1, 2]),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .chain(({ dim, box, seed }) =>
    fc.record({
      box: fc.constant(box),
      t: fc.array(fc.double({ min: box[0], max: box[1], noNaN: true }), { minLength: dim, maxLength: dim }),
      w: fc.array(weight, { minLength: dim, maxLength: dim }),
      // The hyperplane passes through a point up to half a box outside the box: reachable or not.
      z: fc.array(fc.double({ min: box[0] - 0.5 * (box[1] - box[0]), max: box[1] + 0.5 * (box[1] - box[0]), noNaN: true }), { minLength: dim, maxLength: dim }),
      seed: fc.constant(seed),
    }),
  );

describe('projection onto a hyperplane inside a box', () => {
  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: matches brute force on small random cases, reachable or not`, () => {
      let [reached, unreached] = [0, 0];
      fc.assert(
        fc.property(caseArb, ({ box: [lo, hi], t, w, z }) => {
          const b = dot(w, z);
          const out = new Float64Array(t.length);
          projectOnHyperplaneInBox(norm, t, w, b, lo, hi, out);
          const d = Array.from(out);
          // Always inside the box, and zero where the weight is zero.
          d.forEach((v, i) => {
            expect(t[i]! + v).toBeGreaterThanOrEqual(lo - 1e-12);
            expect(t[i]! + v).toBeLessThanOrEqual(hi + 1e-12);
            if (w[i] === 0) expect(v).toBe(0);
          });
          if (!reachable(w, b, lo, hi)) {
            unreached++;
            fullSaturation(t, w, b, lo, hi).forEach((v, i) => expect(d[i]).toBeCloseTo(v, 12));
            return;
          }
          reached++;
          const scale = 1 + Math.abs(b) + w.reduce((s, v) => s + Math.abs(v), 0);
          expect(
            Math.abs(
              dot(
                w,
                t.map((v, i) => v + d[i]!),
              ) - b,
            ),
          ).toBeLessThanOrEqual(1e-9 * scale);
          if (norm === 'l2') {
            // The L2 projection is unique: the same vector.
            bruteL2(t, w, b, lo, hi).forEach((v, i) => expect(Math.abs(d[i]! - v)).toBeLessThanOrEqual(1e-9 * scale));
          } else {
            expect(Math.abs(normOf(d, 'linf') - bruteLinfRadius(t, w, b, lo, hi))).toBeLessThanOrEqual(1e-9 * scale);
          }
        }),
        { numRuns: 400, seed: 7 },
      );
      // Both regimes were exercised.
      expect(reached).toBeGreaterThan(50);
      expect(unreached).toBeGreaterThan(20);
    });
  }

  // In higher dimension brute force is out of reach; the optimality conditions certify the answer instead. Values
  // come from small sets so that breakpoints tie, as they do on images (pixels at 0 or 1).
  const wideArb = fc.integer({ min: 7, max: 120 }).chain((dim) =>
    fc.record({
      t: fc.array(fc.oneof(fc.constantFrom(0, 1, 0.5), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: dim, maxLength: dim }),
      w: fc.array(fc.oneof(fc.constantFrom(0, 1, -1, 0.25), weight), { minLength: dim, maxLength: dim }),
      u: fc.double({ min: -0.5, max: 1.5, noNaN: true }),
    }),
  );
  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: optimal in dimensions up to 120 with tied breakpoints (optimality conditions)`, () => {
      fc.assert(
        fc.property(wideArb, ({ t, w, u }) => {
          // The hyperplane through the point u·1 of the diagonal.
          const b = w.reduce((a, v) => a + v * u, 0);
          const out = new Float64Array(t.length);
          projectOnHyperplaneInBox(norm, t, w, b, 0, 1, out);
          const d = Array.from(out);
          d.forEach((v, i) => {
            expect(t[i]! + v).toBeGreaterThanOrEqual(-1e-12);
            expect(t[i]! + v).toBeLessThanOrEqual(1 + 1e-12);
          });
          if (!reachable(w, b, 0, 1)) {
            fullSaturation(t, w, b, 0, 1).forEach((v, i) => expect(d[i]).toBeCloseTo(v, 12));
            return;
          }
          const scale = 1 + Math.abs(b) + w.reduce((a, v) => a + Math.abs(v), 0);
          expect(
            Math.abs(
              dot(
                w,
                t.map((v, i) => v + d[i]!),
              ) - b,
            ),
          ).toBeLessThanOrEqual(1e-9 * scale);
          if (norm === 'linf') {
            expect(Math.abs(normOf(d, 'linf') - bruteLinfRadius(t, w, b, 0, 1))).toBeLessThanOrEqual(1e-9 * scale);
            return;
          }
          // L2 (convex, so these conditions are sufficient): d_i = clip(−λ·s·w_i, −t_i, 1 − t_i) for one λ >= 0.
          const s = Math.sign(dot(w, t) - b);
          const lambdas = d.flatMap((v, i) => (w[i] !== 0 && t[i]! + v > 0 && t[i]! + v < 1 ? [-v / (s * w[i]!)] : []));
          // With no coordinate strictly inside, every moving one is at its bound: any large λ certifies it.
          const lambda = lambdas.length > 0 ? lambdas[0]! : 1e300;
          expect(lambda).toBeGreaterThanOrEqual(-1e-12);
          d.forEach((v, i) => expect(Math.abs(v - Math.min(1 - t[i]!, Math.max(-t[i]!, -lambda * s * w[i]!)))).toBeLessThanOrEqual(1e-9 * scale));
        }),
        { numRuns: 300, seed: 11 },
      );
    });
  }

  it('is zero on the hyperplane and ignores zero weights; a point on a face moves only inward', () => {
    const out = new Float64Array(3);
    projectOnHyperplaneInBox('l2', [0.2, 0.5, 0.9], [1, 0, -1], 0.2 - 0.9, 0, 1, out);
    Array.from(out).forEach((v) => expect(v).toBeCloseTo(0, 15));
    // From the corner (1, 0) of [0,1]^2 onto x1 + x2 = 0.5: x2 is at its lower bound, so L∞ moves x1 alone by 0.5;
    // from the centre, both move down by 0.25.
    const two = new Float64Array(2);
    projectOnHyperplaneInBox('linf', [1, 0], [1, 1], 0.5, 0, 1, two);
    expect(Array.from(two)).toEqual([-0.5, 0]);
    projectOnHyperplaneInBox('linf', [0.5, 0.5], [1, 1], 0.5, 0, 1, two);
    expect(Array.from(two)).toEqual([-0.25, -0.25]);
    // L2 with the first coordinate pinned at 0: all the move goes to the second.
    projectOnHyperplaneInBox('l2', [0, 0.8], [1, 1], 0.5, 0, 1, two);
    expect(two[0]).toBe(0);
    expect(two[1]).toBeCloseTo(-0.3, 12);
  });
});

describe('fab on a linear model', () => {
  const d = 16;
  const k = 4;
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12, d, numClasses: k });
  });
  afterAll(() => p.dispose());

  for (const norm of ['l2', 'linf'] as const) {
    for (const targeted of [false, true]) {
      it(`${targeted ? 'fab-t' : 'fab'} ${norm}: the minimal norm is the closed-form distance to the nearest boundary (within 1%)`, async () => {
        const { w, b } = await linearParts(p.model, d, k);
        const xs = await p.x.data();
        const r = await fab({ norm, targeted }).run(p.model, p.x, p.labels, { epsilons: [10] });
        for (let i = 0; i < 12; i++) {
          const x = Array.from(xs.subarray(i * d, (i + 1) * d));
          const z = Array.from({ length: k }, (_, c) => b[c]! + x.reduce((a, v, j) => a + v * w[j]![c]!, 0));
          const y = p.labels[i]!;
          let best = Infinity;
          for (let c = 0; c < k; c++) {
            if (c === y) continue;
            const diff = w.map((row) => row[c]! - row[y]!);
            const dual = norm === 'l2' ? Math.hypot(...diff) : diff.reduce((a, v) => a + Math.abs(v), 0);
            const dist = (z[y]! - z[c]!) / dual;
            // The unconstrained closest point of this boundary lies inside [0, 1]: the box does not change the distance.
            const step = diff.map((v) => (norm === 'l2' ? (dist * v) / dual : dist * Math.sign(v)));
            x.forEach((v, j) => {
              expect(v + step[j]!).toBeGreaterThanOrEqual(0);
              expect(v + step[j]!).toBeLessThanOrEqual(1);
            });
            best = Math.min(best, dist);
          }
          // FAB approaches the boundary from outside (overshoot eta = 1.05, backward step beta = 0.9): its fixed
          // point on a linear model is about 0.85% beyond the boundary.
          expect(r.minimalNorms![i]).toBeGreaterThanOrEqual(best * (1 - 1e-5));
          expect(r.minimalNorms![i]).toBeLessThanOrEqual(best * 1.01);
        }
        expect(r.results[0]!.success.every(Boolean)).toBe(true);
        r.dispose();
      });
    }
  }
});

describe('fab on a non-linear model', () => {
  let m: ReturnType<typeof tinyConvModel>;
  let x: tf.Tensor;
  /** The model's clean predictions: every point starts correctly classified. */
  let labels: number[];
  beforeAll(async () => {
    m = tinyConvModel({ size: 6, seed: 4, numClasses: 3 });
    x = tf.tensor4d(seededValues(12 * 36, 25), [12, 6, 6, 1]);
    const pred = tf.tidy(() => tf.argMax(m.model.logits(x), 1));
    labels = Array.from(await pred.data());
    pred.dispose();
  });
  afterAll(() => {
    x.dispose();
    m.dispose();
  });

  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: FAB and FAB-T find perturbations no larger than DeepFool's (1%), and smaller on most points`, async () => {
      const df = await deepfool({ norm }).run(m.model, x, labels, { epsilons: [10] });
      const a = await fab({ norm }).run(m.model, x, labels, { epsilons: [10] });
      const t = await fab({ norm, targeted: true }).run(m.model, x, labels, { epsilons: [10] });
      const [dn, an, tn] = [Array.from(df.minimalNorms!), Array.from(a.minimalNorms!), Array.from(t.minimalNorms!)];
      expect(dn.every((v) => v < Infinity)).toBe(true);
      // Where DeepFool lands almost on the boundary (its overshoot is 2%), FAB can end up to about 1% beyond it.
      dn.forEach((v, i) => {
        expect(an[i]).toBeLessThanOrEqual(v * 1.01);
        expect(tn[i]).toBeLessThanOrEqual(v * 1.01);
      });
      // Strictly smaller on most of the points DeepFool had to move.
      const moved = dn.flatMap((v, i) => (v > 0 ? [i] : []));
      for (const found of [an, tn]) expect(moved.filter((i) => found[i]! < dn[i]! * 0.99).length).toBeGreaterThan(moved.length / 2);
      [df, a, t].forEach((r) => r.dispose());
    });
  }

  it('points the clean input already fools keep it: perturbation 0', async () => {
    const given = labels.map((y, i) => (i % 4 === 0 ? (y + 1) % 3 : y));
    const wrong = given.flatMap((v, i) => (v !== labels[i] ? [i] : []));
    const r = await fab({ targeted: true, steps: 5 }).run(m.model, x, given, { epsilons: [0, 1] });
    for (const i of wrong) {
      expect(r.minimalNorms![i]).toBe(0);
      expect(r.results[0]!.success[i]).toBe(true);
    }
    expect(r.results[0]!.success.filter(Boolean).length).toBe(wrong.length);
    r.dispose();
  });

  it('restarts: deterministic under a seed, never worse than one run, and per-sample seeded', async () => {
    const run = (seed: number, restarts: number, xs = x, ys = labels, indices?: number[]) =>
      fab({ norm: 'l2', steps: 5, restarts }).run(m.model, xs, ys, { epsilons: [10], seed, ...(indices ? { indices } : {}) });
    const [a, b, c, one] = [await run(3, 3), await run(3, 3), await run(4, 3), await run(3, 1)];
    expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
    expect(Array.from(a.minimalNorms!)).not.toEqual(Array.from(c.minimalNorms!));
    Array.from(a.minimalNorms!).forEach((v, i) => expect(v).toBeLessThanOrEqual(one.minimalNorms![i]!));
    // A subset run with its global indices gives the full run's rows.
    const picks = [2, 5, 9];
    const sub = tf.gather(x, picks);
    const same = await run(
      3,
      3,
      sub,
      picks.map((i) => labels[i]!),
      picks,
    );
    expect(Array.from(same.minimalNorms!)).toEqual(picks.map((i) => a.minimalNorms![i]!));
    sub.dispose();
    [a, b, c, one, same].forEach((r) => r.dispose());
  });

  it('a run given targets lands in the target class', async () => {
    const targets = labels.map((y) => (y + 1) % 3);
    const r = await fab({ norm: 'l2', steps: 30 }).run(m.model, x, labels, { epsilons: [10], targets });
    const e = r.results[0]!;
    e.success.forEach((s, i) => {
      if (s) expect(e.predictions[i]).toBe(targets[i]);
    });
    expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(10);
    r.dispose();
  });

  it('leaks no tensors', async () => {
    for (const targeted of [false, true]) {
      await expectNoLeak(async () => {
        const r = await fab({ targeted, steps: 3, restarts: 2 }).run(m.model, x, labels, { epsilons: [0.1, 1] });
        r.dispose();
      });
    }
  });
});

describe('fab options and errors', () => {
  it('records its full configuration with the AutoAttack defaults', () => {
    expect(fab().config).toEqual({
      norm: 'linf',
      targeted: false,
      targetClasses: 9,
      steps: 100,
      restarts: 1,
      alphaMax: 0.1,
      eta: 1.05,
      beta: 0.9,
      restartRadius: 0.3,
    });
    expect(fab({ norm: 'l2', targeted: true }).config).toMatchObject({ targeted: true, restartRadius: 1 });
    expect(fab({ targeted: true })).toMatchObject({ name: 'fab-t', kind: 'minimum-norm', requires: 'gradients', norm: 'linf' });
    expect(fab({ norm: 'l2' })).toMatchObject({ name: 'fab', norm: 'l2' });
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => fab({ steps: 0 })).toThrow(ConfigError);
    expect(() => fab({ steps: 0 })).toThrow('fab: expected steps to be an integer in [1, 100000], got 0');
    expect(() => fab({ targeted: true, steps: 1.5 })).toThrow('fab-t: expected steps to be an integer in [1, 100000], got 1.5');
    expect(() => fab({ restarts: 0 })).toThrow('fab: expected restarts to be an integer in [1, 1000], got 0');
    expect(() => fab({ targetClasses: 0 })).toThrow('fab: expected targetClasses to be an integer in [1, 100000], got 0');
    expect(() => fab({ alphaMax: 1.5 })).toThrow('fab: expected alphaMax to be a number in [0, 1], got 1.5');
    expect(() => fab({ beta: 0 })).toThrow('fab: expected beta to be a finite number > 0, got 0');
    expect(() => fab({ beta: 2 })).toThrow('fab: expected beta to be a number in (0, 1], got 2');
    expect(() => fab({ eta: -1 })).toThrow('fab: expected eta to be a finite number > 0, got -1');
    expect(() => fab({ restartRadius: NaN })).toThrow('fab: expected restartRadius to be a finite number > 0, got NaN');
    expect(() => fab({ norm: 'l1' as 'l2' })).toThrow('fab: expected norm to be one of linf, l2, got "l1"');
    expect(() => fab({ targeted: 'yes' as unknown as boolean })).toThrow('expected targeted to be a boolean, got "yes"');
    for (const make of [() => fab({ steps: 0 }), () => fab({ alphaMax: 2 })]) {
      try {
        make();
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });

  it('leaks nothing when the model fails mid-step', async () => {
    const p = prototypeProblem({ n: 4, numClasses: 4 });
    const counted = countingModel(p.model, (x, loss) => {
      if (counted.calls() === 2) throw new Error('engine failure');
      return p.model.valueAndGrad(x, loss);
    });
    const model = counted.model;
    await expectNoLeak(async () => {
      await expect(fab({ steps: 2 }).run(model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow('engine failure');
    });
    p.dispose();
  });

  it('uses only model.valueAndGrad for gradients: one call per step and target (FAB-T), C − 1 per step (FAB)', async () => {
    const p = prototypeProblem({ n: 8, numClasses: 4 });
    const { model, calls, reset } = countingModel(p.model);
    const t = await fab({ targeted: true, steps: 4, restarts: 2 }).run(model, p.x, p.labels, { epsilons: [1] });
    expect(calls()).toBe(3 * 2 * 4); // min(9, C − 1) targets × restarts × steps
    reset();
    const t2 = await fab({ targeted: true, targetClasses: 2, steps: 4 }).run(model, p.x, p.labels, { epsilons: [1] });
    expect(calls()).toBe(2 * 4);
    reset();
    const u = await fab({ steps: 4 }).run(model, p.x, p.labels, { epsilons: [1] });
    expect(calls()).toBe(3 * 4);
    [t, t2, u].forEach((r) => r.dispose());
    p.dispose();
  });
});
