// Compare attacks on the bundled MNIST model: a robustness curve per attack, notebook style.
//
//   npx tsx examples/compare-attacks.ts [--limit 200] [--backend wasm]
//
// Each attack runs alone (cascade off) so its curve is its own; the last column is the per-point worst case.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadModel, loadData, evaluate, fgsm, bim, pgd, packageAssets, type BackendName } from '../src/index.js';

const { values } = parseArgs({ options: { limit: { type: 'string', default: '200' }, backend: { type: 'string', default: 'auto' } } });
tf.env().set('PROD', true);
const backend = await initBackend(values.backend as BackendName);
const assets = packageAssets();
const model = await loadModel(join(assets, 'mnist-cnn', 'model.json'));
const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: model.inputShape,
  limit: Number(values.limit),
});
const epsilons = [0.05, 0.1, 0.2, 0.3];
const report = await evaluate(model, data, {
  attacks: [fgsm(), bim(), pgd({ steps: 20 })],
  epsilons,
  seed: 0,
  cascade: false,
});
console.log(`backend ${backend.name}, ${report.count} images, clean accuracy ${(100 * report.cleanAccuracy).toFixed(1)}%`);
console.log(['attack', ...epsilons.map((e) => `ε=${e}`)].map((s) => s.padEnd(10)).join(''));
for (const name of ['fgsm', 'bim', 'pgd']) {
  const row = epsilons.map((e) => report.attacks.find((a) => a.name === name && a.epsilon === e)!.robustAccuracy);
  console.log([name, ...row.map((v) => `${(100 * v).toFixed(1)}%`)].map((s) => s.padEnd(10)).join(''));
}
console.log(['worst', ...report.curve.map((c) => `${(100 * c.robustAccuracy).toFixed(1)}%`)].map((s) => s.padEnd(10)).join(''));
model.dispose();
