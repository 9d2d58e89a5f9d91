// The shared PyTorch exports (../shared/models/onnx): logits and input-gradients of the importer against
// PyTorch's, on every backend, plus leak checks around logits and valueAndGrad.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import type { DifferentiableModel } from '../../src/model.js';
import { loadOnnxModel } from '../../src/onnx/import.js';
import { SHARED_MODELS, maxErr, readNpy, requireSharedModels, sharedModels } from './helpers.js';

const haveSharedModels = requireSharedModels();

/** Per-sample cross-entropy from logits: logSumExp(logits) - logits[label]. */
function crossEntropy(labels: Int32Array, numClasses: number) {
  return (logits: tf.Tensor2D): tf.Tensor1D => {
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses);
    return tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, tf.cast(onehot, 'float32')), 1)) as tf.Tensor1D;
  };
}

describe.skipIf(!haveSharedModels)(`shared ONNX models (${haveSharedModels ? sharedModels : `skipped: ${sharedModels} is absent`})`, () => {
  describe.each(SHARED_MODELS)('%s', (name) => {
    let model: DifferentiableModel;
    const file = (suffix: string): string => join(sharedModels, `${name}.${suffix}`);
    beforeAll(async () => {
      model = await loadOnnxModel(file('onnx'));
    });
    afterAll(() => model.dispose());

    it('reads shape, layout and classes from the graph', () => {
      const x = readNpy(file('input.npy'));
      expect(model.inputShape).toEqual(x.shape.slice(1));
      expect(model.layout).toBe('NCHW');
      expect(model.numClasses).toBe(10);
      expect(model.engine).toBe('onnx-import');
    });

    it('matches PyTorch logits within 1e-4 of their scale', () => {
      const x = readNpy(file('input.npy'));
      const want = readNpy(file('logits.npy'));
      const got = tf.tidy(() => {
        const logits = model.logits(tf.tensor(x.data, x.shape));
        // The MLP ends in LogSoftmax, which the importer skips: compare log-probabilities.
        return Array.from((name === 'mlp_logsoftmax_mnist' ? tf.logSoftmax(logits) : logits).dataSync());
      });
      const e = maxErr(got, want.data);
      expect(e.abs).toBeLessThanOrEqual(1e-4 * Math.max(1, e.scale));
    });

    it('matches the PyTorch input-gradient of the summed cross-entropy within 1e-3 of its scale', async () => {
      const x = readNpy(file('input.npy'));
      const labels = readNpy(file('labels.npy')).data as Int32Array;
      const want = readNpy(file('grad.npy'));
      const xt = tf.tensor(x.data, x.shape);
      const { value, grad } = await model.valueAndGrad(xt, crossEntropy(labels, model.numClasses));
      expect(value.shape).toEqual([x.shape[0]]);
      expect(grad.shape).toEqual(x.shape);
      const e = maxErr(grad.dataSync(), want.data);
      tf.dispose([xt, value, grad]);
      expect(e.abs).toBeLessThanOrEqual(1e-3 * e.scale);
    });

    it('does not leak tensors in logits and valueAndGrad', async () => {
      const x = readNpy(file('input.npy'));
      const labels = readNpy(file('labels.npy')).data as Int32Array;
      const xt = tf.tensor(x.data, x.shape);
      const before = tf.memory().numTensors;
      tf.dispose(model.logits(xt));
      expect(tf.memory().numTensors).toBe(before);
      const r = await model.valueAndGrad(xt, crossEntropy(labels, model.numClasses));
      tf.dispose([r.value, r.grad]);
      expect(tf.memory().numTensors).toBe(before);
      xt.dispose();
    });
  });

  it('warns about and skips a final LogSoftmax', async () => {
    const m = await loadOnnxModel(join(sharedModels, 'mlp_logsoftmax_mnist.onnx'));
    expect(m.warnings.map((w) => w.message).join('\n')).toMatch(/LogSoftmax; attacks use its input/);
    m.dispose();
    const kept = await loadOnnxModel(join(sharedModels, 'mlp_logsoftmax_mnist.onnx'), { keepSoftmax: true });
    expect(kept.warnings.map((w) => w.message).join('\n')).toMatch(/keepSoftmax/);
    const x = tf.zeros([2, 1, 28, 28]);
    const p = kept.logits(x);
    // log-probabilities: exp sums to one per row
    expect(Array.from(tf.sum(tf.exp(p), 1).dataSync())[0]).toBeCloseTo(1, 5);
    tf.dispose([x, p]);
    kept.dispose();
  });

  it('frees its weights on dispose', async () => {
    const before = tf.memory().numTensors;
    const m = await loadOnnxModel(join(sharedModels, 'tiny_resnet_cifar.onnx'));
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fingerprints the file and gives the same hash twice', async () => {
    const m = await loadOnnxModel(join(sharedModels, 'tiny_mobilenet_cifar.onnx'));
    const h = await m.fingerprint();
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await m.fingerprint()).toBe(h);
    m.dispose();
  });
});
