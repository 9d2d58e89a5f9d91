// HopSkipJump: against the closed-form distance to a linear model's boundary, its clean endings (already fooled,
// never initialised), query accounting, query-only models, seeding, batch independence, leaks and config errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { hopSkipJump, type StartingPointBatch } from '../../attacks/hop-skip-jump.js';
import { createAttack } from '../../attacks/registry.js';
import { defineAttack } from '../../src/runner.js';
import { fromFunction, type DifferentiableModel, type QueryModel } from '../../src/model.js';
import { ConfigError, ShapeError, UnsupportedError } from '../../src/errors.js';
import { randomTargets } from '../../src/rng.js';
import { expectNoLeak, linearParts, prototypeProblem, seededValues, tinyConvModel } from '../helpers/models.js';

/** The model seen only through an async forward pass (as an onnxruntime session or an HTTP endpoint); counts rows. */
function queryOnly(model: DifferentiableModel, rows?: { n: number }, failAfter?: number): QueryModel {
  let calls = 0;
  return {
    kind: 'query',
    bounds: model.bounds,
    numClasses: model.numClasses,
    inputShape: model.inputShape,
    layout: model.layout,
    name: `${model.name}-query`,
    engine: 'test',
    warnings: [],
    fingerprint: () => model.fingerprint(),
    dispose: () => {},
    logits: async (x) => {
      if (failAfter !== undefined && ++calls > failAfter) throw new Error('endpoint down');
      if (rows) rows.n += x.shape[0]!;
      return model.logits(x);
    },
  };
}

async function host(t: tf.Tensor): Promise<number[][]> {
  const d = t.size / t.shape[0]!;
  const v = await t.data();
  return Array.from({ length: t.shape[0]! }, (_, i) => Array.from(v.subarray(i * d, (i + 1) * d)));
}

/**
 * Closed form for the linear prototype model `z = x·W + b`: the distance (L2, or Linf through the dual norm L1)
 * from sample `i` to the hyperplane where its label's logit equals class `o`'s.
 */
