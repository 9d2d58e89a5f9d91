// The contract every attack must satisfy, run as a table over all attacks, both norms and all three kinds; then
// what each kind promises on top (minimum-norm thresholds, counted queries), per-sample seeding and restarts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { fgsm, fgm, bim, pgd, defineAttack, type Attack, type AttackResult } from '../../attacks/index.js';
import { deepfool } from '../../attacks/deepfool.js';
import { apgd, apgdT } from '../../attacks/apgd.js';
import { fmn } from '../../attacks/fmn.js';
import { miFgsm } from '../../attacks/mi-fgsm.js';
import { fab } from '../../attacks/fab.js';
import { randomSearch } from '../../attacks/random-search.js';
import { square } from '../../attacks/square.js';
import { hopSkipJump } from '../../attacks/hop-skip-jump.js';
import { cw } from '../../attacks/carlini-wagner.js';
import { prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';
import { batchNorm } from '../../src/norms.js';
import { UnsupportedError } from '../../src/errors.js';
import { crossEntropy } from '../../src/losses.js';
import type { DifferentiableModel, QueryModel } from '../../src/model.js';

interface Row {
  label: string;
  make: () => Attack;
  eps: number;
  /** An attack of the same kind whose result at `eps` must change with the seed; absent for deterministic attacks. */
  seeded?: () => Attack;
  /** Whether the attack supports targets (else a targeted run must throw UnsupportedError). */
  targeted: boolean;
  /** Classes of the tiny conv model in the [N, H, W, 1] check, for attacks that need more than its default 3 (APGD-T: 4). */
  imageClasses?: number;
}

const table: Row[] = [
  { label: 'fgsm', make: () => fgsm(), eps: 0.3, targeted: true },
  { label: 'fgm', make: () => fgm(), eps: 1.5, targeted: true },
  { label: 'bim linf', make: () => bim({ steps: 5 }), eps: 0.3, targeted: true },
  { label: 'bim l2', make: () => bim({ norm: 'l2', steps: 5 }), eps: 1.5, targeted: true },
  // Enough steps saturate every coordinate of this linear model at a corner of the ball whatever the start, so
  // the random start is compared after one step.
  { label: 'pgd linf', make: () => pgd({ steps: 8 }), seeded: () => pgd({ steps: 1 }), eps: 0.3, targeted: true },
  { label: 'pgd l2', make: () => pgd({ norm: 'l2', steps: 8 }), seeded: () => pgd({ norm: 'l2', steps: 1 }), eps: 1.5, targeted: true },
  {
    label: 'pgd restarts+earlyStop',
    make: () => pgd({ steps: 8, restarts: 3, earlyStop: true, checkEvery: 2 }),
    seeded: () => pgd({ steps: 1, restarts: 3 }),
    eps: 0.3,
    targeted: true,
  },
  { label: 'pgd margin loss', make: () => pgd({ steps: 8, loss: 'margin' }), seeded: () => pgd({ steps: 1, loss: 'margin' }), eps: 0.3, targeted: true },
  // APGD's first step (2ε) saturates this linear model at a corner of the L∞ ball whatever the start, so only the L2 rows show the seed.
  { label: 'apgd-ce linf', make: () => apgd({ steps: 10 }), eps: 0.3, targeted: true },
  { label: 'apgd-ce l2', make: () => apgd({ norm: 'l2', steps: 10 }), seeded: () => apgd({ norm: 'l2', steps: 1 }), eps: 1.5, targeted: true },
  { label: 'apgd-dlr linf', make: () => apgd({ loss: 'dlr', steps: 10, restarts: 2 }), eps: 0.3, targeted: true },
  {
    label: 'apgd-dlr l2',
    make: () => apgd({ norm: 'l2', loss: 'dlr', steps: 10 }),
    seeded: () => apgd({ norm: 'l2', loss: 'dlr', steps: 1 }),
    eps: 1.5,
    targeted: true,
  },
  { label: 'apgd-t linf', make: () => apgdT({ steps: 5 }), eps: 0.3, targeted: false, imageClasses: 4 },
  {
    label: 'apgd-t l2',
    make: () => apgdT({ norm: 'l2', steps: 5 }),
    seeded: () => apgdT({ norm: 'l2', steps: 1 }),
    eps: 1.5,
    targeted: false,
    imageClasses: 4,
  },
  { label: 'deepfool l2', make: () => deepfool(), eps: 1.5, targeted: false },
  { label: 'deepfool linf', make: () => deepfool({ norm: 'linf', candidates: 3 }), eps: 0.3, targeted: false },
  { label: 'fmn l2', make: () => fmn({ steps: 20 }), eps: 1.5, targeted: true },
  { label: 'fmn linf', make: () => fmn({ norm: 'linf', steps: 20 }), eps: 0.3, targeted: true },
  { label: 'mi-fgsm linf', make: () => miFgsm({ steps: 5 }), eps: 0.3, targeted: true },
  { label: 'mi-fgsm l2', make: () => miFgsm({ norm: 'l2', steps: 5, loss: 'margin' }), eps: 1.5, targeted: true },
  {
    label: 'mi-fgsm l2 random start',
    make: () => miFgsm({ norm: 'l2', steps: 5, randomStart: true }),
    seeded: () => miFgsm({ norm: 'l2', steps: 1, randomStart: true }),
    eps: 1.5,
    targeted: true,
  },
  // FAB's run from the clean input is already minimal on this linear model, so its random restarts never change the
  // result here: its seeding is tested on a non-linear model in fab.test.ts.
  { label: 'fab linf', make: () => fab({ steps: 10 }), eps: 0.3, targeted: true },
  { label: 'fab l2', make: () => fab({ norm: 'l2', steps: 10, restarts: 2 }), eps: 1.5, targeted: true },
  { label: 'fab-t linf', make: () => fab({ targeted: true, steps: 10, restarts: 2 }), eps: 0.3, targeted: true },
  { label: 'fab-t l2', make: () => fab({ norm: 'l2', targeted: true, steps: 10 }), eps: 1.5, targeted: true },
  { label: 'random-search linf', make: () => randomSearch({ samples: 40 }), seeded: () => randomSearch({ samples: 40 }), eps: 0.3, targeted: true },
  {
    label: 'random-search l2',
    make: () => randomSearch({ norm: 'l2', samples: 40, loss: 'ce' }),
    seeded: () => randomSearch({ norm: 'l2', samples: 40 }),
    eps: 1.5,
    targeted: true,
  },
  // Square on flat inputs runs on a 1 × D strip (segments for squares); the [N, H, W, 1] check covers images.
  { label: 'square linf', make: () => square({ queries: 60 }), seeded: () => square({ queries: 60 }), eps: 0.3, targeted: true },
  { label: 'square l2', make: () => square({ norm: 'l2', queries: 60 }), seeded: () => square({ norm: 'l2', queries: 60 }), eps: 1.5, targeted: true },
  // Decision-based and minimum-norm: a small budget; the random starting noise shows the seed.
  { label: 'hop-skip-jump l2', make: () => hopSkipJump({ queries: 300 }), seeded: () => hopSkipJump({ queries: 300 }), eps: 1.5, targeted: true },
  {
    label: 'hop-skip-jump linf',
    make: () => hopSkipJump({ norm: 'linf', queries: 300 }),
    seeded: () => hopSkipJump({ norm: 'linf', queries: 300 }),
    eps: 0.3,
    targeted: true,
  },
  // Minimum-norm and deterministic: a short search (3 constants × 50 Adam steps) keeps the table fast.
  { label: 'cw l2', make: () => cw({ steps: 50, binarySearchSteps: 3 }), eps: 1.5, targeted: true },
];

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

async function rows(t: tf.Tensor, picks: readonly number[]): Promise<number[][]> {
  const d = t.size / t.shape[0]!;
  const host = await t.data();
  return picks.map((i) => Array.from(host.subarray(i * d, (i + 1) * d)));
}

/** The same model seen only through an async forward pass: what a remote endpoint or an onnxruntime session gives. */
function queryOnly(model: DifferentiableModel, calls?: { n: number }): QueryModel {
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
      if (calls) calls.n++;
      return model.logits(x);
    },
  };
}

