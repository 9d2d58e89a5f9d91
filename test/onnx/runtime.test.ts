// The onnxruntime-node fallback: query-only models, batching, release, and loadOnnx's choice of engine.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError, ModelLoadError, UnsupportedError } from '../../src/errors.js';
import { fromOnnxRuntime, importOnnx, loadOnnx, loadOnnxModel } from '../../src/onnx/index.js';
import { buildModel } from './build.js';
import { SHARED_MODELS, maxErr, readNpy, requireSharedModels, sharedModels } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'robustest-ort-'));
const haveSharedModels = requireSharedModels();

/** Gemm then an operator the importer lacks (Shrink), which onnxruntime runs. */
function unsupportedModelPath(): string {
  const bytes = buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'y', dims: ['n', 3] },
    nodes: [
      { op: 'Gemm', inputs: ['x', 'W'], outputs: ['z'] },
      { op: 'Shrink', inputs: ['z'], outputs: ['y'], name: 'shrink_node', attrs: { lambd: 0.1 } },
    ],
    initializers: [{ name: 'W', dims: [4, 3], values: Array.from({ length: 12 }, (_, i) => (i % 5) / 5 - 0.3) }],
  });
  const file = join(tmp, 'shrink.onnx');
  writeFileSync(file, bytes);
  return file;
}

describe.skipIf(!haveSharedModels)(`onnxruntime fallback on the shared models (${haveSharedModels ? sharedModels : 'skipped: shared models absent'})`, () => {
  it.each(SHARED_MODELS)('%s: importer logits equal onnxruntime logits within 1e-4', async (name) => {
    const file = join(sharedModels, `${name}.onnx`);
    const x = readNpy(join(sharedModels, `${name}.input.npy`));
    const white = await loadOnnxModel(file);
    const black = await fromOnnxRuntime(file, { batchSize: 3 });
    expect(black.kind).toBe('query');
    expect(black.engine).toBe('onnxruntime');
    expect(black.numClasses).toBe(white.numClasses);
    expect(black.inputShape).toEqual(white.inputShape);
    expect(black.layout).toBe('NCHW');
    const xt = tf.tensor(x.data, x.shape);
    const a = white.logits(xt);
    const b = await black.logits(xt);
    const e = maxErr(a.dataSync(), b.dataSync());
    expect(e.abs).toBeLessThanOrEqual(1e-4 * Math.max(1, e.scale));
    if (name === 'mlp_logsoftmax_mnist') {
      // Both bypass the LogSoftmax: onnxruntime returns the added pre-softmax output.
      expect(black.warnings.map((w) => w.message).join('\n')).toMatch(/LogSoftmax; onnxruntime returns its input/);
    }
    expect(await black.fingerprint()).toBe(await white.fingerprint());
    tf.dispose([xt, a, b]);
    white.dispose();
    black.dispose();
    await expect(black.logits(tf.zeros([1, ...black.inputShape]))).rejects.toThrow(ConfigError);
  });

  it('applies preprocessing like the importer', async () => {
    const file = join(sharedModels, 'tiny_resnet_cifar.onnx');
    const preprocessing = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] };
    const white = await loadOnnxModel(file, { preprocessing });
    const black = await fromOnnxRuntime(file, { preprocessing });
    const x = tf.randomUniform([5, 3, 32, 32], 0, 1, 'float32', 3);
    const a = white.logits(x);
    const b = await black.logits(x);
    const e = maxErr(a.dataSync(), b.dataSync());
    expect(e.abs).toBeLessThanOrEqual(1e-4 * Math.max(1, e.scale));
    tf.dispose([x, a, b]);
    white.dispose();
    black.dispose();
  });

  it('loadOnnx imports a fully supported model as differentiable, gradients by the engine asked for', async () => {
    const file = join(sharedModels, 'mnist_cnn_trained.onnx');
    const auto = await loadOnnx(file);
    expect(auto.kind).toBe('differentiable');
    expect(auto.engine).toBe('onnxruntime'); // onnxruntime-node is installed here
    auto.dispose();
    const viaTfjs = await loadOnnx(file, { engine: 'tfjs' });
    expect(viaTfjs.engine).toBe('onnx-import');
    viaTfjs.dispose();
    await expect(loadOnnx(file, { engine: 'jax' as never })).rejects.toThrow(ConfigError);
  });
});

