// Importer behaviour on small hand-built graphs: old-opset semantics, errors, softmax heads, gradients.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError, ModelLoadError, UnsupportedError } from '../../src/errors.js';
import { GraphExecutor } from '../../src/onnx/graph.js';
import { importOnnx, listSupportedOps, loadOnnxModel } from '../../src/onnx/import.js';
import { decodeModel, decodeTensor } from '../../src/onnx/proto.js';
import { deviceValue, hostTensor, hostValue, toHost, type Value } from '../../src/onnx/value.js';
import { buildModel, encodeRawTensor, type NodeSpec, type TensorSpec } from './build.js';
import { requireSharedModels, sharedModels } from './helpers.js';

const haveSharedModels = requireSharedModels();
const sharedNote = haveSharedModels ? '' : ` (skipped: ${sharedModels} is absent)`;

const range = (n: number, f = (i: number) => i): number[] => Array.from({ length: n }, (_, i) => f(i));

/** Runs a one-node graph on a float input (and optional host inputs), returning host values. */
function runOne(
  opset: number,
  node: NodeSpec,
  x: { dims: number[]; values: number[] },
  extra: Record<string, Value> = {},
  initializers: TensorSpec[] = [],
): number[] {
  const bytes = buildModel({
    opset,
    input: { name: 'x', dims: x.dims },
    output: { name: 'y', dims: [] },
    nodes: [node],
    initializers,
    extraInputs: Object.keys(extra).map((name) => ({ name, dims: [], elem: 7 })),
  });
  const exec = new GraphExecutor(decodeModel(bytes));
  try {
    let out: number[] = [];
    tf.tidy(() => {
      const feeds = new Map<string, Value>([['x', deviceValue(tf.tensor(x.values, x.dims), 'float32')], ...Object.entries(extra)]);
      out = Array.from(toHost(exec.run(feeds, ['y'])[0]!).data);
    });
    return out;
  } finally {
    exec.dispose();
  }
}

const int64 = (values: number[]): Value => hostValue(hostTensor('int64', [values.length], values));

