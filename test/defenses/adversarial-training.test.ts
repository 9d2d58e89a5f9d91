// adversarialTrain: each method makes a small model more robust on its training slice, no leaks, determinism under a
// seed, exact resume after an interruption, typed errors for bad input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { ConfigError, LabelError, ShapeError, UnsupportedError } from '../../src/errors.js';
import { fromLayersModel } from '../../src/load.js';
import { crossEntropy } from '../../src/losses.js';
import { createRng } from '../../src/rng.js';
import { adversarialTrain, linearSchedule, type AdversarialTrainingConfig, type TrainingData } from '../../defenses/adversarial-training.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../defenses/training/checkpoint.js';
import { expectNoLeak } from '../helpers/models.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

const SIZE = 4;
const EPS = 0.3;
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'robustest-at-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Two classes (y = ±1) on 4×4 images in [0, 1], after Tsipras et al. 2019: the first row is a robust feature
 * (0.5 ± 0.4, a margin an L∞ step of 0.3 cannot cross), the other 12 pixels are weak ones (0.5 ± 0.1 plus uniform
 * noise of ±0.25): together they predict the label well, yet a 0.3-step flips every one of them. Clean training
 * leans on all features and is not robust; adversarial training must learn to read the first row only.
 */
function toyData(n: number, seed: number): TrainingData {
  const rng = createRng(seed);
  const d = SIZE * SIZE;
  const images = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    const s = y === 1 ? 1 : -1;
    labels[i] = y;
    for (let j = 0; j < SIZE; j++) images[i * d + j] = 0.5 + 0.4 * s;
    for (let j = SIZE; j < d; j++) images[i * d + j] = Math.min(1, Math.max(0, 0.5 + 0.1 * s + (rng.next() - 0.5) * 0.5));
  }
  return { images, labels };
}

/** A linear classifier starting from zero weights: adversarial training reaches the robust solution in one epoch. */
function linearNet(): tfl.LayersModel {
  return tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [SIZE, SIZE, 1] }), tfl.layers.dense({ units: 2, kernelInitializer: 'zeros' })] });
}

/** A small CNN (conv 3×3 ×4, ReLU, dense 2) with seeded initial weights (for determinism and resume). */
function smallNet(seed = 5, head: 'linear' | 'softmax' = 'linear'): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [SIZE, SIZE, 1],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2, activation: head, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

const DATA = toyData(300, 11);
const BASE: AdversarialTrainingConfig = { epsilon: EPS, epochs: 1, batchSize: 10, learningRate: 0.05, validationSteps: 10, seed: 3 };

/** PGD-10 accuracy (random start) of `net` on `data` at ε, measured independently of the training code's validation. */
async function pgdAccuracy(net: tfl.LayersModel, data: TrainingData, epsilon: number): Promise<number> {
  const model = await fromLayersModel(net, { engine: 'tfjs' });
  const n = data.labels.length;
  const x = tf.tensor4d(data.images, [n, SIZE, SIZE, 1]);
  const y = tf.tensor1d(Int32Array.from(data.labels), 'int32');
  let adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -epsilon, epsilon, 'float32', 99)), 0, 1));
  for (let s = 0; s < 10; s++) {
    const { value, grad } = await model.valueAndGrad(adv, crossEntropy(y, 2));
    const next = tf.tidy(() => {
      const stepped = tf.add(adv, tf.mul(tf.sign(grad), (2.5 * epsilon) / 10));
      return tf.clipByValue(tf.minimum(tf.maximum(stepped, tf.sub(x, epsilon)), tf.add(x, epsilon)), 0, 1);
    });
    tf.dispose([value, grad, adv]);
    adv = next;
  }
  const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.logits(adv), 1), y), 'int32')));
  const c = (await correct.data())[0]!;
  tf.dispose([x, y, adv, correct]);
  model.dispose();
  return c / n;
}