describe.each(table)('attack contract: $label', ({ make, seeded, eps, targeted, imageClasses }) => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('returns one result per epsilon with the input shape and per-sample arrays', async () => {
    const attack = make();
    const r = await attack.run(p.model, p.x, p.labels, { epsilons: [0, eps / 2, eps], seed: 1 });
    expect(r.kind).toBe(attack.kind);
    expect(r.results.map((e) => e.epsilon)).toEqual([0, eps / 2, eps]);
    for (const e of r.results) {
      expect(e.adversarial.shape).toEqual(p.x.shape);
      expect(e.success).toHaveLength(12);
      expect(e.predictions).toHaveLength(12);
      expect(e.l2).toHaveLength(12);
      expect(e.linf).toHaveLength(12);
      expect(e.queries === undefined).toBe(attack.kind !== 'query');
    }
    expect(r.minimalNorms === undefined).toBe(attack.search !== 'minimum-norm');
    r.dispose();
  });

  it('stays inside the epsilon ball and the bounds (1e-6)', async () => {
    const attack = make();
    const r = await attack.run(p.model, p.x, p.labels, { epsilons: [eps / 3, eps], seed: 2 });
    for (const e of r.results) {
      const bound = attack.norm === 'linf' ? Math.max(...e.linf) : Math.max(...e.l2);
      expect(bound).toBeLessThanOrEqual(e.epsilon + 1e-6);
      const [lo, hi] = tf.tidy(() => [tf.min(e.adversarial).dataSync()[0]!, tf.max(e.adversarial).dataSync()[0]!]);
      expect(lo).toBeGreaterThanOrEqual(0 - 1e-6);
      expect(hi).toBeLessThanOrEqual(1 + 1e-6);
    }
    r.dispose();
  });

  it('is the identity at epsilon 0', async () => {
    const r = await make().run(p.model, p.x, p.labels, { epsilons: [0], seed: 3 });
    expect(await maxAbsDiff(r.results[0]!.adversarial, p.x)).toBe(0);
    expect(r.results[0]!.success.every((s) => !s)).toBe(true); // the prototype model is right on clean data
    r.dispose();
  });

  it('fools the model more often as epsilon grows, and at the largest epsilon on most points', async () => {
    const r = await make().run(p.model, p.x, p.labels, { epsilons: [0, eps], seed: 4 });
    const rate = r.results.map((e) => e.success.filter(Boolean).length / e.success.length);
    expect(rate[0]).toBe(0);
    expect(rate[1]).toBeGreaterThanOrEqual(0.75);
    r.dispose();
  });

  it('gives bit-identical results for the same seed (and different ones for another seed when it draws)', async () => {
    const a = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
    const b = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
    expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
    expect(a.results[0]!.queries).toEqual(b.results[0]!.queries);
    if (seeded) {
      const c = await seeded().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
      const d = await seeded().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 8 });
      expect(await maxAbsDiff(c.results[0]!.adversarial, d.results[0]!.adversarial)).toBeGreaterThan(0);
      c.dispose();
      d.dispose();
    }
    a.dispose();
    b.dispose();
  });

  it(targeted ? 'reaches targets in a targeted run' : 'refuses targets (untargeted only)', async () => {
    const targets = randomTargets(p.labels, p.model.numClasses, 5);
    const attack = make();
    if (!targeted) {
      await expect(attack.run(p.model, p.x, p.labels, { epsilons: [eps], targets })).rejects.toThrow(UnsupportedError);
      await expect(attack.run(p.model, p.x, p.labels, { epsilons: [eps], targets })).rejects.toThrow(`${attack.name}: expected an untargeted run`);
      return;
    }
    const r = await attack.run(p.model, p.x, p.labels, { epsilons: [eps * 2], seed: 5, targets });
    expect(r.targeted).toBe(true);
    const e = r.results[0]!;
    e.success.forEach((s, i) => expect(s).toBe(e.predictions[i] === targets[i]));
    expect(e.success.filter(Boolean).length).toBeGreaterThanOrEqual(6);
    r.dispose();
  });

  it('leaks no tensors', async () => {
    const leaked = await expectNoLeak(async () => {
      const r = await make().run(p.model, p.x, p.labels, { epsilons: [0, eps], seed: 9 });
      r.dispose();
    });
    expect(leaked).toBe(0);
  });

  it('works on [N, H, W, 1] inputs: shapes, inside the ball and the bounds, predictions as the model says, no leak', async () => {
    const { model, dispose } = tinyConvModel({ size: 6, numClasses: imageClasses ?? 3 });
    const x = tf.tensor4d(seededValues(5 * 36, 11), [5, 6, 6, 1]);
    const labels = [0, 1, 2, 0, 1];
    const attack = make();
    const small = attack.norm === 'linf' ? 0.05 : 0.3;
    const leaked = await expectNoLeak(async () => {
      const r = await attack.run(model, x, labels, { epsilons: [small, small * 4], seed: 0 });
      for (const e of r.results) {
        expect(e.adversarial.shape).toEqual([5, 6, 6, 1]);
        expect(Math.max(...(attack.norm === 'linf' ? e.linf : e.l2))).toBeLessThanOrEqual(e.epsilon + 1e-6);
        const [lo, hi, pred] = tf.tidy(() => [tf.min(e.adversarial), tf.max(e.adversarial), tf.argMax(model.logits(e.adversarial), 1)]);
        expect((await lo.data())[0]).toBeGreaterThanOrEqual(0);
        expect((await hi.data())[0]).toBeLessThanOrEqual(1);
        expect(Array.from(await pred.data())).toEqual(Array.from(e.predictions));
        tf.dispose([lo, hi, pred]);
      }
      r.dispose();
    });
    expect(leaked).toBe(0);
    x.dispose();
    dispose();
  });
});

