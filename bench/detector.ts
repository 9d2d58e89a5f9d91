// The feature-squeezing detector on the bundled MNIST model (the README's numbers): fitted on the first N clean
// images at a 5% false-positive rate, evaluated on the next N against plain PGD-40 (L∞ 0.3) and an adaptive attack
// (targeted PGD-40 on the sum of the model's and each squeezed model's losses, BPDA through bit-depth reduction).
//
// Usage: npx tsx bench/detector.ts [--images 50] [--backend wasm]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { packageRoot } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { pgd } from '../attacks/index.js';
import { bitDepth, defend, detectionMetrics, featureSqueezing, medianSmoothing, type InputTransform } from '../defenses/index.js';

const { values } = parseArgs({ options: { images: { type: 'string', default: '50' }, backend: { type: 'string', default: 'wasm' } } });
await initBackend(values.backend as BackendName);
const root = packageRoot() ?? process.cwd();
const n = Number(values.images);
const model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'))) as DifferentiableModel;
const data = await loadIdx(
  join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
  join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  { inputShape: model.inputShape, limit: 2 * n },
);
const fit = tf.tensor4d(data.images.subarray(0, n * 784), [n, 28, 28, 1]);
const x = tf.tensor4d(data.images.subarray(n * 784), [n, 28, 28, 1]);
const labels = data.labels.subarray(n);

/** The model and its squeezed copies, their losses summed: an attack on it drives all of them to the same class. */
function joint(squeezers: readonly InputTransform[]): DifferentiableModel {
  const branches = squeezers.map((s) => defend(model, [s]));
  return {
    ...{ kind: 'differentiable' as const, bounds: model.bounds, numClasses: model.numClasses, inputShape: model.inputShape, layout: model.layout },
    name: 'joint',
    engine: model.engine,
    warnings: [],
    logits: (v) => model.logits(v),
    fingerprint: () => model.fingerprint(),
    dispose: () => undefined,
    async valueAndGrad(v, loss) {
      let acc = await model.valueAndGrad(v, loss);
      for (const b of branches) {
        const r = await b.valueAndGrad(v, loss);
        const next = tf.tidy(() => ({ value: tf.add(acc.value, r.value) as tf.Tensor1D, grad: tf.add(acc.grad, r.grad) }));
        tf.dispose([acc.value, acc.grad, r.value, r.grad]);
        acc = next;
      }
      return acc;
    },
  };
}

for (const squeezers of [[bitDepth(1), medianSmoothing(2)], [medianSmoothing(2)]]) {
  const detector = await featureSqueezing(model, fit, { squeezers });
  const clean = await detector.score(x);
  for (const [name, m, targets] of [
    ['plain PGD-40', model, undefined],
    ['adaptive (targeted, model + squeezed)', joint(squeezers), Int32Array.from(labels, (l) => (l + 1) % 10)],
  ] as const) {
    const r = await pgd({ steps: 40 }).run(m, x, labels, targets ? { epsilons: [0.3], seed: 0, targets } : { epsilons: [0.3], seed: 0 });
    const adv = r.results[0]!.adversarial;
    const pred = tf.tidy(() => tf.argMax(model.logits(adv), 1));
    const fooled = Array.from(await pred.data()).map((p, i) => p !== labels[i]);
    const scores = Array.from(await detector.score(adv)).filter((_, i) => fooled[i]);
    const mt = detectionMetrics(clean, scores, detector.threshold);
    process.stdout.write(
      `${detector.squeezers.join(',')} (threshold ${detector.threshold.toFixed(3)}, clean FPR ${detector.falsePositiveRate.fitted}) · ${name}: fooled ${scores.length}/${n}, detected ${(100 * mt.detectionRate).toFixed(1)}%, ROC AUC ${mt.rocAuc.toFixed(3)}\n`,
    );
    pred.dispose();
    r.dispose();
  }
}
