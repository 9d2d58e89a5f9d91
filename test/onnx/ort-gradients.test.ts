// The onnxruntime gradient engine: generated forward/backward graphs give the importer's input-gradients, on the
// shared models and on generated graphs covering every gradient rule (fast-check over geometries and op chains).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError, ShapeError, UnsupportedError } from '../../src/errors.js';
import { importOnnx, listSupportedOps } from '../../src/onnx/import.js';
import { listGradientOps, withOnnxRuntimeGradients } from '../../src/onnx/ort-gradients.js';
import { crossEntropy, marginLoss } from '../../src/losses.js';
import type { LossFn } from '../../src/model.js';
import { expectNoLeak, seededValues } from '../helpers/models.js';
import { buildModel, type NodeSpec, type TensorSpec } from './build.js';
import { SHARED_MODELS, maxErr, readNpy, requireSharedModels, sharedModels } from './helpers.js';

const haveSharedModels = requireSharedModels();

const haveOrt = await import('onnxruntime-node').then(
  () => true,
  () => false,
);

/** Gradients (and losses) of both engines on the same batch. */
async function compare(
  bytes: Uint8Array,
  x: tf.Tensor,
  loss: LossFn,
  options: Parameters<typeof withOnnxRuntimeGradients>[1] = {},
): Promise<{ grad: { abs: number; scale: number }; value: { abs: number; scale: number } }> {
  const ref = importOnnx(bytes, options);
  const ort = await withOnnxRuntimeGradients(bytes, options);
  try {
    const a = await ref.valueAndGrad(x, loss);
    const b = await ort.valueAndGrad(x, loss);
    const out = { grad: maxErr(b.grad.dataSync(), a.grad.dataSync()), value: maxErr(b.value.dataSync(), a.value.dataSync()) };
    expect(b.grad.shape).toEqual(x.shape);
    tf.dispose([a.value, a.grad, b.value, b.grad]);
    return out;
  } finally {
    ref.dispose();
    ort.dispose();
  }
}

function expectClose(e: { abs: number; scale: number }, rel = 1e-4, nonZero = true): void {
  if (nonZero) expect(e.scale).toBeGreaterThan(0);
  expect(e.abs).toBeLessThanOrEqual(rel * Math.max(e.scale, 1e-6));
}

describe.skipIf(!haveOrt || !haveSharedModels)(
  `onnxruntime gradient engine on the shared models${haveSharedModels ? '' : ` (skipped: ${sharedModels} is absent)`}${haveOrt ? '' : ' (skipped: onnxruntime-node cannot load)'}`,
  () => {
    it.each(SHARED_MODELS)('%s: input-gradient equals the importer and the PyTorch reference within 1e-4', async (name) => {
      const bytes = readFileSync(join(sharedModels, `${name}.onnx`));
      const x = readNpy(join(sharedModels, `${name}.input.npy`));
      const labels = readNpy(join(sharedModels, `${name}.labels.npy`));
      const want = readNpy(join(sharedModels, `${name}.grad.npy`));
      const xt = tf.tensor(x.data, x.shape);
      const yt = tf.tensor1d(Int32Array.from(labels.data), 'int32');
      const e = await compare(bytes, xt, crossEntropy(yt, 10));
      expectClose(e.grad);
      expectClose(e.value, 1e-5);
      const model = await withOnnxRuntimeGradients(bytes);
      expect(model.engine).toBe('onnxruntime');
      expect(model.kind).toBe('differentiable');
      const { value, grad } = await model.valueAndGrad(xt, crossEntropy(yt, 10));
      expectClose(maxErr(grad.dataSync(), want.data));
      // Deterministic: the same call gives the same bits.
      const again = await model.valueAndGrad(xt, crossEntropy(yt, 10));
      expect(Buffer.from(again.grad.dataSync().buffer).equals(Buffer.from(grad.dataSync().buffer))).toBe(true);
      tf.dispose([xt, yt, value, grad, again.value, again.grad]);
      model.dispose();
    });

    it('applies preprocessing (chain rule through the normalisation) like the importer', async () => {
      const bytes = readFileSync(join(sharedModels, 'tiny_resnet_cifar.onnx'));
      const x = readNpy(join(sharedModels, 'tiny_resnet_cifar.input.npy'));
      const xt = tf.tensor(x.data, x.shape);
      const yt = tf.tensor1d(
        Array.from({ length: x.shape[0]! }, (_, i) => i % 10),
        'int32',
      );
      const preprocessing = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] };
      const e = await compare(bytes, xt, marginLoss(yt, 10), { preprocessing, batchSize: 3 });
      expectClose(e.grad);
      tf.dispose([xt, yt]);
    });

    it('leaks no tensors and rejects wrong shapes and use after dispose', async () => {
      const bytes = readFileSync(join(sharedModels, 'mnist_cnn_trained.onnx'));
      const model = await withOnnxRuntimeGradients(bytes, { batchSize: 3 });
      const x = tf.zeros([5, 1, 28, 28]);
      const y = tf.tensor1d([0, 1, 2, 3, 4], 'int32');
      const loss = crossEntropy(y, 10);
      await model.valueAndGrad(x, loss).then((r) => tf.dispose([r.value, r.grad])); // warm-up
      const leaked = await expectNoLeak(async () => {
        const r = await model.valueAndGrad(x, loss);
        tf.dispose([r.value, r.grad]);
      });
      expect(leaked).toBe(0);
      await expect(model.valueAndGrad(tf.zeros([2, 28, 28, 1]), loss)).rejects.toThrow(ShapeError);
      model.dispose();
      await expect(model.valueAndGrad(x, loss)).rejects.toThrow(ConfigError);
      tf.dispose([x, y]);
    });
  },
);

