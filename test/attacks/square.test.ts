// Square Attack: the reference's p schedule and square sides, the points it queries (inside the ball, at its
// corners for L∞, on the sphere for L2, stripes for its L∞ start, on the layout's grid), honest query counting that
// stops at the first success, restarts on the points not yet fooled, per-sample seeding, no leaks, config errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { square, squareP, squareSide } from '../../attacks/square.js';
import { createAttack } from '../../attacks/registry.js';
import { prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';
import { ConfigError } from '../../src/errors.js';
import type { DifferentiableModel, QueryModel } from '../../src/model.js';

/** Everything a query-only view of a model was asked: one host copy of each batch of candidates. */
interface Recorder {
  batches: Float32Array[];
}

/**
 * The model seen only through an async forward pass (what onnxruntime or an HTTP endpoint gives), recording every
 * batch it is asked. `transform` maps the inputs it gets to the wrapped model's (a layout change, say).
 */
function queryOnly(
  model: DifferentiableModel,
  rec?: Recorder,
  over: { inputShape?: readonly number[]; layout?: QueryModel['layout']; transform?: (x: tf.Tensor) => tf.Tensor } = {},
): QueryModel {
  return {
    ...model,
    kind: 'query',
    name: `${model.name}-query`,
    inputShape: over.inputShape ?? model.inputShape,
    layout: over.layout ?? model.layout,
    logits: async (x: tf.Tensor) => {
      if (rec) rec.batches.push(Float32Array.from(await x.data()));
      if (!over.transform) return model.logits(x);
      const inner = over.transform(x);
      const out = model.logits(inner);
      inner.dispose();
      return out;
    },
  } as QueryModel;
}

async function host(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}

function row(a: Float32Array, i: number, d: number): Float32Array {
  return a.subarray(i * d, (i + 1) * d);
}

describe('square: schedule and sides (the reference values)', () => {
  it('p is halved at the reference checkpoints of 10,000 iterations, scaled to the budget', () => {
    // From p_selection of max-andr/square-attack attack.py (and AutoAttack's with resc_schedule), p_init = 0.8.
    const at10000: [number, number][] = [
      [0, 0.8],
      [10, 0.8],
      [11, 0.4],
      [50, 0.4],
      [51, 0.2],
      [200, 0.2],
      [201, 0.1],
      [500, 0.1],
      [501, 0.05],
      [1000, 0.05],
      [1001, 0.025],
      [2000, 0.025],
      [2001, 0.0125],
      [4000, 0.0125],
      [4001, 0.00625],
      [6000, 0.00625],
      [6001, 0.003125],
      [8000, 0.003125],
      [8001, 0.0015625],
      [9999, 0.0015625],
    ];
    for (const [i, p] of at10000) expect(squareP(0.8, i, 10000)).toBe(p);
    const at5000: [number, number][] = [
      [5, 0.8],
      [6, 0.4],
      [25, 0.4],
      [26, 0.2],
      [100, 0.2],
      [101, 0.1],
      [500, 0.05],
      [501, 0.025],
      [2000, 0.0125],
      [2001, 0.00625],
      [4000, 0.003125],
      [4001, 0.0015625],
      [4998, 0.0015625],
    ];
    for (const [i, p] of at5000) expect(squareP(0.8, i, 5000)).toBe(p);
    const at1000: [number, number][] = [
      [1, 0.8],
      [2, 0.4],
      [5, 0.4],
      [6, 0.2],
      [50, 0.1],
      [51, 0.05],
      [200, 0.025],
      [201, 0.0125],
      [501, 0.00625],
      [999, 0.0015625],
    ];
    for (const [i, p] of at1000) expect(squareP(0.8, i, 1000)).toBe(p);
    expect(squareP(0.8, 1, 100)).toBe(0.2);
    expect(squareP(0.05, 11, 10000)).toBe(0.025);
  });

  it('square sides: round(√(p·H·W)) (Python rounding), L∞ in [1, min(H, W)], L2 at least 3 and odd; strips round(p·D)', () => {
    const ps = [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125, 0.0015625];
    expect(ps.map((p) => squareSide(p, 28, 28, 'linf'))).toEqual([25, 18, 13, 9, 6, 4, 3, 2, 2, 1]);
    expect(ps.map((p) => squareSide(p, 28, 28, 'l2'))).toEqual([25, 19, 13, 9, 7, 5, 3, 3, 3, 3]);
    expect(squareSide(0.05, 32, 32, 'linf')).toBe(7);
    // √(0.25·25) = 2.5: Python's round gives 2 (halves to even), not 3.
    expect(squareSide(0.25, 5, 5, 'linf')).toBe(2);
    expect(squareSide(1, 6, 4, 'linf')).toBe(4);
    expect(squareSide(1, 6, 4, 'l2')).toBe(4);
    expect(squareSide(0.8, 1, 16, 'linf')).toBe(13);
    expect(squareSide(0.01, 1, 16, 'linf')).toBe(1);
    expect(squareSide(0.01, 1, 16, 'l2')).toBe(3);
  });
});

describe('square: queries', () => {
  let conv: ReturnType<typeof tinyConvModel>;
  let x: tf.Tensor;
  const n = 10;
  const d = 36;
  // The model's own clean predictions, so that every point starts correctly classified.
  let labels: number[];
  beforeAll(async () => {
    conv = tinyConvModel({ size: 6, seed: 4 });
    x = tf.tensor4d(seededValues(n * d, 31), [n, 6, 6, 1]);
    const pred = tf.tidy(() => tf.argMax(conv.model.logits(x), 1));
    labels = Array.from(await pred.data());
    pred.dispose();
  });
  afterAll(() => {
    x.dispose();
    conv.dispose();
  });

  for (const norm of ['linf', 'l2'] as const) {
    it(`${norm}: counts one query per step per searching point, stops a point at its first success, inside the ball and the bounds`, async () => {
      const eps = norm === 'linf' ? 0.05 : 0.2;
      const budget = 40;
      const rec: Recorder = { batches: [] };
      const r = await square({ norm, queries: budget }).run(queryOnly(conv.model, rec), x, labels, { epsilons: [eps], seed: 2 });
      const e = r.results[0]!;
      const q = Array.from(e.queries!);
      expect(e.success.filter(Boolean).length).toBeGreaterThan(0);
      expect(e.success.filter((s) => !s).length).toBeGreaterThan(0);
      // Every batch but the runner's last (its verification of the result, not counted) is one step of the attack.
      const steps = rec.batches.slice(0, -1);
      expect(steps).toHaveLength(Math.max(...q));
      const clean = await host(x);
      const adv = await host(e.adversarial);
      const eps32 = Math.fround(eps);
      for (const b of steps) {
        for (let i = 0; i < n; i++) {
          const c = row(b, i, d);
          const o = row(clean, i, d);
          let sq = 0;
          c.forEach((v, k) => {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
            const dv = v - o[k]!;
            if (norm === 'linf') expect(Math.abs(Math.fround(dv))).toBeLessThanOrEqual(eps32 + 1e-7);
            sq += dv * dv;
          });
          if (norm === 'l2') expect(Math.sqrt(sq)).toBeLessThanOrEqual(eps * (1 + 1e-6));
        }
      }
      // Per point: `queries` steps were its own; it was fooled exactly at its last one when it succeeded (and not
      // before), and the returned point is that candidate; a point never fooled spent the whole budget.
      const logits = await Promise.all(steps.map((b) => host(tf.tidy(() => conv.model.logits(tf.tensor4d(b, [n, 6, 6, 1]))))));
      const fools = (k: number, i: number): boolean => {
        const z = row(logits[k]!, i, 3);
        return z.indexOf(Math.max(...z)) !== labels[i];
      };
      for (let i = 0; i < n; i++) {
        expect(q[i]).toBeGreaterThanOrEqual(1);
        expect(q[i]).toBeLessThanOrEqual(budget);
        if (!e.success[i]) {
          expect(q[i]).toBe(budget);
          continue;
        }
        for (let k = 0; k < q[i]! - 1; k++) expect(fools(k, i)).toBe(false);
        expect(fools(q[i]! - 1, i)).toBe(true);
        // The runner projects the result once more in float32 (x + (c − x) may differ from c by an ulp).
        const last = row(steps[q[i]! - 1]!, i, d);
        row(adv, i, d).forEach((v, k) => expect(Math.abs(v - last[k]!)).toBeLessThanOrEqual(1e-7));
      }
      r.dispose();
    });
  }

  it('linf: every queried feature is exactly x ± ε away from the bounds; the start is vertical stripes (one sign per column)', async () => {
    const x0 = tf.fill([4, 6, 6, 1], 0.5);
    const rec: Recorder = { batches: [] };
    const r = await square({ queries: 25 }).run(queryOnly(conv.model, rec), x0, [0, 1, 2, 0], { epsilons: [0.125], seed: 3 });
    for (const b of rec.batches) expect(new Set(Array.from(b, (v) => Math.abs(v - 0.5)))).toEqual(new Set([0.125]));
    const start = rec.batches[0]!;
    for (let i = 0; i < 4; i++) {
      for (let col = 0; col < 6; col++) {
        const column = Array.from({ length: 6 }, (_, h) => start[i * 36 + h * 6 + col]);
        expect(new Set(column).size).toBe(1);
      }
    }
    // Later steps change squares, not just columns: some queried point has a column with both signs.
    const mixed = rec.batches.some((b) =>
      Array.from({ length: 4 * 6 }, (_, k) => new Set(Array.from({ length: 6 }, (__, h) => b[Math.floor(k / 6) * 36 + h * 6 + (k % 6)])).size).some(
        (s) => s > 1,
      ),
    );
    expect(mixed).toBe(true);
    tf.dispose(x0);
    r.dispose();
  });

  it('l2: away from the bounds every queried point lies on the sphere of radius ε', async () => {
    const x0 = tf.fill([4, 6, 6, 1], 0.5);
    const rec: Recorder = { batches: [] };
    const r = await square({ norm: 'l2', queries: 25 }).run(queryOnly(conv.model, rec), x0, [0, 1, 2, 0], { epsilons: [0.3], seed: 3 });
    for (const b of rec.batches.slice(0, -1)) {
      for (let i = 0; i < 4; i++) {
        const norm = Math.sqrt(row(b, i, 36).reduce((a, v) => a + (v - 0.5) ** 2, 0));
        expect(norm).toBeCloseTo(0.3, 5);
      }
    }
    tf.dispose(x0);
    r.dispose();
  });

  it('NCHW: squares and stripes follow the layout (same grid as NHWC, transposed storage)', async () => {
    // The same 2-channel image problem stored NHWC and NCHW: the NCHW view must query the transposed NHWC points.
    const wide = tinyConvModel({ size: 6, seed: 6 });
    const nhwc = tf.tidy(() => tf.concat([x, tf.sub(1, x)], 3)); // [n, 6, 6, 2]
    const nchw = tf.transpose(nhwc, [0, 3, 1, 2]);
    // A 2-channel model: the tiny model on the mean of the channels.
    const twoChannel = (t: tf.Tensor): tf.Tensor => tf.mean(t, 3, true);
    const a: Recorder = { batches: [] };
    const b: Recorder = { batches: [] };
    const modelA = queryOnly(wide.model, a, { inputShape: [6, 6, 2], layout: 'NHWC', transform: twoChannel });
    const modelB = queryOnly(wide.model, b, {
      inputShape: [2, 6, 6],
      layout: 'NCHW',
      transform: (t) => tf.tidy(() => twoChannel(tf.transpose(t, [0, 2, 3, 1]))),
    });
    for (const norm of ['linf', 'l2'] as const) {
      a.batches.length = 0;
      b.batches.length = 0;
      const ra = await square({ norm, queries: 15 }).run(modelA, nhwc, labels, { epsilons: [norm === 'linf' ? 0.1 : 0.5], seed: 1 });
      const rb = await square({ norm, queries: 15 }).run(modelB, nchw, labels, { epsilons: [norm === 'linf' ? 0.1 : 0.5], seed: 1 });
      expect(b.batches).toHaveLength(a.batches.length);
      for (let k = 0; k < a.batches.length; k++) {
        const back = tf.tidy(() => tf.transpose(tf.tensor4d(b.batches[k]!, [n, 2, 6, 6]), [0, 2, 3, 1]));
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(back, tf.tensor4d(a.batches[k]!, [n, 6, 6, 2])))));
        expect((await diff.data())[0]).toBeLessThan(1e-6);
        tf.dispose([back, diff]);
      }
      expect(ra.results[0]!.queries).toEqual(rb.results[0]!.queries);
      ra.dispose();
      rb.dispose();
    }
    tf.dispose([nhwc, nchw]);
    wide.dispose();
  });

  it('restarts run again only on the points not yet fooled, with a fresh budget each', async () => {
    const budget = 12;
    const one = await square({ queries: budget }).run(conv.model, x, labels, { epsilons: [0.06], seed: 4 });
    const three = await square({ queries: budget, restarts: 3 }).run(conv.model, x, labels, { epsilons: [0.06], seed: 4 });
    const a = one.results[0]!;
    const b = three.results[0]!;
    expect(a.success.filter((s) => !s).length).toBeGreaterThan(0);
    const adv1 = await host(a.adversarial);
    const adv3 = await host(b.adversarial);
    for (let i = 0; i < n; i++) {
      if (a.success[i]) {
        // Fooled in the first run: the same point and count, no further query.
        expect(b.success[i]).toBe(true);
        expect(b.queries![i]).toBe(a.queries![i]);
        expect(Array.from(row(adv3, i, d))).toEqual(Array.from(row(adv1, i, d)));
      } else {
        expect(b.queries![i]).toBeGreaterThan(budget);
        expect(b.queries![i]).toBeLessThanOrEqual(3 * budget);
        if (!b.success[i]) expect(b.queries![i]).toBe(3 * budget);
      }
    }
    expect(b.success.filter(Boolean).length).toBeGreaterThan(a.success.filter(Boolean).length);
    one.dispose();
    three.dispose();
  });

  it('a query-only model gives the same results as the differentiable one', async () => {
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 0.08 : 0.4;
      const a = await square({ norm, queries: 30 }).run(queryOnly(conv.model), x, labels, { epsilons: [eps], seed: 5 });
      const b = await square({ norm, queries: 30 }).run(conv.model, x, labels, { epsilons: [eps], seed: 5 });
      expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
      expect(a.results[0]!.queries).toEqual(b.results[0]!.queries);
      expect(a.results[0]!.success).toEqual(b.results[0]!.success);
      a.dispose();
      b.dispose();
    }
  });

  it('is deterministic and batch-independent: a subset run with its global indices gives the full run rows', async () => {
    const picks = [1, 4, 8];
    const sub = tf.gather(x, picks);
    const subLabels = picks.map((i) => labels[i]!);
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 0.08 : 0.4;
      const attack = square({ norm, queries: 30 });
      const full = await attack.run(conv.model, x, labels, { epsilons: [eps], seed: 11 });
      const again = await attack.run(conv.model, x, labels, { epsilons: [eps], seed: 11 });
      const same = await attack.run(conv.model, sub, subLabels, { epsilons: [eps], seed: 11, indices: picks });
      const other = await attack.run(conv.model, sub, subLabels, { epsilons: [eps], seed: 11 });
      const fullHost = await host(full.results[0]!.adversarial);
      expect(Array.from(await host(again.results[0]!.adversarial))).toEqual(Array.from(fullHost));
      expect(again.results[0]!.queries).toEqual(full.results[0]!.queries);
      const sameHost = await host(same.results[0]!.adversarial);
      picks.forEach((i, j) => expect(Array.from(row(sameHost, j, d))).toEqual(Array.from(row(fullHost, i, d))));
      expect(Array.from(same.results[0]!.queries!)).toEqual(picks.map((i) => full.results[0]!.queries![i]));
      expect(Array.from(await host(other.results[0]!.adversarial))).not.toEqual(Array.from(sameHost));
      [full, again, same, other].forEach((r) => r.dispose());
    }
    sub.dispose();
  });

  it('targeted: reaches targets (success = predicted target), L∞ and L2', async () => {
    const targets = randomTargets(labels, 3, 1);
    for (const norm of ['linf', 'l2'] as const) {
      const r = await square({ norm, queries: 60 }).run(conv.model, x, labels, { epsilons: [norm === 'linf' ? 0.2 : 1], seed: 6, targets });
      const e = r.results[0]!;
      expect(r.targeted).toBe(true);
      e.success.forEach((s, i) => expect(s).toBe(e.predictions[i] === targets[i]));
      expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(n / 2);
      r.dispose();
    }
  });

  it('leaks no tensors (both norms, restarts, targeted, query-only)', async () => {
    const targets = randomTargets(labels, 3, 2);
    await expectNoLeak(async () => {
      for (const norm of ['linf', 'l2'] as const) {
        const r = await square({ norm, queries: 10, restarts: 2 }).run(queryOnly(conv.model), x, labels, { epsilons: [0, 0.05, 0.3], seed: 1 });
        r.dispose();
        const t = await square({ norm, queries: 10 }).run(conv.model, x, labels, { epsilons: [0.1], seed: 1, targets });
        t.dispose();
      }
    });
  });
});

