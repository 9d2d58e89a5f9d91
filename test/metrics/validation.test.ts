// Bad options and inputs to evaluate and attack.run: each a typed one-line error that says what was expected
// and what arrived (issue 8's list), checked before any attack runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import { evaluate, MAX_BATCH_BYTES, planEvaluation, type EvaluateOptions } from '../../metrics/evaluate.js';
import { fromFunction } from '../../src/model.js';
import * as tf from '../../src/tf.js';
import { createAttack, deepfool, fgsm, pgd } from '../../attacks/index.js';
import { ConfigError, LabelError } from '../../src/errors.js';
import { checkModel, COUNT_LIMITS, countLimit, maxRadius } from '../../src/validate.js';
import type { Model } from '../../src/model.js';
import { expectNoLeak, prototypeProblem } from '../helpers/models.js';

describe('evaluate and attack.run refuse bad options with typed one-line errors', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 4, d: 8 });
  });
  afterAll(() => p.dispose());

  const base = (): EvaluateOptions => ({ attacks: [fgsm()], epsilons: [0.1] });
  const cases: [string, () => EvaluateOptions, RegExp][] = [
    ["cascade: 'no'", () => ({ ...base(), cascade: 'no' as unknown as boolean }), /^evaluate: expected cascade to be true or false, got "no"$/],
    ['targeted: 1', () => ({ ...base(), targeted: 1 as unknown as boolean }), /^evaluate: expected targeted to be true or false, got 1$/],
    ["thorough: 'yes'", () => ({ ...base(), thorough: 'yes' as unknown as boolean }), /^evaluate: expected thorough to be true or false, got "yes"$/],
    ['attacks: [null]', () => ({ ...base(), attacks: [null as unknown as ReturnType<typeof fgsm>] }), /^evaluate: expected attacks built by an attack factory/],
    ['attacks: [{}]', () => ({ ...base(), attacks: [{} as ReturnType<typeof fgsm>] }), /^evaluate: expected attacks built by an attack factory/],
    ["classNames: 'a'", () => ({ ...base(), classNames: 'a' as unknown as string[] }), /^evaluate: expected classNames to be an array of strings, got "a"$/],
    ['onProgress: 5', () => ({ ...base(), onProgress: 5 as unknown as () => void }), /^evaluate: expected onProgress to be a function, got 5$/],
    ['ε beyond float32', () => ({ ...base(), epsilons: [1e39] }), /^evaluate: expected every epsilon to be at most float32's maximum 3.4e38, got 1e\+39$/],
    [
      'L∞ ε beyond the bounds',
      () => ({ ...base(), epsilons: [1.5] }),
      /^evaluate: expected every linf epsilon to be at most 1 \(the width of the bounds \[0, 1\]\), got 1.5$/,
    ],
    [
      '10,001 epsilons',
      () => ({ ...base(), epsilons: Array.from({ length: 10_001 }, (_, i) => i / 20_000) }),
      /^evaluate: expected at most 1000 epsilons, got 10001$/,
    ],
    ['batchSize 1e20', () => ({ ...base(), batchSize: 1e20 }), /^evaluate: expected batchSize to be an integer in \[1, 65536\], got 100000000000000000000$/],
  ];
  it.each(cases)('%s', async (_name, options, message) => {
    await expectNoLeak(async () => {
      const err = await evaluate(p.model, { x: p.x, labels: p.labels }, options()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  });

  it('labels: null is a LabelError, not a TypeError', async () => {
    await expect(evaluate(p.model, { x: p.x, labels: null as unknown as number[] }, base())).rejects.toThrow(
      new LabelError('evaluate labels: expected 4 labels as an array, typed array or rank-1 tensor, got null'),
    );
    await expect(pgd().run(p.model, p.x, null as unknown as number[], { epsilons: [0.1] })).rejects.toThrow(LabelError);
  });

  it('a raw tfjs model says how to wrap it', async () => {
    const layers = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [8] })] });
    const err = (await evaluate(layers as unknown as Model, { x: p.x, labels: p.labels }, base()).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('evaluate: expected a robustest model, got a raw tfjs LayersModel; wrap it with fromLayersModel(model, { bounds })');
    layers.dispose();
    expect(() => checkModel({ execute: () => 0 }, 'matcher')).toThrow(
      /^matcher: expected a robustest model, got a raw tfjs GraphModel; wrap it with fromGraphModel/,
    );
    await expect(fgsm().run({} as Model, p.x, p.labels, { epsilons: [0.1] })).rejects.toThrow(/^fgsm: expected a robustest model \(from loadModel/);
  });

  it('counts beyond their documented maximum are refused at construction', () => {
    expect(() => pgd({ steps: 1e20 })).toThrow(new ConfigError('pgd: expected steps to be an integer in [1, 100000], got 100000000000000000000'));
    expect(() => createAttack('square', { queries: COUNT_LIMITS.queries + 1 })).toThrow(/square: expected queries to be an integer in \[1, 10000000\]/);
    expect(() => pgd({ steps: COUNT_LIMITS.steps })).not.toThrow();
    expect(countLimit('restarts')).toBe(1000);
    expect(countLimit('somethingElse')).toBe(COUNT_LIMITS.default);
  });

  it('a minimum-norm attack may be asked at any finite radius; a fixed-epsilon one only inside the box', async () => {
    expect(maxRadius('linf', [0, 1], 8)).toBe(1);
    expect(maxRadius('l2', [0, 2], 4)).toBe(4);
    const r = await deepfool({ steps: 3 }).run(p.model, p.x, p.labels, { epsilons: [10] });
    expect(r.results[0]!.epsilon).toBe(10);
    r.dispose();
    await expect(pgd({ steps: 2 }).run(p.model, p.x, p.labels, { epsilons: [1.5] })).rejects.toThrow(
      'pgd: expected every linf epsilon to be at most 1 (the width of the bounds [0, 1]), got 1.5',
    );
    // The whole range itself is allowed (the unbounded-attack check uses it).
    const full = await pgd({ steps: 2 }).run(p.model, p.x, p.labels, { epsilons: [1] });
    full.dispose();
  });

  it('splits batches by bytes: a model declaring [3, 4000, 4000] inputs gets one sample per batch, not 100', () => {
    const huge = fromFunction((x) => tf.zeros([x.shape[0]!, 10]), { numClasses: 10, inputShape: [3, 4000, 4000] });
    expect(planEvaluation(huge, { attacks: [fgsm()], epsilons: [0.1], batchSize: 100 }).batchSize).toBe(1);
    const mnist = fromFunction((x) => tf.zeros([x.shape[0]!, 10]), { numClasses: 10, inputShape: [28, 28, 1] });
    expect(planEvaluation(mnist, { attacks: [fgsm()], epsilons: [0.1], batchSize: 100 }).batchSize).toBe(100);
    expect(MAX_BATCH_BYTES).toBe(256 * 1024 * 1024);
  });
});
