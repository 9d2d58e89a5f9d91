// Model adapters: fromFunction, fromLayersModel (softmax head, dropout), fromGraphModel and loadModel from disk.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { fromFunction, inferLayout, type DifferentiableModel } from '../../src/model.js';
import { fromLayersModel, loadModel } from '../../src/load.js';
import { crossEntropy } from '../../src/losses.js';
import { ConfigError, ModelLoadError, ShapeError } from '../../src/errors.js';
import { seededValues } from '../helpers/models.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'robustest-model-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

function denseSoftmaxModel(seed: number, separateActivation = false): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 5, inputShape: [4], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  m.add(tfl.layers.dropout({ rate: 0.5 }));
  if (separateActivation) {
    m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
    m.add(tfl.layers.activation({ activation: 'softmax' }));
  } else {
    m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  }
  return m;
}

describe('fromFunction', () => {
  it('applies per-channel preprocessing inside the model (NHWC and NCHW)', async () => {
    const nhwc = fromFunction((x) => tf.reshape(x, [x.shape[0]!, -1]), {
      numClasses: 4,
      inputShape: [1, 2, 2],
      layout: 'NHWC',
      preprocessing: { mean: [0.5, 0.25], std: [0.5, 0.25] },
    });
    const x = tf.tensor4d([
      [
        [
          [1, 0.5],
          [0, 0],
        ],
      ],
    ]);
    expect(await values(nhwc.logits(x))).toEqual([1, 1, -1, -1]);
    const nchw = fromFunction((z) => tf.reshape(z, [z.shape[0]!, -1]), {
      numClasses: 4,
      inputShape: [2, 1, 2],
      layout: 'NCHW',
      preprocessing: { mean: [0.5, 0.25], std: [0.5, 0.25] },
    });
    const y = tf.tensor4d([[[[1, 0]], [[0.5, 0]]]]);
    expect(await values(nchw.logits(y))).toEqual([1, -1, 1, -1]);
    tf.dispose([x, y]);
    nhwc.dispose();
    nchw.dispose();
  });

  it('gives the analytic input-gradient of cross-entropy for a linear model', async () => {
    const w = tf.tensor2d([
      [1, -1],
      [2, 0],
      [0, 3],
    ]);
    const model = fromFunction((x) => tf.matMul(x as tf.Tensor2D, w), { numClasses: 2, inputShape: [3], weights: [w] });
    const x = tf.tensor2d([[0.1, 0.2, 0.3]]);
    const labels = tf.tensor1d([0], 'int32');
    const before = tf.memory().numTensors;
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 2));
    // logits = [0.5, 0.8]; p = softmax; dCE/dz = p - onehot(0); dCE/dx = W (p - e0)
    const z = [0.5, 0.8];
    const p1 = Math.exp(z[1]!) / (Math.exp(z[0]!) + Math.exp(z[1]!));
    const dz = [-p1, p1]; // p0 - 1 = -p1
    const expected = [1 * dz[0]! - 1 * dz[1]!, 2 * dz[0]!, 3 * dz[1]!];
    const g = await values(grad);
    g.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    expect((await values(value))[0]).toBeCloseTo(Math.log(Math.exp(0.5) + Math.exp(0.8)) - 0.5, 5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, x, labels]);
  });

  it('rejects wrong input shapes and wrong output sizes with ShapeError', () => {
    const model = fromFunction((x) => tf.reshape(x, [x.shape[0]!, -1]), { numClasses: 3, inputShape: [4] });
    const bad = tf.zeros([2, 5]);
    expect(() => model.logits(bad)).toThrow(ShapeError);
    expect(() => model.logits(bad)).toThrow('function: expected input of shape [N, 4], got [2, 5]');
    const x = tf.zeros([2, 4]);
    expect(() => model.logits(x)).toThrow('function: expected the model to output [2, 3] logits, got [2, 4]');
    tf.dispose([bad, x]);
  });

  it('rejects invalid options with ConfigError', () => {
    const id = (x: tf.Tensor) => x;
    expect(() => fromFunction(id, { numClasses: 1, inputShape: [3] })).toThrow('function: expected numClasses to be an integer >= 2, got 1');
    expect(() => fromFunction(id, { numClasses: 3, inputShape: [3], bounds: [1, 0] })).toThrow(ConfigError);
    expect(() => fromFunction(id, { numClasses: 3, inputShape: [0] })).toThrow(ConfigError);
    expect(() => fromFunction(id, { numClasses: 3, inputShape: [3], preprocessing: { mean: [0], std: [0] } })).toThrow('positive stds');
    expect(() => fromFunction(id, { numClasses: 3, inputShape: [4, 4, 3], preprocessing: { mean: [0, 0], std: [1, 1] } })).toThrow(
      'function: expected preprocessing with 1 or 3 entries (one per channel), got 2',
    );
  });

  it('infers layouts', () => {
    expect(inferLayout([28, 28, 1])).toBe('NHWC');
    expect(inferLayout([3, 32, 32])).toBe('NCHW');
    expect(inferLayout([784])).toBe('flat');
  });

  it('hashes declared weights', async () => {
    const w = tf.tensor1d([1, 2, 3]);
    const a = fromFunction((x) => x, { numClasses: 3, inputShape: [3], weights: [w] });
    const h = await a.fingerprint();
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const w2 = tf.tensor1d([1, 2, 4]);
    const b = fromFunction((x) => x, { numClasses: 3, inputShape: [3], weights: [w2] });
    expect(await b.fingerprint()).not.toBe(h);
    tf.dispose([w, w2]);
  });
});

