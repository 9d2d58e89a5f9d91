// The worker pool gives values and input-gradients bit-identical to the model's own in-process valueAndGrad, on cpu
// and wasm, for the built-in losses (one round trip) and any other loss (two round trips), whatever the shard size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { initBackend } from '../../src/backend.js';
import { loadModel } from '../../src/load.js';
import { attackLoss, crossEntropy, describeLoss, marginLoss, targetedLoss } from '../../src/losses.js';
import { disableFastGradients, enableFastGradients } from '../../src/gradients/index.js';
import type { DifferentiableModel, LossFn } from '../../src/model.js';
import { parallelModel, shardRanges, withShardSize, type ParallelModel } from '../../src/parallel/index.js';
import { expectNoLeak, seededValues } from '../helpers/models.js';
import { writeTinyLayersModel, type TinyModelFiles } from './helpers.js';

const N = 7;
let files: TinyModelFiles;
beforeAll(async () => {
  files = await writeTinyLayersModel();
});
afterAll(async () => {
  await files?.remove();
});

/** The bytes of a tensor's values. */
function bytes(t: tf.Tensor): Buffer {
  const v = t.dataSync() as Float32Array;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

async function expectSame(a: DifferentiableModel, b: DifferentiableModel, x: tf.Tensor, loss: LossFn): Promise<void> {
  const r = await a.valueAndGrad(x, loss);
  const s = await b.valueAndGrad(x, loss);
  try {
    expect(s.value.shape).toEqual([x.shape[0]]);
    expect(s.grad.shape).toEqual(x.shape);
    expect(bytes(s.value).equals(bytes(r.value))).toBe(true);
    expect(bytes(s.grad).equals(bytes(r.grad))).toBe(true);
    // Not trivially equal: the gradient is not all zeros.
    expect(tf.max(tf.abs(r.grad)).dataSync()[0]).toBeGreaterThan(0);
  } finally {
    tf.dispose([r.value, r.grad, s.value, s.grad]);
  }
}

describe('shardRanges', () => {
  it('cuts n into ceil(n / size) near-equal ranges that cover [0, n) in order', () => {
    expect(shardRanges(100, 32)).toEqual([
      [0, 25],
      [25, 50],
      [50, 75],
      [75, 100],
    ]);
    expect(shardRanges(7, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 7],
    ]);
    expect(shardRanges(5, 100)).toEqual([[0, 5]]);
    for (const [n, s] of [
      [1, 1],
      [13, 4],
      [200, 32],
      [77, 10],
    ] as const) {
      const r = shardRanges(n, s);
      expect(r.length).toBe(Math.ceil(n / s));
      expect(r[0]![0]).toBe(0);
      expect(r[r.length - 1]![1]).toBe(n);
      r.forEach(([lo, hi], i) => {
        expect(hi - lo).toBeLessThanOrEqual(s);
        if (i > 0) expect(lo).toBe(r[i - 1]![1]);
      });
    }
  });
});

