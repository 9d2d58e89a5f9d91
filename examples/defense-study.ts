// Defenses compared, notebook style: the standard bundled CNN, the adversarially trained one, and input-transform
// defenses in front of the standard one, each attacked without and with an adaptive attack. The lesson of Athalye et
// al. (2018) in numbers: a transform that breaks the gradient looks robust to the plain attack and is not once the
// attack adapts (BPDA for a non-differentiable transform, EOT for a random one), while adversarial training holds.
//
//   npx tsx examples/defense-study.ts [--limit 200] [--eps 0.1,0.2,0.3] [--steps 20] [--out DIR]
//
// Prints one row per setup (robust accuracy per ε, worst case of FGSM then PGD, and the report's verdict: the
// non-adaptive rows carry the severe `non-adaptive-defense` warning), and writes each JSON report and one SVG chart of
// all the worst-case curves into --out (default: robustest-examples/defense-study under the system's temporary folder).
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  loadModel,
  loadData,
  evaluate,
  packageAssets,
  fgsm,
  pgd,
  defend,
  bitDepth,
  gaussianNoise,
  renderCurveSvg,
  reportVerdict,
  type BackendName,
  type CurveSeries,
  type Model,
  type Report,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '200' },
    eps: { type: 'string', default: '0.1,0.2,0.3' },
    steps: { type: 'string', default: '20' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: join(tmpdir(), 'robustest-examples', 'defense-study') },
  },
});
tf.env().set('PROD', true);
const backend = await initBackend(values.backend as BackendName);
const assets = packageAssets();
const epsilons = values.eps.split(',').map(Number);

const standard = await loadModel(join(assets, 'mnist-cnn', 'model.json'), { name: 'standard' });
const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: standard.inputShape,
  limit: Number(values.limit),
});

/** Each setup: a name, the model as attacked, and what the row shows. */
const setups: { name: string; model: Model; note: string }[] = [{ name: 'standard', model: standard, note: 'no defense' }];
const robustPath = join(assets, 'mnist-cnn-robust', 'model.json');
if (existsSync(robustPath)) {
  setups.push({ name: 'adversarially trained', model: await loadModel(robustPath, { name: 'adv-trained' }), note: 'PGD adversarial training' });
} else {
  console.log(`skipped: the adversarially trained model (${robustPath} is not in this checkout)`);
}
// Bit-depth reduction rounds every pixel: its exact gradient is zero almost everywhere, so the plain attack is blind;
// BPDA passes the gradient through it as the identity.
setups.push(
  { name: 'bit depth 2, plain attack', model: defend(standard, [bitDepth(2)], { gradient: 'exact' }), note: 'non-adaptive' },
  { name: 'bit depth 2, BPDA', model: defend(standard, [bitDepth(2)], { gradient: 'bpda' }), note: 'adaptive' },
);
// Gaussian noise is random: one draw per gradient follows the noise; EOT averages the gradient over 10 draws.
setups.push(
  { name: 'noise σ=0.2, one draw', model: defend(standard, [gaussianNoise(0.2)], { eotSamples: 1 }), note: 'non-adaptive' },
  { name: 'noise σ=0.2, EOT 10', model: defend(standard, [gaussianNoise(0.2)], { eotSamples: 10 }), note: 'adaptive' },
);

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const reports: { name: string; report: Report }[] = [];
console.log(`backend ${backend.name}, ${data.count} images, FGSM then PGD-${values.steps} (L∞), worst case per point\n`);
console.log(['setup'.padEnd(28), 'clean'.padEnd(8), ...epsilons.map((e) => `ε=${e}`.padEnd(8)), 'seconds'.padEnd(9), 'verdict'].join(''));
for (const { name, model, note } of setups) {
  const t0 = performance.now();
  const report = await evaluate(model, data, { attacks: [fgsm(), pgd({ steps: Number(values.steps) })], epsilons, seed: 0 });
  const seconds = (performance.now() - t0) / 1000;
  reports.push({ name, report });
  const cells = report.curve.map((p) => pct(p.robustAccuracy).padEnd(8));
  console.log(
    [name.padEnd(28), pct(report.cleanAccuracy).padEnd(8), ...cells, seconds.toFixed(1).padEnd(9), `${reportVerdict(report).line} (${note})`].join(''),
  );
}

await mkdir(values.out, { recursive: true });
const written: string[] = [];
for (const { name, report } of reports) {
  const file = join(values.out, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  written.push(file);
}
const series: CurveSeries[] = reports.map(({ name, report }) => ({
  label: name,
  points: [
    { epsilon: 0, accuracy: report.cleanAccuracy, lower: report.cleanCi.lower, upper: report.cleanCi.upper },
    ...report.curve.map((p) => ({ epsilon: p.epsilon, accuracy: p.robustAccuracy, lower: p.ci.lower, upper: p.ci.upper })),
  ],
  ...(/plain|one draw/.test(name) ? { dashed: true } : {}),
}));
const svg = join(values.out, 'curves.svg');
await writeFile(svg, renderCurveSvg(series, { title: 'Worst-case robust accuracy of each defense (dashed: non-adaptive attack)', id: 'defenses' }));
written.push(svg);
console.log(`\nwritten: ${written.join(', ')}`);
for (const { model } of setups) if (model !== standard) model.dispose();
standard.dispose();
