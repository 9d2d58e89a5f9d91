// The random-search baseline: its draws (random corners, sphere points), the draw it keeps, and its config errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { randomSearch } from '../../attacks/random-search.js';
import { prototypeProblem } from '../helpers/models.js';
import { sampleRngs, uniformPerSample } from '../../src/rng.js';
import { marginLoss } from '../../src/losses.js';
import { ConfigError } from '../../src/errors.js';

describe('random search', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 12 });
  });
  afterAll(() => p.dispose());

  it('linf draws are corners of the ball (every coordinate moved by exactly ±ε inside the bounds)', async () => {
    const x = tf.fill([6, 16], 0.5);
    const r = await randomSearch({ samples: 5 }).run(p.model, x, [0, 1, 2, 3, 0, 1], { epsilons: [0.125] });
    const delta = tf.tidy(() => tf.abs(tf.sub(r.results[0]!.adversarial, x)));
    expect(new Set(await delta.data())).toEqual(new Set([0.125]));
    tf.dispose([delta, x]);
    r.dispose();
  });

  it('l2 draws lie on the sphere of radius ε (away from the bounds)', async () => {
    const x = tf.fill([6, 16], 0.5);
    const r = await randomSearch({ norm: 'l2', samples: 5 }).run(p.model, x, [0, 1, 2, 3, 0, 1], { epsilons: [0.25] });
    for (const v of r.results[0]!.l2) expect(v).toBeCloseTo(0.25, 5);
    x.dispose();
    r.dispose();
  });

  it('keeps, for points it never fools, the draw of highest margin loss (checked against the draws replayed)', async () => {
    const eps = 0.05;
    const samples = 6;
    const r = await randomSearch({ samples }).run(p.model, p.x, p.labels, { epsilons: [eps], seed: 3 });
    const e = r.results[0]!;
    expect(e.success.every((s) => !s)).toBe(true);
    expect(Array.from(e.queries!)).toEqual(new Array(12).fill(samples));
    // Replay: the same per-sample generators (seed 3, epsilon #0, restart #0), one uniform draw per coordinate per round.
    const rngs = sampleRngs(
      3,
      Array.from({ length: 12 }, (_, i) => i),
      0,
      0,
    );
    const labels = tf.tensor1d(p.labels, 'int32');
    const expected = tf.tidy(() => {
      let best: tf.Tensor | undefined;
      let bestLoss: tf.Tensor | undefined;
      for (let k = 0; k < samples; k++) {
        const u = uniformPerSample(rngs, [16], 0, 1);
        const c = tf.clipByValue(tf.add(p.x, tf.where(tf.less(u, 0.5), tf.fill(u.shape, -eps), tf.fill(u.shape, eps))), 0, 1);
        const loss = marginLoss(labels, 4)(p.model.logits(c as tf.Tensor2D));
        if (!best || !bestLoss) {
          best = c;
          bestLoss = loss;
          continue;
        }
        const take = tf.greater(loss, bestLoss);
        best = tf.where(tf.broadcastTo(tf.reshape(take, [12, 1]), [12, 16]), c, best);
        bestLoss = tf.where(take, loss, bestLoss);
      }
      return best!;
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, e.adversarial))));
    expect((await diff.data())[0]).toBeLessThan(1e-6);
    tf.dispose([labels, expected, diff]);
    r.dispose();
  });

  it('refuses invalid options with one-line ConfigErrors', () => {
    expect(() => randomSearch({ samples: 0 })).toThrow(ConfigError);
    expect(() => randomSearch({ samples: 0 })).toThrow('random-search: expected samples to be an integer in [1, 10000000], got 0');
    expect(() => randomSearch({ samples: 2.5 })).toThrow('random-search: expected samples to be an integer in [1, 10000000], got 2.5');
    expect(() => randomSearch({ norm: 'l1' as 'l2' })).toThrow('random-search: expected norm to be one of linf, l2, got "l1"');
    expect(() => randomSearch({ loss: 'hinge' as 'ce' })).toThrow('random-search: expected loss to be one of ce, margin, dlr, got "hinge"');
  });

  it('records its full configuration', () => {
    expect(randomSearch().config).toEqual({ norm: 'linf', samples: 100, loss: 'margin' });
    expect(randomSearch()).toMatchObject({ name: 'random-search', kind: 'query', requires: 'queries', norm: 'linf' });
  });
});
