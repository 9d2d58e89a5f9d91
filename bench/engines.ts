// Part of `npm run bench` (bench/bench.ts): what an input-gradient costs with each engine, and PGD-40 wall times,
// against the issue "Fast input-gradients" targets. Runs on wasm (the backend the targets are stated for).
//
// - Gradient cost: per model (the bundled MNIST CNN and the shared ONNX models), forward time and forward+input-
//   gradient time at batch 100 for: tfjs with tfjs's stock gradient kernels (what robustest did before the issue),
//   tfjs with robustest's gradient overrides, and the onnxruntime engine (generated forward/backward graphs). Each
//   engine's ratio is over its own forward (tfjs logits for the tfjs engines, an onnxruntime session for onnxruntime).
//   For the ONNX models "tfjs-stock" still has the importer's own conv/pool gradients (they predate this issue), so
//   the shared trained CNN is also rebuilt as a tfjs LayersModel with the same weights and run with tfjs's stock
//   kernels ("tfjs-layers-stock"): the pre-issue tfjs wasm path the issue measured (1,248 ms at batch 100).
// - PGD-40 (L∞, ε = 0.1, seed 0) on the first 200 images of the bundled MNIST sample in batches of 100, for the
//   bundled CNN and the shared trained MNIST CNN: stock gradients, overrides, the 2-worker pool (overrides), and
//   onnxruntime (and the LayersModel twin with stock kernels for the trained CNN). Speed-ups are against the
//   pre-issue time (the twin's where there is one), measured in the same run.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadAverages, timeIt } from './util.js';
import { dirname, join } from 'node:path';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend.js';
import { fromLayersModel, loadModel } from '../src/load.js';
import { loadData } from '../src/data/index.js';
import { crossEntropy } from '../src/losses.js';
import { isDifferentiable, type DifferentiableModel, type LossFn, type QueryModel } from '../src/model.js';
import { decodeModel, type HostTensor } from '../src/onnx/proto.js';
import { disableFastGradients, enableFastGradients } from '../src/gradients/index.js';
import { exportLayersModel, fromOnnxRuntime } from '../src/onnx/index.js';
import { parallelModel } from '../src/parallel/index.js';
import { pgd } from '../attacks/pgd.js';

type Engine = 'tfjs-stock' | 'tfjs-layers-stock' | 'tfjs' | 'onnxruntime';

interface GradRow {
  model: string;
  engine: Engine;
  batch: number;
  forwardMs: number;
  forwardGradMs: number;
  ratio: number;
}

interface PgdRow {
  model: string;
  variant: 'tfjs-stock' | 'tfjs-layers-stock' | 'tfjs' | 'tfjs-pool-2' | 'onnxruntime';
  ms: number;
  robustAccuracy: number;
  speedupVsStock?: number;
}

const load = loadAverages;

/**
 * The shared trained MNIST CNN (Conv32-Relu-Conv64-Relu-MaxPool-Flatten(NHWC)-Dense128-Relu-Dense10) rebuilt as a
 * tfjs LayersModel with the same weights: run with tfjs's stock gradient kernels it is "the tfjs wasm path before
 * the issue" (the 1,248 ms forward+gradient at batch 100), timed in the same run as the engines.
 */
async function trainedCnnAsLayers(path: string): Promise<DifferentiableModel> {
  const model = decodeModel(new Uint8Array(await readFile(path)));
  const w = (name: string): HostTensor => {
    const t = model.graph.initializers.get(name);
    if (!t) throw new Error(`${path}: expected initializer ${name}`);
    return t;
  };
  // ONNX Conv weight [M, C, kh, kw] → tfjs [kh, kw, C, M]; Gemm weight [out, in] (transB) → tfjs [in, out].
  const convKernel = (t: HostTensor): tf.Tensor => tf.tidy(() => tf.transpose(tf.tensor(Float32Array.from(t.data), [...t.shape]), [2, 3, 1, 0]));
  const denseKernel = (t: HostTensor): tf.Tensor => tf.tidy(() => tf.transpose(tf.tensor(Float32Array.from(t.data), [...t.shape])));
  const vec = (t: HostTensor): tf.Tensor => tf.tensor(Float32Array.from(t.data), [...t.shape]);
  const tfl = await import('@tensorflow/tfjs-layers');
  const net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: 'relu' }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  const weights = [
    convKernel(w('c1.weight')),
    vec(w('c1.bias')),
    convKernel(w('c2.weight')),
    vec(w('c2.bias')),
    denseKernel(w('f1.weight')),
    vec(w('f1.bias')),
    denseKernel(w('f2.weight')),
    vec(w('f2.bias')),
  ];
  net.setWeights(weights);
  tf.dispose(weights);
  // The ONNX model is NCHW [1, 28, 28]: with one channel that is the same memory as NHWC [28, 28, 1].
  const m = await fromLayersModel(net, { name: 'mnist_cnn_trained as a tfjs LayersModel', engine: 'tfjs' });
  return {
    ...m,
    kind: 'differentiable',
    inputShape: [1, 28, 28],
    layout: 'NCHW',
    logits: (x: tf.Tensor) => tf.tidy(() => m.logits(tf.reshape(x, [x.shape[0]!, 28, 28, 1]))),
    valueAndGrad: async (x: tf.Tensor, loss: LossFn) => {
      const xs = tf.reshape(x, [x.shape[0]!, 28, 28, 1]);
      const r = await m.valueAndGrad(xs, loss);
      xs.dispose();
      const grad = tf.reshape(r.grad, x.shape);
      r.grad.dispose();
      return { value: r.value, grad };
    },
    fingerprint: () => m.fingerprint(),
    dispose: () => {
      m.dispose();
      net.dispose();
    },
  };
}

