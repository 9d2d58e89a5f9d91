// The honest number: bit-depth reduction "defends" the bundled MNIST model against plain PGD (its own, zero
// gradient), and the adaptive attack (BPDA) brings robust accuracy back down. evaluate warns about the first, and the
// report's provenance records the defense.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { validateReport } from '../../src/report.js';
import { evaluate } from '../../metrics/evaluate.js';
import { pgd } from '../../attacks/index.js';
import { defend, bitDepth, gaussianNoise } from '../../defenses/index.js';
import type { DifferentiableModel } from '../../src/model.js';
import type { Dataset } from '../../src/data/types.js';
import { tinyConvModel, seededValues } from '../helpers/models.js';

const root = join(import.meta.dirname, '..', '..');
const N = 50;

describe('adaptive evaluation of an input-transform defense (bundled MNIST model)', () => {
  let model: DifferentiableModel;
  let data: Dataset;
  beforeAll(async () => {
    model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
    data = await loadIdx(
      join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: N },
    );
  });
  afterAll(() => model.dispose());

  it('bits:4 looks robust to plain PGD at ε = 0.3 (with a non-adaptive-defense warning); BPDA brings it to ≤ 10%', async () => {
    const before = tf.memory().numTensors;
    const options = { attacks: [pgd({ steps: 20 })], epsilons: [0.3], seed: 0, batchSize: 50 };
    const plain = await evaluate(defend(model, [bitDepth(4)], { gradient: 'exact' }), data, options);
    const adaptive = await evaluate(defend(model, [bitDepth(4)]), data, options);
    expect(tf.memory().numTensors).toBe(before);
    expect(plain.cleanAccuracy).toBeGreaterThanOrEqual(0.96);
    expect(adaptive.cleanAccuracy).toBe(plain.cleanAccuracy);
    expect(plain.curve[0]!.robustAccuracy).toBeGreaterThan(0.9);
    expect(adaptive.curve[0]!.robustAccuracy).toBeLessThanOrEqual(0.1);
    expect(plain.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['non-adaptive-defense', 'zero-gradients']));
    expect(adaptive.warnings.map((w) => w.code)).not.toContain('non-adaptive-defense');
    expect(plain.provenance.model.defense).toEqual({
      transforms: ['bits:4'],
      gradient: 'exact',
      eotSamples: 1,
      random: false,
      nonDifferentiable: true,
      adaptive: false,
      seed: 0,
    });
    expect(adaptive.provenance.model.defense?.adaptive).toBe(true);
    expect(validateReport(adaptive)).toBe(adaptive);
    expect(validateReport(plain)).toBe(plain);
  });
});

describe('evaluate on a randomised defense', () => {
  it('warns non-adaptive-defense without EOT and not randomized-model with it', async () => {
    const { model, dispose } = tinyConvModel({ size: 6, numClasses: 3, seed: 2 });
    const x = tf.tensor4d(seededValues(6 * 36, 3), [6, 6, 6, 1]);
    const labels = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const options = { attacks: [pgd({ steps: 3 })], epsilons: [0.1], seed: 0 };
    const once = await evaluate(defend(model, [gaussianNoise(0.2)], { eotSamples: 1 }), { x, labels }, options);
    const eot = await evaluate(defend(model, [gaussianNoise(0.2)], { eotSamples: 4 }), { x, labels }, options);
    expect(once.warnings.map((w) => w.code)).toContain('non-adaptive-defense');
    expect(once.warnings.find((w) => w.code === 'non-adaptive-defense')?.message).toMatch(/EOT/);
    expect(eot.warnings.map((w) => w.code)).not.toContain('non-adaptive-defense');
    expect(eot.warnings.map((w) => w.code)).not.toContain('randomized-model');
    expect(eot.provenance.model.defense).toMatchObject({ transforms: ['noise:0.2'], eotSamples: 4, random: true, adaptive: true });
    tf.dispose(x);
    dispose();
  });
});