describe('attack properties (fast-check)', () => {
  const makers = {
    pgd: (norm: 'linf' | 'l2') => pgd({ norm, steps: 3 }),
    deepfool: (norm: 'linf' | 'l2') => deepfool({ norm, steps: 5 }),
    'random-search': (norm: 'linf' | 'l2') => randomSearch({ norm, samples: 6 }),
    square: (norm: 'linf' | 'l2') => square({ norm, queries: 8 }),
  };
  it('any attack kind, shape, epsilon, seed and norm: inside the ball and the bounds, deterministic, no leak', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<keyof typeof makers>('pgd', 'deepfool', 'random-search', 'square'),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 4, max: 7 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
        async (which, n, size, eps, seed, norm) => {
          const { model, dispose } = tinyConvModel({ size, seed: seed % 7 });
          const x = tf.tensor4d(seededValues(n * size * size, seed), [n, size, size, 1]);
          const labels = Array.from({ length: n }, (_, i) => i % 3);
          const before = tf.memory().numTensors;
          const attack = makers[which](norm);
          const a = await attack.run(model, x, labels, { epsilons: [eps], seed });
          const b = await attack.run(model, x, labels, { epsilons: [eps], seed });
          const e = a.results[0]!;
          const size_ = norm === 'linf' ? Math.max(...e.linf) : Math.max(...e.l2);
          expect(size_).toBeLessThanOrEqual(eps + 1e-6);
          const data = await e.adversarial.data();
          for (const v of data) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
          expect(Array.from(data)).toEqual(Array.from(await b.results[0]!.adversarial.data()));
          a.dispose();
          b.dispose();
          expect(tf.memory().numTensors).toBe(before);
          x.dispose();
          dispose();
        },
      ),
      { numRuns: 18, seed: 42 },
    );
  });
});