describe('operator semantics across opsets', () => {
  const x6 = { dims: [2, 3], values: [1, 2, 3, 4, 5, 6] };

  it('Softmax before opset 13 coerces to 2-D at axis; from 13 it normalises along axis', () => {
    const x = { dims: [1, 2, 2], values: [1, 2, 3, 4] };
    const old = runOne(11, { op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: 1 } }, x);
    const e = [1, 2, 3, 4].map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    old.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / s, 6));
    const now = runOne(13, { op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: 1 } }, x);
    expect(now[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(3)), 6);
    expect(now[0]! + now[2]!).toBeCloseTo(1, 6);
  });

  it('LogSoftmax before opset 13 uses axis 1 by default (2-D coercion)', () => {
    const x = { dims: [1, 2, 2], values: [1, 2, 3, 4] };
    const y = runOne(9, { op: 'LogSoftmax', inputs: ['x'], outputs: ['y'] }, x);
    expect(y.map(Math.exp).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('Clip reads min/max from attributes before opset 11 and from inputs after', () => {
    expect(runOne(6, { op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: 2.0, max: 4.5 } }, x6)).toEqual([2, 2, 3, 4, 4.5, 4.5]);
    const lo = hostValue(hostTensor('float32', [], [2]));
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: [2, 3] },
      output: { name: 'y', dims: [2, 3] },
      nodes: [{ op: 'Clip', inputs: ['x', 'lo'], outputs: ['y'] }],
      initializers: [{ name: 'lo', dims: [], values: [2] }],
    });
    const exec = new GraphExecutor(decodeModel(bytes));
    const y = tf.tidy(() => Array.from(toHost(exec.run(new Map([['x', deviceValue(tf.tensor(x6.values, x6.dims), 'float32')]]), ['y'])[0]!).data));
    exec.dispose();
    expect(y).toEqual([2, 2, 3, 4, 5, 6]);
    expect(lo.host?.data[0]).toBe(2);
  });

  it('Slice reads starts/ends/axes from attributes before opset 10, inputs (with steps) after', () => {
    expect(runOne(9, { op: 'Slice', inputs: ['x'], outputs: ['y'], attrs: { starts: [1], ends: [3], axes: [1] } }, x6)).toEqual([2, 3, 5, 6]);
    const y = runOne(13, { op: 'Slice', inputs: ['x', 's', 'e', 'a', 'st'], outputs: ['y'] }, x6, {
      s: int64([-1]),
      e: int64([-1e18]),
      a: int64([1]),
      st: int64([-2]),
    });
    expect(y).toEqual([3, 1, 6, 4]);
  });

  it('Squeeze/Unsqueeze take axes as attributes before opset 13', () => {
    const x = { dims: [1, 3, 1], values: [1, 2, 3] };
    expect(runOne(11, { op: 'Squeeze', inputs: ['x'], outputs: ['y'], attrs: { axes: [0] } }, x)).toEqual([1, 2, 3]);
    expect(runOne(11, { op: 'Unsqueeze', inputs: ['x'], outputs: ['y'], attrs: { axes: [-1] } }, x)).toEqual([1, 2, 3]);
    expect(runOne(13, { op: 'Unsqueeze', inputs: ['x', 'a'], outputs: ['y'] }, x, { a: int64([0]) })).toEqual([1, 2, 3]);
  });

  it('Pad takes pads as an attribute before opset 11 and supports reflect and edge', () => {
    const x = { dims: [1, 3], values: [1, 2, 3] };
    expect(runOne(2, { op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: [0, 2, 0, 1], value: 9.5 } }, x)).toEqual([9.5, 9.5, 1, 2, 3, 9.5]);
    expect(runOne(2, { op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: [0, 2, 0, 2], mode: 'reflect' } }, x)).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(runOne(13, { op: 'Pad', inputs: ['x', 'p'], outputs: ['y'], attrs: { mode: 'edge' } }, x, { p: int64([0, 1, 0, 2]) })).toEqual([1, 1, 2, 3, 3, 3]);
  });

  it('ReduceSum takes axes as an attribute before opset 13 and as an input after', () => {
    expect(runOne(11, { op: 'ReduceSum', inputs: ['x'], outputs: ['y'], attrs: { axes: [1], keepdims: 0 } }, x6)).toEqual([6, 15]);
    expect(runOne(13, { op: 'ReduceSum', inputs: ['x', 'a'], outputs: ['y'] }, x6, { a: int64([0]) })).toEqual([5, 7, 9]);
    expect(runOne(13, { op: 'ReduceMean', inputs: ['x'], outputs: ['y'], attrs: { axes: [0, 1], keepdims: 0 } }, x6)).toEqual([3.5]);
  });

  it('before opset 7, broadcast=1 with axis aligns B at that axis', () => {
    const x = { dims: [1, 3, 2], values: [1, 2, 3, 4, 5, 6] };
    const bias = { name: 'b', dims: [3], values: [10, 20, 30] };
    expect(runOne(6, { op: 'Add', inputs: ['x', 'b'], outputs: ['y'], attrs: { broadcast: 1, axis: 1 } }, x, {}, [bias])).toEqual([11, 12, 23, 24, 35, 36]);
    const scale = { name: 'b', dims: [2], values: [2, 3] };
    expect(runOne(6, { op: 'Mul', inputs: ['x', 'b'], outputs: ['y'], attrs: { broadcast: 1 } }, x, {}, [scale])).toEqual([2, 6, 6, 12, 10, 18]);
  });

  it('Reshape copies 0 dimensions and infers -1', () => {
    const y = runOne(13, { op: 'Reshape', inputs: ['x', 's'], outputs: ['y'] }, { dims: [2, 3, 2], values: range(12) }, { s: int64([0, -1]) });
    expect(y).toEqual(range(12));
  });

  it('Dropout is the identity in inference (old and new opsets)', () => {
    expect(runOne(7, { op: 'Dropout', inputs: ['x'], outputs: ['y'], attrs: { ratio: 0.5 } }, x6)).toEqual(x6.values);
    expect(runOne(13, { op: 'Dropout', inputs: ['x'], outputs: ['y'] }, x6)).toEqual(x6.values);
  });

  it('Gelu (opset 20, no node test in the onnx 1.12 data) follows the exact and tanh formulas', () => {
    const x = { dims: [5], values: [-3, -0.5, 0, 0.7, 2.5] };
    const erf = (v: number): number => {
      // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6; integrate instead (Simpson, 2000 steps).
      const n = 2000;
      const h = v / n;
      let s = 0;
      for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
      return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
    };
    const exact = runOne(20, { op: 'Gelu', inputs: ['x'], outputs: ['y'] }, x);
    exact.forEach((v, i) => expect(v).toBeCloseTo(0.5 * x.values[i]! * (1 + erf(x.values[i]! / Math.SQRT2)), 5));
    const tanh = runOne(20, { op: 'Gelu', inputs: ['x'], outputs: ['y'], attrs: { approximate: 'tanh' } }, x);
    tanh.forEach((v, i) => {
      const u = x.values[i]!;
      expect(v).toBeCloseTo(0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3))), 5);
    });
  });

  it('folds Shape/Gather/Concat/Unsqueeze chains on the host', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 2, 3] },
      output: { name: 'y', dims: ['n', 6] },
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
        { op: 'Unsqueeze', inputs: ['n', 'zero1'], outputs: ['n1'] },
        { op: 'Concat', inputs: ['n1', 'six'], outputs: ['shape'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] },
      ],
      initializers: [
        { name: 'zero', dtype: 'int64', dims: [], values: [0] },
        { name: 'zero1', dtype: 'int64', dims: [1], values: [0] },
        { name: 'six', dtype: 'int64', dims: [1], values: [6] },
      ],
    });
    const exec = new GraphExecutor(decodeModel(bytes));
    tf.tidy(() => {
      const x = tf.ones([4, 2, 3]);
      const values = exec.run(new Map([['x', deviceValue(x, 'float32')]]), ['shape', 'y']);
      expect(values[0]!.host).toBeDefined();
      expect(values[0]!.tensor).toBeUndefined();
      expect(Array.from(values[0]!.host!.data)).toEqual([4, 6]);
      expect(values[1]!.shape).toEqual([4, 6]);
    });
    exec.dispose();
  });
});

