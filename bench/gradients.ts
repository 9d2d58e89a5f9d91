// `npx tsx bench/gradients.ts`: gradient kernels of the bundled MNIST CNN's layers, tfjs's own gradient against
// robustest's override (src/gradients), per backend, at batch 100; then the whole model's
// forward+input-gradient time over its forward time, with the overrides off and on.
//
// Per kernel it times the gradient function alone (the registered gradFunc called on saved tensors, all its
// thunks evaluated), median of --repeats runs after one warm-up (only the warm-up when it took over 2 s), next to the
// forward kernel's time. Model times: medians of --repeats interleaved rounds (forward; step with overrides off;
// step with overrides on) after one warm-up round.
//
// Then the same ratio for each shared ONNX model in --onnx DIR (default /work/shared/models/onnx when present;
// loaded by the ONNX importer, inputs tiled from NAME.input.npy to the batch), and with --profile the kernels that
// take the most time in one forward+input-gradient step of each model (tf.profile, mean of 3 steps).
//
// Usage: npx tsx bench/gradients.ts [--backends wasm,cpu] [--repeats 7] [--batch 100] [--only conv1,dense]
//          [--no-kernels] [--no-model] [--onnx DIR|none] [--models a,b] [--profile 15] [--json FILE]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './util.js';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { crossEntropy } from '../src/losses.js';
import { packageRoot } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { disableFastGradients, enableFastGradients } from '../src/gradients/index.js';
import { loadOnnxModel } from '../src/onnx/index.js';
import { decodeNpy } from '../src/data/npy.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    repeats: { type: 'string', default: '7' },
    batch: { type: 'string', default: '100' },
    only: { type: 'string' },
    model: { type: 'boolean', default: true },
    kernels: { type: 'boolean', default: true },
    onnx: { type: 'string' },
    models: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'string' },
  },
});
const repeats = Number(values.repeats);
const batch = Number(values.batch);
const only = values.only?.split(',');

async function timeIt(fn: () => tf.Tensor[], n = repeats): Promise<number> {
  // cpu and wasm run kernels synchronously, so the time of the call is the compute time; the results are read
  // back afterwards (untimed) so that nothing is left pending.
  const run = async (): Promise<number> => {
    const t = performance.now();
    const outs = fn();
    const ms = performance.now() - t;
    for (const o of outs) await o.data();
    tf.dispose(outs);
    return ms;
  };
  const first = await run();
  // Very slow cases (tfjs-cpu's Conv2DBackpropFilter takes a minute here): one run is enough.
  if (first > 2000) return first;
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await run());
  return median(times);
}

interface Case {
  name: string;
  kernel: string;
  /** Inputs in the kernel's input order, the attrs, and what the gradient function saves. */
  make: () => { forward: () => tf.Tensor; saved: tf.Tensor[]; dy: tf.Tensor; attrs: tf.NamedAttrMap; needs: string[] };
}

const rnd = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

