// `npx tsx bench/gradients.ts`: gradient kernels of the bundled MNIST CNN's layers, tfjs's own gradient against
// robustest's override (src/gradients), per backend, at batch 100; then the whole model's
// forward+input-gradient time over its forward time, with the overrides off and on.
//
// Per kernel it times the gradient function alone (the registered gradFunc called on saved tensors, all its
// thunks evaluated), median of --repeats runs after one warm-up (only the warm-up when it took over 2 s), next to the
// forward kernel's time.
//
// Usage: npx tsx bench/gradients.ts [--backends wasm,cpu] [--repeats 7] [--batch 100] [--only conv1,dense] [--json FILE]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { crossEntropy } from '../src/losses.js';
import { packageRoot } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { disableFastGradients, enableFastGradients } from '../src/gradients/index.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    repeats: { type: 'string', default: '7' },
    batch: { type: 'string', default: '100' },
    only: { type: 'string' },
    model: { type: 'boolean', default: true },
    json: { type: 'string' },
  },
});
const repeats = Number(values.repeats);
const batch = Number(values.batch);
const only = values.only?.split(',');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

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
      return { forward: () => tf.conv2d(x, w, 1, 'valid'), saved: [x, w], dy, attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] }, needs };
    },
  });
  const pool = (name: string, kernel: 'MaxPool' | 'AvgPool', xs: number[]): Case => ({
    name,
    kernel,
    make: () => {
      const x = rnd(xs, 4) as tf.Tensor4D;
      const fwd = (): tf.Tensor => (kernel === 'MaxPool' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid'));
      const y = fwd();
      const dy = rnd(y.shape, 5);
      const saved = kernel === 'MaxPool' ? [x, y] : [x];
      if (kernel === 'AvgPool') y.dispose();
      return { forward: fwd, saved, dy, attrs: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' }, needs: ['x'] };
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
    pool('maxpool1 26x26x16→13x13x16', 'MaxPool', [n, 26, 26, 16]),
    pool('maxpool2 11x11x32→5x5x32', 'MaxPool', [n, 11, 11, 32]),
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
        return { forward: () => tf.depthwiseConv2d(x, w, 1, 'same'), saved: [x, w], dy: rnd([n, 26, 26, 16], 13), attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1] }, needs: ['x'] };
      },
    },
    {
      name: 'depthwise 26x26x16 3x3 w-grad',
      kernel: 'DepthwiseConv2dNative',
      make: () => {
        const x = rnd([n, 26, 26, 16], 11) as tf.Tensor4D;
        const w = rnd([3, 3, 16, 1], 12) as tf.Tensor4D;
        return { forward: () => tf.depthwiseConv2d(x, w, 1, 'same'), saved: [x, w], dy: rnd([n, 26, 26, 16], 13), attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1] }, needs: ['filter'] };
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
  forwardMs: number;
  gradOffMs: number;
  gradOnMs: number;
  ratioOff: number;
  ratioOn: number;
  /** Max |Δ| / max |reference| of the input gradient with overrides, against tfjs's own on the cpu backend. */
  maxRelErr: number;
  /** The same for tfjs's own gradient on this backend. */
  offRelErr: number;
}

async function benchModel(): Promise<ModelRow> {
  const root = packageRoot() ?? process.cwd();
  const model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
  const data = await loadIdx(
    join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
    join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    { inputShape: model.inputShape },
  );
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(data.images.subarray(0, batch * per), [batch, ...model.inputShape]);
  const labels = tf.tensor1d(Array.from(data.labels.subarray(0, batch)), 'int32');
  const loss = crossEntropy(labels, model.numClasses);
  const step = async (): Promise<tf.Tensor> => {
    const { value, grad } = await model.valueAndGrad(x, loss);
    value.dispose();
    return grad;
  };
  const timeAsync = async (fn: () => Promise<tf.Tensor>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t = performance.now();
      const g = await fn();
      await g.data();
      if (i > 0) times.push(performance.now() - t);
      g.dispose();
    }
    return median(times);
  };
  const forwardMs = await timeAsync(async () => model.logits(x));
  disableFastGradients();
  const gradOffMs = await timeAsync(step);
  const off = await step();
  enableFastGradients();
  const gradOnMs = await timeAsync(step);
  const on = await step();
  disableFastGradients();
  // The reference is tfjs's own gradient on the cpu backend (tfjs-wasm's own is wrong: its MaxPoolGrad misroutes
  // 2×2 windows, so on wasm "off" is not a reference).
  const onData = await on.data();
  const offData = await off.data();
  const backend = tf.getBackend();
  if (backend !== 'cpu') await tf.setBackend('cpu');
  const refT = await step();
  const ref = await refT.data();
  refT.dispose();
  if (backend !== 'cpu') await tf.setBackend(backend);
  const err = (a: ArrayLike<number>): number => {
    let d = 0;
    let m = 0;
    for (let i = 0; i < ref.length; i++) {
      d = Math.max(d, Math.abs(a[i]! - ref[i]!));
      m = Math.max(m, Math.abs(ref[i]!));
    }
    return d / m;
  };
  const maxRelErr = err(onData);
  const offRelErr = err(offData);
  tf.dispose([on, off, x, labels]);
  model.dispose();
  const row = { backend, forwardMs, gradOffMs, gradOnMs, ratioOff: gradOffMs / forwardMs, ratioOn: gradOnMs / forwardMs, maxRelErr, offRelErr };
  process.stdout.write(
    `${row.backend.padEnd(5)} model batch ${batch}: forward ${forwardMs.toFixed(1)} ms; forward+input-gradient ${gradOffMs.toFixed(1)} ms (${row.ratioOff.toFixed(1)}x) → ` +
      `${gradOnMs.toFixed(1)} ms (${row.ratioOn.toFixed(1)}x) with overrides; max |grad − tfjs-cpu's| / max |tfjs-cpu's|: overrides ${maxRelErr.toExponential(2)}, tfjs's own ${offRelErr.toExponential(2)}\n`,
  );
  return row;
}

const out: { kernels: KernelRow[]; models: ModelRow[] } = { kernels: [], models: [] };
for (const b of values.backends.split(',')) {
  try {
    await initBackend(b as BackendName);
  } catch (e) {
    process.stderr.write(`skip ${b}: ${(e as Error).message}\n`);
    continue;
  }
  out.kernels.push(...(await benchKernels()));
  if (values.model) out.models.push(await benchModel());
}
if (values.json) await writeFile(values.json, JSON.stringify(out, null, 2));
