// `npm run bench`, all in one run:
// 1. PGD on the bundled MNIST model (tfjs engine) at several batch sizes on every available backend: ms per image
//    per step, and the ratio of attack time per step to the raw forward+backward time of the same model on the same
//    batch; tensor count and bytes before/after.
// 2. On the shared ONNX models, the importer's forward time over onnxruntime-node's.
// 3. Input-gradient cost (bench/engines.ts): forward+input-gradient over forward, per model (bundled + shared ONNX)
//    and engine (tfjs with stock gradients = before the fast-gradients issue, tfjs with robustest's overrides,
//    onnxruntime), on wasm at batch 100.
// 4. PGD-40 wall time on 200 MNIST images at batch 100 on wasm: before the issue, overrides, the 2-worker pool,
//    onnxruntime; speed-ups against the pre-issue time; and the targets checked.
// 5. Attack costs (bench/attacks.ts): APGD per iteration and CW per Adam step over a PGD step, Square per query over
//    a forward pass, and the standard preset on the bundled model with seconds per attack.
// 6. Adversarial training (bench/training.ts): one epoch of each method over one clean-training epoch, per image.
// 7. Checkpoint overhead (bench/checkpoint.ts): a full evaluation of the bundled model (1,000 images, FGSM + PGD-40) with
//    --checkpoint over the same evaluation chunked without writing, and over a plain one (wall and CPU time).
//
// Usage: npm run bench -- [--backends cpu,wasm] [--batches 1,32,128] [--steps 10] [--repeats 3] [--onnx-batch 100]
//                         [--skip-engines] [--skip-baseline] [--skip-attacks] [--preset-images 1000] [--json FILE]
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { crossEntropy } from '../src/losses.js';
import { packageRoot } from '../src/package-info.js';
import type { DifferentiableModel } from '../src/model.js';
import { pgd } from '../attacks/pgd.js';
import { loadOnnxModel, fromOnnxRuntime } from '../src/onnx/index.js';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchEngines } from './engines.js';
import { benchAttacks } from './attacks.js';
import { benchTraining } from './training.js';
import { benchCheckpoint, formatCheckpointBench } from './checkpoint.js';
import { benchDefenses } from './defenses.js';
import { timeIt } from './util.js';

interface Row {
  backend: string;
  batch: number;
  steps: number;
  forwardBackwardMs: number;
  forwardMs: number;
  attackMs: number;
  attackMsPerStep: number;
  msPerImagePerStep: number;
  ratio: number;
  tensorsBefore: number;
  tensorsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
}

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,wasm,tensorflow' },
    batches: { type: 'string', default: '1,32,128' },
    steps: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'string' },
    'onnx-batch': { type: 'string', default: '100' },
    'skip-engines': { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    'skip-attacks': { type: 'boolean', default: false },
    'preset-images': { type: 'string', default: '1000' },
  },
});
const steps = Number(values.steps);
const repeats = Number(values.repeats);
const batches = values.batches.split(',').map(Number);

