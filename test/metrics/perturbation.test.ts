import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { NonFiniteError, ShapeError } from '../../src/errors.js';
import { L0_THRESHOLD, perturbationNorms, summarize, summarizeNorms } from '../../metrics/perturbation.js';

function close(actual: Float32Array, expected: number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, digits));
}

describe('perturbationNorms', () => {
  it('computes L0, L1, L2 and Linf per sample over a flattened [N, 2, 2] batch', async () => {
    const clean = tf.tensor3d([
      [
        [0, 0],
        [0, 0],
      ],
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
      [
        [1, 0],
        [0, 1],
      ],
    ]);
    const adv = tf.tensor3d([
      [
        [0.3, -0.4],
        [0, 0],
      ], // delta (0.3, -0.4, 0, 0): L0 2, L1 0.7, L2 0.5, Linf 0.4
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ], // unchanged
      [
        [0.9, 0.1],
        [0.1, 0.9],
      ], // delta (-0.1, 0.1, 0.1, -0.1): L0 4, L1 0.4, L2 0.2, Linf 0.1
    ]);
    const before = tf.memory().numTensors;
    const n = await perturbationNorms(clean, adv);
    expect(tf.memory().numTensors).toBe(before);
    close(n.l0, [2, 0, 4]);
    close(n.l1, [0.7, 0, 0.4]);
    close(n.l2, [0.5, 0, 0.2]);
    close(n.linf, [0.4, 0, 0.1]);
    for (const a of [n.l0, n.l1, n.l2, n.linf]) expect(a).toBeInstanceOf(Float32Array);
    tf.dispose([clean, adv]);
  });

  it('works on NHWC images and integer tensors', async () => {
    const clean = tf.zeros([2, 3, 3, 1], 'int32');
    const adv = tf.tensor4d([0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 3, 3, 1], 'int32');
    const before = tf.memory().numTensors;
    const n = await perturbationNorms(clean, adv);
    expect(tf.memory().numTensors).toBe(before);
    close(n.l0, [1, 9]);
    close(n.l1, [3, 9]);
    close(n.l2, [3, 3]);
    close(n.linf, [3, 1]);
    tf.dispose([clean, adv]);
  });

  it('ignores changes at or below the L0 threshold for L0 only', async () => {
    expect(L0_THRESHOLD).toBe(1e-12);
    const clean = tf.tensor2d([[0, 0, 0]]);
    const adv = tf.tensor2d([[0, -0, 0.25]]);
    const n = await perturbationNorms(clean, adv);
    close(n.l0, [1]);
    close(n.linf, [0.25]);
    tf.dispose([clean, adv]);
  });

  it('returns empty arrays for an empty batch and zeros for zero-size samples', async () => {
    const a = tf.zeros([0, 4]);
    const b = tf.zeros([2, 0]);
    const before = tf.memory().numTensors;
    const empty = await perturbationNorms(a, a);
    expect(empty.l2.length).toBe(0);
    const zeroSize = await perturbationNorms(b, b);
    expect(Array.from(zeroSize.linf)).toEqual([0, 0]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it('rejects mismatched shapes and scalars without leaking', async () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([2, 4]);
    const s = tf.scalar(1);
    const before = tf.memory().numTensors;
    await expect(perturbationNorms(a, b)).rejects.toThrow(ShapeError);
    await expect(perturbationNorms(a, b)).rejects.toThrow('perturbationNorms: expected adversarial to have the shape of clean [2, 3], got [2, 4]');
    await expect(perturbationNorms(s, s)).rejects.toThrow(ShapeError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, s]);
  });
});

describe('summarize', () => {
  it('gives mean, median and max', () => {
    expect(summarize([1, 3, 2, 10])).toEqual({ mean: 4, median: 2.5, max: 10 });
    expect(summarize([5])).toEqual({ mean: 5, median: 5, max: 5 });
    const f = summarize(new Float32Array([0.5, 0.25, 0.75]));
    expect(f.mean).toBeCloseTo(0.5, 7);
    expect(f.median).toBe(0.5);
    expect(f.max).toBe(0.75);
  });

  it('summarises an empty set to zeros', () => {
    expect(summarize([])).toEqual({ mean: 0, median: 0, max: 0 });
  });

  it('rejects non-finite values', () => {
    expect(() => summarize([1, Number.NaN])).toThrow(NonFiniteError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow('summarize: expected finite values, got Infinity at index 1');
  });
});

describe('summarizeNorms', () => {
  const norms = {
    l0: new Float32Array([1, 2, 3]),
    l1: new Float32Array([0.5, 1, 1.5]),
    l2: new Float32Array([0.25, 0.5, 1]),
    linf: new Float32Array([0.125, 0.25, 0.5]),
  };

  it('summarises every norm over all samples', () => {
    const s = summarizeNorms(norms);
    expect(s.l0).toEqual({ mean: 2, median: 2, max: 3 });
    expect(s.l2.max).toBe(1);
    expect(s.linf.median).toBe(0.25);
  });

  it('summarises only the selected samples', () => {
    const s = summarizeNorms(norms, [true, false, true]);
    expect(s.l0).toEqual({ mean: 2, median: 2, max: 3 });
    expect(s.l2).toEqual({ mean: 0.625, median: 0.625, max: 1 });
    const none = summarizeNorms(norms, new Uint8Array(3));
    expect(none.linf).toEqual({ mean: 0, median: 0, max: 0 });
  });

  it('rejects a mask of the wrong length', () => {
    expect(() => summarizeNorms(norms, [1, 0])).toThrow(ShapeError);
    expect(() => summarizeNorms(norms, [1, 0])).toThrow('summarizeNorms: expected select to have 3 entries (one per sample), got 2');
  });
});