describe('describeLoss', () => {
  it('describes the built-in losses and nothing else', () => {
    const labels = tf.tensor1d([1, 2], 'int32');
    expect(describeLoss(crossEntropy(labels, 10))).toEqual({ name: 'ce', targeted: false, classes: labels, numClasses: 10 });
    expect(describeLoss(marginLoss(labels, 10))).toMatchObject({ name: 'margin', targeted: false });
    expect(describeLoss(targetedLoss('ce', labels, 10))).toMatchObject({ name: 'ce', targeted: true, classes: labels });
    expect(describeLoss(attackLoss('margin', labels, 5, labels))).toMatchObject({ name: 'margin', targeted: true, numClasses: 5 });
    expect(describeLoss((z) => tf.max(z, 1))).toBeUndefined();
    labels.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('parallelModel on %s', (backend) => {
  let local: DifferentiableModel;
  let pooled: ParallelModel;
  let x: tf.Tensor;
  let labels: tf.Tensor1D;
  let targets: tf.Tensor1D;

  beforeAll(async () => {
    await initBackend(backend);
    local = (await loadModel(files.path, { engine: 'tfjs' })) as DifferentiableModel;
    pooled = await parallelModel({ path: files.path }, { workers: 2, shardSize: 3 });
    x = tf.tensor(seededValues(N * 64, 11), [N, 8, 8, 1]);
    labels = tf.tensor1d([2, 2, 1, 0, 1, 1, 0], 'int32');
    targets = tf.tensor1d([0, 0, 0, 1, 0, 0, 1], 'int32');
  });
  afterAll(() => {
    pooled?.dispose();
    local?.dispose();
    tf.dispose([x, labels, targets]);
  });

  it('reports its configuration and mirrors the model', () => {
    expect(pooled.workers).toBe(2);
    expect(pooled.shardSize).toBe(3);
    expect(pooled.backend).toBe(backend);
    expect(pooled.workerStartupMs).toHaveLength(2);
    expect(pooled.kind).toBe('differentiable');
    expect(pooled.numClasses).toBe(3);
    expect(pooled.inputShape).toEqual([8, 8, 1]);
    expect(pooled.name).toBe(local.name);
    expect(pooled.engine).toBe('tfjs'); // whatever loadModel's default engine, the pool runs tfjs
  });

  it('gives bit-identical values and gradients for the built-in losses (one round trip)', async () => {
    for (const loss of [crossEntropy(labels, 3), marginLoss(labels, 3), targetedLoss('ce', targets, 3), attackLoss('margin', labels, 3, targets)]) {
      await expectSame(local, pooled, x, loss);
    }
  });

  it('gives bit-identical results for any shard size', async () => {
    for (const s of [1, 2, 4, 6, 100]) await expectSame(local, withShardSize(pooled, s), x, crossEntropy(labels, 3));
  });

  it('gives bit-identical results for a closure loss (two round trips), even one coupled across the batch', async () => {
    const closureCe: LossFn = (z) => tf.sub(tf.logSumExp(z, 1), tf.sum(tf.mul(z, tf.oneHot(labels, 3)), 1)) as tf.Tensor1D;
    const coupled: LossFn = (z) => {
      const top = tf.max(z, 1);
      return tf.mul(top, tf.mean(top)) as tf.Tensor1D; // depends on the whole batch
    };
    const squared: LossFn = (z) => tf.sum(tf.square(z), 1) as tf.Tensor1D;
    for (const loss of [closureCe, coupled, squared]) await expectSame(local, pooled, x, loss);
    // The closure form of cross-entropy takes the two-round-trip path yet equals the built-in path bit for bit.
    const a = await pooled.valueAndGrad(x, closureCe);
    const b = await pooled.valueAndGrad(x, crossEntropy(labels, 3));
    expect(bytes(a.grad).equals(bytes(b.grad))).toBe(true);
    tf.dispose([a.value, a.grad, b.value, b.grad]);
  });

  it("follows the main thread's fast-gradient setting at every call", async () => {
    disableFastGradients();
    try {
      await expectSame(local, pooled, x, crossEntropy(labels, 3));
      await expectSame(local, pooled, x, (z) => tf.max(z, 1) as tf.Tensor1D);
    } finally {
      enableFastGradients();
    }
    await expectSame(local, pooled, x, crossEntropy(labels, 3));
  });

  it('casts a non-float32 input like the in-process model, and delegates logits to the main thread', async () => {
    const xi = tf.tidy(() => tf.cast(tf.greater(x, 0.5), 'int32'));
    await expectSame(local, pooled, xi, crossEntropy(labels, 3));
    const [a, b] = [local.logits(x), pooled.logits(x)];
    expect(bytes(a).equals(bytes(b))).toBe(true);
    tf.dispose([xi, a, b]);
    expect(await pooled.fingerprint()).toBe(await local.fingerprint());
  });

  it('serves concurrent calls, each with its own result', async () => {
    const closure: LossFn = (z) => tf.max(z, 1) as tf.Tensor1D;
    const [a, b, c] = await Promise.all([
      pooled.valueAndGrad(x, crossEntropy(labels, 3)),
      pooled.valueAndGrad(x, closure),
      withShardSize(pooled, 1).valueAndGrad(x, marginLoss(labels, 3)),
    ]);
    const [ra, rb, rc] = [
      await local.valueAndGrad(x, crossEntropy(labels, 3)),
      await local.valueAndGrad(x, closure),
      await local.valueAndGrad(x, marginLoss(labels, 3)),
    ];
    for (const [p, q] of [
      [a, ra],
      [b, rb],
      [c, rc],
    ] as const) {
      expect(bytes(p.value).equals(bytes(q.value))).toBe(true);
      expect(bytes(p.grad).equals(bytes(q.grad))).toBe(true);
    }
    tf.dispose([a, b, c, ra, rb, rc].flatMap((r) => [r.value, r.grad]));
  });

  it('leaks no tensors in valueAndGrad (both paths) or logits', async () => {
    const leaked = await expectNoLeak(async () => {
      for (const loss of [crossEntropy(labels, 3), (z: tf.Tensor2D) => tf.max(z, 1) as tf.Tensor1D]) {
        const { value, grad } = await pooled.valueAndGrad(x, loss);
        tf.dispose([value, grad]);
      }
      pooled.logits(x).dispose();
    });
    expect(leaked).toBe(0);
  });
});