const W = range(12, (i) => ((i * 7) % 5) / 5 - 0.4);
const gemmSoftmax = (opset: number, op = 'Softmax'): Uint8Array =>
  buildModel({
    opset,
    input: { name: 'x', dims: ['batch', 4] },
    output: { name: 'p', dims: ['batch', 3] },
    nodes: [
      { op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: ['z'], name: 'fc' },
      { op, inputs: ['z'], outputs: ['p'], name: 'head' },
    ],
    initializers: [
      { name: 'W', dims: [4, 3], values: W },
      { name: 'b', dims: [3], values: [0.1, -0.2, 0.3] },
    ],
  });

describe('importOnnx', () => {
  it('builds a differentiable model, strips a final Softmax and warns', () => {
    const model = importOnnx(gemmSoftmax(9), { bounds: [-1, 1] });
    expect(model.kind).toBe('differentiable');
    expect(model.inputShape).toEqual([4]);
    expect(model.numClasses).toBe(3);
    expect(model.layout).toBe('flat');
    expect(model.bounds).toEqual([-1, 1]);
    expect(model.name).toBe('test_graph');
    expect(model.warnings).toHaveLength(1);
    expect(model.warnings[0]!.code).toBe('softmax-removed');
    expect(model.warnings[0]!.message).toMatch(/'head' is a Softmax; attacks use its input/);
    const x = tf.tensor2d([[0.5, -0.25, 1, 0]]);
    const got = model.logits(x);
    const want = tf.add(tf.matMul(x, tf.tensor2d(W, [4, 3])), tf.tensor1d([0.1, -0.2, 0.3]));
    expect(
      Array.from(got.dataSync())
        .map((v, i) => v - want.dataSync()[i]!)
        .every((d) => Math.abs(d) < 1e-6),
    ).toBe(true);
    tf.dispose([x, got, want]);
    model.dispose();
  });

  it('probes the class count when the output shape is symbolic', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'z', dims: ['n', 'k'] },
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] }],
      initializers: [{ name: 'W', dims: [4, 3], values: W }],
    });
    const model = importOnnx(bytes);
    expect(model.numClasses).toBe(3);
    expect(model.warnings).toEqual([]);
    model.dispose();
  });

  it('reports NCHW for rank-4 inputs, NHWC only for clearly channels-last ones', () => {
    const graph = (dims: number[]): Uint8Array =>
      buildModel({
        opset: 13,
        input: { name: 'x', dims: ['n', ...dims] },
        output: { name: 'y', dims: ['n', 2] },
        nodes: [
          { op: 'ReduceMean', inputs: ['x'], outputs: ['m'], attrs: { axes: [2, 3], keepdims: 0 } },
          { op: 'Slice', inputs: ['m', 'st', 'en', 'ax'], outputs: ['y'] },
        ],
        initializers: [
          { name: 'st', dtype: 'int64', dims: [1], values: [0] },
          { name: 'en', dtype: 'int64', dims: [1], values: [2] },
          { name: 'ax', dtype: 'int64', dims: [1], values: [1] },
        ],
      });
    for (const [dims, layout] of [
      [[3, 8, 8], 'NCHW'],
      [[8, 8, 3], 'NHWC'],
      [[16, 8, 8], 'NCHW'],
    ] as const) {
      const m = importOnnx(graph([...dims]));
      expect(m.layout, dims.join('x')).toBe(layout);
      m.dispose();
    }
  });

  it('lists its operators', () => {
    const ops = listSupportedOps();
    for (const op of ['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'BatchNormalization', 'Resize', 'Softmax', 'Where', 'Erf']) expect(ops).toContain(op);
    expect([...ops].sort()).toEqual(ops);
  });

  it('does not leak across logits and valueAndGrad', async () => {
    const model = importOnnx(gemmSoftmax(13));
    const x = tf.randomUniform([5, 4]);
    const before = tf.memory().numTensors;
    tf.dispose(model.logits(x));
    const r = await model.valueAndGrad(x, (l) => tf.sum(l, 1) as tf.Tensor1D);
    tf.dispose([r.value, r.grad]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

describe('decoding', () => {
  it('reads raw_data from Node Buffers at any offset (Buffer.slice shares memory)', () => {
    const values = [1.5, -2.25, 3.125, 1e-3, -7];
    const bytes = encodeRawTensor([5], values);
    for (const pad of [0, 1, 3, 13]) {
      const big = Buffer.concat([Buffer.alloc(pad, 0x55), Buffer.from(bytes), Buffer.alloc(7, 0xaa)]);
      const t = decodeTensor(big.subarray(pad, pad + bytes.length));
      expect(t.dtype).toBe('float32');
      expect(Array.from(t.data)).toEqual(values.map(Math.fround));
    }
  });

  it.skipIf(!haveSharedModels)(`imports the same model from a Buffer and from a Uint8Array${sharedNote}`, () => {
    const buf = readFileSync(join(sharedModels, 'tiny_mobilenet_cifar.onnx'));
    const a = importOnnx(buf);
    const b = importOnnx(new Uint8Array(buf));
    const x = tf.randomUniform([2, 3, 32, 32], 0, 1, 'float32', 5);
    const ya = a.logits(x);
    const yb = b.logits(x);
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });
});

describe('importer errors', () => {
  it('names the operator, node and opset of an unsupported node at load time', () => {
    const bytes = buildModel({
      opset: 14,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'y', dims: ['n', 4] },
      nodes: [{ op: 'FancyOp', inputs: ['x'], outputs: ['y'], name: 'my_node' }],
    });
    expect(() => importOnnx(bytes)).toThrow(UnsupportedError);
    expect(() => importOnnx(bytes)).toThrow(/'FancyOp' \(node 'my_node', opset 14\)/);
    const custom = buildModel({
      opset: 14,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'y', dims: ['n', 4] },
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'], name: 'custom', domain: 'com.example' }],
    });
    expect(() => importOnnx(custom)).toThrow(/'com.example.Relu'/);
  });

  it('rejects corrupt, truncated and empty files with ModelLoadError', () => {
    expect(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(ModelLoadError);
    expect(() => importOnnx(new Uint8Array(0))).toThrow(ModelLoadError);
    const good = gemmSoftmax(13);
    for (const cut of [3, Math.floor(good.length / 2), good.length - 5]) {
      expect(() => importOnnx(good.slice(0, cut)), `cut at ${cut}`).toThrow(ModelLoadError);
    }
  });

  it.skipIf(!haveSharedModels)(`rejects a truncated real model with ModelLoadError${sharedNote}`, () => {
    const bytes = readFileSync(join(sharedModels, 'tiny_resnet_cifar.onnx'));
    expect(() => importOnnx(bytes.subarray(0, bytes.length - 1000))).toThrow(ModelLoadError);
  });

  it('rejects a missing file with ModelLoadError', async () => {
    await expect(loadOnnxModel('/nonexistent/model.onnx')).rejects.toThrow(ModelLoadError);
    const dir = mkdtempSync(join(tmpdir(), 'robustest-onnx-'));
    writeFileSync(join(dir, 'bad.onnx'), 'not a model');
    await expect(loadOnnxModel(join(dir, 'bad.onnx'))).rejects.toThrow(ModelLoadError);
  });

  it('rejects graphs with several inputs or undeclared shapes with ConfigError', () => {
    const two = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'y', dims: ['n', 4] },
      nodes: [{ op: 'Add', inputs: ['x', 'z'], outputs: ['y'] }],
      extraInputs: [{ name: 'z', dims: ['n', 4] }],
    });
    expect(() => importOnnx(two)).toThrow(ConfigError);
    const unknown = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 'd'] },
      output: { name: 'y', dims: ['n', 4] },
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    expect(() => importOnnx(unknown)).toThrow(/pass inputShape/);
    const m = importOnnx(unknown, { inputShape: [4], numClasses: 4 });
    expect(m.inputShape).toEqual([4]);
    m.dispose();
  });
});

