// An ONNX model attacked end to end, notebook style: load a PyTorch export, check it on clean MNIST digits, attack it
// with FGSM, PGD and the black-box Square attack, and write the JSON and the HTML report.
//
//   npx tsx examples/onnx-model.ts [--model FILE.onnx] [--limit 200] [--eps 0.05,0.1,0.2] [--queries 100] [--out DIR]
//
// The default model is the project's shared trained MNIST CNN (../shared/models/onnx/mnist_cnn_trained.onnx, a
// PyTorch export in NCHW layout, beside the repository on the development machines); a clone without that folder
// uses the bundled ONNX export of robustest's own CNN (assets/mnist-cnn.onnx) and says so. The data is the bundled
// 1,000-image MNIST sample; loadData lays it out for the model (NCHW here). Gradients come from onnxruntime-node when
// it is installed (the model differentiated into a backward ONNX graph), else from the model imported into tfjs ops.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  loadModel,
  loadData,
  evaluate,
  packageAssets,
  fgsm,
  pgd,
  square,
  collectExamples,
  renderExampleImages,
  renderHtml,
  renderText,
  type BackendName,
} from '../src/index.js';

const shared = join(import.meta.dirname, '..', '..', 'shared', 'models', 'onnx', 'mnist_cnn_trained.onnx');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    limit: { type: 'string', default: '200' },
    eps: { type: 'string', default: '0.05,0.1,0.2' },
    queries: { type: 'string', default: '100' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: join(tmpdir(), 'robustest-examples', 'onnx-model') },
  },
});
tf.env().set('PROD', true);
const backend = await initBackend(values.backend as BackendName);

let path = values.model !== undefined ? resolve(values.model) : shared;
if (values.model === undefined && !existsSync(shared)) {
  path = join(packageAssets(), 'mnist-cnn.onnx');
  console.log(`(no ${shared} here: using the bundled ONNX export ${path} instead)`);
}
const model = await loadModel(path, { bounds: [0, 1], name: path.split(/[\\/]/).pop()! });
console.log(`model ${model.name}: input [${model.inputShape.join(', ')}] (${model.layout}), ${model.numClasses} classes, gradients by ${model.engine}`);
for (const w of model.warnings) console.log(`  model warning (${w.code}): ${w.message}`);

const assets = packageAssets();
const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: model.inputShape,
  layout: model.layout,
  limit: Number(values.limit),
});

// The cascade: FGSM, then PGD on what FGSM left, then Square (black box, queries only) on what both left: a
// black-box attack that beats the white-box ones would be a warning sign of gradient masking in the report.
const options = {
  attacks: [fgsm(), pgd({ steps: 20 }), square({ queries: Number(values.queries) })],
  epsilons: values.eps.split(',').map(Number),
  seed: 0,
};
const t0 = performance.now();
const report = await evaluate(model, data, options);
report.examples = await collectExamples(model, data, options, 12);
console.log(renderText(report));
console.log(`backend ${backend.name}, ${((performance.now() - t0) / 1000).toFixed(1)} s in all`);

await mkdir(values.out, { recursive: true });
const json = join(values.out, 'report.json');
const html = join(values.out, 'report.html');
await writeFile(json, JSON.stringify(report, null, 2) + '\n');
await writeFile(html, renderHtml(report, { images: await renderExampleImages(report), title: `Robustness of ${model.name}` }));
console.log(`written: ${json}, ${html}`);
model.dispose();
