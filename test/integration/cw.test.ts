// Carlini–Wagner's default settings fool every clean-correct point of the bundled MNIST model (ε unbounded).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { cw } from '../../attacks/carlini-wagner.js';
import type { DifferentiableModel } from '../../src/model.js';

const root = join(import.meta.dirname, '..', '..');
// Thousands of Adam steps: the cpu backend's gradient kernels are ~10× slower than wasm's, so this runs on wasm only.
const onCpu = process.env['ROBUSTEST_TEST_BACKEND'] === 'cpu';
const N = 20;

describe('cw on the bundled MNIST model', () => {
  let model: DifferentiableModel;
  let x: tf.Tensor;
  let labels: number[];
  beforeAll(async () => {
    if (onCpu) return;
    model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
    const data = await loadIdx(
      join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: N },
    );
    x = tf.tensor(data.images, [N, ...model.inputShape]);
    labels = Array.from(data.labels);
  });
  afterAll(() => {
    if (onCpu) return;
    x.dispose();
    model.dispose();
  });

  it.skipIf(onCpu)('[wasm only: thousands of Adam steps, ~10× slower on cpu] default settings fool every clean-correct point', async () => {
    const before = tf.memory().numTensors;
    const clean = tf.tidy(() => tf.argMax(model.logits(x), 1));
    const correct = Array.from(await clean.data(), (p, i) => p === labels[i]);
    clean.dispose();
    expect(correct.filter(Boolean).length).toBeGreaterThanOrEqual(19);
    // The default search's first two constants (1, then ×10 where 1 failed) with the default Adam settings: a run with
    // more search steps repeats exactly these two and keeps each point's best, so the default run (9 search steps)
    // fools at least the points fooled here (test/attacks/cw.test.ts checks that more search steps never lose one).
    const r = await cw({ binarySearchSteps: 2 }).run(model, x, labels, { epsilons: [1, 2, 1e9] });
    const norms = Array.from(r.minimalNorms!);
    correct.forEach((c, i) => {
      if (c) expect(norms[i], `image ${i}`).toBeLessThan(Infinity);
    });
    expect(r.results[2]!.success.filter((s, i) => s && correct[i]).length).toBe(correct.filter(Boolean).length);
    // Small perturbations: most points fall within L2 2, many within 1 (DeepFool's median here is about 1.3).
    expect(r.results[1]!.success.filter(Boolean).length).toBeGreaterThanOrEqual(0.8 * N);
    expect(r.results[0]!.success.filter(Boolean).length).toBeGreaterThanOrEqual(0.3 * N);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
