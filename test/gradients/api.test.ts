// enableFastGradients / disableFastGradients / fastGradientsEnabled / fastGradientsActive, no tensor leaks, and the bundled model's
// input gradient with the overrides on against tfjs's own. Runs on both backends itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { initBackend, type BackendName } from '../../src/backend.js';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { crossEntropy } from '../../src/losses.js';
import { ConfigError } from '../../src/errors.js';
import type { DifferentiableModel } from '../../src/model.js';
import {
  FAST_GRADIENT_KERNELS,
  FAST_GRADIENTS_ENV,
  disableFastGradients,
  enableFastGradients,
  fastGradientsActive,
  fastGradientsEnabled,
  type FastGradientKernel,
} from '../../src/gradients/index.js';
import { relErr } from './helpers.js';

const BATCH = 20;

async function sample(model: DifferentiableModel): Promise<{ x: Float32Array; labels: number[] }> {
  const data = await loadIdx('assets/mnist-sample/t10k-images-first1000-idx3-ubyte.gz', 'assets/mnist-sample/t10k-labels-first1000-idx1-ubyte.gz', {
    inputShape: model.inputShape,
  });
  return { x: data.images.slice(0, BATCH * 784), labels: Array.from(data.labels.subarray(0, BATCH)) };
}

/** The model's input gradient of the cross-entropy on `backend`, overrides on or off. */
async function modelGrad(model: DifferentiableModel, backend: string, fast: boolean, x: Float32Array, labels: number[]): Promise<Float32Array> {
  const previous = tf.getBackend();
  if (previous !== backend) await tf.setBackend(backend);
  if (fast) enableFastGradients();
  else disableFastGradients();
  try {
    const xt = tf.tensor(x, [BATCH, 28, 28, 1]);
    const lt = tf.tensor1d(labels, 'int32');
    const { value, grad } = await model.valueAndGrad(xt, crossEntropy(lt, 10));
    const out = grad.dataSync() as Float32Array;
    tf.dispose([xt, lt, value, grad]);
    return out;
  } finally {
    disableFastGradients();
    if (previous !== backend) await tf.setBackend(previous);
  }
}

