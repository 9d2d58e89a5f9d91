// The losses record: values against hand computations, and every loss differentiable (tfjs has no TopK gradient).
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { attackLoss, LOSSES, LOSS_NAMES, targetedLoss } from '../../src/losses.js';
import { ConfigError } from '../../src/errors.js';

const z = [
  [3, 1, 2, 0.5],
  [0, 4, -1, 2],
];
const labels = [0, 3];
const targets = [2, 0];

describe('losses', () => {
  it('compute CE, the CW margin and DLR per sample as written in their papers', async () => {
    const logits = tf.tensor2d(z);
    const y = tf.tensor1d(labels, 'int32');
    const t = tf.tensor1d(targets, 'int32');
    const value = async (name: (typeof LOSS_NAMES)[number], targeted: boolean): Promise<number[]> => {
      const v = tf.tidy(() => attackLoss(name, y, 4, targeted ? t : undefined)(logits));
      const out = Array.from(await v.data());
      v.dispose();
      return out;
    };
    const lse = (r: number[]): number => Math.log(r.reduce((a, b) => a + Math.exp(b), 0));
    const ce = await value('ce', false);
    expect(ce[0]).toBeCloseTo(lse(z[0]!) - 3, 5);
    expect(ce[1]).toBeCloseTo(lse(z[1]!) - 2, 5);
    expect(await value('margin', false)).toEqual([2 - 3, 4 - 2]);
    // DLR: (max_{j≠y} z_j − z_y) / (z_π1 − z_π3); sorted rows [3, 2, 1, 0.5] and [4, 2, 0, −1].
    const dlr = await value('dlr', false);
    expect(dlr[0]).toBeCloseTo((2 - 3) / (3 - 1), 6);
    expect(dlr[1]).toBeCloseTo((4 - 2) / (4 - 0), 6);
    // Targeted DLR: (z_t − z_y) / (z_π1 − (z_π3 + z_π4)/2).
    const tdlr = await value('dlr', true);
    expect(tdlr[0]).toBeCloseTo((2 - 3) / (3 - (1 + 0.5) / 2), 6);
    expect(tdlr[1]).toBeCloseTo((0 - 2) / (4 - (0 - 1) / 2), 6);
    expect(await value('margin', true)).toEqual([2 - 3, 0 - 4]);
    tf.dispose([logits, y, t]);
  });

  it('every loss, untargeted and targeted, has a gradient (DLR without TopK, which tfjs cannot differentiate)', async () => {
    const logits = tf.tensor2d(z);
    const y = tf.tensor1d(labels, 'int32');
    const t = tf.tensor1d(targets, 'int32');
    for (const name of LOSS_NAMES) {
      for (const targeted of [false, true]) {
        const loss = attackLoss(name, y, 4, targeted ? t : undefined);
        const g = tf.grad((l: tf.Tensor) => tf.sum(loss(l as tf.Tensor2D)))(logits);
        const v = Array.from(await g.data());
        g.dispose();
        expect(v.every(Number.isFinite)).toBe(true);
        expect(v.some((x) => x !== 0)).toBe(true);
      }
    }
    // DLR's gradient, row 0 (y = 0; other = class 2; π1 = class 0, π3 = class 1): d/dz of (z2 − z0)/(z0 − z1).
    const g = tf.grad((l: tf.Tensor) => tf.sum(attackLoss('dlr', y, 4)(l as tf.Tensor2D)))(logits);
    const row = Array.from((await g.data()).subarray(0, 4));
    g.dispose();
    const [d, n] = [3 - 1, 2 - 3];
    expect(row[0]).toBeCloseTo(-1 / d - n / d ** 2, 5);
    expect(row[1]).toBeCloseTo(n / d ** 2, 5);
    expect(row[2]).toBeCloseTo(1 / d, 5);
    expect(row[3]).toBeCloseTo(0, 6);
    tf.dispose([logits, y, t]);
  });

  it('refuse too few classes and a targeted DLR without labels, with one-line typed errors', () => {
    const y = tf.tensor1d([0, 1], 'int32');
    expect(() => attackLoss('dlr', y, 2)).toThrow("loss 'dlr': expected at least 3 classes, got 2");
    expect(() => attackLoss('dlr', y, 3, y)).toThrow("loss 'dlr': expected at least 4 classes for a targeted attack, got 3");
    expect(() => targetedLoss('dlr', y, 10)).toThrow(ConfigError);
    expect(() => attackLoss('hinge' as 'ce', y, 10)).toThrow('loss: expected one of ce, margin, dlr, got "hinge"');
    expect(LOSSES.dlr.targetedNeedsLabels).toBe(true);
    y.dispose();
  });
});

describe('losses in the runner', () => {
  it('a loss that needs more classes than the model has is a ConfigError naming the attack', async () => {
    const { pgd } = await import('../../attacks/pgd.js');
    const { prototypeProblem } = await import('../helpers/models.js');
    const p = prototypeProblem({ n: 4, numClasses: 2 });
    try {
      await expect(pgd({ loss: 'dlr', steps: 1 }).run(p.model, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow(
        "pgd: loss 'dlr': expected at least 3 classes, got 2",
      );
    } finally {
      p.dispose();
    }
  });
});

describe('logitDifference', () => {
  it('is z_k − z_ref per sample, with the gradient +1 at k and −1 at ref', async () => {
    const { logitDifference } = await import('../../src/losses.js');
    const logits = tf.tensor2d(z);
    const k = tf.tensor1d([2, 1], 'int32');
    const ref = tf.tensor1d([0, 3], 'int32');
    const fn = logitDifference(k, ref, 4);
    const v = tf.tidy(() => fn(logits));
    expect(Array.from(await v.data())).toEqual([2 - 3, 4 - 2]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(fn(l as tf.Tensor2D)))(logits);
    expect(Array.from(await g.data())).toEqual([-1, 0, 1, 0, 0, 1, 0, -1]);
    tf.dispose([logits, k, ref, v, g]);
  });
});
