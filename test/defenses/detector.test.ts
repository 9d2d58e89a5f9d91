// Feature-squeezing detector: metrics on known scores, the threshold at a false-positive rate, detection of plain PGD
// on the bundled model, and an adaptive attack (targeted PGD on the model and its squeezed copy together) that evades it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { pgd } from '../../attacks/index.js';
import type { DifferentiableModel } from '../../src/model.js';
import { defend, detectionMetrics, featureSqueezing, medianSmoothing, squeezingScores } from '../../defenses/index.js';
import { expectNoLeak, seededValues, tinyConvModel } from '../helpers/models.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

describe('detectionMetrics', () => {
  it('gives the detection rate, false-positive rate and Mann–Whitney ROC AUC (ties count ½)', () => {
    expect(detectionMetrics([0.1, 0.2, 0.3, 0.4], [0.5, 0.6], 0.35)).toEqual({ detectionRate: 1, falsePositiveRate: 0.25, rocAuc: 1 });
    expect(detectionMetrics([0.1, 0.2, 0.3, 0.4], [0.05, 0.3], 0.25)).toEqual({ detectionRate: 0.5, falsePositiveRate: 0.5, rocAuc: (0 + 2.5) / 8 });
    expect(detectionMetrics([1, 1], [1, 1], 0).rocAuc).toBe(0.5);
    expectThrows(() => detectionMetrics([], [1], 0), ShapeError, /got 0 and 1/);
  });
});

describe('featureSqueezing on a tiny model', () => {
  const { model, dispose } = tinyConvModel({ size: 6, numClasses: 3, seed: 5 });
  const x = tf.tensor4d(seededValues(40 * 36, 8), [40, 6, 6, 1]);
  afterAll(() => {
    x.dispose();
    dispose();
  });

  it('puts the threshold at the false-positive rate on the clean data, scores in [0, 2], no leaks', async () => {
    const scores = await squeezingScores(model, x);
    expect(scores.every((s) => s >= 0 && s <= 2)).toBe(true);
    expect(scores.some((s) => s > 0)).toBe(true);
    for (const rate of [0, 0.1, 0.25]) {
      const d = await featureSqueezing(model, x, { falsePositiveRate: rate, batchSize: 16 });
      const flagged = await d.detect(x);
      const fpr = flagged.reduce((a, b) => a + b, 0) / 40;
      expect(fpr).toBe(d.falsePositiveRate.fitted);
      expect(fpr).toBeLessThanOrEqual(rate);
      // The threshold is a clean score, and the next-lower clean score would flag more than the rate allows.
      const sorted = Float32Array.from(scores).sort();
      const at = sorted.indexOf(d.threshold);
      expect(at).toBeGreaterThanOrEqual(0);
      if (at > 0) expect(scores.filter((s) => s > sorted[at - 1]!).length / 40).toBeGreaterThan(rate);
    }
    await expectNoLeak(() => squeezingScores(model, x, [medianSmoothing(2)], 7));
  });

  it('refuses bad options', async () => {
    await expectRejects(featureSqueezing(model, x, { falsePositiveRate: 1 }), ConfigError, /falsePositiveRate/);
    await expectRejects(squeezingScores(model, x, []), ConfigError, /at least one squeezer/);
  });
});