describe('fromLayersModel', () => {
  it.each([false, true])('uses pre-softmax logits (separate activation layer: %s) and warns', async (separate) => {
    const net = denseSoftmaxModel(3, separate);
    const model = await fromLayersModel(net);
    expect(model.warnings.map((w) => w.code)).toEqual(['softmax-removed']);
    expect(model.warnings.map((w) => w.message).join(' ')).toMatch(/softmax/);
    expect(model.numClasses).toBe(3);
    expect(model.inputShape).toEqual([4]);
    const x = tf.tensor2d(seededValues(8, 1), [2, 4]);
    const probs = await values(net.predict(x) as tf.Tensor);
    const logits = model.logits(x);
    const fromLogits = await values(tf.softmax(logits));
    logits.dispose();
    fromLogits.forEach((v, i) => expect(v).toBeCloseTo(probs[i]!, 6));
    // Logits are not probabilities: rows do not all sum to 1.
    const raw = await values(model.logits(x));
    expect(Math.abs(raw[0]! + raw[1]! + raw[2]! - 1)).toBeGreaterThan(1e-3);
    x.dispose();
    model.dispose();
    net.dispose();
  });

  it('keeps dropout inactive: logits are deterministic', async () => {
    const net = denseSoftmaxModel(5);
    const model = await fromLayersModel(net);
    const x = tf.tensor2d(seededValues(40, 2), [10, 4]);
    expect(await values(model.logits(x))).toEqual(await values(model.logits(x)));
    x.dispose();
    model.dispose();
    net.dispose();
  });

  it('does not leak in logits or valueAndGrad', async () => {
    const net = denseSoftmaxModel(7);
    const model = await fromLayersModel(net);
    const x = tf.tensor2d(seededValues(12, 3), [3, 4]);
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const before = tf.memory().numTensors;
    model.logits(x).dispose();
    const r = await model.valueAndGrad(x, crossEntropy(labels, 3));
    tf.dispose([r.value, r.grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, labels]);
    model.dispose();
    net.dispose();
  });
});

async function saveLayers(net: tfl.LayersModel, dir: string): Promise<void> {
  await net.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData as ArrayBuffer;
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(weightData));
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