describe.each(['cpu', 'wasm'] as const)('fast gradients API on %s', (backend) => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await initBackend(backend);
  });
  afterEach(() => disableFastGradients());
  afterAll(async () => {
    disableFastGradients();
    await initBackend(previous as BackendName);
  });

  it('enable replaces and disable restores the registered gradient configs', () => {
    const before = new Map(FAST_GRADIENT_KERNELS.map((k) => [k, tf.getGradient(k)]));
    expect(fastGradientsEnabled()).toBe(false);
    enableFastGradients({ policy: 'all' });
    expect(fastGradientsEnabled()).toBe(true);
    for (const k of FAST_GRADIENT_KERNELS) {
      expect(tf.getGradient(k)).not.toBe(before.get(k));
      expect(tf.getGradient(k)?.inputsToSave).toEqual(before.get(k)?.inputsToSave);
      expect(tf.getGradient(k)?.outputsToSave).toEqual(before.get(k)?.outputsToSave);
    }
    disableFastGradients();
    expect(fastGradientsEnabled()).toBe(false);
    for (const k of FAST_GRADIENT_KERNELS) expect(tf.getGradient(k)).toBe(before.get(k));
    disableFastGradients(); // idempotent
    expect(fastGradientsEnabled()).toBe(false);
  });

  it('the measured policy activates each gradient only on the backends where it is faster', () => {
    enableFastGradients();
    expect(fastGradientsEnabled('Conv2D', 'wasm')).toBe(true);
    expect(fastGradientsEnabled('MaxPool', 'cpu')).toBe(true); // a loop kernel there
    expect(fastGradientsEnabled('Conv2D', 'cpu')).toBe(true); // its filter gradient
    expect(fastGradientsEnabled('BatchMatMul', 'cpu')).toBe(false);
    expect(fastGradientsEnabled('Elu', 'wasm')).toBe(false);
    expect(fastGradientsEnabled('Elu', 'cpu')).toBe(false);
    enableFastGradients({ backends: ['wasm'], kernels: ['Conv2D'] });
    expect(fastGradientsEnabled('Conv2D', 'wasm')).toBe(true);
    expect(fastGradientsEnabled('Conv2D', 'cpu')).toBe(false);
    expect(fastGradientsEnabled('MaxPool', 'wasm')).toBe(false);
  });

  it("falls back to tfjs's own gradient on backends not listed", () => {
    const other = backend === 'cpu' ? 'wasm' : 'cpu';
    enableFastGradients({ backends: [other], policy: 'all' });
    expect(fastGradientsEnabled('Conv2D')).toBe(false);
    // tfjs's own Conv2D gradient rejects dilations > 1; the override does not: so this shows which one ran.
    const x = tf.ones([1, 5, 5, 1]);
    const w = tf.ones([2, 2, 1, 1]);
    expect(() => tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid', 'NHWC', 2)))(x)).toThrow(/dilation/);
    enableFastGradients({ backends: [backend], policy: 'all' });
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid', 'NHWC', 2)))(x);
    expect(g.shape).toEqual([1, 5, 5, 1]);
    tf.dispose([x, w, g]);
  });

  it('fastGradientsActive: whether an override runs on a backend (the provenance question), not merely registered', () => {
    const other = backend === 'cpu' ? 'wasm' : 'cpu';
    expect(fastGradientsActive()).toBe(false);
    enableFastGradients();
    expect(fastGradientsActive()).toBe(true); // current backend (cpu or wasm): several overrides measured faster
    expect(fastGradientsActive(backend)).toBe(true);
    expect(fastGradientsActive('tensorflow')).toBe(false);
    // Registered for another backend only: fastGradientsEnabled() says true, fastGradientsActive() false here.
    enableFastGradients({ backends: [other] });
    expect(fastGradientsEnabled()).toBe(true);
    expect(fastGradientsActive()).toBe(false);
    expect(fastGradientsActive(other)).toBe(true);
    // A kernel whose override is measured slower everywhere (Elu) is registered nowhere.
    enableFastGradients({ kernels: ['Elu'] });
    expect(fastGradientsActive()).toBe(false);
    enableFastGradients({ kernels: ['Elu'], policy: 'all' });
    expect(fastGradientsActive()).toBe(true);
    disableFastGradients();
    expect(fastGradientsActive()).toBe(false);
    expect(fastGradientsActive(other)).toBe(false);
  });

  it(`${FAST_GRADIENTS_ENV}=0 turns the overrides off`, () => {
    const saved = process.env[FAST_GRADIENTS_ENV];
    process.env[FAST_GRADIENTS_ENV] = '0';
    try {
      enableFastGradients();
      expect(fastGradientsEnabled()).toBe(false);
    } finally {
      if (saved === undefined) delete process.env[FAST_GRADIENTS_ENV];
      else process.env[FAST_GRADIENTS_ENV] = saved;
    }
    enableFastGradients();
    expect(fastGradientsEnabled()).toBe(true);
  });

  it('rejects unknown kernels and policies', () => {
    expect(() => enableFastGradients({ kernels: ['Conv3D' as FastGradientKernel] })).toThrow(ConfigError);
    expect(() => enableFastGradients({ policy: 'fastest' as 'all' })).toThrow(ConfigError);
    expect(() => enableFastGradients({ backends: [''] })).toThrow(ConfigError);
    expect(fastGradientsEnabled()).toBe(false);
  });

  it('leaks no tensors: valueAndGrad of the bundled model and of every overridden kernel', async () => {
    const model = (await loadModel('assets/mnist-cnn/model.json', { engine: 'tfjs' })) as DifferentiableModel;
    enableFastGradients({ policy: 'all' });
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 1);
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const loss = crossEntropy(labels, 10);
    const warm = await model.valueAndGrad(x, loss);
    tf.dispose([warm.value, warm.grad]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grad } = await model.valueAndGrad(x, loss);
      tf.dispose([value, grad]);
    }
    expect(tf.memory().numTensors).toBe(before);
    // Every override, weight gradients included.
    const img = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const dw = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
    const m = tf.randomNormal([3, 4], 0, 1, 'float32', 5);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Tensor =>
      tf.addN([
        tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')),
        tf.sum(tf.conv2d(tf.relu(a) as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid', 'NHWC', 2)),
        tf.sum(tf.depthwiseConv2d(tf.relu6(a) as tf.Tensor4D, c as tf.Tensor4D, 1, 'same')),
        tf.sum(tf.maxPool(tf.leakyRelu(a) as tf.Tensor4D, 2, 2, 'same')),
        tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 2, 'valid')),
        tf.sum(tf.avgPool(tf.elu(a) as tf.Tensor4D, 2, 1, 'same')),
        tf.sum(tf.matMul(tf.reshape(a, [-1, 3]), d)),
        // Linear fused convolutions: tfjs's customGrad calls the (replaced) backprop kernels.
        tf.sum(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 2, pad: 'same' })),
        tf.sum(tf.fused.depthwiseConv2d({ x: a as tf.Tensor4D, filter: c as tf.Tensor4D, strides: 1, pad: 'same' })),
      ]);
    const once = tf.grads(f)([img, w, dw, m]);
    tf.dispose(once);
    const before2 = tf.memory().numTensors;
    const gs = tf.grads(f)([img, w, dw, m]);
    expect(tf.memory().numTensors).toBe(before2 + 4);
    tf.dispose([...gs, img, w, dw, m, x, labels]);
    model.dispose();
  });

  it("the bundled model's input gradient with overrides equals tfjs-cpu's own (max relative error <= 1e-5)", async () => {
    const model = (await loadModel('assets/mnist-cnn/model.json', { engine: 'tfjs' })) as DifferentiableModel;
    const { x, labels } = await sample(model);
    // The reference is tfjs's own gradient on cpu: on wasm tfjs's own is wrong (its MaxPoolGrad misroutes 2×2
    // windows), see the next test.
    const reference = await modelGrad(model, 'cpu', false, x, labels);
    const fast = await modelGrad(model, backend, true, x, labels);
    expect(relErr(fast, reference)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it.runIf(backend === 'wasm')("documents tfjs-wasm 4.22's own MaxPoolGrad defect that the override fixes", async () => {
    const model = (await loadModel('assets/mnist-cnn/model.json', { engine: 'tfjs' })) as DifferentiableModel;
    const { x, labels } = await sample(model);
    const reference = await modelGrad(model, 'cpu', false, x, labels);
    const tfjsWasm = await modelGrad(model, 'wasm', false, x, labels);
    const fast = await modelGrad(model, 'wasm', true, x, labels);
    // If this starts failing after a tfjs upgrade, tfjs fixed its wasm MaxPoolGrad: compare on vs off directly.
    expect(relErr(tfjsWasm, reference)).toBeGreaterThan(1e-2);
    expect(relErr(fast, reference)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });
});
