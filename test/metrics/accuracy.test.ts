import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { accuracy, argmaxRows, normalQuantile, wilsonInterval } from '../../metrics/accuracy.js';

describe('normalQuantile', () => {
  it('matches tabulated standard normal quantiles', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536269514722, 12);
    expect(normalQuantile(0.995)).toBeCloseTo(2.5758293035489004, 12);
    expect(normalQuantile(0.3)).toBeCloseTo(-0.5244005127080407, 12);
    expect(normalQuantile(0.0005)).toBeCloseTo(-3.2905267314919255, 11);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 7);
    expect(normalQuantile(0.5)).toBe(0);
  });

  it('is antisymmetric around 0.5', () => {
    for (const p of [0.01, 0.1, 0.2, 0.4, 0.49]) expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 12);
  });

  it('rejects probabilities outside (0, 1)', () => {
    for (const p of [0, 1, -0.1, 1.5, Number.NaN]) expect(() => normalQuantile(p)).toThrow(ConfigError);
    expect(() => normalQuantile(1)).toThrow('normalQuantile: expected p to be a number in (0, 1), got 1');
  });
});

describe('wilsonInterval', () => {
  it('gives the textbook 95% intervals', () => {
    const a = wilsonInterval(8, 10);
    expect(a.lower).toBeCloseTo(0.4902, 4);
    expect(a.upper).toBeCloseTo(0.9433, 4);
    expect(a.level).toBe(0.95);

    const b = wilsonInterval(0, 10);
    expect(b.lower).toBe(0);
    expect(b.upper).toBeCloseTo(0.2775, 4);

    const c = wilsonInterval(50, 100);
    expect(c.lower).toBeCloseTo(0.4038, 4);
    expect(c.upper).toBeCloseTo(0.5962, 4);

    const d = wilsonInterval(10, 10);
    expect(d.upper).toBe(1);
    expect(d.lower).toBeCloseTo(0.7225, 4);
  });

  it('honours other confidence levels', () => {
    // z = 1.644854 (90%) and z = 2.575829 (99%), Wilson formula evaluated by hand
    const ninety = wilsonInterval(8, 10, 0.9);
    expect(ninety.lower).toBeCloseTo(0.5408, 4);
    expect(ninety.upper).toBeCloseTo(0.9314, 4);
    expect(ninety.level).toBe(0.9);
    const ninetyNine = wilsonInterval(8, 10, 0.99);
    expect(ninetyNine.lower).toBeCloseTo(0.4008, 4);
    expect(ninetyNine.upper).toBeCloseTo(0.9599, 4);
    const zero99 = wilsonInterval(0, 10, 0.99);
    expect(zero99.upper).toBeCloseTo(6.634897 / 16.634897, 6); // z² / (n + z²) when successes = 0
  });

  it('widens with the level and narrows with n, and always contains the estimate', () => {
    const l90 = wilsonInterval(30, 40, 0.9);
    const l99 = wilsonInterval(30, 40, 0.99);
    expect(l99.lower).toBeLessThan(l90.lower);
    expect(l99.upper).toBeGreaterThan(l90.upper);
    const small = wilsonInterval(3, 4);
    const big = wilsonInterval(300, 400);
    expect(big.upper - big.lower).toBeLessThan(small.upper - small.lower);
    for (let s = 0; s <= 20; s++) {
      const ci = wilsonInterval(s, 20);
      expect(ci.lower).toBeGreaterThanOrEqual(0);
      expect(ci.upper).toBeLessThanOrEqual(1);
      expect(ci.lower).toBeLessThanOrEqual(s / 20);
      expect(ci.upper).toBeGreaterThanOrEqual(s / 20);
    }
  });

  it('returns [0, 1] for n = 0', () => {
    expect(wilsonInterval(0, 0)).toEqual({ lower: 0, upper: 1, level: 0.95 });
    expect(wilsonInterval(0, 0, 0.9)).toEqual({ lower: 0, upper: 1, level: 0.9 });
  });

  it('rejects invalid inputs with typed errors', () => {
    expect(() => wilsonInterval(11, 10)).toThrow(ConfigError);
    expect(() => wilsonInterval(11, 10)).toThrow('wilsonInterval: expected successes to be an integer in [0, 10], got 11');
    expect(() => wilsonInterval(-1, 10)).toThrow(ConfigError);
    expect(() => wilsonInterval(2.5, 10)).toThrow(ConfigError);
    expect(() => wilsonInterval(1, -1)).toThrow('wilsonInterval: expected n to be a non-negative integer, got -1');
    expect(() => wilsonInterval(1, 3.5)).toThrow(ConfigError);
    expect(() => wilsonInterval(1, Number.NaN)).toThrow('got NaN');
    expect(() => wilsonInterval(1, 10, 1)).toThrow('wilsonInterval: expected level to be a number in (0, 1), got 1');
    expect(() => wilsonInterval(1, 10, 0)).toThrow(ConfigError);
    expect(() => wilsonInterval(1, 10, 95)).toThrow(ConfigError);
  });
});

describe('accuracy', () => {
  it('counts matching predictions', () => {
    expect(accuracy([1, 2, 3, 0], [1, 2, 0, 0])).toBe(0.75);
    expect(accuracy(new Int32Array([0, 1]), new Float32Array([0, 1]))).toBe(1);
    expect(accuracy([5], [4])).toBe(0);
  });

  it('is 0 for empty inputs', () => {
    expect(accuracy([], [])).toBe(0);
  });

  it('rejects mismatched lengths', () => {
    expect(() => accuracy([1, 2], [1])).toThrow(ShapeError);
    expect(() => accuracy([1, 2], [1])).toThrow('accuracy: expected labels to have 2 entries like predictions, got 1');
  });
});

describe('argmaxRows', () => {
  it('returns the index of the largest entry per row, first on ties', async () => {
    const logits = tf.tensor2d([
      [0.1, 2, -1],
      [3, -1, 0],
      [-5, -4, -3],
      [1, 1, 0],
    ]);
    const before = tf.memory().numTensors;
    const preds = await argmaxRows(logits);
    expect(tf.memory().numTensors).toBe(before);
    expect(preds).toBeInstanceOf(Int32Array);
    expect(Array.from(preds)).toEqual([1, 0, 2, 0]);
    logits.dispose();
  });

  it('handles an empty batch', async () => {
    const logits = tf.zeros([0, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect((await argmaxRows(logits)).length).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it('rejects tensors that are not rank 2', async () => {
    const v = tf.tensor1d([1, 2]);
    const before = tf.memory().numTensors;
    await expect(argmaxRows(v as unknown as tf.Tensor2D)).rejects.toThrow(ShapeError);
    await expect(argmaxRows(v as unknown as tf.Tensor2D)).rejects.toThrow('argmaxRows: expected logits of rank 2 [N, C], got shape [2]');
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
  });
});
