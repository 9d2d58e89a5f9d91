// Carlini–Wagner L2 against exact minimal distances on a linear model (computed independently on the host), its
// options, errors, determinism and memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { cw } from '../../attacks/carlini-wagner.js';
import { countingModel, linearParts, prototypeProblem, expectNoLeak } from '../helpers/models.js';
import { randomTargets } from '../../src/rng.js';
import { ConfigError, UnsupportedError } from '../../src/errors.js';

type Problem = ReturnType<typeof prototypeProblem>;

/** A half-space `{u : a·u ≥ beta}`. */
interface HalfSpace {
  a: number[];
  beta: number;
}

const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

/**
 * Euclidean projection of `x0` onto the intersection of half-spaces and the box [0, 1]^d, by Dykstra's alternating
 * projections (float64): the exact minimal L2 perturbation into a polyhedron, independent of any tfjs code.
 */
function project(x0: readonly number[], halves: readonly HalfSpace[]): number[] {
  const sets: ((u: number[]) => number[])[] = [
    ...halves.map((h) => (u: number[]) => {
      const gap = h.beta - dot(h.a, u);
      if (gap <= 0) return u;
      const s = gap / dot(h.a, h.a);
      return u.map((v, i) => v + s * h.a[i]!);
    }),
    (u: number[]) => u.map((v) => Math.min(1, Math.max(0, v))),
  ];
  let x = [...x0];
  const p = sets.map(() => new Array<number>(x0.length).fill(0));
  for (let it = 0; it < 5000; it++) {
    sets.forEach((proj, s) => {
      const shifted = x.map((v, i) => v + p[s]![i]!);
      const y = proj(shifted);
      p[s] = shifted.map((v, i) => v - y[i]!);
      x = y;
    });
  }
  return x;
}

const distance = (a: readonly number[], b: readonly number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!));

/** The half-space `z_c − z_r ≥ kappa` of a linear model. */
function logitGap(w: number[][], b: number[], c: number, r: number, kappa: number): HalfSpace {
  return { a: w.map((row) => row[c]! - row[r]!), beta: kappa - (b[c]! - b[r]!) };
}

/** Exact minimal L2 distances: untargeted (the nearest of the half-spaces `z_c − z_y ≥ κ`) or towards `t` (all of `z_t − z_j ≥ κ`). */
function exactDistances(p: Problem, xs: Float32Array, w: number[][], b: number[], d: number, k: number, kappa: number, targets?: Int32Array): number[] {
  return Array.from(p.labels, (y, i) => {
    const x = Array.from(xs.subarray(i * d, (i + 1) * d));
    const classes = Array.from({ length: k }, (_, c) => c);
    if (targets) {
      const t = targets[i]!;
      return distance(
        x,
        project(
          x,
          classes.filter((j) => j !== t).map((j) => logitGap(w, b, t, j, kappa)),
        ),
      );
    }
    return Math.min(...classes.filter((c) => c !== y).map((c) => distance(x, project(x, [logitGap(w, b, c, y, kappa)]))));
  });
}

/** Per sample: the margin the run was asked for (untargeted `max_{j≠y} z_j − z_y`, targeted `z_t − max_{j≠t} z_j`) at the adversarial. */
async function margins(p: Problem, adversarial: tf.Tensor, classes: ArrayLike<number>, targeted: boolean): Promise<number[]> {
  const z = p.model.logits(adversarial);
  const rows = (await z.array()) as number[][];
  z.dispose();
  return rows.map((r, i) => {
    const c = classes[i]!;
    const other = Math.max(...r.filter((_, j) => j !== c));
    return targeted ? r[c]! - other : other - r[c]!;
  });
}

describe('cw on a linear model: exact minimal distances', () => {
  const d = 16;
  const k = 4;
  const n = 12;
  let p: Problem;
  let xs: Float32Array;
  let parts: { w: number[][]; b: number[] };
  beforeAll(async () => {
    p = prototypeProblem({ n, d, numClasses: k });
    xs = (await p.x.data()) as Float32Array;
    parts = await linearParts(p.model, d, k);
  });
  afterAll(() => p.dispose());

  const attack = (confidence = 0) => cw({ steps: 300, binarySearchSteps: 6, confidence });

  it('untargeted: the minimal L2 norm approaches the distance to the nearest decision boundary, never below it', async () => {
    const exact = exactDistances(p, xs, parts.w, parts.b, d, k, 0);
    const r = await attack().run(p.model, p.x, p.labels, { epsilons: [10] });
    const m = Array.from(r.minimalNorms!);
    m.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(exact[i]! * (1 - 1e-4));
      expect(v).toBeLessThanOrEqual(exact[i]! * 1.005);
    });
    expect(r.results[0]!.success.every(Boolean)).toBe(true);
    r.dispose();
  });

  it('targeted: every point reaches its target, at a norm close to the exact distance into the target region', async () => {
    const targets = randomTargets(p.labels, k, 3);
    const exact = exactDistances(p, xs, parts.w, parts.b, d, k, 0, targets);
    const r = await attack().run(p.model, p.x, p.labels, { epsilons: [10], targets });
    const e = r.results[0]!;
    expect(r.targeted).toBe(true);
    expect(Array.from(e.predictions)).toEqual(Array.from(targets));
    Array.from(r.minimalNorms!).forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(exact[i]! * (1 - 1e-4));
      expect(v).toBeLessThanOrEqual(exact[i]! * 1.005);
    });
    expect(Math.min(...(await margins(p, e.adversarial, targets, true)))).toBeGreaterThan(0);
    r.dispose();
  });

  it('confidence κ > 0: margins reach κ, at larger norms close to the exact distance to the κ-shifted boundary', async () => {
    const kappa = 0.3;
    const plain = await attack().run(p.model, p.x, p.labels, { epsilons: [10] });
    const r = await attack(kappa).run(p.model, p.x, p.labels, { epsilons: [10] });
    const exact = exactDistances(p, xs, parts.w, parts.b, d, k, kappa);
    const m = Array.from(r.minimalNorms!);
    m.forEach((v, i) => {
      expect(v).toBeGreaterThan(plain.minimalNorms![i]! * 1.2);
      expect(v).toBeGreaterThanOrEqual(exact[i]! * (1 - 1e-4));
      expect(v).toBeLessThanOrEqual(exact[i]! * 1.005);
    });
    for (const margin of await margins(p, r.results[0]!.adversarial, p.labels, false)) expect(margin).toBeGreaterThanOrEqual(kappa);
    plain.dispose();
    r.dispose();
  });
});

