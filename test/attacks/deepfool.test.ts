// DeepFool against closed-form answers on a linear model, and its minimum-norm contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { deepfool } from '../../attacks/deepfool.js';
import { prototypeProblem } from '../helpers/models.js';

/** Host copy of the prototype model's weights: logits z = x·W + b with W [d, k]. */
async function linearParts(p: ReturnType<typeof prototypeProblem>, d: number, k: number) {
  // The model is linear: read W and b back through the logits of the basis vectors and of zero.
  const eye = tf.tidy(() => tf.concat([tf.zeros([1, d]), tf.eye(d)]));
  const z = p.model.logits(eye);
  const host = await z.data();
  tf.dispose([eye, z]);
  const b = Array.from(host.subarray(0, k));
  const w = Array.from({ length: d }, (_, j) => Array.from({ length: k }, (_, c) => host[(j + 1) * k + c]! - b[c]!));
  return { w, b };
}

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
      const { w, b } = await linearParts(p, d, k);
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