/** The models: where they live and how to get an onnxruntime forward session for "own forward" times. */
async function models(root: string): Promise<{ name: string; path: string; onnxPath: string }[]> {
  const bundled = join(root, 'assets', 'mnist-cnn', 'model.json');
  // The bundled LayersModel exported to ONNX (as the onnxruntime engine does), for its onnxruntime forward time.
  const json = JSON.parse(await readFile(bundled, 'utf8')) as tf.io.ModelJSON;
  const manifest = json.weightsManifest ?? [];
  const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(join(dirname(bundled), p))));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  const tfl = await import('@tensorflow/tfjs-layers');
  const net = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: manifest.flatMap((g) => g.weights), weightData }));
  const exported = join(await mkdtemp(join(tmpdir(), 'robustest-bench-')), 'mnist-cnn.onnx');
  await writeFile(exported, exportLayersModel(net).bytes);
  net.dispose();
  const out = [{ name: 'mnist-cnn (bundled, tfjs)', path: bundled, onnxPath: exported }];
  const dir = join(root, '..', 'shared', 'models', 'onnx');
  if (existsSync(dir)) {
    for (const m of ['mnist_cnn_trained', 'tiny_resnet_cifar', 'tiny_mobilenet_cifar', 'mlp_logsoftmax_mnist']) {
      out.push({ name: m, path: join(dir, `${m}.onnx`), onnxPath: join(dir, `${m}.onnx`) });
    }
  } else {
    process.stderr.write(`skip shared ONNX models: ${dir} not found\n`);
  }
  return out;
}

async function gradientCost(spec: { name: string; path: string; onnxPath: string }, batch: number, repeats: number, baseline: boolean): Promise<GradRow[]> {
  const rows: GradRow[] = [];
  const tfjsModel = await loadModel(spec.path, { engine: 'tfjs' });
  const ortModel = await loadModel(spec.path, { engine: 'onnxruntime' });
  const ortForward: QueryModel = await fromOnnxRuntime(spec.onnxPath, { batchSize: batch });
  if (!isDifferentiable(tfjsModel) || !isDifferentiable(ortModel)) throw new Error(`${spec.name}: expected differentiable models`);
  const x = tf.tidy(() => tf.randomUniform([batch, ...tfjsModel.inputShape], 0, 1, 'float32', 1));
  const labels = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % tfjsModel.numClasses),
    'int32',
  );
  const loss = crossEntropy(labels, tfjsModel.numClasses);
  const grad = (m: DifferentiableModel) => async (): Promise<void> => {
    const r = await m.valueAndGrad(x, loss);
    await r.grad.data();
    tf.dispose([r.value, r.grad]);
  };
  const tfjsForwardMs = await timeIt(async () => {
    const l = tfjsModel.logits(x);
    await l.data();
    l.dispose();
  }, repeats * 3);
  if (baseline) {
    disableFastGradients();
    try {
      const ms = await timeIt(grad(tfjsModel), repeats);
      rows.push({ model: spec.name, engine: 'tfjs-stock', batch, forwardMs: tfjsForwardMs, forwardGradMs: ms, ratio: ms / tfjsForwardMs });
      if (spec.name === 'mnist_cnn_trained') {
        const twin = await trainedCnnAsLayers(spec.path);
        const fwd = await timeIt(async () => {
          const l = twin.logits(x);
          await l.data();
          l.dispose();
        }, repeats * 3);
        const gms = await timeIt(grad(twin), repeats);
        rows.push({ model: spec.name, engine: 'tfjs-layers-stock', batch, forwardMs: fwd, forwardGradMs: gms, ratio: gms / fwd });
        twin.dispose();
      }
    } finally {
      enableFastGradients();
    }
  }
  const fastMs = await timeIt(grad(tfjsModel), repeats * 3);
  rows.push({ model: spec.name, engine: 'tfjs', batch, forwardMs: tfjsForwardMs, forwardGradMs: fastMs, ratio: fastMs / tfjsForwardMs });
  const ortForwardMs = await timeIt(async () => {
    const l = await ortForward.logits(x);
    l.dispose();
  }, repeats * 3);
  const ortMs = await timeIt(grad(ortModel), repeats * 3);
  rows.push({ model: spec.name, engine: 'onnxruntime', batch, forwardMs: ortForwardMs, forwardGradMs: ortMs, ratio: ortMs / ortForwardMs });
  for (const r of rows) {
    process.stdout.write(
      `${r.model.padEnd(26)} ${r.engine.padEnd(12)} batch ${r.batch}  fwd ${r.forwardMs.toFixed(1).padStart(7)} ms  fwd+grad ${r.forwardGradMs.toFixed(1).padStart(8)} ms  ratio ${r.ratio.toFixed(2)}\n`,
    );
  }
  tf.dispose([x, labels]);
  tfjsModel.dispose();
  ortModel.dispose();
  ortForward.dispose();
  return rows;
}

