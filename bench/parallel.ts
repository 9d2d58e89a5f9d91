// PGD on the bundled MNIST sample: in-process vs the worker pool of src/parallel, interleaved, medians of repeats.
// Also checks that both give bit-identical adversarial batches, and prints the load averages before and after
// (other processes on the same cores change the result; see docs/performance-threads.md).
//
// Usage: npx tsx bench/parallel.ts [--backend wasm] [--images 200] [--batch 100] [--steps 40] [--repeats 3]
//                                  [--workers 2] [--shard-size 50] [--epsilon 0.1] [--warmup 1]
import { loadAverages, median } from './util.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadData } from '../src/data/index.js';
import { packageAssets } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { parallelModel } from '../src/parallel/index.js';
import { pgd } from '../attacks/pgd.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    images: { type: 'string', default: '200' },
    batch: { type: 'string', default: '100' },
    steps: { type: 'string', default: '40' },
    repeats: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'shard-size': { type: 'string', default: '50' },
    epsilon: { type: 'string', default: '0.1' },
    warmup: { type: 'string', default: '1' },
  },
});
const [images, batch, steps, repeats, workers, shardSize, epsilon, warmup] = [
  values.images,
  values.batch,
  values.steps,
  values.repeats,
  values.workers,
  values['shard-size'],
  values.epsilon,
  values.warmup,
].map(Number) as [number, number, number, number, number, number, number, number];

const load = loadAverages;

tf.env().set('PROD', true);
await initBackend(values.backend as BackendName);
const modelPath = join(packageAssets(), 'mnist-cnn', 'model.json');
const sample = join(packageAssets(), 'mnist-sample');
const local = (await loadModel(modelPath, { engine: 'tfjs' })) as DifferentiableModel; // the pool runs tfjs engines: compare like with like
const data = await loadData(join(sample, 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(sample, 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: local.inputShape,
});
const per = local.inputShape.reduce((a, b) => a * b, 1);
const batches: { x: tf.Tensor; labels: number[] }[] = [];
for (let lo = 0; lo < images; lo += batch) {
  const hi = Math.min(images, lo + batch);
  batches.push({ x: tf.tensor(data.images.subarray(lo * per, hi * per), [hi - lo, ...local.inputShape]), labels: Array.from(data.labels.subarray(lo, hi)) });
}
process.stdout.write(`load average before: ${load()}\n`);
const t0 = performance.now();
const pooled = await parallelModel({ path: modelPath }, { workers, shardSize });
const poolReadyMs = performance.now() - t0;

const attack = pgd({ steps });
async function run(model: DifferentiableModel): Promise<{ ms: number; adversarial: Uint8Array[] }> {
  const start = performance.now();
  const adversarial: Uint8Array[] = [];
  for (const b of batches) {
    const r = await attack.run(model, b.x, b.labels, { epsilons: [epsilon], seed: 0 });
    const adv = r.results[0]!.adversarial;
    adversarial.push(new Uint8Array(((await adv.data()) as Float32Array).slice().buffer));
    r.dispose();
  }
  return { ms: performance.now() - start, adversarial };
}
// Warm-up, untimed: whole runs. V8 first compiles the wasm kernels with its baseline compiler and optimises the hot
// ones later, separately in each thread; a worker doing half the work gets there later than the main thread.
for (let i = 0; i < warmup; i++) for (const m of [local, pooled]) await run(m);
const times = { inProcess: [] as number[], pool: [] as number[] };
let identical = true;
for (let rep = 0; rep < repeats; rep++) {
  const order = rep % 2 === 0 ? (['inProcess', 'pool'] as const) : (['pool', 'inProcess'] as const);
  const out: Partial<Record<'inProcess' | 'pool', Uint8Array[]>> = {};
  for (const which of order) {
    const r = await run(which === 'pool' ? pooled : local);
    times[which].push(r.ms);
    out[which] = r.adversarial;
    process.stdout.write(`  rep ${rep} ${which.padEnd(9)} ${r.ms.toFixed(0)} ms\n`);
  }
  identical &&= out.inProcess!.every((a, i) => Buffer.from(a).equals(Buffer.from(out.pool![i]!)));
}
const summary = {
  backend: tf.getBackend(),
  images,
  batch,
  steps,
  repeats,
  warmup,
  workers,
  shardSize,
  poolReadyMs: Math.round(poolReadyMs),
  workerStartupMs: pooled.workerStartupMs.map(Math.round),
  inProcessMs: Math.round(median(times.inProcess)),
  poolMs: Math.round(median(times.pool)),
  speedup: +(median(times.inProcess) / median(times.pool)).toFixed(2),
  allInProcessMs: times.inProcess.map(Math.round),
  allPoolMs: times.pool.map(Math.round),
  bitIdentical: identical,
};
process.stdout.write(`load average after: ${load()}\n${JSON.stringify(summary)}\n`);
pooled.dispose();
local.dispose();
tf.dispose(batches.map((b) => b.x));
