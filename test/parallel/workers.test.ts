// The bundled MNIST CNN on wasm: results do not depend on the number of workers (3 here, 2 in parallel.test.ts,
// 1 in errors.test.ts), a whole PGD run matches in-process bit for bit, and the worker runs from compiled dist/
// without keeping a process alive when the pool is never disposed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { initBackend } from '../../src/backend.js';
import { loadModel } from '../../src/load.js';
import { crossEntropy } from '../../src/losses.js';
import { packageRoot } from '../../src/package-info.js';
import type { DifferentiableModel, LossFn } from '../../src/model.js';
import { parallelModel, type ParallelModel } from '../../src/parallel/index.js';
import { pgd } from '../../attacks/pgd.js';
import { seededValues } from '../helpers/models.js';

const ROOT = packageRoot() ?? process.cwd();
const MODEL = join(ROOT, 'assets', 'mnist-cnn', 'model.json');
const N = 9;

function bytes(t: tf.Tensor): Buffer {
  const v = t.dataSync() as Float32Array;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

describe('parallelModel with 3 workers on wasm (MNIST CNN)', () => {
  let local: DifferentiableModel;
  let pooled: ParallelModel;
  let x: tf.Tensor;
  let labels: tf.Tensor1D;

  beforeAll(async () => {
    await initBackend('wasm');
    local = (await loadModel(MODEL, { engine: 'tfjs' })) as DifferentiableModel;
    pooled = await parallelModel({ path: MODEL }, { workers: 3, shardSize: 2 });
    x = tf.tensor(seededValues(N * 784, 5), [N, 28, 28, 1]);
    labels = tf.tensor1d([7, 2, 1, 0, 4, 1, 4, 9, 5], 'int32');
  });
  afterAll(() => {
    pooled?.dispose();
    local?.dispose();
    tf.dispose([x, labels]);
  });

  it('gives values and gradients bit-identical to in-process, for a built-in and a closure loss', async () => {
    const closure: LossFn = (z) => tf.sub(tf.max(z, 1), tf.sum(tf.mul(z, tf.oneHot(labels, 10)), 1)) as tf.Tensor1D;
    for (const loss of [crossEntropy(labels, 10), closure]) {
      const r = await local.valueAndGrad(x, loss);
      const s = await pooled.valueAndGrad(x, loss);
      expect(pooled.workers).toBe(3);
      expect(bytes(s.value).equals(bytes(r.value))).toBe(true);
      expect(bytes(s.grad).equals(bytes(r.grad))).toBe(true);
      tf.dispose([r.value, r.grad, s.value, s.grad]);
    }
  });

  it('gives the same PGD result as in-process, bit for bit', async () => {
    const attack = pgd({ steps: 3 });
    const a = await attack.run(local, x, labels, { epsilons: [0.1], seed: 3 });
    const b = await attack.run(pooled, x, labels, { epsilons: [0.1], seed: 3 });
    expect(bytes(b.results[0]!.adversarial).equals(bytes(a.results[0]!.adversarial))).toBe(true);
    expect(b.results[0]!.success).toEqual(a.results[0]!.success);
    a.dispose();
    b.dispose();
  });
});

const distIndex = join(ROOT, 'dist', 'src', 'parallel', 'index.js');
/** dist/ holds a build of the current src/parallel (`npm ci` and `npm run build` make it); else the test is skipped. */
function distIsCurrent(): boolean {
  return ['index', 'pool', 'protocol', 'worker'].every((f) => {
    const [src, out] = [join(ROOT, 'src', 'parallel', `${f}.ts`), join(ROOT, 'dist', 'src', 'parallel', `${f}.js`)];
    return existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
  });
}
describe.skipIf(!distIsCurrent())('from compiled dist/', () => {
  it('runs the worker as plain JavaScript, and a pool that is never disposed lets the process exit', async () => {
    const url = (p: string): string => JSON.stringify(new URL(`file://${p}`).href);
    const script = `
      const tf = await import(${url(join(ROOT, 'dist', 'src', 'tf.js'))});
      const { initBackend } = await import(${url(join(ROOT, 'dist', 'src', 'backend.js'))});
      const { loadModel } = await import(${url(join(ROOT, 'dist', 'src', 'load.js'))});
      const { crossEntropy } = await import(${url(join(ROOT, 'dist', 'src', 'losses.js'))});
      const { parallelModel } = await import(${url(distIndex)});
      tf.env().set('PROD', true);
      await initBackend('cpu');
      const local = await loadModel(${JSON.stringify(MODEL)}, { engine: 'tfjs' });
      const pooled = await parallelModel({ path: ${JSON.stringify(MODEL)} }, { workers: 1 });
      const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1);
      const loss = crossEntropy(tf.tensor1d([3, 4], 'int32'), 10);
      const [a, b] = [await local.valueAndGrad(x, loss), await pooled.valueAndGrad(x, loss)];
      const same = Buffer.from(a.grad.dataSync().buffer).equals(Buffer.from(b.grad.dataSync().buffer));
      console.log(JSON.stringify({ same, workers: pooled.workers }));
      // pooled.dispose() deliberately not called
    `;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? child.exitCode ?? -1) : 0, stdout, stderr });
      });
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout.trim())).toEqual({ same: true, workers: 1 });
  });
});