async function benchBackend(name: BackendName, root: string): Promise<Row[]> {
  try {
    await initBackend(name);
  } catch (e) {
    process.stderr.write(`skip ${name}: ${(e as Error).message}\n`);
    return [];
  }
  const model = (await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'), { engine: 'tfjs' })) as DifferentiableModel;
  const data = await loadIdx(
    join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
    join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    { inputShape: model.inputShape },
  );
  const rows: Row[] = [];
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  for (const batch of batches) {
    const x = tf.tensor(data.images.subarray(0, batch * per), [batch, ...model.inputShape]);
    const labelsArr = Array.from(data.labels.subarray(0, batch));
    const labels = tf.tensor1d(labelsArr, 'int32');
    const loss = crossEntropy(labels, model.numClasses);
    const memBefore = tf.memory();
    const forwardMs = await timeIt(async () => {
      const l = model.logits(x);
      await l.data();
      l.dispose();
    }, repeats * 3);
    const forwardBackwardMs = await timeIt(async () => {
      const { value, grad } = await model.valueAndGrad(x, loss);
      await grad.data();
      tf.dispose([value, grad]);
    }, repeats * 3);
    const attack = pgd({ steps });
    const attackMs = await timeIt(async () => {
      const r = await attack.run(model, x, labelsArr, { epsilons: [0.3], seed: 0 });
      r.dispose();
    }, repeats);
    const memAfter = tf.memory();
    const attackMsPerStep = attackMs / steps;
    rows.push({
      backend: tf.getBackend(),
      batch,
      steps,
      forwardMs,
      forwardBackwardMs,
      attackMs,
      attackMsPerStep,
      msPerImagePerStep: attackMsPerStep / batch,
      ratio: attackMsPerStep / forwardBackwardMs,
      tensorsBefore: memBefore.numTensors,
      tensorsAfter: memAfter.numTensors,
      bytesBefore: memBefore.numBytes,
      bytesAfter: memAfter.numBytes,
    });
    tf.dispose([x, labels]);
    const r = rows[rows.length - 1]!;
    process.stdout.write(
      `${r.backend.padEnd(10)} batch ${String(batch).padStart(4)}  fwd ${r.forwardMs.toFixed(1).padStart(8)} ms  fwd+bwd ${r.forwardBackwardMs.toFixed(1).padStart(8)} ms  ` +
        `pgd/step ${r.attackMsPerStep.toFixed(1).padStart(8)} ms  ${r.msPerImagePerStep.toFixed(3).padStart(8)} ms/img/step  ratio ${r.ratio.toFixed(3)}  ` +
        `tensors ${r.tensorsBefore}→${r.tensorsAfter}  bytes ${r.bytesBefore}→${r.bytesAfter}\n`,
    );
  }
  model.dispose();
  return rows;
}

interface OnnxRow {
  backend: string;
  model: string;
  batch: number;
  importerForwardMs: number;
  onnxruntimeForwardMs: number;
  ratio: number;
}

/** Importer (tfjs ops) forward time over onnxruntime-node forward time on the shared ONNX models. */
async function benchOnnx(name: BackendName, root: string): Promise<OnnxRow[]> {
  const dir = join(root, '..', 'shared', 'models', 'onnx');
  if (!existsSync(dir)) {
    process.stderr.write(`skip onnx: ${dir} not found\n`);
    return [];
  }
  try {
    await initBackend(name);
  } catch {
    return [];
  }
  const batch = Number(values['onnx-batch']);
  const rows: OnnxRow[] = [];
  for (const m of ['mnist_cnn_trained', 'tiny_resnet_cifar', 'tiny_mobilenet_cifar', 'mlp_logsoftmax_mnist']) {
    const file = join(dir, `${m}.onnx`);
    const imported = await loadOnnxModel(file); // the importer alone (tfjs gradients)
    const ort = await fromOnnxRuntime(file, { batchSize: batch });
    const x = tf.tidy(() => tf.randomUniform([batch, ...imported.inputShape], 0, 1, 'float32', 1));
    const importerForwardMs = await timeIt(async () => {
      const l = imported.logits(x);
      await l.data();
      l.dispose();
    }, repeats * 3);
    const onnxruntimeForwardMs = await timeIt(async () => {
      const l = await ort.logits(x);
      await l.data();
      l.dispose();
    }, repeats * 3);
    rows.push({ backend: tf.getBackend(), model: m, batch, importerForwardMs, onnxruntimeForwardMs, ratio: importerForwardMs / onnxruntimeForwardMs });
    const r = rows[rows.length - 1]!;
    process.stdout.write(
      `${r.backend.padEnd(10)} ${m.padEnd(22)} batch ${batch}  importer fwd ${importerForwardMs.toFixed(1).padStart(8)} ms  onnxruntime fwd ${onnxruntimeForwardMs.toFixed(1).padStart(8)} ms  ratio ${r.ratio.toFixed(2)}\n`,
    );
    x.dispose();
    imported.dispose();
    ort.dispose();
  }
  return rows;
}

async function run(): Promise<void> {
  tf.env().set('PROD', true);
  const root = packageRoot() ?? process.cwd();
  const rows: Row[] = [];
  process.stdout.write(`PGD-${steps} (Linf, ε=0.3) on the bundled MNIST CNN; ratio = attack time per step / raw forward+backward time\n`);
  for (const b of values.backends.split(',') as BackendName[]) rows.push(...(await benchBackend(b, root)));
  process.stdout.write(`\nONNX importer forward time / onnxruntime-node forward time, shared models (../shared/models/onnx)\n`);
  const onnx: OnnxRow[] = [];
  for (const b of values.backends.split(',') as BackendName[]) onnx.push(...(await benchOnnx(b, root)));
  const engines = values['skip-engines'] ? undefined : await benchEngines({ root, repeats, baseline: !values['skip-baseline'] });
  const attacks = values['skip-attacks']
    ? undefined
    : {
        onnxruntime: await benchAttacks({ root, repeats, presetImages: Number(values['preset-images']) }),
        tfjs: await benchAttacks({ root, repeats, presetImages: 0, engine: 'tfjs' }),
      };
  const training = await benchTraining({ root, images: 1000 }); // 6. adversarial training: one epoch per method over clean
  await initBackend('wasm');
  const checkpoint = await benchCheckpoint({ root, images: 1000, repeats }); // 7. --checkpoint's overhead on a full evaluation
  process.stdout.write(`\n${formatCheckpointBench(checkpoint)}\n`);
  const defenses = await benchDefenses({ root, repeats }); // 8. certification samples/s at n = 1,000; a BPDA step's cost
  if (values.json) {
    await mkdir(dirname(values.json), { recursive: true });
    await writeFile(
      values.json,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          tfjs: tf.version_core,
          loadavg: loadavg(),
          steps,
          rows,
          onnx,
          engines,
          attacks,
          training,
          checkpoint,
          defenses,
        },
        null,
        2,
      ) + '\n',
    );
  }
}

await run();