function cases(n: number): Case[] {
  const conv = (name: string, xs: number[], ws: number[], needs: string[]): Case => ({
    name,
    kernel: 'Conv2D',
    make: () => {
      const x = rnd(xs, 1) as tf.Tensor4D;
      const w = tf.mul(rnd(ws, 2), 0.1) as tf.Tensor4D;
      const y = tf.conv2d(x, w, 1, 'valid');
      const dy = rnd(y.shape, 3);
      y.dispose();
      return {
        forward: () => tf.conv2d(x, w, 1, 'valid'),
        saved: [x, w],
        dy,
        attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
        needs,
      };
    },
  });
  // A strided convolution with ONNX-style symmetric padding p (ResNet/MobileNet downsampling layers).
  const strided = (name: string, xs: number[], ws: number[], p: number): Case => ({
    name,
    kernel: 'Conv2D',
    make: () => {
      const x = rnd(xs, 1) as tf.Tensor4D;
      const w = tf.mul(rnd(ws, 2), 0.1) as tf.Tensor4D;
      const pad: tf.backend_util.ExplicitPadding = [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ];
      const y = tf.conv2d(x, w, 2, pad);
      const dy = rnd(y.shape, 3);
      y.dispose();
      return {
        forward: () => tf.conv2d(x, w, 2, pad),
        saved: [x, w],
        dy,
        attrs: { strides: [2, 2], pad, dataFormat: 'NHWC', dilations: [1, 1] },
        needs: ['x'],
      };
    },
  });
  const pool = (name: string, kernel: 'MaxPool' | 'AvgPool', xs: number[], window = 2): Case => ({
    name,
    kernel,
    make: () => {
      const x = rnd(xs, 4) as tf.Tensor4D;
      const pad = window === 2 ? 'valid' : 'same';
      const fwd = (): tf.Tensor => (kernel === 'MaxPool' ? tf.maxPool(x, window, 2, pad) : tf.avgPool(x, window, 2, pad));
      const y = fwd();
      const dy = rnd(y.shape, 5);
      const saved = kernel === 'MaxPool' ? [x, y] : [x];
      if (kernel === 'AvgPool') y.dispose();
      return { forward: fwd, saved, dy, attrs: { filterSize: [window, window], strides: [2, 2], pad }, needs: ['x'] };
    },
  });
  const unary = (name: string, kernel: string, xs: number[], f: (x: tf.Tensor) => tf.Tensor, saveOutput = false, attrs: tf.NamedAttrMap = {}): Case => ({
    name,
    kernel,
    make: () => {
      const x = rnd(xs, 6);
      const y = f(x);
      const dy = rnd(xs, 7);
      if (!saveOutput) y.dispose();
      return { forward: () => f(x), saved: saveOutput ? [y] : [x], dy, attrs, needs: ['x'] };
    },
  });
  return [
    conv('conv1 x-grad 28x28x1→26x26x16', [n, 28, 28, 1], [3, 3, 1, 16], ['x']),
    conv('conv1 w-grad', [n, 28, 28, 1], [3, 3, 1, 16], ['filter']),
    conv('conv2 x-grad 13x13x16→11x11x32', [n, 13, 13, 16], [3, 3, 16, 32], ['x']),
    conv('conv2 w-grad', [n, 13, 13, 16], [3, 3, 16, 32], ['filter']),
    strided('conv 3x3/2 x-grad 32x32x16→16x16x32', [n, 32, 32, 16], [3, 3, 16, 32], 1),
    strided('conv 1x1/2 x-grad 32x32x16→16x16x32', [n, 32, 32, 16], [1, 1, 16, 32], 0),
    strided('conv 3x3/2 x-grad 32x32x3→16x16x16', [n, 32, 32, 3], [3, 3, 3, 16], 1),
    pool('maxpool1 26x26x16→13x13x16', 'MaxPool', [n, 26, 26, 16]),
    pool('maxpool2 11x11x32→5x5x32', 'MaxPool', [n, 11, 11, 32]),
    pool('maxpool 3x3/2 same 26x26x16→13x13x16', 'MaxPool', [n, 26, 26, 16], 3),
    pool('avgpool 26x26x16→13x13x16', 'AvgPool', [n, 26, 26, 16]),
    {
      name: 'dense 800→32 x-grad',
      kernel: 'BatchMatMul',
      make: () => {
        const a = rnd([n, 800], 8);
        const b = tf.mul(rnd([800, 32], 9), 0.05);
        return { forward: () => tf.matMul(a, b), saved: [a, b], dy: rnd([n, 32], 10), attrs: { transposeA: false, transposeB: false }, needs: ['a'] };
      },
    },
    {
      name: 'dense 800→32 w-grad',
      kernel: 'BatchMatMul',
      make: () => {
        const a = rnd([n, 800], 8);
        const b = tf.mul(rnd([800, 32], 9), 0.05);
        return { forward: () => tf.matMul(a, b), saved: [a, b], dy: rnd([n, 32], 10), attrs: { transposeA: false, transposeB: false }, needs: ['b'] };
      },
    },
    {
      name: 'depthwise 26x26x16 3x3 x-grad',
      kernel: 'DepthwiseConv2dNative',
      make: () => {
        const x = rnd([n, 26, 26, 16], 11) as tf.Tensor4D;
        const w = rnd([3, 3, 16, 1], 12) as tf.Tensor4D;
        return {
          forward: () => tf.depthwiseConv2d(x, w, 1, 'same'),
          saved: [x, w],
          dy: rnd([n, 26, 26, 16], 13),
          attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1] },
          needs: ['x'],
        };
      },
    },
    {
      name: 'depthwise 26x26x16 3x3 w-grad',
      kernel: 'DepthwiseConv2dNative',
      make: () => {
        const x = rnd([n, 26, 26, 16], 11) as tf.Tensor4D;
        const w = rnd([3, 3, 16, 1], 12) as tf.Tensor4D;
        return {
          forward: () => tf.depthwiseConv2d(x, w, 1, 'same'),
          saved: [x, w],
          dy: rnd([n, 26, 26, 16], 13),
          attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1] },
          needs: ['filter'],
        };
      },
    },
    unary('relu 26x26x16', 'Relu', [n, 26, 26, 16], (x) => tf.relu(x)),
    unary('relu6 26x26x16', 'Relu6', [n, 26, 26, 16], (x) => tf.relu6(x)),
    unary('leakyRelu 26x26x16', 'LeakyRelu', [n, 26, 26, 16], (x) => tf.leakyRelu(x, 0.2), false, { alpha: 0.2 }),
    unary('elu 26x26x16', 'Elu', [n, 26, 26, 16], (x) => tf.elu(x), true),
  ];
}