// ---- generated graphs -------------------------------------------------------------------------------------------

let counter = 0;
function weights(dims: number[], seed: number, lo = -0.5, hi = 0.5): TensorSpec {
  return {
    name: `w${counter++}`,
    dims,
    values: Array.from(
      seededValues(
        dims.reduce((a, b) => a * b, 1),
        seed,
        lo,
        hi,
      ),
    ),
  };
}

/** A model: `body` maps x [N, C, H, W] to a value of `features` floats per sample, then Flatten → Gemm → 3 logits. */
function withHead(opset: number, inDims: number[], body: NodeSpec[], inits: TensorSpec[], last: string, features: number, seed: number): Uint8Array {
  const w = weights([3, features], seed + 99);
  return buildModel({
    opset,
    input: { name: 'x', dims: ['n', ...inDims] },
    output: { name: 'logits', dims: ['n', 3] },
    nodes: [
      ...body,
      { op: 'Flatten', inputs: [last], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'Gemm', inputs: ['flat', w.name!], outputs: ['logits'], attrs: { transB: 1 } },
    ],
    initializers: [...inits, w],
  });
}

function batch(inDims: number[], seed: number, n = 2): { x: tf.Tensor; loss: LossFn; dispose: () => void } {
  const x = tf.tensor(seededValues(n * inDims.reduce((a, b) => a * b, 1), seed, -1, 1), [n, ...inDims]);
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 3),
    'int32',
  );
  return { x, loss: crossEntropy(y, 3), dispose: () => tf.dispose([x, y]) };
}

/** Output size of a conv/pool along one axis. */
function outSize(size: number, k: number, s: number, d: number, pb: number, pe: number, ceil = false): number {
  const span = size + pb + pe - ((k - 1) * d + 1);
  return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
}