/** Accuracy of `net` on `data` plus N(0, σ²) noise (seeded). */
async function noisyAccuracy(net: tfl.LayersModel, data: TrainingData, sigma: number): Promise<number> {
  const n = data.labels.length;
  const correct = tf.tidy(() => {
    const x = tf.add(tf.tensor4d(data.images, [n, SIZE, SIZE, 1]), tf.randomNormal([n, SIZE, SIZE, 1], 0, sigma, 'float32', 7));
    return tf.sum(tf.cast(tf.equal(tf.argMax(net.apply(x) as tf.Tensor, 1), tf.tensor1d(Int32Array.from(data.labels), 'int32')), 'int32'));
  });
  const c = (await correct.data())[0]!;
  correct.dispose();
  return c / n;
}

async function weightsOf(net: tfl.LayersModel): Promise<Float32Array[]> {
  return Promise.all(net.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

describe('adversarialTrain: one epoch of each method', () => {
  let cleanRobust = NaN;

  it('clean training learns the task but not robustness (the baseline)', async () => {
    const net = linearNet();
    const result = await adversarialTrain(net, DATA, { ...BASE, method: 'clean' });
    expect(result.history[0]!.cleanAccuracy).toBeGreaterThan(0.95);
    cleanRobust = await pgdAccuracy(net, DATA, EPS);
    expect(cleanRobust).toBeLessThan(0.5);
    net.dispose();
  });

  for (const method of ['pgd-at', 'trades', 'fgsm-rs'] as const) {
    it(`${method} raises PGD accuracy on its training slice above the initial model's and clean training's, leaking nothing`, async () => {
      const net = linearNet();
      const before = await pgdAccuracy(net, DATA, EPS);
      let result: Awaited<ReturnType<typeof adversarialTrain>> | undefined;
      await expectNoLeak(async () => {
        result = await adversarialTrain(net, DATA, { ...BASE, method });
      });
      const after = await pgdAccuracy(net, DATA, EPS);
      expect(after).toBeGreaterThan(before + 0.3);
      expect(after).toBeGreaterThan(cleanRobust + 0.3);
      // The training code's own validation (PGD-10 on the first 600 training images) agrees.
      expect(result!.history[0]!.robustAccuracy).toBeGreaterThan(0.8);
      expect(result!.history[0]!.cleanAccuracy).toBeGreaterThanOrEqual(result!.history[0]!.robustAccuracy);
      expect(result!.epochsRun).toBe(1);
      net.dispose();
    });
  }

  it('gaussian augmentation raises accuracy under N(0, σ²) noise, leaking nothing', async () => {
    const net = linearNet();
    const before = await noisyAccuracy(net, DATA, 0.5);
    await expectNoLeak(() => adversarialTrain(net, DATA, { ...BASE, method: 'gaussian', sigma: 0.5, validation: false }));
    expect(await noisyAccuracy(net, DATA, 0.5)).toBeGreaterThan(before + 0.2);
    net.dispose();
  });
});

describe('adversarialTrain: determinism and resume', () => {
  it('gives bit-identical weights for the same seed, and other weights for another seed', async () => {
    const run = async (seed: number): Promise<Float32Array[]> => {
      const net = smallNet();
      await adversarialTrain(net, DATA, { ...BASE, method: 'pgd-at', steps: 3, seed, validation: false });
      const w = await weightsOf(net);
      net.dispose();
      return w;
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('resumes an interrupted run to the same final weights, history and checkpoint as an uninterrupted one', async () => {
    const config: AdversarialTrainingConfig = {
      ...BASE,
      method: 'fgsm-rs',
      epochs: 3,
      epsilonWarmup: 1.5,
      learningRate: linearSchedule([
        [0, 0.01],
        [3, 0.001],
      ]),
      validation: false,
    };
    const whole = smallNet();
    const wholeDir = tempDir();
    const full = await adversarialTrain(whole, DATA, { ...config, checkpointDir: wholeDir });
    expect(full.history.map((h) => h.epoch)).toEqual([1, 2, 3]);

    const dir = tempDir();
    const controller = new AbortController();
    const first = smallNet();
    const cut = await adversarialTrain(first, DATA, {
      ...config,
      checkpointDir: dir,
      onEpochEnd: (e) => {
        if (e.epoch === 1) controller.abort();
      },
      signal: controller.signal,
    });
    expect(cut.stopped).toEqual({ epoch: 2, reason: 'interrupted' });
    expect(cut.epochsRun).toBe(1);
    first.dispose();

    // A fresh process would build the model anew: the same architecture, other initial weights even.
    const resumed = smallNet(77);
    const rest = await expectNoLeakResult(() => adversarialTrain(resumed, DATA, { ...config, checkpointDir: dir, resume: true }));
    expect(rest.epochsRun).toBe(2);
    expect(rest.history.map((h) => [h.epoch, h.loss])).toEqual(full.history.map((h) => [h.epoch, h.loss]));
    expect(await weightsOf(resumed)).toEqual(await weightsOf(whole));

    // Resuming a finished run trains nothing and leaves the final weights.
    const again = smallNet(78);
    const none = await adversarialTrain(again, DATA, { ...config, checkpointDir: dir, resume: true });
    expect(none.epochsRun).toBe(0);
    expect(await weightsOf(again)).toEqual(await weightsOf(whole));
    tf.dispose([]);
    [whole, resumed, again].forEach((m) => m.dispose());
  });

  it('refuses a checkpoint of another seed, architecture, setting or data set, naming the option', async () => {
    const dir = tempDir();
    const net = smallNet();
    const config: AdversarialTrainingConfig = { ...BASE, method: 'fgsm-rs', validation: false, checkpointDir: dir };
    await adversarialTrain(net, DATA, config);
    await expectRejects(adversarialTrain(smallNet(), DATA, { ...config, resume: true, seed: 4 }), ConfigError, /^seed: /, /checkpoint's seed 3/);
    const wider = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [SIZE, SIZE, 1] }), tfl.layers.dense({ units: 2 })] });
    await expectRejects(adversarialTrain(wider, DATA, { ...config, resume: true }), ConfigError, /^resume: /, /architecture/);
    await expectRejects(adversarialTrain(smallNet(), DATA, { ...config, resume: true, epsilon: 0.2 }), ConfigError, /^epsilon: /);
    await expectRejects(adversarialTrain(smallNet(), toyData(300, 12), { ...config, resume: true }), ConfigError, /^data: /);
    writeFileSync(join(dir, 'checkpoint.bin'), 'not a checkpoint');
    await expectRejects(adversarialTrain(smallNet(), DATA, { ...config, resume: true }), ConfigError, /^resume: /, /RBTC/);
    await expectRejects(adversarialTrain(smallNet(), DATA, { ...BASE, resume: true }), ConfigError, /checkpointDir/);
    net.dispose();
  });
});

async function expectNoLeakResult<T>(fn: () => Promise<T>): Promise<T> {
  let out: T | undefined;
  await expectNoLeak(async () => {
    out = await fn();
  });
  return out!;
}

describe('adversarialTrain: bad input', () => {
  it('refuses anything but a LayersModel with a typed error saying what is supported', async () => {
    const net = smallNet();
    const wrapped = await fromLayersModel(net, { engine: 'tfjs' });
    const asLayers = (v: unknown): tfl.LayersModel => v as tfl.LayersModel;
    await expectRejects(adversarialTrain(asLayers(wrapped), DATA), UnsupportedError, /LayersModel/, /DifferentiableModel/);
    await expectRejects(adversarialTrain(asLayers({ kind: 'query', logits: () => undefined }), DATA), UnsupportedError, /QueryModel/);
    await expectRejects(adversarialTrain(asLayers({ executeAsync: () => undefined, execute: () => undefined }), DATA), UnsupportedError, /GraphModel/);
    await expectRejects(adversarialTrain(asLayers('model.onnx'), DATA), UnsupportedError, /graph models, ONNX and query models/);
    await expectRejects(adversarialTrain(smallNet(5, 'softmax'), DATA), UnsupportedError, /logits/, /softmax/);
    wrapped.dispose();
    net.dispose();
  });

  it('validates epochs, steps, batchSize, epsilon, beta, sigma, method and the data', async () => {
    const net = smallNet();
    const cases: [AdversarialTrainingConfig, RegExp][] = [
      [{ epochs: 0 }, /expected epochs to be an integer .*got 0/],
      [{ steps: 1.5 }, /expected steps to be an integer .*got 1.5/],
      [{ batchSize: -1 }, /batchSize/],
      [{ epsilon: -0.1 }, /epsilon to be a finite number >= 0/],
      [{ beta: Number.NaN }, /beta/],
      [{ sigma: -1 }, /sigma/],
      [{ learningRate: 0 }, /learningRate/],
      [{ method: 'madry' as never }, /method to be one of pgd-at, trades, fgsm-rs, gaussian, clean, got "madry"|got 'madry'|madry/],
      [{ bounds: [1, 0] }, /bounds/],
    ];
    for (const [config, message] of cases) await expectRejects(adversarialTrain(net, DATA, config), ConfigError, /^adversarialTrain: /, message);
    await expectRejects(adversarialTrain(net, { images: new Float32Array(10), labels: [0, 1] }), ShapeError, /data.images/);
    await expectRejects(adversarialTrain(net, { images: DATA.images, labels: Array.from(DATA.labels, () => 2) }), LabelError, /\[0, 2\)/);
    await expectRejects(adversarialTrain(net, { images: DATA.images.map((v) => v * 2), labels: DATA.labels }), Error, /bounds/);
    net.dispose();
  });
});

describe('linearSchedule and the checkpoint format', () => {
  it('interpolates between its points and is constant beyond them (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 5 }),
        fc.double({ min: -2, max: 30, noNaN: true }),
        (parts, t) => {
          let p = 0;
          const points = parts.map(([dp, v]) => [(p += dp), v] as [number, number]);
          const f = linearSchedule(points);
          const values = points.map(([, v]) => v);
          const y = f(t);
          expect(y).toBeGreaterThanOrEqual(Math.min(...values) - 1e-12);
          expect(y).toBeLessThanOrEqual(Math.max(...values) + 1e-12);
          for (const [q, v] of points) expect(f(q)).toBeCloseTo(v, 12);
          if (t <= points[0]![0]) expect(y).toBe(points[0]![1]);
          if (t >= points[points.length - 1]![0]) expect(y).toBe(points[points.length - 1]![1]);
        },
      ),
    );
    expectThrows(() => linearSchedule([]), ConfigError, /at least one/);
    expectThrows(
      () =>
        linearSchedule([
          [1, 0.1],
          [1, 0.2],
        ]),
      ConfigError,
      /increasing/,
    );
  });

  it('round-trips headers and float32 payloads exactly, and rejects truncated files (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.float({ noNaN: true }), { maxLength: 20 }), { maxLength: 4 }), fc.string(), (arrays, note) => {
        const tensors = arrays.map((a, i) => ({ name: `t${i}`, shape: [a.length] }));
        const bytes = encodeCheckpoint(
          { tensors, note } as { tensors: typeof tensors },
          arrays.map((a) => Float32Array.from(a)),
        );
        const { header, arrays: back } = decodeCheckpoint<{ tensors: typeof tensors; note: string }>(bytes, 'x');
        expect(header.note).toBe(note);
        expect(back.map((a) => Array.from(a))).toEqual(arrays.map((a) => Array.from(Float32Array.from(a))));
        if (arrays.some((a) => a.length > 0)) expectThrows(() => decodeCheckpoint(bytes.subarray(0, bytes.byteLength - 4), 'x'), ConfigError, /truncated/);
      }),
    );
  });
});