interface KernelRow {
  backend: string;
  name: string;
  forwardMs: number;
  tfjsMs: number | null;
  overrideMs: number;
  error?: string;
}

async function gradTime(c: ReturnType<Case['make']>, kernel: string): Promise<number> {
  const cfg = tf.getGradient(kernel);
  if (!cfg) throw new Error(`no gradient for ${kernel}`);
  return timeIt(() => {
    const map = cfg.gradFunc(c.dy, c.saved, c.attrs);
    return c.needs.map((k) => map[k]!());
  });
}

async function benchKernels(): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  for (const kc of cases(batch)) {
    if (only && !only.some((o) => kc.name.startsWith(o))) continue;
    const c = kc.make();
    const forwardMs = await timeIt(() => [c.forward()]);
    disableFastGradients();
    let tfjsMs: number | null = null;
    let error: string | undefined;
    try {
      tfjsMs = await gradTime(c, kc.kernel);
    } catch (e) {
      error = (e as Error).message.split('\n')[0]!.slice(0, 80);
    }
    enableFastGradients({ policy: 'all' });
    const overrideMs = await gradTime(c, kc.kernel);
    disableFastGradients();
    tf.dispose([...c.saved, c.dy]);
    const row: KernelRow = { backend: tf.getBackend(), name: kc.name, forwardMs, tfjsMs, overrideMs, ...(error ? { error } : {}) };
    rows.push(row);
    const f = (v: number | null): string => (v === null ? 'fails' : v.toFixed(1)).padStart(8);
    process.stdout.write(
      `${row.backend.padEnd(5)} ${kc.name.padEnd(32)} fwd ${f(forwardMs)}  tfjs ${f(tfjsMs)}  override ${f(overrideMs)}  ` +
        `${tfjsMs === null ? '' : `speed-up ${(tfjsMs / overrideMs).toFixed(1)}x`}${error ? `  (${error})` : ''}\n`,
    );
  }
  return rows;
}

interface ModelRow {
  backend: string;
  model: string;
  forwardMs: number;
  gradOffMs: number;
  gradOnMs: number;
  ratioOff: number;
  ratioOn: number;
  /**
   * Max |Δ| / max |reference| of the input gradient with overrides, against the reference: tfjs's own on the cpu
   * backend for the bundled model, PyTorch's (NAME.grad.npy, the first samples of the batch) for ONNX models.
   */
  maxRelErr: number;
  /** The same for the gradient with the overrides off on this backend. */
  offRelErr: number;
  /** With --profile: the kernels of one forward+input-gradient step (overrides on), most time first. */
  profile?: { kernel: string; ms: number }[];
}