describe('restarts', () => {
  it('PGD: keep every success of the first run (restart 0 uses the same seed) and add more on this data', async () => {
    // One short step from a random start: on this model and data 4 restarts fool 2 more of 24 points than 1 does.
    const { model, dispose } = tinyConvModel({ size: 6, seed: 4 });
    const x = tf.tensor4d(seededValues(24 * 36, 21), [24, 6, 6, 1]);
    const labels = Array.from({ length: 24 }, (_, i) => i % 3);
    const config = { steps: 1, relStepSize: 0.25 };
    const one = await pgd(config).run(model, x, labels, { epsilons: [0.15], seed: 5 });
    const many = await pgd({ ...config, restarts: 4 }).run(model, x, labels, { epsilons: [0.15], seed: 5 });
    const a = one.results[0]!.success;
    const b = many.results[0]!.success;
    a.forEach((s, i) => {
      if (s) expect(b[i]).toBe(true);
    });
    expect(b.filter(Boolean).length).toBeGreaterThan(a.filter(Boolean).length);
    // Predictions reported agree with the model on the returned examples.
    const pred = tf.tidy(() => tf.argMax(model.logits(many.results[0]!.adversarial), 1));
    expect(Array.from(await pred.data())).toEqual(Array.from(many.results[0]!.predictions));
    tf.dispose([pred, x]);
    one.dispose();
    many.dispose();
    dispose();
  });
});

