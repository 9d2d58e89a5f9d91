// Backend selection and the checks shared by every entry point.
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { initBackend } from '../../src/backend.js';
import { checkInputs, checkLabels, checkEpsilons, formatFloat32 } from '../../src/validate.js';
import { BackendError, ConfigError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { fromFunction } from '../../src/model.js';

describe('initBackend', () => {
  it('keeps the requested backend and says why', async () => {
    const current = tf.getBackend() as 'cpu' | 'wasm';
    const info = await initBackend(current);
    expect(info).toMatchObject({ name: current, reason: 'requested' });
  });

  it('refuses tensorflow when neither tfjs-node package is installed, and unknown names', async () => {
    const current = tf.getBackend() as 'cpu' | 'wasm';
    await expect(initBackend('tensorflow')).rejects.toThrow(BackendError);
    await expect(initBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/);
    await expect(initBackend('webgl' as 'cpu')).rejects.toThrow('backend: expected one of cpu, wasm, tensorflow, auto, got "webgl"');
    expect(tf.getBackend()).toBe(current);
  });

  it('auto falls back past tensorflow and records what it skipped', async () => {
    const current = tf.getBackend() as 'cpu' | 'wasm';
    const info = await initBackend('auto');
    expect(info.name).toBe('wasm');
    expect(info.skipped[0]).toMatch(/^tensorflow \(/);
    await initBackend(current);
  });
});

describe('input checks', () => {
  const model = fromFunction((x) => x, { numClasses: 3, inputShape: [3], bounds: [-1, 1] });

  it('accepts a valid batch and leaks nothing', async () => {
    const x = tf.tensor2d([[-1, 0, 1]]);
    const before = tf.memory().numTensors;
    await checkInputs(model, x, 'test');
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects empty batches, infinities and wrong ranks', async () => {
    const empty = tf.zeros([0, 3]);
    await expect(checkInputs(model, empty, 'test')).rejects.toThrow(ShapeError);
    const inf = tf.tensor2d([
      [Infinity, 0, 0],
      [0, -Infinity, 0],
    ]);
    await expect(checkInputs(model, inf, 'test')).rejects.toThrow(NonFiniteError);
    await expect(checkInputs(model, inf, 'test')).rejects.toThrow('test: expected finite input values, got 2 NaN or infinite values');
    const rank3 = tf.zeros([1, 3, 1]);
    await expect(checkInputs(model, rank3, 'test')).rejects.toThrow('test: expected inputs of shape [N, 3] with N >= 1, got [1, 3, 1]');
    tf.dispose([empty, inf, rank3]);
  });

  it('checks labels given as tensors too', async () => {
    const t = tf.tensor1d([0, 2], 'int32');
    expect(Array.from(await checkLabels(t, 2, 3, 'labels'))).toEqual([0, 2]);
    const t2 = tf.tensor2d([[0, 2]], [1, 2], 'int32');
    await expect(checkLabels(t2 as unknown as tf.Tensor1D, 2, 3, 'labels')).rejects.toThrow('labels: expected a rank-1 tensor of 2 labels, got shape [1, 2]');
    tf.dispose([t, t2]);
  });

  it('checks epsilons and formats float32 values', () => {
    expect(() => checkEpsilons([0.1, NaN], 'x')).toThrow(ConfigError);
    expect(() => checkEpsilons([Infinity], 'x')).toThrow('x: expected every epsilon to be a finite number >= 0, got Infinity');
    expect(formatFloat32(Math.fround(0.4))).toBe('0.4');
    expect(formatFloat32(Math.fround(1.0000001))).toBe('1.0000001');
  });
});
