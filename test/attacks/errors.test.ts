// Every typed error an attack run can raise, by class and message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { pgd, fgsm, bim, createAttack } from '../../attacks/index.js';
import { BoundsError, ConfigError, LabelError, NonFiniteError, ShapeError, UnsupportedError } from '../../src/errors.js';
import type { DifferentiableModel, QueryModel } from '../../src/model.js';
import { expectNoLeak, prototypeProblem } from '../helpers/models.js';
import { defineAttack } from '../../src/runner.js';

describe('attack errors', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 4, d: 8 });
  });
  afterAll(() => p.dispose());

  it('rejects a wrong input shape', async () => {
    const x = tf.zeros([4, 9]);
    await expect(fgsm().run(p.model, x, [0, 1, 2, 3], { epsilons: [0.1] })).rejects.toThrow(ShapeError);
    await expect(fgsm().run(p.model, x, [0, 1, 2, 3], { epsilons: [0.1] })).rejects.toThrow('fgsm: expected inputs of shape [N, 8] with N >= 1, got [4, 9]');
    x.dispose();
  });

  it('rejects NaN and infinite inputs', async () => {
    const x = tf.tensor2d([[0, NaN, 0, 0, 0, 0, 0, 0]]);
    await expect(pgd().run(p.model, x, [0], { epsilons: [0.1] })).rejects.toThrow(NonFiniteError);
    await expect(pgd().run(p.model, x, [0], { epsilons: [0.1] })).rejects.toThrow('pgd: expected finite input values, got 1 NaN or infinite values');
    x.dispose();
  });

  it('rejects inputs outside the bounds', async () => {
    const x = tf.tensor2d([[0, 1.5, 0, 0, 0, 0, 0, -0.25]]);
    await expect(pgd().run(p.model, x, [0], { epsilons: [0.1] })).rejects.toThrow(BoundsError);
    await expect(pgd().run(p.model, x, [0], { epsilons: [0.1] })).rejects.toThrow(
      'expected input values within the model bounds [0, 1], got values in [-0.25, 1.5]',
    );
    x.dispose();
  });

  it('rejects labels out of range, non-integers and a wrong count', async () => {
    await expect(pgd().run(p.model, p.x, [0, 1, 2, 4], { epsilons: [0.1] })).rejects.toThrow(LabelError);
    await expect(pgd().run(p.model, p.x, [0, 1, 2, 4], { epsilons: [0.1] })).rejects.toThrow('pgd labels: expected integers in [0, 4), got 4 at index 3');
    await expect(pgd().run(p.model, p.x, [0, 1.5, 2, 3], { epsilons: [0.1] })).rejects.toThrow(LabelError);
    await expect(pgd().run(p.model, p.x, [0, 1], { epsilons: [0.1] })).rejects.toThrow('pgd labels: expected 4 labels (one per input), got 2');
  });

  it('rejects targets equal to labels', async () => {
    await expect(pgd().run(p.model, p.x, [0, 1, 2, 3], { epsilons: [0.1], targets: [1, 1, 3, 0] })).rejects.toThrow(
      'pgd targets: expected every target to differ from its label, got target 1 equal to the label at index 1',
    );
  });

  it('leaves no tensor behind when an attack throws on a later restart or the model throws', async () => {
    // Before the fix, a throwing restart leaked the best-so-far batch (4 tensors) and a throwing logits call 1.
    const failing = defineAttack({
      name: 'fails-on-restart-1',
      kind: 'fixed-epsilon',
      norm: 'linf',
      config: {},
      loss: 'ce',
      restarts: 3,
      perturb: async (ctx) => {
        if (ctx.restart === 1) throw new Error('inner loop failed');
        return tf.clone(ctx.x);
      },
    });
    await expectNoLeak(async () => {
      await expect(failing.run(p.model, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow('inner loop failed');
    });
    let calls = 0;
    let allowed = 0;
    const flaky = new Proxy(p.model, {
      get(target, prop) {
        if (prop === 'logits')
          return (x: tf.Tensor) => {
            if (++calls > allowed) throw new Error('logits failed');
            return target.logits(x);
          };
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as DifferentiableModel;
    // fgsm: the logits of the candidate (the first call) fail; deepfool: the candidate's, after the clean ones.
    for (const [attack, ok] of [
      [fgsm(), 0],
      [createAttack('deepfool', { steps: 2 }), 1],
    ] as const) {
      calls = 0;
      allowed = ok;
      await expectNoLeak(async () => {
        await expect(attack.run(flaky, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow('logits failed');
      });
    }
  });

  it('rejects bad epsilons and configs', async () => {
    await expect(pgd().run(p.model, p.x, p.labels, { epsilons: [-0.1] })).rejects.toThrow('pgd: expected every epsilon to be a finite number >= 0, got -0.1');
    await expect(pgd().run(p.model, p.x, p.labels, { epsilons: [] })).rejects.toThrow(ConfigError);
    expect(() => pgd({ steps: 0 })).toThrow('pgd: expected steps to be an integer in [1, 100000], got 0');
    expect(() => pgd({ restarts: 1.5 })).toThrow(ConfigError);
    expect(() => bim({ stepSize: -1 })).toThrow('bim: expected stepSize to be a finite number > 0, got -1');
    expect(() => pgd({ norm: 'l1' as 'l2' })).toThrow('pgd: expected norm to be one of linf, l2, got "l1"');
    expect(() => createAttack('bogus')).toThrow(/^attack: expected one of fgsm, fgm, bim, pgd, .*deepfool.*, got "bogus"$/);
  });

  it('refuses a query-only model for a gradient attack', async () => {
    const q: QueryModel = {
      kind: 'query',
      bounds: [0, 1],
      numClasses: 4,
      inputShape: [8],
      layout: 'flat',
      name: 'remote',
      engine: 'http',
      warnings: [],
      logits: async (x) => tf.zeros([x.shape[0]!, 4]) as tf.Tensor2D,
      fingerprint: async () => 'x',
      dispose: () => undefined,
    };
    await expect(pgd().run(q, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow(UnsupportedError);
  });

  it('leaves no tensors behind when it throws', async () => {
    const before = tf.memory().numTensors;
    await expect(pgd().run(p.model, p.x, [0, 1, 2, 9], { epsilons: [0.1] })).rejects.toThrow(LabelError);
    expect(tf.memory().numTensors).toBe(before);
  });
});