describe('restarts (a core whose success depends on the restart)', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  /** Harmless candidates move this fraction of the way to another class's point, by restart: restart 1 goes furthest. */
  const fractions = [0.1, 0.3, 0.2];

  /**
   * A fixed-epsilon core that fools sample i (by returning the point of sample i+1, of another class) only at
   * restart `i % 3`, and never for the samples in `never`; otherwise it returns a harmless candidate.
   */
  function byRestart(restarts: number, never: ReadonlySet<number> = new Set()): { attack: Attack; calls: { n: number } } {
    const calls = { n: 0 };
    const attack = defineAttack({
      name: 'by-restart',
      kind: 'fixed-epsilon',
      norm: 'linf',
      config: {},
      loss: 'ce',
      restarts,
      perturb: async (ctx) => {
        calls.n++;
        const n = ctx.x.shape[0]!;
        const fool = Array.from({ length: n }, (_, i) => (i % 3 === ctx.restart && !never.has(i) ? 1 : 0));
        return tf.tidy(() => {
          const other = tf.concat([tf.slice(ctx.x, [1, 0], [n - 1, -1]), tf.slice(ctx.x, [0, 0], [1, -1])]);
          const harmless = tf.add(ctx.x, tf.mul(tf.sub(other, ctx.x), fractions[ctx.restart % 3]!));
          return tf.where(tf.broadcastTo(tf.reshape(tf.tensor1d(fool, 'bool'), [n, 1]), ctx.x.shape), other, harmless);
        });
      },
    });
    return { attack, calls };
  }

  it('one restart fools only the third of the points whose restart is 0; three restarts fool all of them', async () => {
    const one = byRestart(1);
    const r1 = await one.attack.run(p.model, p.x, p.labels, { epsilons: [1] });
    expect(r1.results[0]!.success).toEqual(Array.from({ length: 12 }, (_, i) => i % 3 === 0));
    expect(one.calls.n).toBe(1);
    const three = byRestart(3);
    const r3 = await three.attack.run(p.model, p.x, p.labels, { epsilons: [1] });
    expect(r3.results[0]!.success).toEqual(new Array(12).fill(true));
    expect(three.calls.n).toBe(3);
    // Every kept point is the fooling one (the next sample's input), not a harmless candidate.
    expect(
      await maxAbsDiff(
        r3.results[0]!.adversarial,
        tf.tidy(() => tf.concat([tf.slice(p.x, [1, 0], [11, -1]), tf.slice(p.x, [0, 0], [1, -1])])),
      ),
    ).toBeLessThan(1e-6);
    r1.dispose();
    r3.dispose();
  });

  it('stops as soon as every point is fooled (3 of 6 restarts), and never for a point still robust', async () => {
    const six = byRestart(6);
    const r = await six.attack.run(p.model, p.x, p.labels, { epsilons: [1, 1] });
    expect(six.calls.n).toBe(2 * 3);
    expect(r.results.every((e) => e.success.every(Boolean))).toBe(true);
    r.dispose();
    const stubborn = byRestart(6, new Set([4]));
    const s = await stubborn.attack.run(p.model, p.x, p.labels, { epsilons: [1] });
    expect(stubborn.calls.n).toBe(6);
    s.dispose();
  });

  it('keeps the highest-loss candidate for points never fooled', async () => {
    const never = new Set([2, 5, 8, 11]);
    const three = byRestart(3, never);
    const r = await three.attack.run(p.model, p.x, p.labels, { epsilons: [1] });
    const e = r.results[0]!;
    expect(e.success).toEqual(Array.from({ length: 12 }, (_, i) => !never.has(i)));
    // Independently: the cross-entropy of each harmless candidate, by restart; restart 1's is the highest.
    const labels = tf.tensor1d(p.labels, 'int32');
    const [losses, candidates] = tf.tidy(() => {
      const other = tf.concat([tf.slice(p.x, [1, 0], [11, -1]), tf.slice(p.x, [0, 0], [1, -1])]);
      const cands = fractions.map((f) => tf.add(p.x, tf.mul(tf.sub(other, p.x), f)));
      return [tf.stack(cands.map((c) => crossEntropy(labels, 4)(p.model.logits(c)))), tf.stack(cands)] as const;
    });
    const lossHost = await losses.array();
    const kept = await rows(e.adversarial, [...never]);
    const cand = (await candidates.array()) as number[][][];
    const lossRows = lossHost as number[][];
    [...never].forEach((i, j) => {
      expect(lossRows[1]![i]).toBeGreaterThan(Math.max(lossRows[0]![i]!, lossRows[2]![i]!));
      kept[j]!.forEach((v, c) => expect(v).toBeCloseTo(cand[1]![i]![c]!, 6));
    });
    tf.dispose([labels, losses, candidates]);
    r.dispose();
  });
});