describe('cw search, determinism and memory', () => {
  let p: Problem;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('gives bit-identical results for the same inputs and leaks no tensors', async () => {
    const leaked = await expectNoLeak(async () => {
      const a = await cw({ steps: 60, binarySearchSteps: 3 }).run(p.model, p.x, p.labels, { epsilons: [0.5, 10], seed: 1 });
      const b = await cw({ steps: 60, binarySearchSteps: 3 }).run(p.model, p.x, p.labels, { epsilons: [0.5, 10], seed: 2 });
      expect(Array.from(await a.results[1]!.adversarial.data())).toEqual(Array.from(await b.results[1]!.adversarial.data()));
      expect(a.minimalNorms).toEqual(b.minimalNorms);
      a.dispose();
      b.dispose();
    });
    expect(leaked).toBe(0);
  });

  it('more search steps only add candidates: every point fooled stays fooled, at a norm never larger', async () => {
    // The first k search steps of a longer search are exactly a search of k steps (below 10 steps), and the best is
    // kept across them: what the MNIST integration test relies on to check the default search from its first steps.
    const short = await cw({ steps: 40, binarySearchSteps: 2 }).run(p.model, p.x, p.labels, { epsilons: [10] });
    const long = await cw({ steps: 40, binarySearchSteps: 5 }).run(p.model, p.x, p.labels, { epsilons: [10] });
    const [s, l] = [Array.from(short.minimalNorms!), Array.from(long.minimalNorms!)];
    l.forEach((v, i) => expect(v).toBeLessThanOrEqual(s[i]!));
    expect(l.some((v, i) => v < s[i]!)).toBe(true);
    short.dispose();
    long.dispose();
  });

  it('an input the model already gets wrong keeps a (near) zero perturbation', async () => {
    const labels = Array.from(p.labels);
    labels[0] = (labels[0]! + 1) % 4;
    const r = await cw({ steps: 50, binarySearchSteps: 2 }).run(p.model, p.x, labels, { epsilons: [10] });
    expect(r.minimalNorms![0]).toBeLessThan(1e-5);
    expect(r.results[0]!.success[0]).toBe(true);
    r.dispose();
  });

  it('uses only model.valueAndGrad for gradients: one call per Adam step (steps × search steps without abort-early)', async () => {
    const { model, calls, reset } = countingModel(p.model);
    const r = await cw({ steps: 25, binarySearchSteps: 3, abortEarly: false }).run(model, p.x, p.labels, { epsilons: [10] });
    expect(calls()).toBe(75);
    r.dispose();
    reset();
    // Abort-early ends a search step at a check (every ⌈steps/10⌉ steps) once the objective stalls.
    const e = await cw({ steps: 2000, binarySearchSteps: 1 }).run(model, p.x, p.labels, { epsilons: [10] });
    expect(calls()).toBeLessThan(2000);
    expect(calls() % 200).toBe(1);
    e.dispose();
  });
});

describe('cw options and errors', () => {
  it('records its full configuration with the documented defaults', () => {
    expect(cw().config).toEqual({ steps: 1000, binarySearchSteps: 9, initialConst: 1, confidence: 0, learningRate: 0.01, abortEarly: true });
    expect(cw({ confidence: 2, steps: 10 }).config).toMatchObject({ confidence: 2, steps: 10 });
    expect(cw()).toMatchObject({ name: 'cw', kind: 'minimum-norm', search: 'minimum-norm', requires: 'gradients', norm: 'l2' });
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => cw({ confidence: -1 })).toThrow(ConfigError);
    expect(() => cw({ confidence: -1 })).toThrow('cw: expected confidence to be a finite number >= 0, got -1');
    expect(() => cw({ confidence: Infinity })).toThrow('cw: expected confidence to be a finite number >= 0, got Infinity');
    expect(() => cw({ steps: 0 })).toThrow('cw: expected steps to be an integer in [1, 100000], got 0');
    expect(() => cw({ steps: 1.5 })).toThrow('cw: expected steps to be an integer in [1, 100000], got 1.5');
    expect(() => cw({ binarySearchSteps: 0 })).toThrow('cw: expected binarySearchSteps to be an integer in [1, 100], got 0');
    expect(() => cw({ initialConst: 0 })).toThrow('cw: expected initialConst to be a finite number > 0, got 0');
    expect(() => cw({ learningRate: NaN })).toThrow('cw: expected learningRate to be a finite number > 0, got NaN');
    expect(() => cw({ abortEarly: 1 as unknown as boolean })).toThrow('cw: expected abortEarly to be a boolean, got 1');
  });

  it('refuses a query-only model with an UnsupportedError', async () => {
    const p = prototypeProblem({ n: 4 });
    const model = { ...p.model, kind: 'query' as const, logits: async (x: tf.Tensor) => p.model.logits(x) };
    await expect(cw().run(model, p.x, p.labels, { epsilons: [1] })).rejects.toThrow(UnsupportedError);
    p.dispose();
  });
});