describe('square: flat inputs (a 1 × D strip)', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('linf: the start draws one sign per feature; steps move segments; inside the ball; fools most points at 0.3', async () => {
    const rec: Recorder = { batches: [] };
    const r = await square({ queries: 50 }).run(queryOnly(p.model, rec), p.x, p.labels, { epsilons: [0.3], seed: 1 });
    const e = r.results[0]!;
    expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(9);
    expect(Math.max(...e.linf)).toBeLessThanOrEqual(Math.fround(0.3) + 1e-7);
    // Every feature of the start moved by ±ε (clipped), with both signs in every sample: a sign per feature, not one
    // stripe across the whole vector.
    const clean = await host(p.x);
    const start = rec.batches[0]!;
    for (let i = 0; i < 12; i++) {
      const signs = Array.from(row(start, i, 16), (v, k) => Math.sign(v - clean[i * 16 + k]!));
      expect(new Set(signs)).toEqual(new Set([-1, 1]));
    }
    r.dispose();
  });

  it('l2: inside the ball, on the sphere where the bounds do not clip', async () => {
    const r = await square({ norm: 'l2', queries: 50 }).run(p.model, p.x, p.labels, { epsilons: [1.5], seed: 1 });
    for (const v of r.results[0]!.l2) expect(v).toBeLessThanOrEqual(1.5 * (1 + 1e-6));
    expect(r.results[0]!.success.filter(Boolean).length).toBeGreaterThanOrEqual(9);
    r.dispose();
  });
});