describe('minimum-norm kind', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('minimalNorms is the norm of the returned candidate where it fools the model, Infinity exactly where not', async () => {
    // Per sample: the clean input (i % 3 = 0), the next sample's input of another class (1), or 1% of the way there (2).
    const build = (x: tf.Tensor): tf.Tensor =>
      tf.tidy(() => {
        const n = x.shape[0]!;
        const other = tf.concat([tf.slice(x, [1, 0], [n - 1, -1]), tf.slice(x, [0, 0], [1, -1])]);
        const pick = (r: number): tf.Tensor =>
          tf.broadcastTo(
            tf.reshape(
              tf.tensor1d(
                Array.from({ length: n }, (_, i) => i % 3 === r),
                'bool',
              ),
              [n, 1],
            ),
            x.shape,
          );
        return tf.where(pick(0), x, tf.where(pick(1), other, tf.add(x, tf.mul(tf.sub(other, x), 0.01))));
      });
    const attack = defineAttack({
      name: 'fixed-candidates',
      kind: 'minimum-norm',
      norm: 'linf',
      config: {},
      loss: 'ce',
      minimize: async (ctx) => build(ctx.x),
    });
    const r = await attack.run(p.model, p.x, p.labels, { epsilons: [0, 0.1, 0.5, 1] });
    const [pred, norm] = tf.tidy(() => {
      const c = build(p.x);
      return [tf.argMax(p.model.logits(c), 1), batchNorm(tf.sub(c, p.x), 'linf')];
    });
    const predHost = await pred.data();
    const normHost = await norm.data();
    tf.dispose([pred, norm]);
    const fooled = Array.from(predHost, (v, i) => v !== p.labels[i]);
    expect(fooled).toEqual(Array.from({ length: 12 }, (_, i) => i % 3 === 1));
    expect(Array.from(r.minimalNorms!)).toEqual(Array.from(normHost, (v, i) => (fooled[i] ? v : Infinity)));
    r.dispose();
  });

  for (const norm of ['l2', 'linf'] as const) {
    it(`deepfool ${norm}: success at epsilon is exactly minimalNorms <= epsilon, one monotone curve, clean inputs elsewhere`, async () => {
      // One step on a non-linear model leaves some points unfooled (Infinity) and fools others.
      const { model, dispose } = tinyConvModel({ size: 6, seed: 4 });
      const x = tf.tensor4d(seededValues(12 * 36, 25), [12, 6, 6, 1]);
      const labels = Array.from({ length: 12 }, (_, i) => i % 3);
      const epsilons = norm === 'l2' ? [0, 0.05, 0.2, 0.5, 1, 2, 10] : [0, 0.01, 0.03, 0.1, 0.3, 1];
      const r = await deepfool({ norm, steps: 1, overshoot: 0 }).run(model, x, labels, { epsilons });
      const m = Array.from(r.minimalNorms!);
      expect(m.filter((v) => v === Infinity).length).toBeGreaterThan(0);
      expect(m.filter((v) => v > 0 && v < Infinity).length).toBeGreaterThan(0);
      let previous = new Array<boolean>(12).fill(false);
      for (const e of r.results) {
        expect(e.success).toEqual(m.map((v) => v <= Math.fround(e.epsilon)));
        previous.forEach((s, i) => {
          if (s) expect(e.success[i]).toBe(true);
        });
        previous = e.success;
        const size = norm === 'l2' ? e.l2 : e.linf;
        e.success.forEach((s, i) => (s ? expect(size[i]).toBe(m[i]) : expect(size[i]).toBe(0)));
      }
      // At the largest epsilon every finite norm counts: the points DeepFool fooled.
      expect(r.results.at(-1)!.success).toEqual(m.map((v) => v < Infinity));
      // With the default 50 steps it fools every one of them.
      const full = await deepfool({ norm }).run(model, x, labels, { epsilons: [10] });
      expect(Array.from(full.minimalNorms!).every((v) => v < Infinity)).toBe(true);
      full.dispose();
      r.dispose();
      x.dispose();
      dispose();
    });
  }
});

