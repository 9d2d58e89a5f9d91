// DeepFool against closed-form answers on a linear model, and its minimum-norm contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { deepfool } from '../../attacks/deepfool.js';
import { countingModel, linearParts, prototypeProblem, expectNoLeak } from '../helpers/models.js';
import { ConfigError, UnsupportedError } from '../../src/errors.js';

describe('deepfool on a linear model', () => {
  const d = 16;
  const k = 4;
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12, d, numClasses: k });
  });
  afterAll(() => p.dispose());

  for (const norm of ['l2', 'linf'] as const) {
    it(`${norm}: one step lands at the exact distance to the nearest boundary (times 1 + overshoot)`, async () => {
      const { w, b } = await linearParts(p.model, d, k);
      const xs = await p.x.data();
      const r = await deepfool({ norm, overshoot: 0.02 }).run(p.model, p.x, p.labels, { epsilons: [10] });
      for (let i = 0; i < 12; i++) {
        const x = Array.from(xs.subarray(i * d, (i + 1) * d));
        const z = Array.from({ length: k }, (_, c) => b[c]! + x.reduce((a, v, j) => a + v * w[j]![c]!, 0));
        const y = p.labels[i]!;
        let best = Infinity;
        for (let c = 0; c < k; c++) {
          if (c === y) continue;
          const diff = w.map((row) => row[c]! - row[y]!);
          const dual = norm === 'l2' ? Math.hypot(...diff) : diff.reduce((a, v) => a + Math.abs(v), 0);
          best = Math.min(best, (z[y]! - z[c]!) / dual);
        }
        const expected = (best + 1e-4) * 1.02;
        expect(r.minimalNorms![i]).toBeCloseTo(expected, 4);
      }
      expect(r.results[0]!.success.every(Boolean)).toBe(true);
      r.dispose();
    });
  }
});

describe('deepfool options and errors', () => {
  it('records its full configuration with the paper defaults', () => {
    expect(deepfool().config).toEqual({ norm: 'l2', steps: 50, overshoot: 0.02, candidates: 10 });
    expect(deepfool({ norm: 'linf' })).toMatchObject({ name: 'deepfool', kind: 'minimum-norm', requires: 'gradients', norm: 'linf' });
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => deepfool({ steps: 0 })).toThrow(ConfigError);
    expect(() => deepfool({ steps: 0 })).toThrow('deepfool: expected steps to be an integer in [1, 100000], got 0');
    expect(() => deepfool({ overshoot: -0.1 })).toThrow('deepfool: expected overshoot to be a finite number >= 0, got -0.1');
    expect(() => deepfool({ candidates: 1 })).toThrow('deepfool: expected candidates to be an integer in [2, 100000], got 1');
    expect(() => deepfool({ norm: 'l1' as 'l2' })).toThrow('deepfool: expected norm to be one of linf, l2, got "l1"');
  });

  it('refuses targets with an UnsupportedError and leaks nothing', async () => {
    const p = prototypeProblem({ n: 4 });
    await expectNoLeak(async () => {
      await expect(deepfool().run(p.model, p.x, p.labels, { epsilons: [1], targets: [1, 2, 3, 0] })).rejects.toThrow(UnsupportedError);
    });
    p.dispose();
  });

  it('considers only the top `candidates` classes: with 2, it crosses into the runner-up class', async () => {
    const p = prototypeProblem({ n: 12 });
    const top2 = tf.tidy(() => tf.topk(p.model.logits(p.x), 2).indices);
    const second = Array.from(await top2.data()).filter((_, j) => j % 2 === 1);
    const r = await deepfool({ candidates: 2 }).run(p.model, p.x, p.labels, { epsilons: [10] });
    expect(Array.from(r.results[0]!.predictions)).toEqual(second);
    tf.dispose([top2]);
    r.dispose();
    p.dispose();
  });

  it('uses only model.valueAndGrad for gradients: candidates − 1 calls per step until every point is fooled', async () => {
    const p = prototypeProblem({ n: 12 });
    const { model, calls } = countingModel(p.model);
    const r = await deepfool({ candidates: 3 }).run(model, p.x, p.labels, { epsilons: [10] });
    // A linear model is fooled in one step: 2 calls, then the check before step 2 stops the loop.
    expect(calls()).toBe(2);
    expect(r.results[0]!.success.every(Boolean)).toBe(true);
    r.dispose();
    p.dispose();
  });
});