describe('feature squeezing against plain and adaptive PGD (bundled MNIST model)', () => {
  const root = join(import.meta.dirname, '..', '..');
  const N = process.env['ROBUSTEST_TEST_BACKEND'] === 'cpu' ? 20 : 40;
  let model: DifferentiableModel;
  let fit: tf.Tensor;
  let x: tf.Tensor;
  let labels: Int32Array;
  beforeAll(async () => {
    model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
    const data = await loadIdx(
      join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: 200 + N },
    );
    fit = tf.tensor4d(data.images.subarray(0, 200 * 784), [200, 28, 28, 1]);
    x = tf.tensor4d(data.images.subarray(200 * 784), [N, 28, 28, 1]);
    labels = data.labels.subarray(200);
  });
  afterAll(() => {
    tf.dispose([fit, x]);
    model.dispose();
  });

  /** The adversarial examples of `m` at L∞ 0.3 that fool the model, and their scores. */
  async function attack(
    m: DifferentiableModel,
    targets?: Int32Array,
  ): Promise<{ fooled: number; scores: (s: (x: tf.Tensor) => Promise<Float32Array>) => Promise<number[]> }> {
    const r = await pgd({ steps: 20 }).run(m, x, labels, targets ? { epsilons: [0.3], seed: 0, targets } : { epsilons: [0.3], seed: 0 });
    const adv = r.results[0]!.adversarial;
    const pred = tf.tidy(() => tf.argMax(model.logits(adv), 1));
    const fooledMask = Array.from(await pred.data()).map((p, i) => p !== labels[i]);
    pred.dispose();
    const kept = tf.keep(adv.clone());
    r.dispose();
    return {
      fooled: fooledMask.filter(Boolean).length,
      scores: async (score) => {
        const s = await score(kept);
        kept.dispose();
        return Array.from(s).filter((_, i) => fooledMask[i]);
      },
    };
  }

  it('the default detector (bits:1, median:2) flags most plain PGD examples at a 5% false-positive rate', async () => {
    const detector = await featureSqueezing(model, fit);
    expect(detector.squeezers).toEqual(['bits:1', 'median:2']);
    expect(detector.falsePositiveRate.fitted).toBeLessThanOrEqual(0.05);
    const plain = await attack(model);
    expect(plain.fooled).toBeGreaterThanOrEqual(0.9 * N);
    const m = detectionMetrics(await detector.score(x), await plain.scores(detector.score), detector.threshold);
    expect(m.detectionRate).toBeGreaterThanOrEqual(0.75);
    expect(m.rocAuc).toBeGreaterThanOrEqual(0.9);
  });

  it('an adaptive attack (targeted PGD on the model and its median-squeezed copy, summed) evades the median detector', async () => {
    const detector = await featureSqueezing(model, fit, { squeezers: [medianSmoothing(2)] });
    const squeezed = defend(model, [medianSmoothing(2)]);
    // One model whose loss is the sum of the model's and the squeezed model's: driving both to the same target class
    // with high confidence makes their softmaxes agree, so the L1 score falls.
    const joint: DifferentiableModel = {
      kind: 'differentiable',
      bounds: model.bounds,
      numClasses: model.numClasses,
      inputShape: model.inputShape,
      layout: model.layout,
      name: 'model+median',
      engine: model.engine,
      warnings: [],
      logits: (v) => model.logits(v),
      fingerprint: () => model.fingerprint(),
      dispose: () => undefined,
      async valueAndGrad(v, loss) {
        const a = await model.valueAndGrad(v, loss);
        const b = await squeezed.valueAndGrad(v, loss);
        const sum = tf.tidy(() => ({ value: tf.add(a.value, b.value) as tf.Tensor1D, grad: tf.add(a.grad, b.grad) }));
        tf.dispose([a.value, a.grad, b.value, b.grad]);
        return sum;
      },
    };
    const clean = await detector.score(x);
    const plain = detectionMetrics(clean, await (await attack(model)).scores(detector.score), detector.threshold);
    const adaptiveRun = await attack(
      joint,
      Int32Array.from(labels, (l) => (l + 1) % 10),
    );
    expect(adaptiveRun.fooled).toBeGreaterThanOrEqual(0.9 * N);
    const adaptive = detectionMetrics(clean, await adaptiveRun.scores(detector.score), detector.threshold);
    expect(adaptive.detectionRate).toBeLessThanOrEqual(0.05);
    expect(adaptive.rocAuc).toBeLessThan(0.7);
    expect(plain.rocAuc).toBeGreaterThan(adaptive.rocAuc + 0.1);
  });
});