describe('query kind', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('counts queries per sample: none at epsilon 0, at most `samples`, all of them for a point never fooled', async () => {
    const calls = { n: 0 };
    const r = await randomSearch({ samples: 30 }).run(queryOnly(p.model, calls), p.x, p.labels, { epsilons: [0, 0.15] });
    expect(Array.from(r.results[0]!.queries!)).toEqual(new Array(12).fill(0));
    const e = r.results[1]!;
    const q = Array.from(e.queries!);
    expect(e.success.filter(Boolean).length).toBeGreaterThan(0);
    expect(e.success.filter((s) => !s).length).toBeGreaterThan(0);
    q.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThanOrEqual(30);
      if (!e.success[i]) expect(v).toBe(30);
    });
    // The model answered one batch per round, and rounds stop when every point is done; the runner's own
    // evaluation of the result adds one forward pass per epsilon (uncounted: it is not the attack's work).
    expect(calls.n).toBe(Math.max(...q) + 2);
    r.dispose();
  });

  it('stops counting a point once fooled: with more samples, fooled points keep their count and their adversarial', async () => {
    const few = await randomSearch({ samples: 15 }).run(p.model, p.x, p.labels, { epsilons: [0.21] });
    const many = await randomSearch({ samples: 60 }).run(p.model, p.x, p.labels, { epsilons: [0.21] });
    const a = few.results[0]!;
    const b = many.results[0]!;
    const fooled = a.success.flatMap((s, i) => (s ? [i] : []));
    const robust = a.success.flatMap((s, i) => (s ? [] : [i]));
    expect(fooled.length).toBeGreaterThan(0);
    expect(robust.length).toBeGreaterThan(0);
    for (const i of fooled) {
      expect(b.success[i]).toBe(true);
      expect(b.queries![i]).toBe(a.queries![i]);
    }
    expect(await rows(b.adversarial, fooled)).toEqual(await rows(a.adversarial, fooled));
    for (const i of robust) {
      expect(a.queries![i]).toBe(15);
      expect(b.queries![i]).toBe(b.success[i] ? b.queries![i] : 60);
      expect(b.queries![i]).toBeGreaterThan(15);
    }
    few.dispose();
    many.dispose();
  });

  it('runs on a query-only model with the same results; gradient attacks refuse it', async () => {
    const model = queryOnly(p.model);
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 0.15 : 0.6;
      const a = await randomSearch({ norm, samples: 25 }).run(model, p.x, p.labels, { epsilons: [eps], seed: 1 });
      const b = await randomSearch({ norm, samples: 25 }).run(p.model, p.x, p.labels, { epsilons: [eps], seed: 1 });
      expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
      expect(a.results[0]!.queries).toEqual(b.results[0]!.queries);
      expect(a.results[0]!.success).toEqual(b.results[0]!.success);
      a.dispose();
      b.dispose();
    }
    for (const attack of [pgd(), deepfool()]) {
      await expect(attack.run(model, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow(UnsupportedError);
      await expect(attack.run(model, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow(`${attack.name}: expected a differentiable model`);
    }
  });
});

describe('per-sample seeding', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  const cases: { label: string; make: () => Attack; eps: number }[] = [
    { label: 'pgd (random start, one short step)', make: () => pgd({ steps: 1, relStepSize: 0.1 }), eps: 0.3 },
    { label: 'pgd l2 (random start, one short step)', make: () => pgd({ norm: 'l2', steps: 1, relStepSize: 0.1 }), eps: 1 },
    { label: 'random-search linf', make: () => randomSearch({ samples: 30 }), eps: 0.15 },
    { label: 'random-search l2', make: () => randomSearch({ norm: 'l2', samples: 30 }), eps: 0.6 },
  ];
  it.each(cases)('$label: a subset run with its global indices gives the full run rows, other indices do not', async ({ make, eps }) => {
    const picks = [3, 7, 10];
    const sub = tf.gather(p.x, picks);
    const labels = picks.map((i) => p.labels[i]!);
    const full = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 11 });
    const same = await make().run(p.model, sub, labels, { epsilons: [eps], seed: 11, indices: picks });
    const other = await make().run(p.model, sub, labels, { epsilons: [eps], seed: 11 });
    expect(await rows(same.results[0]!.adversarial, [0, 1, 2])).toEqual(await rows(full.results[0]!.adversarial, picks));
    expect(same.results[0]!.queries).toEqual(full.results[0]!.queries?.filter((_, i) => picks.includes(i)));
    expect(await maxAbsDiff(same.results[0]!.adversarial, other.results[0]!.adversarial)).toBeGreaterThan(0);
    tf.dispose([sub]);
    [full, same, other].forEach((r: AttackResult) => r.dispose());
  });
});