describe('loadModel', () => {
  it('loads a layers model.json from a directory and matches the original', async () => {
    const dir = await tempDir();
    const net = denseSoftmaxModel(11);
    await saveLayers(net, dir);
    const model = (await loadModel(dir)) as DifferentiableModel;
    expect(model.kind).toBe('differentiable');
    expect(await model.fingerprint()).toMatch(/^[0-9a-f]{64}$/);
    const x = tf.tensor2d(seededValues(8, 4), [2, 4]);
    const probs = await values(net.predict(x) as tf.Tensor);
    const got = await values(tf.softmax(model.logits(x)));
    got.forEach((v, i) => expect(v).toBeCloseTo(probs[i]!, 6));
    x.dispose();
    model.dispose();
    net.dispose();
  });

  it('loads a graph-model.json and computes its gradient', async () => {
    const dir = await tempDir();
    const json = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } } },
          {
            name: 'w',
            op: 'Const',
            attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '3' }, { size: '2' }] } } } },
          },
          { name: 'out', op: 'MatMul', input: ['x', 'w'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } } },
        ],
        versions: { producer: 1 },
      },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [3, 2], dtype: 'float32' }] }],
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(join(dir, 'w.bin'), new Uint8Array(new Float32Array([1, -1, 2, 0, 0, 3]).buffer));
    const model = (await loadModel(join(dir, 'model.json'), { numClasses: 2 })) as DifferentiableModel;
    expect(model.inputShape).toEqual([3]);
    const x = tf.tensor2d([[0.1, 0.2, 0.3]]);
    const out = await values(model.logits(x));
    expect(out[0]).toBeCloseTo(0.5, 6);
    expect(out[1]).toBeCloseTo(0.8, 6);
    const labels = tf.tensor1d([1], 'int32');
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 2));
    const p0 = Math.exp(0.5) / (Math.exp(0.5) + Math.exp(0.8));
    const g = await values(grad);
    value.dispose();
    // dCE/dz = [p0, p1 - 1] = [p0, -p0]; dx = W · dz
    [p0 * 1 + -p0 * -1, p0 * 2, -p0 * 3].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 5));
    tf.dispose([x, labels]);
    model.dispose();
  });

  it('rejects missing, corrupt and truncated files with ModelLoadError', async () => {
    const dir = await tempDir();
    await expect(loadModel(join(dir, 'nope', 'model.json'))).rejects.toThrow(ModelLoadError);
    await expect(loadModel(join(dir, 'nope', 'model.json'))).rejects.toThrow(/expected a model file or directory, got ENOENT/);
    await writeFile(join(dir, 'model.json'), '{"modelTopology": ');
    await expect(loadModel(dir)).rejects.toThrow(/expected valid JSON/);
    await writeFile(join(dir, 'model.json'), '{"foo": 1}');
    await expect(loadModel(dir)).rejects.toThrow(/expected a tfjs model.json with a modelTopology/);
    const net = denseSoftmaxModel(13);
    await saveLayers(net, dir);
    net.dispose();
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(10));
    await expect(loadModel(dir)).rejects.toThrow(/expected \d+ bytes of weights in weights.bin for the manifest, got 10/);
    await rm(join(dir, 'weights.bin'));
    await expect(loadModel(dir)).rejects.toThrow(/weights.bin: expected a readable weight shard, got ENOENT/);
  });

  it('refuses a FIFO (model.json, weight shard or .onnx) instead of blocking on it', async () => {
    const { execFileSync } = await import('node:child_process');
    const dir = await tempDir();
    try {
      execFileSync('mkfifo', [join(dir, 'model.json')]);
      execFileSync('mkfifo', [join(dir, 'm.onnx')]);
    } catch {
      return; // no mkfifo on this platform
    }
    await expect(loadModel(join(dir, 'model.json'))).rejects.toThrow(/model.json: expected a regular model.json file, got a directory, pipe, socket or device/);
    await expect(loadModel(join(dir, 'm.onnx'))).rejects.toThrow(ModelLoadError);
    await expect(loadModel(join(dir, 'm.onnx'))).rejects.toThrow(/m.onnx.*got a directory, pipe, socket or device/);
  });
});
