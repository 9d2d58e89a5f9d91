// The contract every attack must satisfy, run as a table over all attacks and both norms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { fgsm, fgm, bim, pgd, type Attack } from '../../attacks/index.js';
import { prototypeProblem, tinyConvModel, seededValues, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';

const table: { label: string; make: () => Attack; random: boolean; eps: number }[] = [
  { label: 'fgsm', make: () => fgsm(), random: false, eps: 0.3 },
  { label: 'fgm', make: () => fgm(), random: false, eps: 1.5 },
  { label: 'bim linf', make: () => bim({ steps: 5 }), random: false, eps: 0.3 },
  { label: 'bim l2', make: () => bim({ norm: 'l2', steps: 5 }), random: false, eps: 1.5 },
  { label: 'pgd linf', make: () => pgd({ steps: 8 }), random: true, eps: 0.3 },
  { label: 'pgd l2', make: () => pgd({ norm: 'l2', steps: 8 }), random: true, eps: 1.5 },
  { label: 'pgd restarts+earlyStop', make: () => pgd({ steps: 8, restarts: 3, earlyStop: true, checkEvery: 2 }), random: true, eps: 0.3 },
  { label: 'pgd margin loss', make: () => pgd({ steps: 8, loss: 'margin' }), random: true, eps: 0.3 },
];

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

describe.each(table)('attack contract: $label', ({ make, random, eps }) => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('returns one result per epsilon with the input shape and per-sample arrays', async () => {
    const attack = make();
    const r = await attack.run(p.model, p.x, p.labels, { epsilons: [0, eps / 2, eps], seed: 1 });
    expect(r.results.map((e) => e.epsilon)).toEqual([0, eps / 2, eps]);
    for (const e of r.results) {
      expect(e.adversarial.shape).toEqual(p.x.shape);
      expect(e.success).toHaveLength(12);
      expect(e.predictions).toHaveLength(12);
      expect(e.l2).toHaveLength(12);
    }
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

  it('gives bit-identical results for the same seed', async () => {
    const a = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
    const b = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
    expect(Array.from(await a.results[0]!.adversarial.data())).toEqual(Array.from(await b.results[0]!.adversarial.data()));
    if (random) {
      // Enough steps saturate every coordinate of this linear model at a corner of the ball whatever the start,
      // so the random start is compared after one step.
      const one = pgd({ ...make().config, steps: 1 } as Parameters<typeof pgd>[0]);
      const c = await one.run(p.model, p.x, p.labels, { epsilons: [eps], seed: 7 });
      const d = await one.run(p.model, p.x, p.labels, { epsilons: [eps], seed: 8 });
      expect(await maxAbsDiff(c.results[0]!.adversarial, d.results[0]!.adversarial)).toBeGreaterThan(0);
      c.dispose();
      d.dispose();
    }
    a.dispose();
    b.dispose();
  });

  it('reaches targets in a targeted run', async () => {
    const targets = randomTargets(p.labels, p.model.numClasses, 5);
    const r = await make().run(p.model, p.x, p.labels, { epsilons: [eps * 2], seed: 5, targets });
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
});

describe('attack contract on a conv model (image layout)', () => {
  it('works on [N, H, W, 1] inputs and stays in the ball', async () => {
    const { model, dispose } = tinyConvModel({ size: 6 });
    const x = tf.tensor4d(seededValues(5 * 36, 11), [5, 6, 6, 1]);
    const labels = [0, 1, 2, 0, 1];
    const leaked = await expectNoLeak(async () => {
      const r = await pgd({ steps: 4 }).run(model, x, labels, { epsilons: [0.05, 0.2], seed: 0 });
      for (const e of r.results) expect(Math.max(...e.linf)).toBeLessThanOrEqual(e.epsilon + 1e-6);
      r.dispose();
    });
    expect(leaked).toBe(0);
    x.dispose();
    dispose();
  });
});

describe('attack properties (fast-check)', () => {
  it('any shape, epsilon, seed and norm: inside the ball and the bounds, and deterministic', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 4, max: 7 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
        async (n, size, eps, seed, norm) => {
          const { model, dispose } = tinyConvModel({ size, seed: seed % 7 });
          const x = tf.tensor4d(seededValues(n * size * size, seed), [n, size, size, 1]);
          const labels = Array.from({ length: n }, (_, i) => i % 3);
          const before = tf.memory().numTensors;
          const attack = pgd({ norm, steps: 3 });
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
      { numRuns: 12, seed: 42 },
    );
  });
});

describe('restarts', () => {
  it('keep every success of the first run (restart 0 uses the same seed) and can only add more', async () => {
    const { model, dispose } = tinyConvModel({ size: 6, seed: 4 });
    const x = tf.tensor4d(seededValues(24 * 36, 21), [24, 6, 6, 1]);
    const labels = Array.from({ length: 24 }, (_, i) => i % 3);
    const one = await pgd({ steps: 3 }).run(model, x, labels, { epsilons: [0.05], seed: 5 });
    const many = await pgd({ steps: 3, restarts: 4 }).run(model, x, labels, { epsilons: [0.05], seed: 5 });
    const a = one.results[0]!.success;
    const b = many.results[0]!.success;
    a.forEach((s, i) => {
      if (s) expect(b[i]).toBe(true);
    });
    expect(b.filter(Boolean).length).toBeGreaterThanOrEqual(a.filter(Boolean).length);
    // Predictions reported agree with the model on the returned examples.
    const pred = tf.tidy(() => tf.argMax(model.logits(many.results[0]!.adversarial), 1));
    expect(Array.from(await pred.data())).toEqual(Array.from(many.results[0]!.predictions));
    tf.dispose([pred, x]);
    one.dispose();
    many.dispose();
    dispose();
  });
});
