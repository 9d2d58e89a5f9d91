// The tfjs → ONNX exporter: exported graphs run by onnxruntime-node and by our importer give tfjs's logits.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, UnsupportedError } from '../../src/errors.js';
import { isDifferentiable } from '../../src/model.js';
import { fromLayersModel } from '../../src/load.js';
import { loadModel } from '../../src/load.js';
import { exportLayersModel, listExportableLayers } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { seededValues } from '../helpers/models.js';
import { expectThrows } from '../helpers/errors.js';
import { maxErr, repoRoot } from './helpers.js';

interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release?(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

/** onnxruntime-node is an optional peer: the runtime comparisons are skipped, with the reason, when it cannot load. */
const ort: Ort | string = await import('onnxruntime-node').then(
  (m) => (m as { default?: Ort }).default ?? (m as unknown as Ort),
  (e: unknown) => `onnxruntime-node failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
);
const haveOrt = typeof ort !== 'string';
const ortReason = typeof ort === 'string' ? ` (skipped: ${ort})` : '';

const TOL = 1e-4;
const created: tfl.LayersModel[] = [];
afterAll(() => created.forEach((m) => m.dispose()));

/**
 * Seeded weights: kernels uniform with a fan-in scale (signals keep their size through deep stacks), biases and
 * BN shifts in [-0.5, 0.5), BN scales and moving variances in [0.5, 1.5) (non-trivial statistics).
 */
function seedWeights(model: tfl.LayersModel, seed: number): void {
  const values = model.weights.map((w, i) => {
    const dims = w.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    let v: Float32Array;
    if (/(moving_variance|gamma)/.test(name)) v = seededValues(n, seed + i, 0.5, 1.5);
    else if (dims.length < 2) v = seededValues(n, seed + i, -0.5, 0.5);
    else {
      const fanIn = /depthwise_kernel/.test(name) ? dims[0]! * dims[1]! : n / dims[dims.length - 1]!;
      const r = 2 * Math.sqrt(3 / fanIn);
      v = seededValues(n, seed + i, -r, r);
    }
    return tf.tensor(v, dims);
  });
  model.setWeights(values);
  tf.dispose(values);
}

function keep<T extends tfl.LayersModel>(m: T, seed: number): T {
  seedWeights(m, seed);
  created.push(m);
  return m;
}

interface Diffs {
  ort?: { abs: number; rel: number };
  importer: { abs: number; rel: number };
  warnings: string[];
}

const report: string[] = [];

/** Exports `model`, runs it with onnxruntime and with importOnnx, and compares to fromLayersModel's logits. */
async function check(
  label: string,
  model: tfl.LayersModel,
  shape: number[],
  opts: { seed?: number; lo?: number; hi?: number; opset?: number; quiet?: boolean } = {},
): Promise<Diffs> {
  const data = seededValues(
    shape.reduce((a, b) => a * b, 1),
    opts.seed ?? 7,
    opts.lo ?? 0,
    opts.hi ?? 1,
  );
  const x = tf.tensor(data, shape);
  const ref = await fromLayersModel(model, { bounds: [opts.lo ?? 0, opts.hi ?? 1], engine: 'tfjs' });
  const want = ref.logits(x);
  const wantData = want.dataSync();
  const exp = exportLayersModel(model, opts.opset !== undefined ? { opset: opts.opset } : {});
  expect(exp.inputName).toBe('input');
  expect(exp.outputName).toBe('logits');
  // Relative to the largest logit; the logits must vary between samples, or a scrambled layout could pass.
  const rel = (e: { abs: number; scale: number }) => ({ abs: e.abs, rel: e.abs / Math.max(e.scale, 1e-6) });
  const k = want.shape[1]!;
  const spread = Math.max(
    ...Array.from({ length: k }, (_, j) => {
      const col = Array.from({ length: shape[0]! }, (_, i) => wantData[i * k + j]!);
      return Math.max(...col) - Math.min(...col);
    }),
  );
  // (Not in the geometry property: a dilated kernel can miss every pixel of a tiny image, leaving the bias.)
  if (shape[0]! > 1 && !opts.quiet) expect(spread).toBeGreaterThan(1e-2 * maxErr(new Float32Array(wantData.length), wantData).scale);
  const out: Diffs = { importer: { abs: 0, rel: 0 }, warnings: exp.warnings.map((w) => w.message) };

  const imported = importOnnx(exp.bytes, { bounds: [opts.lo ?? 0, opts.hi ?? 1] });
  const got = imported.logits(x);
  expect(got.shape).toEqual(want.shape);
  out.importer = rel(maxErr(got.dataSync(), wantData));
  tf.dispose(got);
  imported.dispose();

  if (haveOrt) {
    const session = await ort.InferenceSession.create(exp.bytes);
    const res = await session.run({ [exp.inputName]: new ort.Tensor('float32', data, shape) });
    const y = res[exp.outputName]!;
    expect(y.dims).toEqual(want.shape);
    out.ort = rel(maxErr(y.data as Float32Array, wantData));
    await session.release?.();
  }
  tf.dispose([x, want]);
  ref.dispose();
  if (!opts.quiet)
    report.push(
      `${label} (max |logit| ${maxErr(new Float32Array(wantData.length), wantData).scale.toPrecision(3)}, spread ${spread.toPrecision(3)}): importer max abs ${out.importer.abs.toExponential(2)} rel ${out.importer.rel.toExponential(2)}` +
        (out.ort ? `; onnxruntime max abs ${out.ort.abs.toExponential(2)} rel ${out.ort.rel.toExponential(2)}` : ''),
    );
  expect(out.importer.rel).toBeLessThanOrEqual(TOL);
  if (out.ort) expect(out.ort.rel).toBeLessThanOrEqual(TOL);
  return out;
}

afterAll(() => {
  if (report.length) console.log(`export diffs (${tf.getBackend()}):\n  ${report.join('\n  ')}`);
});

/** The bundled model as a LayersModel, read from its files. */
async function bundled(): Promise<tfl.LayersModel> {
  const file = join(repoRoot, 'assets', 'mnist-cnn', 'model.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as tf.io.ModelJSON;
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(file), p))));
  const weightData = Buffer.concat(buffers);
  const m = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: specs,
      weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    }),
  );
  created.push(m);
  return m;
}

describe(`exportLayersModel${haveOrt ? '' : ortReason}`, () => {
  it('the bundled mnist-cnn: equals loadModel(...).logits under onnxruntime and the importer', async () => {
    const net = await bundled();
    const d = await check('mnist-cnn', net, [5, 28, 28, 1]);
    expect(d.warnings).toEqual([]); // its last Dense is linear: logits already
    // loadModel's own wrapper gives the same logits as the exported graph run by the importer.
    const loaded = await loadModel(join(repoRoot, 'assets', 'mnist-cnn', 'model.json'));
    if (!isDifferentiable(loaded)) throw new Error('expected a differentiable model');
    const x = tf.tensor(seededValues(3 * 784, 11), [3, 28, 28, 1]);
    const a = loaded.logits(x);
    const m = importOnnx(exportLayersModel(net).bytes);
    const b = m.logits(x);
    const e = maxErr(b.dataSync(), a.dataSync());
    expect(e.abs).toBeLessThanOrEqual(TOL * Math.max(1, e.scale));
    tf.dispose([x, a, b]);
    m.dispose();
    loaded.dispose();
  });

  it("the bundled model's graph: one Transpose to NCHW, one back before Flatten, Conv/MaxPool/Gemm, no Softmax", async () => {
    const net = await bundled();
    const g = decodeModel(exportLayersModel(net).bytes, 'export').graph;
    const ops = g.nodes.map((n) => n.opType);
    expect(ops).toEqual(['Transpose', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Transpose', 'Flatten', 'Gemm', 'Relu', 'Gemm']);
    expect(g.inputs[0]!.dims).toEqual(['N', 28, 28, 1]);
    expect(g.outputs[0]!.dims).toEqual(['N', 10]);
    const e = exportLayersModel(net);
    expect([e.inputShape, e.numClasses]).toEqual([[28, 28, 1], 10]);
  });

  it('a Sequential CNN: strided/dilated/same convs, depthwise, separable, BN, pools (same/valid), padding, cropping, upsampling', async () => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({
        layers: [
          L.conv2d({ inputShape: [11, 9, 3], filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu6' }),
          L.batchNormalization({ epsilon: 0.01 }),
          L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'elu' }),
          L.zeroPadding2d({
            padding: [
              [1, 2],
              [0, 1],
            ],
          }),
          L.conv2d({ filters: 5, kernelSize: 2, dilationRate: 2, padding: 'same', useBias: false, activation: 'tanh' }),
          L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
          L.upSampling2d({ size: [2, 3] }),
          L.cropping2D({
            cropping: [
              [1, 0],
              [2, 1],
            ],
          }),
          L.separableConv2d({ filters: 6, kernelSize: 3, depthMultiplier: 2, padding: 'valid' }),
          L.maxPooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'same' }),
          L.depthwiseConv2d({ kernelSize: 2, strides: 2, padding: 'valid' }),
          L.dropout({ rate: 0.5 }),
          L.batchNormalization({ center: false }),
          L.flatten(),
          L.dense({ units: 4, activation: 'softmax' }),
        ],
      }),
      101,
    );
    const d = await check('sequential-cnn', m, [3, 11, 9, 3], { lo: -1, hi: 1 });
    expect(d.warnings.join('\n')).toMatch(/softmax activation/);
  });

  it('a functional DAG: residual Add, Concatenate on channels and on width, merges, advanced activations, nested Sequential', async () => {
    const L = tfl.layers;
    const inp = tfl.input({ shape: [8, 8, 2] });
    const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'swish' }).apply(inp) as tfl.SymbolicTensor;
    const b1 = L.batchNormalization().apply(c1) as tfl.SymbolicTensor;
    const c2 = L.conv2d({ filters: 4, kernelSize: 1 }).apply(b1) as tfl.SymbolicTensor;
    const add = L.add().apply([c1, c2]) as tfl.SymbolicTensor;
    const leaky = L.leakyReLU({ alpha: 0.1 }).apply(add) as tfl.SymbolicTensor;
    const cat = L.concatenate().apply([leaky, c2]) as tfl.SymbolicTensor; // [8, 8, 8]
    const catW = L.concatenate({ axis: 2 }).apply([cat, cat]) as tfl.SymbolicTensor; // [8, 16, 8]
    const relu = L.reLU({ maxValue: 0.4 }).apply(catW) as tfl.SymbolicTensor;
    const prelu = L.prelu({ sharedAxes: [1] }).apply(relu) as tfl.SymbolicTensor;
    const elu = L.elu().apply(prelu) as tfl.SymbolicTensor;
    const thr = L.thresholdedReLU({ theta: 0.05 }).apply(elu) as tfl.SymbolicTensor;
    const mul = L.multiply().apply([thr, elu]) as tfl.SymbolicTensor;
    const avg = L.average().apply([mul, thr, relu]) as tfl.SymbolicTensor;
    const mx = L.maximum().apply([avg, elu]) as tfl.SymbolicTensor;
    const mn = L.minimum().apply([mx, prelu]) as tfl.SymbolicTensor;
    const inner = tfl.sequential({
      layers: [L.conv2d({ inputShape: [8, 16, 8], filters: 3, kernelSize: 3, strides: [2, 3], activation: 'selu' }), L.globalMaxPooling2d({})],
    });
    const g1 = inner.apply(mn) as tfl.SymbolicTensor;
    const g2 = L.globalAveragePooling2d({}).apply(mn) as tfl.SymbolicTensor;
    const both = L.concatenate().apply([g1, g2]) as tfl.SymbolicTensor;
    const logits = L.dense({ units: 5 }).apply(both) as tfl.SymbolicTensor;
    const probs = L.activation({ activation: 'softmax' }).apply(logits) as tfl.SymbolicTensor;
    const m = keep(tfl.model({ inputs: inp, outputs: probs }), 202);
    const d = await check('functional-dag', m, [4, 8, 8, 2], { lo: -1, hi: 1 });
    expect(d.warnings.join('\n')).toMatch(/is a softmax/);
  });

  it('every activation (parallel branches, on NCHW and on flat values), Dense on rank 3 (MatMul), Reshape, Permute, Rescaling', async () => {
    const L = tfl.layers;
    const acts = [
      'relu',
      'relu6',
      'elu',
      'selu',
      'sigmoid',
      'hardSigmoid',
      'softplus',
      'softsign',
      'tanh',
      'swish',
      'mish',
      'gelu',
      'gelu_new',
      'softmax',
      'logSoftmax',
      'linear',
    ] as const;
    const inp = tfl.input({ shape: [6, 6, 2] });
    const scaled = L.rescaling({ scale: 2, offset: -1 }).apply(inp) as tfl.SymbolicTensor;
    const conv = L.conv2d({ filters: 3, kernelSize: 3 }).apply(scaled) as tfl.SymbolicTensor; // [4, 4, 3], NCHW inside
    const mapped = acts.map((a) => L.activation({ activation: a } as Parameters<typeof L.activation>[0]).apply(conv) as tfl.SymbolicTensor);
    const cat = L.concatenate().apply(mapped) as tfl.SymbolicTensor; // [4, 4, 48]
    const seq = L.reshape({ targetShape: [16, 48] }).apply(cat) as tfl.SymbolicTensor;
    const perm = L.permute({ dims: [2, 1] }).apply(seq) as tfl.SymbolicTensor; // [48, 16]
    const d3 = L.dense({ units: 4, activation: 'hardSigmoid' }).apply(perm) as tfl.SymbolicTensor; // rank 3: MatMul + Add
    const flat = L.flatten().apply(d3) as tfl.SymbolicTensor;
    const dense = acts.map((a) => L.dense({ units: 3, activation: a } as Parameters<typeof L.dense>[0]).apply(flat) as tfl.SymbolicTensor);
    const all = L.concatenate().apply(dense) as tfl.SymbolicTensor;
    const out = L.dense({ units: 3 }).apply(all) as tfl.SymbolicTensor;
    const m = keep(tfl.model({ inputs: inp, outputs: out }), 303);
    const d = await check('activations', m, [5, 6, 6, 2]);
    expect(d.warnings).toEqual([]);
  });

  it('bilinear UpSampling2D, BatchNormalization and an activation on NHWC values, a batch of one', async () => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({
        layers: [
          L.batchNormalization({ inputShape: [3, 4, 2] }), // on the NHWC input: per-channel parameters of shape [C]
          L.activation({ activation: 'softplus' }),
          L.upSampling2d({ size: [3, 2], interpolation: 'bilinear' }),
          L.conv2d({ filters: 3, kernelSize: 2 }),
          L.globalAveragePooling2d({}),
          L.dense({ units: 3 }),
        ],
      }),
      404,
    );
    await check('bilinear', m, [1, 3, 4, 2]);
  });

  it.each([13, 21])('opset %i', async (opset) => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({
        layers: [
          L.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 2, activation: 'relu6' }),
          L.zeroPadding2d({ padding: 1 }),
          L.cropping2D({ cropping: 1 }),
          L.upSampling2d({}),
          L.flatten(),
          L.dense({ units: 3 }),
        ],
      }),
      505,
    );
    await check(`opset-${opset}`, m, [2, 5, 5, 1], { opset });
  });

  it.each([17, 18])('LayerNormalization on channels (NCHW), on [H, W, C] and on flat values, opset %i', async (opset) => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({
        layers: [
          L.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 2 }),
          L.layerNormalization({ epsilon: 0.01 }),
          L.activation({ activation: 'relu' }),
          L.layerNormalization({ axis: [-1, 1, 2] }),
          L.conv2d({ filters: 2, kernelSize: 2, strides: 2 }),
          L.flatten(),
          L.dense({ units: 6 }),
          L.layerNormalization({ center: false }),
          L.dense({ units: 3 }),
        ],
      }),
      1001,
    );
    await check(`layernorm-opset-${opset}`, m, [4, 5, 5, 2], { opset, lo: -1, hi: 1 });
  });

  it('conv/depthwise/separable/pool geometries (fast-check: sizes, kernels, strides, dilations, valid/same)', async () => {
    const L = tfl.layers;
    const RUNS = 40;
    let worst = 0;
    const wasm = tf.getBackend() === 'wasm';
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          kind: fc.constantFrom('conv', 'depthwise', 'separable', 'max', 'avg'),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
          s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          dilated: fc.boolean(),
          same: fc.boolean(),
        }),
        async ({ kind, h, w, k, s, dilated, same }) => {
          const pool = kind === 'max' || kind === 'avg';
          // tfjs allows dilation only with unit strides, and no dilation in pools.
          const d: [number, number] = dilated && !pool ? [2, 2] : [1, 1];
          const strides: [number, number] = d[0] > 1 ? [1, 1] : s;
          const padding: 'same' | 'valid' = same ? 'same' : 'valid';
          // A window larger than the image: invalid for 'valid'; for 'same' convolutions tfjs itself fails
          // (tfjs-cpu returns an empty output for a [2, 1] image and a [4, 3] kernel, tfjs-wasm reads out of bounds).
          if ((!same || !pool) && ((k[0] - 1) * d[0] + 1 > h || (k[1] - 1) * d[1] + 1 > w)) return;
          // tfjs-wasm (XNNPACK) pads 'same' convolutions wrongly when a stride exceeds the kernel (conv2d of a
          // [1, 1, 3, C] image, kernel [1, 2], strides [1, 3] gives 0 where tfjs-cpu and TF give x[0..1]).
          if (wasm && same && !pool && (strides[0] > k[0] || strides[1] > k[1])) return;
          const common = { inputShape: [h, w, 2], kernelSize: k, strides, padding, dilationRate: d };
          const layer =
            kind === 'conv'
              ? L.conv2d({ ...common, filters: 3 })
              : kind === 'depthwise'
                ? L.depthwiseConv2d({ ...common, depthMultiplier: 2 })
                : kind === 'separable'
                  ? L.separableConv2d({ ...common, filters: 3, depthMultiplier: 2 })
                  : (kind === 'max' ? L.maxPooling2d : L.averagePooling2d)({ inputShape: [h, w, 2], poolSize: k, strides, padding });
          const m = keep(tfl.sequential({ layers: [layer, L.flatten()] }), 1100 + h * 10 + w);
          const r = await check(`${kind} ${h}x${w} k${k} s${strides} d${d} ${padding}`, m, [2, h, w, 2], { lo: -1, hi: 1, quiet: true });
          worst = Math.max(worst, r.importer.rel, r.ort?.rel ?? 0);
        },
      ),
      { numRuns: RUNS, seed: 20261126 },
    );
    report.push(`geometries (${RUNS} fast-check runs): worst rel ${worst.toExponential(2)}`);
  });

  it('DepthwiseConv2D: dilationRate is ignored, as tfjs-layers ignores it, with a warning', async () => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({ layers: [L.depthwiseConv2d({ inputShape: [5, 5, 2], kernelSize: 3, dilationRate: 2, padding: 'same' }), L.flatten()] }),
      1200,
    );
    const d = await check('depthwise-dilation', m, [2, 5, 5, 2], { lo: -1, hi: 1 });
    expect(d.warnings.join('\n')).toMatch(/DepthwiseConv2D '.*': dilationRate \[2, 2\] is ignored/);
  });

  it('exports a flat (non-image) MLP', async () => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({ layers: [L.dense({ inputShape: [7], units: 5, activation: 'relu' }), L.batchNormalization(), L.prelu(), L.dense({ units: 2 })] }),
      606,
    );
    await check('mlp', m, [4, 7]);
  });

  it('a layer and a nested model applied twice: weights stored once, values equal', async () => {
    const L = tfl.layers;
    const inp = tfl.input({ shape: [6, 6, 1] });
    const conv = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' });
    const block = tfl.sequential({ layers: [L.depthwiseConv2d({ inputShape: [6, 6, 2], kernelSize: 3, padding: 'same' }), L.batchNormalization()] });
    const a = conv.apply(inp) as tfl.SymbolicTensor;
    const b = conv.apply(L.multiply().apply([inp, inp]) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    const a2 = block.apply(a) as tfl.SymbolicTensor;
    const b2 = block.apply(b) as tfl.SymbolicTensor;
    const sum = L.add().apply([a2, b2]) as tfl.SymbolicTensor;
    const out = L.dense({ units: 3, activation: 'softmax' }).apply(L.flatten().apply(sum)) as tfl.SymbolicTensor;
    const m = keep(tfl.model({ inputs: inp, outputs: out }), 909);
    const d = await check('shared', m, [3, 6, 6, 1]);
    expect(d.warnings.join('\n')).toMatch(/softmax activation/);
    const inits = decodeModel(exportLayersModel(m).bytes, 'export').graph.initializers;
    const names = [...inits.keys()];
    expect(names.filter((n) => n.includes('kernel')).length).toBe(3); // conv, depthwise, dense
    expect(names.filter((n) => n.endsWith('/scale')).length).toBe(1);
  });

  it('throws UnsupportedError naming the class and name of an unsupported layer', () => {
    const L = tfl.layers;
    const m = keep(
      tfl.sequential({ layers: [L.conv1d({ inputShape: [6, 2], filters: 2, kernelSize: 2, name: 'my_conv1d' }), L.flatten(), L.dense({ units: 2 })] }),
      707,
    );
    expectThrows(() => exportLayersModel(m), UnsupportedError, /Conv1D 'my_conv1d'/, /got Conv1D/);
    const inp = tfl.input({ shape: [4, 4, 1] });
    const up = L.conv2dTranspose({ filters: 2, kernelSize: 2, name: 'deconv' }).apply(inp) as tfl.SymbolicTensor;
    const fn = keep(tfl.model({ inputs: inp, outputs: L.dense({ units: 2 }).apply(L.flatten().apply(up)) as tfl.SymbolicTensor }), 708);
    expectThrows(() => exportLayersModel(fn), UnsupportedError, /Conv2DTranspose 'deconv'/);
  });

  it('rejects an invalid opset, several inputs and channels-first layers', () => {
    const L = tfl.layers;
    const m = keep(tfl.sequential({ layers: [L.dense({ inputShape: [3], units: 2 })] }), 808);
    expectThrows(() => exportLayersModel(m, { opset: 11 }), ConfigError, /opset from 13 to 22/);
    const a = tfl.input({ shape: [3] });
    const b = tfl.input({ shape: [3] });
    const two = keep(tfl.model({ inputs: [a, b], outputs: L.add().apply([a, b]) as tfl.SymbolicTensor }), 809);
    expectThrows(() => exportLayersModel(two), ConfigError, /one input, got 2/);
    const cf = keep(
      tfl.sequential({
        layers: [L.conv2d({ inputShape: [2, 5, 5], filters: 2, kernelSize: 2, dataFormat: 'channelsFirst' }), L.flatten(), L.dense({ units: 2 })],
      }),
      810,
    );
    expectThrows(() => exportLayersModel(cf), UnsupportedError, /channelsLast/);
  });

  it('creates no tensors and leaves the model unchanged', async () => {
    const net = await bundled();
    const before = tf.memory().numTensors;
    const w = net.getWeights().map((t) => t.dataSync().slice());
    exportLayersModel(net);
    exportLayersModel(net, { opset: 13, name: 'again' });
    expect(tf.memory().numTensors).toBe(before);
    net.getWeights().forEach((t, i) => expect(t.dataSync()).toEqual(w[i]));
  });

  it('lists its layers', () => {
    expect(listExportableLayers()).toEqual(
      expect.arrayContaining(['Conv2D', 'DepthwiseConv2D', 'Dense', 'BatchNormalization', 'Add', 'Concatenate', 'Dropout']),
    );
  });
});