/** Central-difference check of the input-gradient along a random direction. */
function checkGradient(bytes: Uint8Array, shape: number[]): void {
  const model = importOnnx(bytes, { bounds: [-10, 10] });
  const x = tf.randomUniform(shape, -1, 1, 'float32', 7);
  const v = tf.randomUniform(shape, -1, 1, 'float32', 11);
  const w = tf.randomUniform([1, model.numClasses], -1, 1, 'float32', 13);
  const f = (xi: tf.Tensor): tf.Tensor => tf.sum(tf.mul(model.logits(xi), w));
  const g = tf.grad(f)(x);
  const eps = 1e-3;
  const numeric = tf.tidy(() => (f(tf.add(x, tf.mul(v, eps))).dataSync()[0]! - f(tf.sub(x, tf.mul(v, eps))).dataSync()[0]!) / (2 * eps));
  const analytic = tf.sum(tf.mul(g, v)).dataSync()[0]!;
  expect(Math.abs(numeric - analytic)).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
  tf.dispose([x, v, w, g]);
  model.dispose();
}

describe('input-gradients through the implemented ops', () => {
  const conv = (opset: number, nodes: NodeSpec[], inits: TensorSpec[], classes: number): Uint8Array =>
    buildModel({
      opset,
      input: { name: 'x', dims: ['n', 4, 9, 9] },
      output: { name: 'y', dims: ['n', classes] },
      nodes,
      initializers: inits,
    });
  const weights = (name: string, dims: number[]): TensorSpec => ({
    name,
    dims,
    values: range(
      dims.reduce((a, b) => a * b, 1),
      (i) => Math.sin(i * 1.7) * 0.5,
    ),
  });

  it('grouped dilated Conv, AveragePool (ceil, count_include_pad=0), MaxPool with pads, Gemm', () => {
    checkGradient(
      conv(
        13,
        [
          { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { group: 2, dilations: [2, 1], pads: [1, 0, 2, 1], strides: [1, 2] } },
          { op: 'AveragePool', inputs: ['c'], outputs: ['a'], attrs: { kernel_shape: [3, 3], ceil_mode: 1, pads: [1, 1, 1, 1], strides: [2, 2] } },
          { op: 'MaxPool', inputs: ['a'], outputs: ['m'], attrs: { kernel_shape: [2, 2], pads: [0, 0, 1, 1], strides: [1, 1] } },
          { op: 'Flatten', inputs: ['m'], outputs: ['f'] },
          { op: 'Gemm', inputs: ['f', 'fc'], outputs: ['y'], attrs: { transB: 1, alpha: 0.5 } },
        ],
        [weights('w', [6, 2, 3, 3]), weights('b', [6]), weights('fc', [5, 90])],
        5,
      ),
      [2, 4, 9, 9],
    );
  });

  it('depthwise Conv with stride 2 and channel multiplier, ConvTranspose, GlobalAveragePool', () => {
    checkGradient(
      conv(
        13,
        [
          { op: 'Conv', inputs: ['x', 'dw'], outputs: ['c'], attrs: { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] } },
          { op: 'ConvTranspose', inputs: ['c', 'ct'], outputs: ['t'], attrs: { strides: [2, 2], pads: [1, 1, 0, 0], output_padding: [1, 1] } },
          { op: 'HardSwish', inputs: ['t'], outputs: ['h'] },
          { op: 'GlobalAveragePool', inputs: ['h'], outputs: ['g'] },
          { op: 'Flatten', inputs: ['g'], outputs: ['y'] },
        ],
        [weights('dw', [8, 1, 3, 3]), weights('ct', [8, 3, 3, 3])],
        3,
      ),
      [2, 4, 9, 9],
    );
  });

  it('3-D Conv (strided, grouped), AveragePool3D, MaxPool3D, ConvTranspose3D', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 2, 6, 6, 6] },
      output: { name: 'y', dims: ['n', 4] },
      nodes: [
        { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { group: 2, strides: [2, 1, 1], pads: [1, 1, 1, 1, 1, 1] } },
        { op: 'AveragePool', inputs: ['c'], outputs: ['a'], attrs: { kernel_shape: [2, 2, 2], pads: [0, 1, 0, 1, 0, 1] } },
        { op: 'MaxPool', inputs: ['a'], outputs: ['m'], attrs: { kernel_shape: [2, 2, 2], strides: [1, 2, 2] } },
        { op: 'ConvTranspose', inputs: ['m', 'wt'], outputs: ['t'], attrs: { strides: [2, 2, 2] } },
        { op: 'ReduceSumSquare', inputs: ['t'], outputs: ['r'], attrs: { axes: [2, 3, 4], keepdims: 0 } },
        { op: 'Identity', inputs: ['r'], outputs: ['y'] },
      ],
      initializers: [weights('w', [4, 1, 3, 3, 3]), weights('wt', [4, 4, 2, 2, 2])],
    });
    checkGradient(bytes, [2, 2, 6, 6, 6]);
  });

  it('LayerNormalization, InstanceNormalization, LRN, Gelu, DepthToSpace, GatherElements, Trilu, CumSum', () => {
    const bytes = buildModel({
      opset: 17,
      input: { name: 'x', dims: ['n', 4, 4, 4] },
      output: { name: 'y', dims: ['n', 3] },
      nodes: [
        { op: 'LayerNormalization', inputs: ['x', 'ls', 'lb'], outputs: ['l'], attrs: { axis: 2 } },
        { op: 'InstanceNormalization', inputs: ['l', 'is', 'ib'], outputs: ['i'] },
        { op: 'LRN', inputs: ['i'], outputs: ['r'], attrs: { size: 3, alpha: 0.1, beta: 0.75, bias: 1 } },
        { op: 'Gelu', inputs: ['r'], outputs: ['g'] },
        { op: 'DepthToSpace', inputs: ['g'], outputs: ['d'], attrs: { blocksize: 2, mode: 'CRD' } },
        { op: 'Trilu', inputs: ['d'], outputs: ['t'], attrs: { upper: 0 } },
        { op: 'CumSum', inputs: ['t', 'axis'], outputs: ['c'] },
        { op: 'Flatten', inputs: ['c'], outputs: ['f'] },
        { op: 'GatherElements', inputs: ['f', 'ge'], outputs: ['y'], attrs: { axis: 1 } },
      ],
      initializers: [
        weights('ls', [4, 4]),
        weights('lb', [4, 4]),
        weights('is', [4]),
        weights('ib', [4]),
        { name: 'axis', dtype: 'int64', dims: [], values: [3] },
        { name: 'ge', dtype: 'int64', dims: [1, 3], values: [5, 17, -1] },
      ],
    });
    // GatherElements with indices [1, 3] takes the same three columns for every row (batch 1 here).
    checkGradient(bytes, [1, 4, 4, 4]);
  });

  it('Resize (linear), Pad (reflect), strided Slice, Gather, Transpose, ReduceSumSquare', () => {
    checkGradient(
      conv(
        13,
        [
          { op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['r'], attrs: { mode: 'linear' } },
          { op: 'Pad', inputs: ['r', 'pads'], outputs: ['p'], attrs: { mode: 'reflect' } },
          { op: 'Slice', inputs: ['p', 'st', 'en', 'ax', 'sp'], outputs: ['s'] },
          { op: 'Gather', inputs: ['s', 'idx'], outputs: ['g'], attrs: { axis: 1 } },
          { op: 'Transpose', inputs: ['g'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
          { op: 'ReduceSumSquare', inputs: ['t'], outputs: ['y'], attrs: { axes: [1, 2], keepdims: 0 } },
        ],
        [
          { name: 'scales', dims: [4], values: [1, 1, 1.5, 1.5] },
          { name: 'pads', dtype: 'int64', dims: [8], values: [0, 0, 2, 1, 0, 0, 1, 2] },
          { name: 'st', dtype: 'int64', dims: [2], values: [-1, 0] },
          { name: 'en', dtype: 'int64', dims: [2], values: [-1e18, 100] },
          { name: 'ax', dtype: 'int64', dims: [2], values: [2, 3] },
          { name: 'sp', dtype: 'int64', dims: [2], values: [-2, 3] },
          { name: 'idx', dtype: 'int64', dims: [3], values: [3, 0, -1] },
        ],
        3,
      ),
      [2, 4, 9, 9],
    );
  });
});