async function hyperplanes(p: ReturnType<typeof prototypeProblem>, d: number) {
  const { w, b } = await linearParts(p.model, d, p.model.numClasses);
  const xs = await host(p.x);
  return (i: number, o: number, norm: 'l2' | 'linf'): number => {
    const c = p.labels[i]!;
    const diff = w.map((r) => r[c]! - r[o]!);
    const f = xs[i]!.reduce((a, v, j) => a + v * diff[j]!, 0) + b[c]! - b[o]!;
    return norm === 'l2' ? f / Math.hypot(...diff) : f / diff.reduce((a, v) => a + Math.abs(v), 0);
  };
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('hop-skip-jump on a linear model', () => {
  const d = 16;
  const k = 4;
  let p: ReturnType<typeof prototypeProblem>;
  let plane: Awaited<ReturnType<typeof hyperplanes>>;
  beforeAll(async () => {
    p = prototypeProblem({ n: 12, d, numClasses: k });
    plane = await hyperplanes(p, d);
  });
  afterAll(() => p.dispose());

  const nearest = (i: number, norm: 'l2' | 'linf'): number =>
    Math.min(
      ...Array.from({ length: k }, (_, o) => o)
        .filter((o) => o !== p.labels[i])
        .map((o) => plane(i, o, norm)),
    );

  it('L2: the minimal norm approaches the closed-form distance as the budget grows, never increasing, never below it', async () => {
    // The prototype model is right on every clean point and the nearest boundary points lie inside [0, 1]^16,
    // so the distance to the nearest hyperplane is the true minimal L2 perturbation.
    const budgets = [100, 300, 1000, 3000, 5000];
    const ratios: number[][] = [];
    let previous: number[] | undefined;
    for (const queries of budgets) {
      const r = await hopSkipJump({ queries }).run(p.model, p.x, p.labels, { epsilons: [10], seed: 0 });
      const m = Array.from(r.minimalNorms!);
      const e = r.results[0]!;
      expect(e.success.every(Boolean)).toBe(true);
      m.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(nearest(i, 'l2') * (1 - 1e-5));
        // The same seed with a larger budget makes the same queries first: the norm never grows.
        if (previous) expect(v).toBeLessThanOrEqual(previous[i]!);
        expect(e.queries![i]).toBeLessThanOrEqual(queries);
      });
      ratios.push(m.map((v, i) => v / nearest(i, 'l2')));
      if (queries === 5000) {
        // HopSkipJump is local: a point may settle on the boundary with the class its starting noise belonged
        // to, not the nearest one; to that boundary it is within 2% at 5000 queries.
        m.forEach((v, i) => expect(v / plane(i, e.predictions[i]!, 'l2')).toBeLessThan(1.02));
      }
      previous = m;
      r.dispose();
    }
    const medians = ratios.map(median);
    expect(medians[0]).toBeGreaterThan(1.3);
    expect(medians.at(-1)).toBeLessThan(1.02);
    medians.slice(1).forEach((v, j) => expect(v).toBeLessThanOrEqual(medians[j]!));
  });

  it('Linf: the minimal norm approaches the closed-form distance (dual norm L1), never below it', async () => {
    const few = await hopSkipJump({ norm: 'linf', queries: 150 }).run(p.model, p.x, p.labels, { epsilons: [1], seed: 1 });
    const many = await hopSkipJump({ norm: 'linf', queries: 5000 }).run(p.model, p.x, p.labels, { epsilons: [1], seed: 1 });
    const [a, b] = [Array.from(few.minimalNorms!), Array.from(many.minimalNorms!)];
    b.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(nearest(i, 'linf') * (1 - 1e-5));
      expect(v).toBeLessThanOrEqual(a[i]!);
      // Linf norms of the returned perturbations are what the runner measured.
      expect(many.results[0]!.linf[i]).toBe(v);
    });
    expect(median(b.map((v, i) => v / nearest(i, 'linf')))).toBeLessThan(1.08);
    expect(median(a.map((v, i) => v / nearest(i, 'linf')))).toBeGreaterThan(median(b.map((v, i) => v / nearest(i, 'linf'))));
    few.dispose();
    many.dispose();
  });

  it('targeted: ends in the target class, at no less than the distance to the target hyperplane', async () => {
    const targets = randomTargets(p.labels, k, 2);
    const r = await hopSkipJump({ queries: 2000 }).run(p.model, p.x, p.labels, { epsilons: [10], seed: 0, targets });
    const e = r.results[0]!;
    expect(r.targeted).toBe(true);
    expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(10);
    e.success.forEach((s, i) => {
      if (!s) return expect(r.minimalNorms![i]).toBe(Infinity);
      expect(e.predictions[i]).toBe(targets[i]);
      expect(r.minimalNorms![i]).toBeGreaterThanOrEqual(plane(i, targets[i]!, 'l2') * (1 - 1e-5));
      expect(r.minimalNorms![i]).toBeLessThan(plane(i, targets[i]!, 'l2') * 1.2);
    });
    r.dispose();
  });

  it("starts from the caller's points where they qualify (one query each), from noise where they do not", async () => {
    const targets = randomTargets(p.labels, k, 2);
    // Sample t (t < 4) has label t: an input of each target class.
    const ofTarget = (batch: StartingPointBatch) => tf.gather(p.x, batch.targets!);
    const noiseOnly = await hopSkipJump({ queries: 400, initDraws: 1 }).run(p.model, p.x, p.labels, { epsilons: [10], seed: 0, targets });
    const given = await hopSkipJump({ queries: 400, initDraws: 1, startingPoints: ofTarget }).run(p.model, p.x, p.labels, { epsilons: [10], seed: 0, targets });
    expect(noiseOnly.results[0]!.success.filter(Boolean).length).toBeLessThan(12);
    expect(given.results[0]!.success).toEqual(new Array(12).fill(true));
    given.results[0]!.predictions.forEach((c, i) => expect(c).toBe(targets[i]));
    given.results[0]!.queries!.forEach((q) => expect(q).toBeLessThanOrEqual(400));
    expect(given.attack).toBe('hop-skip-jump');
    // Starting points that do not fool the model (the clean inputs) cost one query and change nothing else.
    const plain = await hopSkipJump({ queries: 5000, steps: 3 }).run(p.model, p.x, p.labels, { epsilons: [1], seed: 0 });
    const useless = await hopSkipJump({ queries: 5000, steps: 3, startingPoints: ({ x }) => tf.clone(x) }).run(p.model, p.x, p.labels, {
      epsilons: [1],
      seed: 0,
    });
    expect(Array.from(useless.minimalNorms!)).toEqual(Array.from(plain.minimalNorms!));
    expect(Array.from(useless.results[0]!.queries!)).toEqual(Array.from(plain.results[0]!.queries!, (q) => q + 1));
    expect(hopSkipJump({ startingPoints: ofTarget }).config).toMatchObject({ startingPoints: 'custom' });
    [noiseOnly, given, plain, useless].forEach((r) => r.dispose());
  });

  it('refuses starting points of the wrong shape or type with typed errors, leaking nothing', async () => {
    await expectNoLeak(async () => {
      const wrong = hopSkipJump({ startingPoints: () => tf.zeros([12, 15]) });
      await expect(wrong.run(p.model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow(ShapeError);
      await expect(wrong.run(p.model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow(
        'hop-skip-jump: expected startingPoints to return a new tensor of shape [12, 16], got [12, 15]',
      );
      const same = hopSkipJump({ startingPoints: ({ x }) => x });
      await expect(same.run(p.model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow('got the clean inputs themselves');
      const notTensor = hopSkipJump({ startingPoints: () => [1, 2] as never });
      await expect(notTensor.run(p.model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow('hop-skip-jump: expected startingPoints to return a tensor, got');
    });
  });

  it('returns already misclassified points as they are (norm 0, fooled, one query)', async () => {
    const wrong = Array.from(p.labels, (l, i) => (i % 3 === 0 ? (l + 1) % k : l));
    const r = await hopSkipJump({ queries: 400 }).run(p.model, p.x, wrong, { epsilons: [0, 1], seed: 0 });
    const [rows, clean] = [await host(r.results[0]!.adversarial), await host(p.x)];
    for (let i = 0; i < 12; i++) {
      if (i % 3 !== 0) {
        expect(r.minimalNorms![i]).toBeGreaterThan(0);
        continue;
      }
      expect(r.minimalNorms![i]).toBe(0);
      expect(r.results[0]!.success[i]).toBe(true);
      expect(r.results[1]!.queries![i]).toBe(1);
      expect(rows[i]).toEqual(clean[i]);
    }
    r.dispose();
  });

  it('counts every decision, never over budget: the counts add up to the rows the model was asked about', async () => {
    for (const queries of [1, 2, 17, 60, 250, 777]) {
      const rows = { n: 0 };
      const r = await hopSkipJump({ queries }).run(queryOnly(p.model, rows), p.x, p.labels, { epsilons: [1], seed: 3 });
      const q = Array.from(r.results[0]!.queries!);
      q.forEach((v) => {
        expect(v).toBeGreaterThanOrEqual(1);
        expect(v).toBeLessThanOrEqual(queries);
      });
      // The model saw at least the counted rows, plus the runner's two uncounted passes (clean and result);
      // rows of samples not taking part in a batch are computed but not counted.
      expect(rows.n).toBeGreaterThanOrEqual(q.reduce((a, b) => a + b, 0) + 2 * 12);
      // Budget 1: only the clean check; 2: and one noise draw. Nothing else is asked.
      if (queries <= 2) {
        expect(q).toEqual(new Array(12).fill(queries));
        expect(rows.n).toBe(queries * 12 + 2 * 12);
      }
      r.dispose();
    }
  });

  it('runs on a query-only model with the same results as on the differentiable one', async () => {
    for (const norm of ['l2', 'linf'] as const) {
      const a = await hopSkipJump({ norm, queries: 600 }).run(queryOnly(p.model), p.x, p.labels, { epsilons: [0.5], seed: 4 });
      const b = await hopSkipJump({ norm, queries: 600 }).run(p.model, p.x, p.labels, { epsilons: [0.5], seed: 4 });
      expect(await host(a.results[0]!.adversarial)).toEqual(await host(b.results[0]!.adversarial));
      expect(Array.from(a.minimalNorms!)).toEqual(Array.from(b.minimalNorms!));
      expect(a.results[0]!.queries).toEqual(b.results[0]!.queries);
      a.dispose();
      b.dispose();
    }
  });

  it('is deterministic under a seed and draws differently under another', async () => {
    const run = (seed: number) => hopSkipJump({ queries: 500 }).run(p.model, p.x, p.labels, { epsilons: [1], seed });
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(Array.from(a.minimalNorms!)).toEqual(Array.from(b.minimalNorms!));
    expect(await host(a.results[0]!.adversarial)).toEqual(await host(b.results[0]!.adversarial));
    expect(a.results[0]!.queries).toEqual(b.results[0]!.queries);
    expect(Array.from(a.minimalNorms!)).not.toEqual(Array.from(c.minimalNorms!));
    [a, b, c].forEach((r) => r.dispose());
  });

  it('gives a sample the same result whatever batch it is in (global indices)', async () => {
    const picks = [2, 7, 11];
    const sub = tf.gather(p.x, picks);
    const labels = picks.map((i) => p.labels[i]!);
    for (const norm of ['l2', 'linf'] as const) {
      const attack = hopSkipJump({ norm, queries: 700 });
      const full = await attack.run(p.model, p.x, p.labels, { epsilons: [1], seed: 9 });
      const same = await attack.run(p.model, sub, labels, { epsilons: [1], seed: 9, indices: picks });
      const other = await attack.run(p.model, sub, labels, { epsilons: [1], seed: 9 });
      const fullRows = await host(full.results[0]!.adversarial);
      expect(await host(same.results[0]!.adversarial)).toEqual(picks.map((i) => fullRows[i]));
      expect(Array.from(same.minimalNorms!)).toEqual(picks.map((i) => full.minimalNorms![i]));
      expect(Array.from(same.results[0]!.queries!)).toEqual(picks.map((i) => full.results[0]!.queries![i]));
      expect(Array.from(other.minimalNorms!)).not.toEqual(Array.from(same.minimalNorms!));
      [full, same, other].forEach((r) => r.dispose());
    }
    sub.dispose();
  });

  it('leaks no tensors, on success and when the model fails mid-run', async () => {
    for (const norm of ['l2', 'linf'] as const) {
      await expectNoLeak(async () => {
        const r = await hopSkipJump({ norm, queries: 400 }).run(p.model, p.x, p.labels, { epsilons: [0, 0.5], seed: 1 });
        r.dispose();
      });
      for (const failAfter of [0, 1, 3, 25]) {
        await expectNoLeak(async () => {
          await expect(hopSkipJump({ norm, queries: 400 }).run(queryOnly(p.model, undefined, failAfter), p.x, p.labels, { epsilons: [1] })).rejects.toThrow(
            'endpoint down',
          );
        });
      }
    }
  });
});

describe('hop-skip-jump on a point it cannot initialise', () => {
  // A model that predicts class 0 everywhere: no noise ever fools it for a label-0 point, nor reaches target 1.
  const w = tf.tensor2d([[1, 0, 0]]);
  const constant = fromFunction((x) => tf.mul(tf.ones([x.shape[0]!, 1]), w), { numClasses: 3, inputShape: [4], weights: [w], name: 'constant' });
  const x = tf.tensor2d(seededValues(3 * 4, 2), [3, 4]);
  afterAll(() => tf.dispose([w, x]));

  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: ends unfooled with the input returned, finite outputs, bounded queries`, async () => {
      for (const [queries, initDraws] of [
        [5000, 1000],
        [300, 1000],
      ] as const) {
        const leaked = await expectNoLeak(async () => {
          const r = await hopSkipJump({ norm, queries, initDraws }).run(constant, x, [0, 0, 0], { epsilons: [0, 1, 100], seed: 0 });
          expect(Array.from(r.minimalNorms!)).toEqual([Infinity, Infinity, Infinity]);
          for (const e of r.results) {
            expect(e.success).toEqual([false, false, false]);
            expect(Array.from(await e.adversarial.data())).toEqual(Array.from(await x.data()));
            expect([...e.l2, ...e.linf].every((v) => v === 0)).toBe(true);
            // The clean check, then every allowed draw of noise.
            expect(Array.from(e.queries!)).toEqual(new Array(3).fill(Math.min(queries, 1 + initDraws)));
          }
          r.dispose();
          const t = await hopSkipJump({ norm, queries: 200 }).run(constant, x, [0, 2, 0], { epsilons: [1], targets: [1, 1, 1], seed: 0 });
          // Sample 1 is already "fooled" (the model says 0, its label is 2) but not targeted: it needs noise of class 1 too.
          expect(t.results[0]!.success).toEqual([false, false, false]);
          expect(Array.from(t.minimalNorms!)).toEqual([Infinity, Infinity, Infinity]);
          expect(Array.from(t.results[0]!.queries!)).toEqual([200, 200, 200]);
          t.dispose();
        });
        expect(leaked).toBe(0);
      }
    });
  }
});

describe('hop-skip-jump inputs, registry and errors', () => {
  it('any shape, seed, norm and budget: inside the bounds, minimal norms as measured, deterministic, no leak', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 4, max: 6 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
        fc.integer({ min: 1, max: 400 }),
        async (n, size, seed, norm, queries) => {
          const { model, dispose } = tinyConvModel({ size, seed: seed % 7 });
          const x = tf.tensor4d(seededValues(n * size * size, seed), [n, size, size, 1]);
          const labels = Array.from({ length: n }, (_, i) => i % 3);
          const before = tf.memory().numTensors;
          const attack = hopSkipJump({ norm, queries });
          const a = await attack.run(model, x, labels, { epsilons: [0.5], seed });
          const b = await attack.run(model, x, labels, { epsilons: [0.5], seed });
          const e = a.results[0]!;
          const data = await e.adversarial.data();
          for (const v of data) expect(v >= 0 && v <= 1).toBe(true);
          expect(Array.from(data)).toEqual(Array.from(await b.results[0]!.adversarial.data()));
          expect(Array.from(a.minimalNorms!)).toEqual(Array.from(b.minimalNorms!));
          a.minimalNorms!.forEach((m, i) => {
            expect(Number.isNaN(m)).toBe(false);
            expect(e.queries![i]).toBeLessThanOrEqual(queries);
            expect(e.success[i]).toBe(m <= Math.fround(0.5));
          });
          a.dispose();
          b.dispose();
          expect(tf.memory().numTensors).toBe(before);
          x.dispose();
          dispose();
        },
      ),
      { numRuns: 12, seed: 7 },
    );
  });

  it('is a decision-based query attack of the minimum-norm search; the registry passes queries and steps', () => {
    const a = hopSkipJump();
    expect(a).toMatchObject({ name: 'hop-skip-jump', kind: 'query', search: 'minimum-norm', requires: 'queries', norm: 'l2' });
    expect(a.config).toEqual({ norm: 'l2', queries: 5000, steps: 64, initialEvals: 100, maxEvals: 10000, gamma: 1, initDraws: 1000 });
    const r = createAttack('hop-skip-jump', { norm: 'linf', queries: 300, steps: 7, restarts: 4 });
    expect(r.config).toMatchObject({ norm: 'linf', queries: 300, steps: 7 });
    expect(() => createAttack('hop-skip-jump', { queries: 0 })).toThrow('hop-skip-jump: expected queries to be an integer in [1, 10000000], got 0');
  });

  it('a decision core may not read scores', async () => {
    const p = prototypeProblem({ n: 4 });
    const peek = defineAttack({
      name: 'peek',
      kind: 'query',
      output: 'decisions',
      search: 'minimum-norm',
      restarts: 1,
      norm: 'l2',
      config: {},
      loss: 'margin',
      attack: async (ctx) => (await ctx.query(ctx.x)) as tf.Tensor,
    });
    await expect(peek.run(p.model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow(UnsupportedError);
    p.dispose();
  });

  it('refuses bad options with one-line typed errors', () => {
    const cases: [Parameters<typeof hopSkipJump>[0], string][] = [
      [{ queries: 0 }, 'hop-skip-jump: expected queries to be an integer in [1, 10000000], got 0'],
      [{ queries: 2.5 }, 'hop-skip-jump: expected queries to be an integer in [1, 10000000], got 2.5'],
      [{ steps: 0 }, 'hop-skip-jump: expected steps to be an integer in [1, 100000], got 0'],
      [{ initialEvals: -1 }, 'hop-skip-jump: expected initialEvals to be an integer in [1, 100000], got -1'],
      [{ initialEvals: 50, maxEvals: 10 }, 'hop-skip-jump: expected maxEvals to be an integer in [50, 100000], got 10'],
      [{ gamma: 0 }, 'hop-skip-jump: expected gamma to be a finite number > 0, got 0'],
      [{ gamma: Number.NaN }, 'hop-skip-jump: expected gamma to be a finite number > 0, got NaN'],
      [{ initDraws: 0 }, 'hop-skip-jump: expected initDraws to be an integer in [1, 100000], got 0'],
      [{ norm: 'l1' as never }, 'hop-skip-jump: expected norm to be one of linf, l2, got "l1"'],
      [{ startingPoints: 3 as never }, 'hop-skip-jump: expected startingPoints to be a function of the batch, got 3'],
    ];
    for (const [config, message] of cases) {
      expect(() => hopSkipJump(config)).toThrow(ConfigError);
      expect(() => hopSkipJump(config)).toThrow(message);
    }
  });
});
