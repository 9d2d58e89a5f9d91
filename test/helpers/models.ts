// Tiny seeded models and data for tests: fast on every backend, with known behaviour.
import { expect } from 'vitest';
import * as tf from '../../src/tf.js';
import { fromFunction, type DifferentiableModel } from '../../src/model.js';
import { createRng } from '../../src/rng.js';

/** Values of a seeded uniform draw in [lo, hi). */
export function seededValues(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/**
 * A small conv net on [H, W, 1] inputs in [0, 1]: conv 3x3 (4 filters) → relu → flatten → dense(numClasses).
 * Weights are seeded; the caller disposes them via the returned `dispose`.
 */
export function tinyConvModel(opts: { size?: number; numClasses?: number; seed?: number } = {}): { model: DifferentiableModel; dispose: () => void } {
  const size = opts.size ?? 6;
  const numClasses = opts.numClasses ?? 3;
  const seed = opts.seed ?? 1;
  const kernel = tf.tensor4d(seededValues(9 * 4, seed, -1, 1), [3, 3, 1, 4]);
  const flat = (size - 2) * (size - 2) * 4;
  const dense = tf.tensor2d(seededValues(flat * numClasses, seed + 1, -0.5, 0.5), [flat, numClasses]);
  const bias = tf.tensor1d(seededValues(numClasses, seed + 2, -0.1, 0.1));
  const model = fromFunction(
    (x) => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, kernel, 1, 'valid'));
      return tf.add(tf.matMul(tf.reshape(h, [x.shape[0]!, flat]) as tf.Tensor2D, dense), bias);
    },
    { numClasses, inputShape: [size, size, 1], weights: [kernel, dense, bias], name: 'tiny-conv' },
  );
  return { model, dispose: () => tf.dispose([kernel, dense, bias]) };
}

/**
 * A linear classifier whose weights are class prototypes, and data drawn near the prototypes: the model is
 * accurate on clean data and breakable with a moderate epsilon. Inputs [d] in [0, 1].
 */
export function prototypeProblem(opts: { d?: number; numClasses?: number; n?: number; seed?: number } = {}) {
  const d = opts.d ?? 16;
  const k = opts.numClasses ?? 4;
  const n = opts.n ?? 12;
  const seed = opts.seed ?? 3;
  const protos = seededValues(d * k, seed, 0.2, 0.8);
  const rng = createRng(seed + 100);
  const labels = Int32Array.from({ length: n }, (_, i) => i % k);
  const xs = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xs[i * d + j] = Math.min(1, Math.max(0, protos[labels[i]! * d + j]! + (rng.next() - 0.5) * 0.05));
  const w = tf.transpose(tf.tensor2d(protos, [k, d])) as tf.Tensor2D;
  const b = tf.neg(tf.mul(tf.sum(tf.square(w), 0), 0.5)) as tf.Tensor1D;
  const model = fromFunction((x) => tf.add(tf.matMul(x as tf.Tensor2D, w), b), { numClasses: k, inputShape: [d], weights: [w, b], name: 'prototypes' });
  const x = tf.tensor2d(xs, [n, d]);
  return { model, x, labels, dispose: () => tf.dispose([w, b, x]) };
}

/**
 * Asserts that running `fn` leaves the tensor count unchanged: fails the test (an `expect` assertion) naming the
 * number of tensors left behind. Returns that number, so it is always `0` when it returns.
 */
export async function expectNoLeak(fn: () => Promise<unknown> | unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  const leaked = tf.memory().numTensors - before;
  expect(leaked, `expectNoLeak: expected no tensors left behind, got ${leaked}`).toBe(0);
  return leaked;
}

/**
 * Host copy of a linear model's weights, `z = x·W + b` with `W` as `[d][k]`, read back through the logits of the
 * zero input and of the basis vectors (for closed-form distances to its decision boundaries).
 */
export async function linearParts(model: DifferentiableModel, d: number, k: number): Promise<{ w: number[][]; b: number[] }> {
  const eye = tf.tidy(() => tf.concat([tf.zeros([1, d]), tf.eye(d)]));
  const z = model.logits(eye);
  const host = await z.data();
  tf.dispose([eye, z]);
  const b = Array.from(host.subarray(0, k));
  const w = Array.from({ length: d }, (_, j) => Array.from({ length: k }, (_, c) => host[(j + 1) * k + c]! - b[c]!));
  return { w, b };
}

/**
 * Wraps a model so that its `valueAndGrad` calls are counted (and may be replaced, e.g. to fail on a given call);
 * everything else is the inner model's.
 */
export function countingModel(
  inner: DifferentiableModel,
  valueAndGrad: DifferentiableModel['valueAndGrad'] = (x, loss) => inner.valueAndGrad(x, loss),
): { model: DifferentiableModel; calls: () => number; reset: () => void } {
  let calls = 0;
  const model: DifferentiableModel = {
    kind: 'differentiable',
    bounds: inner.bounds,
    numClasses: inner.numClasses,
    inputShape: inner.inputShape,
    layout: inner.layout,
    name: 'counting',
    engine: 'test',
    warnings: [],
    fingerprint: () => inner.fingerprint(),
    dispose: () => {},
    logits: (x) => inner.logits(x),
    valueAndGrad: (x, loss) => {
      calls++;
      return valueAndGrad(x, loss);
    },
  };
  return { model, calls: () => calls, reset: () => (calls = 0) };
}