function relErrTo(ref: ArrayLike<number>): (a: ArrayLike<number>) => number {
  return (a) => {
    let d = 0;
    let m = 0;
    for (let i = 0; i < ref.length; i++) {
      d = Math.max(d, Math.abs(a[i]! - ref[i]!));
      m = Math.max(m, Math.abs(ref[i]!));
    }
    return d / m;
  };
}

/** Kernel name and input shapes → mean ms over 3 profiled steps, most first. */
async function profileStep(step: () => Promise<tf.Tensor>, top: number): Promise<{ kernel: string; ms: number }[]> {
  const acc = new Map<string, number>();
  for (let r = 0; r < 3; r++) {
    const info = await tf.profile(async () => {
      const g = await step();
      await g.data();
      g.dispose();
      return [] as unknown as tf.Tensor;
    });
    for (const k of info.kernels) {
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      acc.set(key, (acc.get(key) ?? 0) + (k.kernelTimeMs as number) / 3);
    }
  }
  return [...acc.entries()]
    .map(([kernel, ms]) => ({ kernel, ms }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}

/**
 * Forward (`logits`) and forward+input-gradient (`valueAndGrad` of the summed cross-entropy) times of one model,
 * overrides off and on; `reference(step)` gives the reference gradient (may switch backends and back).
 */
async function benchOneModel(
  name: string,
  model: DifferentiableModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  reference: (step: () => Promise<tf.Tensor>) => Promise<ArrayLike<number>>,
): Promise<ModelRow> {
  const loss = crossEntropy(labels, model.numClasses);
  const step = async (): Promise<tf.Tensor> => {
    const { value, grad } = await model.valueAndGrad(x, loss);
    value.dispose();
    return grad;
  };
  // Interleaved (forward, off, on) rounds, so that a change in the machine's load shifts all three alike.
  const timeOnce = async (fn: () => Promise<tf.Tensor>): Promise<number> => {
    const t = performance.now();
    const g = await fn();
    await g.data();
    const ms = performance.now() - t;
    g.dispose();
    return ms;
  };
  const times: [number[], number[], number[]] = [[], [], []];
  for (let i = 0; i <= repeats; i++) {
    const f = await timeOnce(async () => model.logits(x));
    disableFastGradients();
    const a = await timeOnce(step);
    enableFastGradients();
    const b = await timeOnce(step);
    if (i > 0) [f, a, b].forEach((t, k) => times[k]!.push(t));
  }
  const [forwardMs, gradOffMs, gradOnMs] = times.map(median) as [number, number, number];
  disableFastGradients();
  const off = await step();
  enableFastGradients();
  const on = await step();
  const prof = values.profile !== undefined ? await profileStep(step, Number(values.profile) || 15) : undefined;
  disableFastGradients();
  const onData = await on.data();
  const offData = await off.data();
  tf.dispose([on, off]);
  const err = relErrTo(await reference(step));
  const backend = tf.getBackend();
  const row: ModelRow = {
    backend,
    model: name,
    forwardMs,
    gradOffMs,
    gradOnMs,
    ratioOff: gradOffMs / forwardMs,
    ratioOn: gradOnMs / forwardMs,
    maxRelErr: err(onData),
    offRelErr: err(offData),
    ...(prof ? { profile: prof } : {}),
  };
  process.stdout.write(
    `${backend.padEnd(5)} ${name} batch ${batch}: forward ${forwardMs.toFixed(1)} ms; forward+input-gradient ${gradOffMs.toFixed(1)} ms (${row.ratioOff.toFixed(2)}x) → ` +
      `${gradOnMs.toFixed(1)} ms (${row.ratioOn.toFixed(2)}x) with overrides; max |grad − ref| / max |ref|: overrides ${row.maxRelErr.toExponential(2)}, off ${row.offRelErr.toExponential(2)}\n`,
  );
  for (const p of prof ?? []) process.stdout.write(`        ${p.ms.toFixed(2).padStart(8)} ms  ${p.kernel}\n`);
  return row;
}

async function benchModel(): Promise<ModelRow> {
  const root = packageRoot() ?? process.cwd();
  // engine 'tfjs': the tfjs gradient (loadModel's default engine may be onnxruntime-node).
  const model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'), { engine: 'tfjs' })) as DifferentiableModel;
  const data = await loadIdx(
    join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
    join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    { inputShape: model.inputShape },
  );
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(data.images.subarray(0, batch * per), [batch, ...model.inputShape]);
  const labels = tf.tensor1d(Array.from(data.labels.subarray(0, batch)), 'int32');
  // The reference is tfjs's own gradient on the cpu backend (tfjs-wasm's own MaxPoolGrad misroutes 2×2 windows,
  // so on wasm "off" is not a reference).
  const row = await benchOneModel('mnist-cnn (bundled)', model, x, labels, async (step) => {
    const backend = tf.getBackend();
    if (backend !== 'cpu') await tf.setBackend('cpu');
    const refT = await step();
    const ref = await refT.data();
    refT.dispose();
    if (backend !== 'cpu') await tf.setBackend(backend);
    return ref;
  });
  tf.dispose([x, labels]);
  model.dispose();
  return row;
}

const npy = async (path: string): Promise<{ data: ArrayLike<number | bigint>; shape: number[] }> => {
  const a = decodeNpy(new Uint8Array(await readFile(path)));
  return { data: a.data as ArrayLike<number | bigint>, shape: [...a.shape] };
};

async function benchOnnx(dir: string, name: string): Promise<ModelRow> {
  const model = await loadOnnxModel(join(dir, `${name}.onnx`));
  const inp = await npy(join(dir, `${name}.input.npy`));
  const lab = await npy(join(dir, `${name}.labels.npy`));
  const ref = await npy(join(dir, `${name}.grad.npy`));
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const n0 = inp.shape[0]!;
  const xs = new Float32Array(batch * per);
  for (let i = 0; i < batch; i++) for (let j = 0; j < per; j++) xs[i * per + j] = Number(inp.data[(i % n0) * per + j]);
  const x = tf.tensor(xs, [batch, ...model.inputShape]);
  const labels = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => Number(lab.data[i % n0])),
    'int32',
  );
  // The reference is PyTorch's gradient of the first n0 samples; compared on those (the batch's first n0).
  const refData = Float32Array.from(ref.data as ArrayLike<number>, Number);
  const row = await benchOneModel(name, model, x, labels, () => Promise.resolve(refData));
  tf.dispose([x, labels]);
  model.dispose();
  return row;
}

const onnxDir = values.onnx === 'none' ? undefined : (values.onnx ?? (existsSync('/work/shared/models/onnx') ? '/work/shared/models/onnx' : undefined));
const onnxModels =
  onnxDir === undefined ? [] : (values.models?.split(',') ?? ['mnist_cnn_trained', 'tiny_resnet_cifar', 'tiny_mobilenet_cifar', 'mlp_logsoftmax_mnist']);

const out: { date: string; kernels: KernelRow[]; models: ModelRow[] } = { date: new Date().toISOString(), kernels: [], models: [] };
for (const b of values.backends.split(',')) {
  try {
    await initBackend(b as BackendName);
  } catch (e) {
    process.stderr.write(`skip ${b}: ${(e as Error).message}\n`);
    continue;
  }
  if (values.kernels) out.kernels.push(...(await benchKernels()));
  if (values.model) out.models.push(await benchModel());
  for (const m of onnxModels) out.models.push(await benchOnnx(onnxDir!, m));
}
if (values.json) await writeFile(values.json, JSON.stringify(out, null, 2));