describe.skipIf(!haveOrt)('onnxruntime gradient engine on generated graphs', () => {
  it('Conv: every stride, dilation, padding (explicit and auto_pad) and group equals the importer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          c: fc.integer({ min: 1, max: 3 }),
          mult: fc.integer({ min: 1, max: 2 }),
          depthwise: fc.boolean(),
          h: fc.integer({ min: 4, max: 9 }),
          w: fc.integer({ min: 4, max: 9 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          dh: fc.integer({ min: 1, max: 2 }),
          dw: fc.integer({ min: 1, max: 2 }),
          pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
          auto: fc.constantFrom('NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'),
          seed: fc.nat(1000),
        }),
        async (p) => {
          const group = p.depthwise ? p.c : 1;
          const m = p.depthwise ? p.c * p.mult : p.mult + 1;
          const isSame = p.auto.startsWith('SAME');
          const d: [number, number] = isSame ? [1, 1] : [p.dh, p.dw]; // SAME with dilation is ambiguous across runtimes
          const pads: number[] = p.auto === 'NOTSET' ? [...p.pads] : [0, 0, 0, 0];
          const oh = isSame ? Math.ceil(p.h / p.sh) : outSize(p.h, p.kh, p.sh, d[0], pads[0]!, pads[2]!);
          const ow = isSame ? Math.ceil(p.w / p.sw) : outSize(p.w, p.kw, p.sw, d[1], pads[1]!, pads[3]!);
          fc.pre(oh >= 1 && ow >= 1 && (p.kh - 1) * d[0] + 1 <= p.h + pads[0]! + pads[2]! && (p.kw - 1) * d[1] + 1 <= p.w + pads[1]! + pads[3]!);
          const W = weights([m, p.c / group, p.kh, p.kw], p.seed);
          const B = weights([m], p.seed + 1);
          const attrs: Record<string, number | number[] | string> = { strides: [p.sh, p.sw], group, kernel_shape: [p.kh, p.kw] };
          if (p.auto === 'NOTSET') Object.assign(attrs, { pads, dilations: d });
          else Object.assign(attrs, { auto_pad: p.auto, dilations: d });
          const bytes = withHead(
            13,
            [p.c, p.h, p.w],
            [
              { op: 'Conv', inputs: ['x', W.name!, B.name!], outputs: ['c'], attrs },
              { op: 'Relu', inputs: ['c'], outputs: ['r'] },
            ],
            [W, B],
            'r',
            m * oh * ow,
            p.seed,
          );
          const { x, loss, dispose } = batch([p.c, p.h, p.w], p.seed);
          try {
            expectClose((await compare(bytes, x, loss)).grad, 1e-4, false);
          } finally {
            dispose();
          }
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  });

  it('MaxPool and AveragePool: overlapping and not, padded, ceil mode, count_include_pad', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          avg: fc.boolean(),
          c: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 4, max: 8 }),
          w: fc.integer({ min: 4, max: 8 }),
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 3 }),
          pad: fc.nat(1),
          ceil: fc.boolean(),
          include: fc.boolean(),
          relu: fc.boolean(),
          seed: fc.nat(1000),
        }),
        async (p) => {
          const pad = Math.min(p.pad, p.k - 1);
          const oh = outSize(p.h, p.k, p.s, 1, pad, pad, p.ceil);
          const ow = outSize(p.w, p.k, p.s, 1, pad, pad, p.ceil);
          // A last window must start inside the input or left padding (ONNX's ceil-mode rule); skip the edge cases.
          fc.pre(!p.ceil || ((oh - 1) * p.s < p.h + pad && (ow - 1) * p.s < p.w + pad));
          const attrs: Record<string, number | number[]> = {
            kernel_shape: [p.k, p.k],
            strides: [p.s, p.s],
            pads: [pad, pad, pad, pad],
            ceil_mode: p.ceil ? 1 : 0,
          };
          if (p.avg) attrs['count_include_pad'] = p.include ? 1 : 0;
          // Relu → MaxPool takes the engine's shortcut (the relu mask applied to the pooled gradient).
          const body: NodeSpec[] = p.relu
            ? [
                { op: 'Relu', inputs: ['x'], outputs: ['r'] },
                { op: p.avg ? 'AveragePool' : 'MaxPool', inputs: ['r'], outputs: ['p'], attrs },
              ]
            : [{ op: p.avg ? 'AveragePool' : 'MaxPool', inputs: ['x'], outputs: ['p'], attrs }];
          const bytes = withHead(13, [p.c, p.h, p.w], body, [], 'p', p.c * oh * ow, p.seed);
          const { x, loss, dispose } = batch([p.c, p.h, p.w], p.seed);
          try {
            expectClose((await compare(bytes, x, loss)).grad, 1e-4, !p.relu);
          } finally {
            dispose();
          }
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  it('op chains: broadcasting arithmetic, activations, normalisation, reductions, shape ops and branches', async () => {
    // Each case: nodes from x [N, 2, 4, 4] to a value `out` of `features` floats per sample.
    const b1 = weights([2, 1, 1], 1);
    const s1 = weights([1, 4], 2, 0.5, 1.5);
    const bn = [weights([2], 3, 0.5, 1.5), weights([2], 4), weights([2], 5), weights([2], 6, 0.5, 2)];
    const mm = weights([4, 5], 7);
    const slope = weights([2, 1, 1], 8, 0.05, 0.3);
    const four: TensorSpec = { name: 'four', dims: [], values: [4] };
    const cases: { name: string; nodes: NodeSpec[]; inits: TensorSpec[]; features: number; opset?: number }[] = [
      {
        name: 'Add/Mul/Sub/Div with broadcasting',
        inits: [b1, s1],
        features: 32,
        nodes: [
          { op: 'Add', inputs: ['x', b1.name!], outputs: ['a'] },
          { op: 'Mul', inputs: ['a', s1.name!], outputs: ['m'] },
          { op: 'Sub', inputs: [s1.name!, 'm'], outputs: ['s'] },
          { op: 'Div', inputs: ['s', s1.name!], outputs: ['d'] },
          { op: 'Mul', inputs: ['d', 'x'], outputs: ['out'] },
        ],
      },
      {
        name: 'Div by an active value, Sum, Where',
        inits: [s1, { name: 'half', dims: [], values: [1] }],
        features: 32,
        nodes: [
          { op: 'Sigmoid', inputs: ['x'], outputs: ['sg'] },
          { op: 'Add', inputs: ['sg', s1.name!], outputs: ['den'] },
          { op: 'Div', inputs: ['x', 'den'], outputs: ['q'] },
          { op: 'Sum', inputs: ['q', 'x', 'sg'], outputs: ['t'] },
          { op: 'Greater', inputs: [s1.name!, 'half'], outputs: ['cond'] },
          { op: 'Where', inputs: ['cond', 't', 'q'], outputs: ['out'] },
        ],
      },
      {
        name: 'activations',
        inits: [slope],
        features: 32,
        nodes: [
          { op: 'Tanh', inputs: ['x'], outputs: ['a1'] },
          { op: 'LeakyRelu', inputs: ['a1'], outputs: ['a2'], attrs: { alpha: 0.2 } },
          { op: 'Elu', inputs: ['a2'], outputs: ['a3'], attrs: { alpha: 0.7 } },
          { op: 'PRelu', inputs: ['a3', slope.name!], outputs: ['a4'] },
          { op: 'HardSigmoid', inputs: ['a4'], outputs: ['a5'], attrs: { alpha: 0.3, beta: 0.4 } },
          { op: 'Softplus', inputs: ['a5'], outputs: ['a6'] },
          { op: 'Erf', inputs: ['a6'], outputs: ['a7'] },
          { op: 'Exp', inputs: ['a7'], outputs: ['a8'] },
          { op: 'Sqrt', inputs: ['a8'], outputs: ['a9'] },
          { op: 'Log', inputs: ['a9'], outputs: ['a10'] },
          { op: 'Abs', inputs: ['x'], outputs: ['ab'] },
          { op: 'Neg', inputs: ['ab'], outputs: ['ng'] },
          { op: 'Add', inputs: ['a10', 'ng'], outputs: ['out'] },
        ],
      },
      {
        name: 'Clip (ReLU6) with constant bounds, Reciprocal, Pow',
        inits: [
          { name: 'lo', dims: [], values: [-0.5] },
          { name: 'hi', dims: [], values: [0.6] },
          { name: 'p', dims: [], values: [3] },
        ],
        features: 32,
        nodes: [
          { op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['c'] },
          { op: 'Pow', inputs: ['c', 'p'], outputs: ['pw'] },
          { op: 'Add', inputs: ['pw', 'hi'], outputs: ['pp'] },
          { op: 'Reciprocal', inputs: ['pp'], outputs: ['out'] },
        ],
      },
      {
        name: 'BatchNormalization, GlobalAveragePool, Softmax and LogSoftmax inside',
        inits: bn,
        features: 2,
        nodes: [
          { op: 'BatchNormalization', inputs: ['x', ...bn.map((t) => t.name!)], outputs: ['n'], attrs: { epsilon: 0.01 } },
          { op: 'Softmax', inputs: ['n'], outputs: ['sm'], attrs: { axis: -1 } },
          { op: 'LogSoftmax', inputs: ['sm'], outputs: ['ls'], attrs: { axis: -1 } },
          { op: 'GlobalAveragePool', inputs: ['ls'], outputs: ['out'] },
        ],
      },
      {
        name: 'ReduceMean/ReduceSum with and without keepdims, Expand',
        opset: 13,
        inits: [
          { name: 'ax', dims: [1], values: [3], dtype: 'int64' },
          { name: 'shp', dims: [4], values: [1, 2, 4, 4], dtype: 'int64' },
        ],
        features: 32,
        nodes: [
          { op: 'ReduceMean', inputs: ['x'], outputs: ['m'], attrs: { axes: [2], keepdims: 1 } },
          { op: 'ReduceSum', inputs: ['x', 'ax'], outputs: ['s'], attrs: { keepdims: 0 } },
          { op: 'Unsqueeze', inputs: ['s', 'ax'], outputs: ['su'] },
          { op: 'Add', inputs: ['m', 'su'], outputs: ['ms'] },
          { op: 'Expand', inputs: ['ms', 'shp'], outputs: ['e'] },
          { op: 'Mul', inputs: ['e', 'x'], outputs: ['out'] },
        ],
      },
      {
        name: 'Transpose, Reshape, MatMul, Squeeze',
        opset: 13,
        inits: [mm, { name: 'r', dims: [3], values: [0, 8, 4], dtype: 'int64' }],
        features: 40,
        nodes: [
          { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
          { op: 'Reshape', inputs: ['t', 'r'], outputs: ['rs'] },
          { op: 'MatMul', inputs: ['rs', mm.name!], outputs: ['mo'] },
          { op: 'Tanh', inputs: ['mo'], outputs: ['out'] },
        ],
      },
      {
        name: 'MatMul of two active values (attention-like)',
        opset: 13,
        inits: [],
        features: 32,
        nodes: [
          { op: 'Transpose', inputs: ['x'], outputs: ['xt'], attrs: { perm: [0, 1, 3, 2] } },
          { op: 'MatMul', inputs: ['x', 'xt'], outputs: ['out'] },
        ],
      },
      {
        name: 'Concat, Split, Slice, Pad (branches that meet again)',
        opset: 13,
        inits: [
          { name: 'st', dims: [2], values: [1, 0], dtype: 'int64' },
          { name: 'en', dims: [2], values: [4, 3], dtype: 'int64' },
          { name: 'axs', dims: [2], values: [2, 3], dtype: 'int64' },
          { name: 'pd', dims: [8], values: [0, 0, 1, 0, 0, 1, 0, 2], dtype: 'int64' },
          { name: 'sp', dims: [2], values: [1, 3], dtype: 'int64' },
        ],
        features: 4 * 5 * 5,
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r'] },
          { op: 'Concat', inputs: ['x', 'r'], outputs: ['cat'], attrs: { axis: 1 } },
          { op: 'Split', inputs: ['cat', 'sp'], outputs: ['s1', 's2'], attrs: { axis: 1 } },
          { op: 'Concat', inputs: ['s2', 's1'], outputs: ['cat2'], attrs: { axis: 1 } },
          { op: 'Slice', inputs: ['cat2', 'st', 'en', 'axs'], outputs: ['sl'] },
          { op: 'Pad', inputs: ['sl', 'pd'], outputs: ['out'] },
        ],
      },
      {
        name: 'more activations: Selu, Celu, ThresholdedRelu, Softsign, HardSwish, Gelu (erf and tanh)',
        opset: 20,
        inits: [four],
        features: 32,
        nodes: [
          { op: 'Selu', inputs: ['x'], outputs: ['a1'] },
          { op: 'Celu', inputs: ['a1'], outputs: ['a2'], attrs: { alpha: 0.8 } },
          { op: 'ThresholdedRelu', inputs: ['x'], outputs: ['a3'], attrs: { alpha: 0.1 } },
          { op: 'Softsign', inputs: ['a2'], outputs: ['a4'] },
          { op: 'Add', inputs: ['a3', 'a4'], outputs: ['a5'] },
          { op: 'Mul', inputs: ['a5', 'four'], outputs: ['a5x'] },
          { op: 'HardSwish', inputs: ['a5x'], outputs: ['a6'] },
          { op: 'Gelu', inputs: ['a6'], outputs: ['a7'] },
          { op: 'Gelu', inputs: ['a7'], outputs: ['out'], attrs: { approximate: 'tanh' } },
        ],
      },
      {
        name: 'Max, Min, Mean with broadcasting; GlobalMaxPool; ReduceMax',
        opset: 13,
        inits: [b1],
        features: 4,
        nodes: [
          { op: 'Tanh', inputs: ['x'], outputs: ['t'] },
          { op: 'Max', inputs: ['x', 't', b1.name!], outputs: ['mx'] },
          { op: 'Min', inputs: ['mx', 'x'], outputs: ['mn'] },
          { op: 'Mean', inputs: ['mn', b1.name!, 'x'], outputs: ['me'] },
          { op: 'GlobalMaxPool', inputs: ['me'], outputs: ['gp'] },
          { op: 'ReduceMax', inputs: ['me'], outputs: ['rm'], attrs: { axes: [2, 3], keepdims: 0 } },
          { op: 'Flatten', inputs: ['gp'], outputs: ['gpf'], attrs: { axis: 1 } },
          { op: 'Concat', inputs: ['gpf', 'rm'], outputs: ['out'], attrs: { axis: 1 } },
        ],
      },
      {
        name: 'LayerNormalization and InstanceNormalization',
        opset: 17,
        inits: [
          { name: 'lns', dims: [4], values: [1.5, 0.5, -1, 2] },
          { name: 'lnb', dims: [4], values: [0.1, 0, 0.3, -0.2] },
          { name: 'ins', dims: [2], values: [0.7, 1.3] },
          { name: 'inb', dims: [2], values: [0.2, -0.1] },
        ],
        features: 32,
        nodes: [
          { op: 'LayerNormalization', inputs: ['x', 'lns', 'lnb'], outputs: ['ln'], attrs: { axis: -1, epsilon: 0.001 } },
          { op: 'InstanceNormalization', inputs: ['ln', 'ins', 'inb'], outputs: ['in'], attrs: { epsilon: 0.01 } },
          { op: 'Mul', inputs: ['in', 'x'], outputs: ['out'] },
        ],
      },
      {
        name: 'Gather (constant indices, repeated), Tile, DepthToSpace/SpaceToDepth, Resize (nearest ×2)',
        opset: 13,
        inits: [
          { name: 'gi', dims: [3], values: [3, 0, -1], dtype: 'int64' },
          { name: 'rep', dims: [4], values: [1, 1, 2, 1], dtype: 'int64' },
          { name: 'roi', dims: [0], values: [] },
          { name: 'sc', dims: [4], values: [1, 1, 2, 2] },
        ],
        features: 2 * 6 * 4 + 8 * 2 * 2 + 2 * 8 * 8,
        nodes: [
          { op: 'Gather', inputs: ['x', 'gi'], outputs: ['ga'], attrs: { axis: 2 } },
          { op: 'Tile', inputs: ['ga', 'rep'], outputs: ['ti'] },
          { op: 'Flatten', inputs: ['ti'], outputs: ['tf'], attrs: { axis: 1 } },
          { op: 'SpaceToDepth', inputs: ['x'], outputs: ['sd'], attrs: { blocksize: 2 } },
          { op: 'Sigmoid', inputs: ['sd'], outputs: ['sg'] },
          { op: 'Flatten', inputs: ['sg'], outputs: ['sf'], attrs: { axis: 1 } },
          { op: 'Resize', inputs: ['x', 'roi', 'sc'], outputs: ['rs'], attrs: { mode: 'nearest' } },
          { op: 'Flatten', inputs: ['rs'], outputs: ['rf'], attrs: { axis: 1 } },
          { op: 'Concat', inputs: ['tf', 'sf', 'rf'], outputs: ['out'], attrs: { axis: 1 } },
        ],
      },
    ];
    for (const c of cases) {
      const bytes = withHead(c.opset ?? 13, [2, 4, 4], c.nodes, c.inits, 'out', c.features, 5);
      const { x, loss, dispose } = batch([2, 4, 4], 3, 3);
      try {
        const e = await compare(bytes, x, loss);
        expect(e.grad.abs, c.name).toBeLessThanOrEqual(1e-4 * Math.max(e.grad.scale, 1e-6));
        expect(e.grad.scale, c.name).toBeGreaterThan(0);
      } finally {
        dispose();
      }
    }
  });

  it('Gemm with every transpose flag and an active C', async () => {
    for (const [transA, transB] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ] as const) {
      const B = weights(transB ? [3, 6] : [6, 3], 20 + transA + 2 * transB);
      const nodes: NodeSpec[] = [
        { op: 'Flatten', inputs: ['x'], outputs: ['f'], attrs: { axis: 1 } },
        ...(transA ? [{ op: 'Transpose', inputs: ['f'], outputs: ['ft'], attrs: { perm: [1, 0] } }] : []),
        { op: 'Tanh', inputs: ['f'], outputs: ['c'] },
        { op: 'Flatten', inputs: ['c'], outputs: ['c3'], attrs: { axis: 1 } },
      ];
      // C must be [N, 3]: take a Gemm of the input with a second weight.
      const B2 = weights([6, 3], 30);
      nodes.push({ op: 'Gemm', inputs: ['f', B2.name!], outputs: ['cc'] });
      nodes.push({ op: 'Gemm', inputs: [transA ? 'ft' : 'f', B.name!, 'cc'], outputs: ['logits'], attrs: { transA, transB, alpha: 0.7, beta: 1.3 } });
      const bytes = buildModel({
        opset: 13,
        input: { name: 'x', dims: ['n', 6] },
        output: { name: 'logits', dims: ['n', 3] },
        nodes,
        initializers: [B, B2],
      });
      const { x, loss, dispose } = batch([6], 4, transA ? 6 : 4);
      try {
        expectClose((await compare(bytes, x, loss)).grad);
      } finally {
        dispose();
      }
    }
  });

  it('refuses an operator without a gradient rule on the gradient path, naming it', async () => {
    const bytes = withHead(13, [2, 4, 4], [{ op: 'LRN', inputs: ['x'], outputs: ['l'], name: 'my_lrn', attrs: { size: 3 } }], [], 'l', 32, 1);
    await expect(withOnnxRuntimeGradients(bytes)).rejects.toThrow(UnsupportedError);
    await expect(withOnnxRuntimeGradients(bytes)).rejects.toThrow(/my_lrn.*LRN/);
  });

  it('lists the operators it differentiates, each one the importer also runs', () => {
    const ops = listGradientOps();
    expect(ops).toEqual([...ops].sort());
    for (const op of ['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'Gemm', 'MatMul', 'Relu', 'Clip', 'BatchNormalization', 'Reshape', 'Transpose'])
      expect(ops).toContain(op);
    const importable = new Set(listSupportedOps());
    expect(ops.filter((op) => !importable.has(op))).toEqual([]);
    expect(ops).not.toContain('LRN');
  });

  it('validates its options', async () => {
    const bytes = withHead(13, [2, 4, 4], [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }], [], 'r', 32, 1);
    await expect(withOnnxRuntimeGradients(bytes, { batchSize: 0 })).rejects.toThrow(ConfigError);
    await expect(withOnnxRuntimeGradients(bytes, { threads: 1.5 })).rejects.toThrow(ConfigError);
  });
});
