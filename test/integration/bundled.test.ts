// The bundled MNIST model end to end: the numbers the README promises, on cpu and wasm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { evaluate } from '../../metrics/evaluate.js';
import { fgsm, pgd } from '../../attacks/index.js';
import type { DifferentiableModel } from '../../src/model.js';
import type { Dataset } from '../../src/data/types.js';

const root = join(import.meta.dirname, '..', '..');
// The cpu backend's gradient kernels are plain JS and ~10× slower than wasm here: it checks a smaller slice
// (50 images, ε=0.3 only, PGD with per-sample early stop); wasm checks 200 images at ε=0.1 and 0.3.
const full = process.env['ROBUSTEST_TEST_BACKEND'] !== 'cpu';
const N = full ? 200 : 50;
const EPS = full ? [0.1, 0.3] : [0.3];

describe('bundled MNIST model', () => {
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

  it('is accurate on clean data and PGD at ε=0.3 drives robust accuracy below 2%, never above FGSM', async () => {
    const before = tf.memory().numTensors;
    const report = await evaluate(model, data, { attacks: [fgsm(), pgd({ earlyStop: !full })], epsilons: EPS, seed: 0, batchSize: 100, cascade: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.cleanAccuracy).toBeGreaterThanOrEqual(0.97);
    const acc = (name: string, eps: number) => report.attacks.find((a) => a.name === name && a.epsilon === eps)!.robustAccuracy;
    expect(acc('pgd', 0.3)).toBeLessThan(0.02);
    for (const eps of EPS) expect(acc('pgd', eps)).toBeLessThanOrEqual(acc('fgsm', eps));
    expect(acc('fgsm', EPS[0]!)).toBeLessThan(report.cleanAccuracy);
    for (const [i, eps] of EPS.entries()) expect(report.curve[i]!.robustAccuracy).toBeLessThanOrEqual(Math.min(acc('pgd', eps), acc('fgsm', eps)));
    expect(report.warnings).toEqual([]);
  });
});
