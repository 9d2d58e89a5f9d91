// Compare every registered attack on the bundled MNIST model, notebook style: a robustness curve per attack and
// norm, its time, and for minimum-norm attacks (DeepFool, CW, FMN, FAB) the median of the per-sample minimal
// perturbations, which draws a whole curve from one run.
//
//   npx tsx examples/compare-attacks.ts [--limit 200] [--backend wasm] [--steps N] [--queries N] [--only a,b]
//                                       [--out DIR] [--examples 8]
//
// It prints the table, and writes into --out (default: robustest-examples/compare-attacks under the system's temporary
// folder) the JSON report, the self-contained HTML report (curves, tables, warnings, and a grid of the first
// --examples adversarial digits) and the robustness curve of each norm as SVG.
//
// Each attack runs alone (cascade off) so its curve is its own; the `worst` rows are the per-point worst case over
// all attacks of the norm. `--steps` and `--queries` override every attack's iterations and query budget (for a
// quick look); without them each attack runs with its own defaults (Square and HopSkipJump: thousands of queries).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  loadModel,
  loadData,
  evaluate,
  packageAssets,
  createAttack,
  collectExamples,
  renderCurveSvg,
  renderExampleImages,
  renderHtml,
  reportCurveSeries,
  ATTACKS,
  type BackendName,
  type Norm,
  type Attack,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '200' },
    backend: { type: 'string', default: 'auto' },
    steps: { type: 'string' },
    queries: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string', default: join(tmpdir(), 'robustest-examples', 'compare-attacks') },
    examples: { type: 'string', default: '8' },
  },
});
tf.env().set('PROD', true);
const backend = await initBackend(values.backend as BackendName);
const assets = packageAssets();
const model = await loadModel(join(assets, 'mnist-cnn', 'model.json'));
const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: model.inputShape,
  limit: Number(values.limit),
});
const epsilons: Record<Norm, number[]> = { linf: [0.05, 0.1, 0.2, 0.3], l2: [0.5, 1, 1.5, 2, 3] };
const only = values.only?.split(',');
const attacks: Attack[] = [];
for (const entry of Object.values(ATTACKS)) {
  if (only && !only.includes(entry.name)) continue;
  for (const norm of entry.norms) {
    attacks.push(
      createAttack(entry.name, {
        norm,
        ...(values.steps !== undefined && 'steps' in entry.options ? { steps: Number(values.steps) } : {}),
        ...(values.queries !== undefined && 'queries' in entry.options ? { queries: Number(values.queries) } : {}),
      }),
    );
  }
}
const options = { attacks, epsilons, seed: 0, cascade: false };
const report = await evaluate(model, data, options);
if (Number(values.examples) > 0) report.examples = await collectExamples(model, data, options, Number(values.examples));
const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
console.log(`backend ${backend.name}, ${report.count} images, clean accuracy ${pct(report.cleanAccuracy)}`);
for (const norm of ['linf', 'l2'] as const) {
  const rows = report.attacks.filter((a) => a.norm === norm);
  if (rows.length === 0) continue;
  console.log(`\n${norm}`);
  console.log(['attack', ...epsilons[norm].map((e) => `ε=${e}`), 'seconds', 'median min. norm'].map((s) => s.padEnd(14)).join(''));
  for (const name of [...new Set(rows.map((a) => a.name))]) {
    const mine = rows.filter((a) => a.name === name);
    const seconds = mine.reduce((s, a) => s + a.seconds, 0);
    const median = mine[0]!.minimalNorms?.median;
    const cells = [
      name,
      ...mine.map((a) => pct(a.robustAccuracy)),
      seconds.toFixed(1),
      median === undefined ? '' : median === null ? 'unfooled' : median.toFixed(3),
    ];
    console.log(cells.map((s) => s.padEnd(14)).join(''));
  }
  console.log(['worst', ...report.curve.filter((c) => c.norm === norm).map((c) => pct(c.robustAccuracy))].map((s) => s.padEnd(14)).join(''));
}

// The reports: JSON, HTML with the example grid, and one SVG curve per norm (each attack and the worst case).
await mkdir(values.out, { recursive: true });
const written = [join(values.out, 'report.json'), join(values.out, 'report.html')];
await writeFile(written[0]!, JSON.stringify(report, null, 2) + '\n');
await writeFile(written[1]!, renderHtml(report, { images: await renderExampleImages(report), title: 'Every attack on the bundled MNIST CNN' }));
for (const norm of ['linf', 'l2'] as const) {
  const series = reportCurveSeries(report, norm);
  if (series.length === 0) continue;
  const file = join(values.out, `curve-${norm}.svg`);
  await writeFile(file, renderCurveSvg(series, { title: `${norm === 'linf' ? 'L∞' : 'L2'} robustness of the bundled MNIST CNN`, id: `curve-${norm}` }));
  written.push(file);
}
console.log(`\nwritten: ${written.join(', ')}`);
model.dispose();
