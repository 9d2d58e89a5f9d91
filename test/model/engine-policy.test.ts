// One gradient-engine policy for layers models: fromLayersModel(net) and loadModel(path) of the same model get the
// same engine, by default (`auto`) and when asked, with and without onnxruntime-node. (The suite that mocks
// onnxruntime-node away runs last: vi.resetModules gives later dynamic imports fresh error classes.)
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { fromLayersModel, loadModel } from '../../src/load.js';
import { MODEL_WARNING_CODES, type DifferentiableModel } from '../../src/model.js';
import { crossEntropy } from '../../src/losses.js';
import { ConfigError } from '../../src/errors.js';
import { seededValues } from '../helpers/models.js';

const haveOrt = await import('onnxruntime-node').then(
  () => true,
  () => false,
);

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A small CNN every engine can run: conv → relu → flatten → dense with a softmax head. */
function cnn(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  );
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

/** A model with a layer the ONNX exporter does not convert (RepeatVector). */
function unexportable(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.repeatVector({ inputShape: [4], n: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  return m;
}

async function save(net: tfl.LayersModel): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'robustest-engine-'));
  dirs.push(dir);
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return dir;
}

async function gradient(model: DifferentiableModel, x: tf.Tensor, labels: tf.Tensor1D): Promise<number[]> {
  const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 3));
  value.dispose();
  const g = Array.from(await grad.data());
  grad.dispose();
  return g;
}

