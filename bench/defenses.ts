// Defenses (issue 9): randomized-smoothing certification throughput (samples per second at n = 1,000 noisy draws,
// per noise batch size) and the cost of a defended gradient step (forward + input-gradient through jpeg:75 and bits:4
// with BPDA, over the undefended model's), on the bundled MNIST model.
//
// Usage (alone): npx tsx bench/defenses.ts [--samples 20] [--n 1000] [--backend wasm] [--json FILE]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { crossEntropy } from '../src/losses.js';
import { packageRoot } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { bitDepth, certify, defend, jpeg } from '../defenses/index.js';
import { loadAverages, timeIt } from './util.js';

/** What {@link benchDefenses} measures. */
export interface DefensesBench {
  backend: string;
  engine: string;
  loadavg: string;
  /** Certification: samples per second at `n` draws, per noise batch size. */
  certify: { n: number; samples: number; batchSize: number; seconds: number; samplesPerSecond: number }[];
  /** Forward + input-gradient of a batch of 100, undefended and defended (ms). */
  gradient: { defense: string; ms: number; overPlain: number }[];
}

/** Runs the defenses benchmark on the bundled model (current backend). */
export async function benchDefenses(opts: { root: string; samples?: number; n?: number; repeats?: number }): Promise<DefensesBench> {
  const samples = opts.samples ?? 20;
  const n = opts.n ?? 1000;
  const model = (await loadModel(join(opts.root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
  const data = await loadIdx(
    join(opts.root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
    join(opts.root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    { inputShape: model.inputShape, limit: 100 },
  );
  const x = tf.tensor4d(data.images, [100, 28, 28, 1]);
  const few = tf.slice(x, [0, 0, 0, 0], [samples, 28, 28, 1]);
  const rows: DefensesBench['certify'] = [];
  for (const batchSize of [100, 500, 1000]) {
    const r = await certify(model, { x: few }, { sigma: 0.25, n0: 100, n, batchSize, seed: 0 });
    rows.push({ n, samples, batchSize, seconds: r.seconds, samplesPerSecond: samples / r.seconds });
    process.stdout.write(`certify n=${n} batch ${batchSize}: ${(samples / r.seconds).toFixed(2)} samples/s (${samples} samples, ${r.seconds.toFixed(2)} s)\n`);
  }
  const y = tf.tensor1d(data.labels, 'int32');
  const loss = crossEntropy(y, model.numClasses);
  const step = (m: DifferentiableModel) => async () => {
    const { value, grad } = await m.valueAndGrad(x, loss);
    tf.dispose([value, grad]);
  };
  const plainMs = await timeIt(step(model), opts.repeats ?? 3);
  const gradient: DefensesBench['gradient'] = [{ defense: 'none', ms: plainMs, overPlain: 1 }];
  for (const [name, transforms] of [
    ['bits:4', [bitDepth(4)]],
    ['jpeg:75', [jpeg(75)]],
  ] as const) {
    const ms = await timeIt(step(defend(model, transforms)), opts.repeats ?? 3);
    gradient.push({ defense: name, ms, overPlain: ms / plainMs });
    process.stdout.write(
      `forward + input-gradient, batch 100, ${name} (BPDA): ${ms.toFixed(1)} ms (${(ms / plainMs).toFixed(2)}× undefended ${plainMs.toFixed(1)} ms)\n`,
    );
  }
  tf.dispose([x, few, y]);
  const out = { backend: tf.getBackend(), engine: model.engine, loadavg: loadAverages(), certify: rows, gradient };
  model.dispose();
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '20' },
      n: { type: 'string', default: '1000' },
      backend: { type: 'string', default: 'wasm' },
      json: { type: 'string' },
    },
  });
  await initBackend(values.backend as BackendName);
  const result = await benchDefenses({ root: packageRoot() ?? process.cwd(), samples: Number(values.samples), n: Number(values.n) });
  if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2) + '\n');
}