describe('importer against onnxruntime on hand-built graphs', () => {
  const w = (name: string, dims: number[]) => ({
    name,
    dims,
    values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 0.3),
  });

  async function compare(bytes: Uint8Array, shape: number[]): Promise<void> {
    const file = join(tmp, `g${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(file, bytes);
    const white = await loadOnnxModel(file, { bounds: [-1, 1] });
    const black = await fromOnnxRuntime(file, { bounds: [-1, 1] });
    const x = tf.randomUniform(shape, -1, 1, 'float32', 21);
    const a = white.logits(x);
    const b = await black.logits(x);
    const e = maxErr(a.dataSync(), b.dataSync());
    expect(e.abs).toBeLessThanOrEqual(1e-4 * Math.max(1, e.scale));
    tf.dispose([x, a, b]);
    white.dispose();
    black.dispose();
  }

  it('a channels-last (tf2onnx-style) graph: Transpose, Conv, BatchNormalization, MaxPool, Transpose back, Reshape, MatMul, Add', async () => {
    await compare(
      buildModel({
        opset: 13,
        input: { name: 'x', dims: ['n', 8, 8, 3] },
        output: { name: 'y', dims: ['n', 4] },
        nodes: [
          { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [0, 3, 1, 2] } },
          { op: 'Conv', inputs: ['t', 'cw', 'cb'], outputs: ['c'], attrs: { pads: [1, 0, 2, 1], strides: [1, 2] } },
          { op: 'BatchNormalization', inputs: ['c', 's', 'b', 'm', 'v'], outputs: ['bn'] },
          { op: 'Relu', inputs: ['bn'], outputs: ['r'] },
          { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: [3, 2], strides: [1, 1], ceil_mode: 1 } },
          { op: 'Transpose', inputs: ['p'], outputs: ['q'], attrs: { perm: [0, 2, 3, 1] } },
          { op: 'Reshape', inputs: ['q', 'shape'], outputs: ['f'] },
          { op: 'MatMul', inputs: ['f', 'fw'], outputs: ['mm'] },
          { op: 'Add', inputs: ['mm', 'fb'], outputs: ['y'] },
        ],
        initializers: [
          w('cw', [5, 3, 3, 3]),
          w('cb', [5]),
          w('s', [5]),
          w('b', [5]),
          w('m', [5]),
          { name: 'v', dims: [5], values: [1, 0.5, 2, 1.5, 0.8] },
          { name: 'shape', dtype: 'int64', dims: [2], values: [0, -1] },
          w('fw', [7 * 3 * 5, 4]),
          w('fb', [4]),
        ],
      }),
      [3, 8, 8, 3],
    );
  });
});

describe('external tensor data', () => {
  const W = Array.from({ length: 12 }, (_, i) => (i % 7) / 7 - 0.4);
  const model = (location: string, offset = 8): Uint8Array =>
    buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'p', dims: ['n', 3] },
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] },
        { op: 'Softmax', inputs: ['z'], outputs: ['p'] },
      ],
      initializers: [{ name: 'W', dims: [4, 3], values: [], external: { location, offset, length: 48 } }],
    });
  const dir = mkdtempSync(join(tmpdir(), 'robustest-ext-'));
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(8, 0xee), Buffer.from(new Float32Array(W).buffer)]));
  writeFileSync(join(dir, 'model.onnx'), model('weights.bin'));

  it('loadOnnxModel reads initializers from files beside the model', async () => {
    const m = await loadOnnxModel(join(dir, 'model.onnx'));
    const x = tf.tensor2d([
      [1, 0, 0, 0],
      [0.5, -1, 2, 0.25],
    ]);
    const y = m.logits(x);
    const want = tf.matMul(x, tf.tensor2d(W, [4, 3]));
    expect(maxErr(y.dataSync(), want.dataSync()).abs).toBeLessThan(1e-6);
    expect(await m.fingerprint()).toMatch(/^[0-9a-f]{64}$/);
    tf.dispose([x, y, want]);
    m.dispose();
  });

  it('importOnnx rejects external data without externalDataDir, and accepts it with one', () => {
    expect(() => importOnnx(model('weights.bin'))).toThrow(/external data/);
    importOnnx(model('weights.bin'), { externalDataDir: dir }).dispose();
  });

  it('refuses locations outside the model directory and short files', () => {
    expect(() => importOnnx(model('../weights.bin'), { externalDataDir: dir })).toThrow(ModelLoadError);
    expect(() => importOnnx(model('weights.bin', 40), { externalDataDir: dir })).toThrow(/expected 48 bytes at offset 40/);
    expect(() => importOnnx(model('missing.bin'), { externalDataDir: dir })).toThrow(ModelLoadError);
  });

  it('onnxruntime loads it from the file and agrees with the importer', async () => {
    const white = await loadOnnxModel(join(dir, 'model.onnx'), { keepSoftmax: true });
    const black = await fromOnnxRuntime(join(dir, 'model.onnx'));
    expect(black.warnings.map((w) => w.message).join('\n')).toMatch(/external data/);
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const a = white.logits(x);
    const b = await black.logits(x);
    expect(maxErr(a.dataSync(), b.dataSync()).abs).toBeLessThan(1e-6);
    tf.dispose([x, a, b]);
    white.dispose();
    black.dispose();
  });
});

describe('loadOnnx with unsupported operators', () => {
  it('falls back to onnxruntime with a warning naming the operator', async () => {
    const m = await loadOnnx(unsupportedModelPath(), { bounds: [-1, 1] });
    expect(m.kind).toBe('query');
    expect(m.warnings.map((w) => w.message).join('\n')).toMatch(/operator Shrink is not supported by the importer; using onnxruntime/);
    expect(m.numClasses).toBe(3);
    const x = tf.tensor2d([
      [0.5, -0.5, 0.25, 1],
      [0, 0, 0, 0],
    ]);
    const y = await m.logits(x);
    expect(y.shape).toEqual([2, 3]);
    expect(Array.from(y.dataSync()).slice(3)).toEqual([0, 0, 0]);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('loadOnnxModel refuses the same model with UnsupportedError', async () => {
    await expect(loadOnnxModel(unsupportedModelPath())).rejects.toThrow(/'Shrink' \(node 'shrink_node', opset 13\)/);
  });

  it.each([
    ['mean and std of different lengths', { mean: [0.5, 0.5], std: [0.25] }, /same non-zero length, got 2 and 1/],
    ['a zero std', { mean: [0.5], std: [0] }, /finite means and positive stds/],
    ['a NaN std', { mean: [0.5], std: [Number.NaN] }, /finite means and positive stds/],
    ['a NaN mean', { mean: [Number.NaN], std: [1] }, /finite means and positive stds/],
    ['an entry per channel for the wrong channel count', { mean: [0, 0], std: [1, 1] }, /1 or 4 entries \(one per channel\), got 2/],
  ])('refuses a preprocessing with %s (ConfigError, one line)', async (_what, preprocessing, message) => {
    for (const load of [fromOnnxRuntime, loadOnnx]) {
      const e: unknown = await load(unsupportedModelPath(), { preprocessing }).then(
        (m) => (m.dispose(), undefined),
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(message);
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('refuses non-finite bounds as every adapter does', async () => {
    await expect(fromOnnxRuntime(unsupportedModelPath(), { bounds: [Number.NaN, 1] })).rejects.toThrow(/finite lower < upper/);
  });

  it('checks input shapes', async () => {
    const m = await fromOnnxRuntime(unsupportedModelPath());
    await expect(m.logits(tf.zeros([2, 5]))).rejects.toThrow(/expected input of shape \[N, 4\]/);
    m.dispose();
  });

  it('throws UnsupportedError when onnxruntime-node cannot load', async () => {
    vi.resetModules();
    vi.doMock('onnxruntime-node', () => {
      throw new Error('native binding missing');
    });
    try {
      const fresh = await import('../../src/onnx/runtime.js');
      // A fresh module graph has its own error classes: compare by name and code.
      await expect(fresh.fromOnnxRuntime(unsupportedModelPath())).rejects.toMatchObject({
        name: UnsupportedError.name,
        code: 'E_UNSUPPORTED',
        message: expect.stringMatching(/expected the optional peer dependency onnxruntime-node to load/),
      });
    } finally {
      vi.doUnmock('onnxruntime-node');
      vi.resetModules();
    }
  });
});
