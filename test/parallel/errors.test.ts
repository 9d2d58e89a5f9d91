// Failures of the pool are typed errors, never hangs: bad options, a bad path, a worker whose backend fails, a worker
// that crashes mid-call; wrong inputs; use after dispose. No tensors leak on any of these paths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import * as tf from '../../src/tf.js';
import { initBackend } from '../../src/backend.js';
import { loadModel } from '../../src/load.js';
import { crossEntropy } from '../../src/losses.js';
import { BackendError, ConfigError, ModelLoadError, ShapeError } from '../../src/errors.js';
import type { DifferentiableModel, LossFn } from '../../src/model.js';
import { parallelModel, poolOf } from '../../src/parallel/index.js';
import { expectRejects } from '../helpers/errors.js';
import { expectNoLeak, seededValues } from '../helpers/models.js';
import { writeTinyLayersModel, type TinyModelFiles } from './helpers.js';

let files: TinyModelFiles;
beforeAll(async () => {
  await initBackend('cpu');
  files = await writeTinyLayersModel();
});
afterAll(async () => {
  await files?.remove();
});

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('parallelModel errors', () => {
  it('refuses invalid options before starting anything', async () => {
    await expectRejects(parallelModel({ path: files.path }, { workers: 0 }), ConfigError, /workers/, /got 0/);
    await expectRejects(parallelModel({ path: files.path }, { workers: 1.5 }), ConfigError, /workers/);
    await expectRejects(parallelModel({ path: files.path }, { shardSize: -3 }), ConfigError, /shardSize/, /got -3/);
    await expectRejects(parallelModel({ path: files.path }, { backend: 'webgl' as 'cpu' }), ConfigError, /backend/, /"webgl"/);
    await expectRejects(parallelModel({ path: '' }), ConfigError, /source/);
    await expectRejects(parallelModel(undefined as never), ConfigError, /source/);
    await expectRejects(parallelModel({ path: files.path, options: { engine: 'onnxruntime' } }), ConfigError, /engine/, /'onnxruntime'/);
  });

  it('gives a ModelLoadError for a missing model, leaking nothing', async () => {
    const leaked = await expectNoLeak(() => expectRejects(parallelModel({ path: 'no/such/model.json' }, { workers: 1 }), ModelLoadError, /no\/such/, /ENOENT/));
    expect(leaked).toBe(0);
  });

  it('gives a ConfigError for model options that cannot be sent to a thread', async () => {
    const options = { name: 'x', bounds: [0, 1], extra: () => 1 } as unknown as { name: string };
    const leaked = await expectNoLeak(() => expectRejects(parallelModel({ path: files.path, options }, { workers: 1 }), ConfigError, /serialisable/));
    expect(leaked).toBe(0);
  });

  it.skipIf(tfjsNodeInstalled())("passes on a worker's own typed error (its backend fails to load) and frees the main thread's model", async () => {
    const leaked = await expectNoLeak(() =>
      expectRejects(parallelModel({ path: files.path }, { workers: 1, backend: 'tensorflow' }), BackendError, /tfjs-node/),
    );
    expect(leaked).toBe(0);
  });
});

describe('a running pool', () => {
  const N = 5;
  let local: DifferentiableModel;
  let x: tf.Tensor;
  let labels: tf.Tensor1D;
  beforeAll(async () => {
    local = (await loadModel(files.path, { engine: 'tfjs' })) as DifferentiableModel;
    x = tf.tensor(seededValues(N * 64, 4), [N, 8, 8, 1]);
    labels = tf.tensor1d([0, 1, 2, 0, 1], 'int32');
  });
  afterAll(() => {
    local?.dispose();
    tf.dispose([x, labels]);
  });

  it('with one worker: equals in-process; rejects bad inputs with typed errors; a crash rejects the pending and later calls; no leaks', async () => {
    const before = tf.memory().numTensors;
    const pooled = await parallelModel({ path: files.path }, { workers: 1, shardSize: 2 });
    try {
      // One worker gives the same bytes as in-process (2 and 3 workers: parallel.test.ts, workers.test.ts).
      const r = await local.valueAndGrad(x, crossEntropy(labels, 3));
      const s = await pooled.valueAndGrad(x, crossEntropy(labels, 3));
      expect(Buffer.from((s.grad.dataSync() as Float32Array).buffer).equals(Buffer.from((r.grad.dataSync() as Float32Array).buffer))).toBe(true);
      tf.dispose([r.value, r.grad, s.value, s.grad]);

      const wrongShape = tf.zeros([2, 8, 8, 3]);
      await expectRejects(pooled.valueAndGrad(wrongShape, crossEntropy(labels, 3)), ShapeError, /\[N, 8, 8, 1\]/, /\[2, 8, 8, 3\]/);
      wrongShape.dispose();
      const fewLabels = tf.tensor1d([0, 1], 'int32');
      await expectRejects(pooled.valueAndGrad(x, crossEntropy(fewLabels, 3)), ShapeError, /5 entries/, /got 2/);
      const disposedLoss = crossEntropy(fewLabels, 3);
      fewLabels.dispose();
      await expectRejects(pooled.valueAndGrad(x, disposedLoss), ConfigError, /disposed/);
      // An error thrown inside the worker comes back as a typed error, and the pool stays usable.
      await expectRejects(poolOf(pooled).run([{ op: 'logits', x: new Float32Array(5), n: 1 }], [[]]), BackendError, /worker 0 to compute 'logits'/);
      const closure: LossFn = (z) => tf.sum(z, 1) as tf.Tensor1D;
      const ok = await pooled.valueAndGrad(x, closure);
      tf.dispose([ok.value, ok.grad]);

      // A crash: the worker exits while a call is pending.
      poolOf(pooled).crashWorker(0, 7);
      await expectRejects(pooled.valueAndGrad(x, crossEntropy(labels, 3)), BackendError, /worker 0/, /exiting with code 7/);
      await expectRejects(
        pooled.valueAndGrad(x, (z) => tf.max(z, 1) as tf.Tensor1D),
        BackendError,
        /exiting with code 7/,
      );
      // logits run on the main thread and still work.
      pooled.logits(x).dispose();
    } finally {
      pooled.dispose();
    }
    pooled.dispose(); // idempotent
    await expectRejects(pooled.valueAndGrad(x, crossEntropy(labels, 3)), ConfigError, /disposed/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