async function pgdTimes(spec: { name: string; path: string }, root: string, baseline: boolean): Promise<PgdRow[]> {
  const sample = join(root, 'assets', 'mnist-sample');
  const tfjsModel = await loadModel(spec.path, { engine: 'tfjs' });
  if (!isDifferentiable(tfjsModel)) throw new Error(`${spec.name}: expected a differentiable model`);
  const data = await loadData(join(sample, 't10k-images-first1000-idx3-ubyte.gz'), {
    labels: join(sample, 't10k-labels-first1000-idx1-ubyte.gz'),
    inputShape: tfjsModel.inputShape,
    layout: tfjsModel.layout,
    limit: 200,
  });
  const per = tfjsModel.inputShape.reduce((a, b) => a * b, 1);
  const batches: { x: tf.Tensor; labels: number[] }[] = [];
  for (let lo = 0; lo < 200; lo += 100) {
    batches.push({
      x: tf.tensor(data.images.subarray(lo * per, (lo + 100) * per), [100, ...tfjsModel.inputShape]),
      labels: Array.from(data.labels.subarray(lo, lo + 100)),
    });
  }
  const attack = pgd({ steps: 40 });
  const run = async (m: DifferentiableModel): Promise<{ ms: number; robust: number }> => {
    const start = performance.now();
    let robust = 0;
    for (const b of batches) {
      const r = await attack.run(m, b.x, b.labels, { epsilons: [0.1], seed: 0 });
      robust += r.results[0]!.success.filter((s) => !s).length;
      r.dispose();
    }
    return { ms: performance.now() - start, robust: robust / 200 };
  };
  const rows: PgdRow[] = [];
  const add = (variant: PgdRow['variant'], r: { ms: number; robust: number }): void => {
    rows.push({ model: spec.name, variant, ms: r.ms, robustAccuracy: r.robust });
    process.stdout.write(
      `${spec.name.padEnd(26)} ${variant.padEnd(12)} PGD-40 on 200 images: ${(r.ms / 1000).toFixed(2).padStart(7)} s  robust accuracy ${(100 * r.robust).toFixed(1)}%  (load ${load()})\n`,
    );
  };
  if (baseline) {
    disableFastGradients();
    try {
      add('tfjs-stock', await run(tfjsModel));
      if (spec.name === 'mnist_cnn_trained') {
        const twin = await trainedCnnAsLayers(spec.path);
        const [a, b] = [twin.logits(batches[0]!.x), tfjsModel.logits(batches[0]!.x)];
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
        tf.dispose([a, b]);
        process.stdout.write(`  (the tfjs LayersModel twin's logits differ from the ONNX model's by at most ${diff.toExponential(1)})\n`);
        add('tfjs-layers-stock', await run(twin));
        twin.dispose();
      }
    } finally {
      enableFastGradients();
    }
  }
  await pgd({ steps: 1 })
    .run(tfjsModel, batches[0]!.x, batches[0]!.labels, { epsilons: [0.1], seed: 0 })
    .then((r) => r.dispose());
  add('tfjs', await run(tfjsModel));
  const pool = await parallelModel({ path: spec.path, options: { engine: 'tfjs' } }, { workers: 2 });
  await pgd({ steps: 1 })
    .run(pool, batches[0]!.x, batches[0]!.labels, { epsilons: [0.1], seed: 0 })
    .then((r) => r.dispose());
  add('tfjs-pool-2', await run(pool));
  pool.dispose();
  const ortModel = await loadModel(spec.path, { engine: 'onnxruntime' });
  if (!isDifferentiable(ortModel)) throw new Error(`${spec.name}: expected a differentiable model`);
  await pgd({ steps: 1 })
    .run(ortModel, batches[0]!.x, batches[0]!.labels, { epsilons: [0.1], seed: 0 })
    .then((r) => r.dispose());
  add('onnxruntime', await run(ortModel));
  ortModel.dispose();
  tfjsModel.dispose();
  tf.dispose(batches.map((b) => b.x));
  const stock = rows.find((r) => r.variant === 'tfjs-layers-stock') ?? rows.find((r) => r.variant === 'tfjs-stock');
  if (stock) for (const r of rows) r.speedupVsStock = stock.ms / r.ms;
  return rows;
}