describe('square: configuration', () => {
  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => square({ queries: 0 })).toThrow(ConfigError);
    expect(() => square({ queries: 0 })).toThrow('square: expected queries to be an integer in [1, 10000000], got 0');
    expect(() => square({ queries: 2.5 })).toThrow('square: expected queries to be an integer in [1, 10000000], got 2.5');
    expect(() => square({ restarts: 0 })).toThrow('square: expected restarts to be an integer in [1, 1000], got 0');
    expect(() => square({ pInit: 0 })).toThrow('square: expected pInit to be a number in (0, 1], got 0');
    expect(() => square({ pInit: 1.5 })).toThrow('square: expected pInit to be a number in (0, 1], got 1.5');
    expect(() => square({ pInit: NaN })).toThrow('square: expected pInit to be a number in (0, 1], got NaN');
    expect(() => square({ norm: 'l1' as 'l2' })).toThrow('square: expected norm to be one of linf, l2, got "l1"');
  });

  it('records its full configuration; the registry maps the generic queries and restarts options', () => {
    expect(square().config).toEqual({ norm: 'linf', queries: 5000, pInit: 0.8, restarts: 1 });
    expect(square()).toMatchObject({ name: 'square', kind: 'query', search: 'fixed-epsilon', requires: 'queries', norm: 'linf' });
    const a = createAttack('square', { norm: 'l2', queries: 1000, restarts: 2, steps: 7 });
    expect(a.config).toEqual({ norm: 'l2', queries: 1000, pInit: 0.8, restarts: 2 });
    expect(createAttack('square').config).toEqual({ norm: 'linf', queries: 5000, pInit: 0.8, restarts: 1 });
  });
});