describe('one engine policy for fromLayersModel and loadModel', () => {
  it.skipIf(!haveOrt)('auto (the default) picks onnxruntime for both when onnxruntime-node is installed; tfjs when asked', async () => {
    const net = cnn();
    const dir = await save(net);
    const x = tf.tensor4d(seededValues(2 * 25, 4), [2, 5, 5, 1]);
    const labels = tf.tensor1d([0, 2], 'int32');
    const grads: number[][] = [];
    for (const engine of [undefined, 'auto', 'onnxruntime', 'tfjs'] as const) {
      const opts = engine === undefined ? {} : { engine };
      const a = await fromLayersModel(net, opts);
      const b = (await loadModel(dir, opts)) as DifferentiableModel;
      expect(a.engine).toBe(b.engine);
      expect(a.engine).toBe(engine === 'tfjs' ? 'tfjs' : 'onnxruntime');
      expect(a.warnings.map((w) => w.code)).toEqual(b.warnings.map((w) => w.code));
      grads.push(await gradient(a, x, labels), await gradient(b, x, labels));
      a.dispose();
      b.dispose();
    }
    // Every engine gives the same input-gradient (float tolerance).
    for (const g of grads.slice(1)) g.forEach((v, i) => expect(v).toBeCloseTo(grads[0]![i]!, 5));
    // fromLayersModel never disposes the user's model, whatever the engine.
    const p = net.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([2, 3]);
    tf.dispose([p, x, labels]);
    net.dispose();
  });

  it.skipIf(!haveOrt)('a layer the exporter cannot convert: auto falls back to tfjs with the same warning for both; onnxruntime fails for both', async () => {
    const net = unexportable();
    const dir = await save(net);
    const a = await fromLayersModel(net);
    const b = (await loadModel(dir)) as DifferentiableModel;
    expect([a.engine, b.engine]).toEqual(['tfjs', 'tfjs']);
    expect(a.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.gradientEngineFallback]);
    expect(b.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.gradientEngineFallback]);
    expect(a.warnings[0]!.message).toMatch(/RepeatVector/);
    a.dispose();
    b.dispose();
    const before = tf.memory().numTensors;
    await expect(fromLayersModel(net, { engine: 'onnxruntime' })).rejects.toMatchObject({ name: 'UnsupportedError' });
    await expect(loadModel(dir, { engine: 'onnxruntime' })).rejects.toMatchObject({ name: 'UnsupportedError' });
    expect(tf.memory().numTensors).toBe(before); // the loaded copy is freed; the user's model is kept
    const p = net.predict(tf.zeros([1, 4])) as tf.Tensor;
    expect(p.shape).toEqual([1, 3]);
    p.dispose();
    net.dispose();
  });

  it.skipIf(!haveOrt)("the onnxruntime engine keeps the weights of wrap time (documented); the tfjs engine follows the model's", async () => {
    const net = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 9 }) })] });
    const ort = await fromLayersModel(net);
    const live = await fromLayersModel(net, { engine: 'tfjs' });
    expect(ort.engine).toBe('onnxruntime');
    const x = tf.tensor2d(seededValues(8, 6), [2, 4]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const w = net.getWeights().map((t) => tf.mul(t, -2)); // getWeights gives the variables themselves
    net.setWeights(w);
    const fresh = await fromLayersModel(net);
    const want = await gradient(fresh, x, labels);
    const followed = await gradient(live, x, labels);
    followed.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    const stale = await gradient(ort, x, labels);
    expect(Math.max(...stale.map((v, i) => Math.abs(v - want[i]!)))).toBeGreaterThan(1e-2);
    for (const m of [ort, live, fresh]) m.dispose();
    tf.dispose([x, labels, ...w]);
    net.dispose();
  });

  it('an unknown engine is a one-line ConfigError for both, and nothing is loaded or leaked', async () => {
    const net = cnn();
    const dir = await save(net);
    const before = tf.memory().numTensors;
    const bad = { engine: 'pytorch' } as unknown as { engine: 'auto' };
    await expect(fromLayersModel(net, bad)).rejects.toThrow(ConfigError);
    await expect(fromLayersModel(net, bad)).rejects.toThrow(/expected engine to be one of auto, tfjs, onnxruntime, got "pytorch"/);
    await expect(loadModel(dir, bad)).rejects.toThrow(/expected engine to be one of auto, tfjs, onnxruntime, got "pytorch"/);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('a load that fails after the weights are read frees them (layers and graph)', async () => {
    const net = cnn();
    const dir = await save(net);
    net.dispose();
    const before = tf.memory().numTensors;
    await expect(loadModel(dir, { engine: 'tfjs', bounds: [1, 0] })).rejects.toThrow(ConfigError);
    const graph = join(import.meta.dirname, '..', 'fixtures', 'graph-model-v1');
    await expect(loadModel(graph, { inputShape: [5, 5, 2] })).rejects.toThrow(ConfigError);
    await expect(loadModel(graph, { engine: 'onnxruntime' })).rejects.toMatchObject({ name: 'UnsupportedError' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without onnxruntime-node: both tfjs, no warning; engine onnxruntime fails the same way for both', async () => {
    vi.resetModules();
    vi.doMock('onnxruntime-node', () => {
      throw new Error('native binding missing');
    });
    try {
      // A fresh module graph has its own error classes and its own tfjs-layers registry: compare by name.
      const fresh = await import('../../src/load.js');
      const freshTfl = await import('@tensorflow/tfjs-layers');
      const net = freshTfl.sequential({ layers: [freshTfl.layers.dense({ units: 3, inputShape: [4] })] });
      const dir = await save(net as unknown as tfl.LayersModel);
      const a = await fresh.fromLayersModel(net);
      const b = (await fresh.loadModel(dir)) as DifferentiableModel;
      expect([a.engine, b.engine]).toEqual(['tfjs', 'tfjs']);
      expect([a.warnings, b.warnings]).toEqual([[], []]);
      a.dispose();
      b.dispose();
      for (const p of [fresh.fromLayersModel(net, { engine: 'onnxruntime' }), fresh.loadModel(dir, { engine: 'onnxruntime' })]) {
        await expect(p).rejects.toMatchObject({ name: 'UnsupportedError', reason: 'onnxruntime-missing' });
      }
      net.dispose();
    } finally {
      vi.doUnmock('onnxruntime-node');
      vi.resetModules();
    }
  });
});