/** Runs both parts and prints the targets with the measured values. */
export async function benchEngines(opts: {
  root: string;
  repeats: number;
  baseline: boolean;
}): Promise<{ gradients: GradRow[]; pgd: PgdRow[]; targets: { target: string; value: number; met: boolean }[] }> {
  await initBackend('wasm');
  process.stdout.write(`\nInput-gradient cost on wasm, batch 100 (ratio = forward+input-gradient / the engine's own forward); load ${load()}\n`);
  const specs = await models(opts.root);
  const gradients: GradRow[] = [];
  for (const s of specs) gradients.push(...(await gradientCost(s, 100, opts.repeats, opts.baseline)));
  process.stdout.write(`\nPGD-40 (L∞, ε = 0.1) on 200 MNIST images, batch 100, wasm\n`);
  const pgdRows: PgdRow[] = [];
  for (const s of specs.filter((m) => m.name.startsWith('mnist'))) pgdRows.push(...(await pgdTimes(s, opts.root, opts.baseline)));
  const targets: { target: string; value: number; met: boolean }[] = [];
  for (const r of gradients.filter((g) => g.engine === 'tfjs')) {
    targets.push({ target: `${r.model}: tfjs (overrides) forward+input-gradient ≤ 3× forward on wasm`, value: r.ratio, met: r.ratio <= 3 });
  }
  for (const r of gradients.filter((g) => g.engine === 'onnxruntime')) {
    targets.push({ target: `${r.model}: onnxruntime forward+input-gradient ≤ 5× its own forward`, value: r.ratio, met: r.ratio <= 5 });
  }
  for (const model of new Set(pgdRows.map((r) => r.model))) {
    const get = (v: PgdRow['variant']): PgdRow | undefined => pgdRows.find((r) => r.model === model && r.variant === v);
    const stock = get('tfjs-layers-stock') ?? get('tfjs-stock');
    const fast = get('tfjs');
    const pool = get('tfjs-pool-2');
    const ort = get('onnxruntime');
    if (stock && fast)
      targets.push({
        target: `${model}: PGD-40 ≥ 5× faster than before the issue on wasm (${stock.variant} / tfjs)`,
        value: stock.ms / fast.ms,
        met: stock.ms / fast.ms >= 5,
      });
    if (fast && pool)
      targets.push({ target: `${model}: another ≥ 1.6× from both cores (overrides / 2-worker pool)`, value: fast.ms / pool.ms, met: fast.ms / pool.ms >= 1.6 });
    if (stock && ort)
      targets.push({
        target: `${model}: onnxruntime PGD-40 ≥ 10× faster than the pre-issue tfjs wasm path (${stock.variant})`,
        value: stock.ms / ort.ms,
        met: stock.ms / ort.ms >= 10,
      });
  }
  process.stdout.write(`\nTargets (issue "Fast input-gradients"), measured in this run; load ${load()}\n`);
  for (const t of targets) process.stdout.write(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.value.toFixed(2).padStart(6)}  ${t.target}\n`);
  return { gradients, pgd: pgdRows, targets };
}
