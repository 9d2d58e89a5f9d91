/**
 * Accuracy and its uncertainty: plain accuracy, Wilson score confidence intervals, the inverse normal CDF they
 * need, and a device-side argmax that reads only the predicted class of each row.
 * @module
 */
import { erf } from 'mathjs';
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError, describe } from '../src/errors.js';
import type { Interval } from '../src/report.js';

// Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9), polished below with
// one Halley step against the exact CDF (via mathjs's erf), which brings it to double precision.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
const P_LOW = 0.02425;

function acklam(p: number): number {
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  if (p > 1 - P_LOW) return -acklam(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

/** Standard normal CDF. */
function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

/**
 * The inverse of the standard normal CDF: the `z` with `P(Z <= z) = p` for `Z ~ N(0, 1)`.
 *
 * Computed with Acklam's rational approximation, then refined with one Halley step against the normal CDF
 * (mathjs `erf`), accurate to about 1e-13 over `[1e-5, 1 - 1e-5]`, 1e-11 at `1e-6` and within Acklam's 1e-9 (relative) beyond.
 *
 * @param p - a probability in the open interval `(0, 1)`.
 * @returns the quantile; `normalQuantile(0.975)` is `1.959963984540054`.
 * @throws `ConfigError` if `p` is not a number strictly between 0 and 1.
 * @example
 * ```ts
 * const z = normalQuantile(0.975); // 1.959963984540054, for a two-sided 95% interval
 * ```
 */
export function normalQuantile(p: number): number {
  if (typeof p !== 'number' || !(p > 0 && p < 1)) {
    throw new ConfigError(`normalQuantile: expected p to be a number in (0, 1), got ${describe(p)}`);
  }
  if (p > 0.5) return -normalQuantile(1 - p);
  if (p === 0.5) return 0;
  const x = acklam(p);
  // One Halley step on f(x) = Phi(x) - p. Phi(x) = (1 + erf(x / sqrt 2)) / 2 cancels for very negative x; where
  // its relative error could exceed Acklam's own (p below 1e-8) keep the approximation as it is.
  if (p < 1e-8) return x;
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * Wilson score confidence interval for a binomial proportion `successes / n`.
 *
 * Unlike the normal ("Wald") interval it stays inside `[0, 1]` and behaves well for proportions near 0 or 1
 * and for small `n`, which is exactly where robust accuracies live. The two-sided level is honoured for any
 * value in `(0, 1)`: the z-quantile is computed, not looked up.
 *
 * @param successes - number of successes (e.g. robust samples), an integer in `[0, n]`.
 * @param n - number of trials (evaluated samples), a non-negative integer. `n = 0` gives `{ lower: 0, upper: 1 }`.
 * @param level - confidence level in `(0, 1)`. Default `0.95`.
 * @returns `{ lower, upper, level }`, with `lower` exactly `0` when `successes = 0` and `upper` exactly `1`
 * when `successes = n`.
 * @throws `ConfigError` if `n` is not a non-negative integer, `successes` not an integer in `[0, n]`, or
 * `level` not in `(0, 1)`.
 * @example
 * ```ts
 * wilsonInterval(8, 10);        // { lower: 0.4902, upper: 0.9433, level: 0.95 } (rounded)
 * wilsonInterval(0, 10, 0.99);  // { lower: 0, upper: 0.3989, level: 0.99 } (rounded)
 * ```
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval {
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError(`wilsonInterval: expected n to be a non-negative integer, got ${describe(n)}`);
  }
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new ConfigError(`wilsonInterval: expected successes to be an integer in [0, ${n}], got ${describe(successes)}`);
  }
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw new ConfigError(`wilsonInterval: expected level to be a number in (0, 1), got ${describe(level)}`);
  }
  if (n === 0) return { lower: 0, upper: 1, level };
  const z = normalQuantile(1 - (1 - level) / 2);
  const z2 = z * z;
  const p = successes / n;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  const lower = successes === 0 ? 0 : Math.max(0, center - half);
  const upper = successes === n ? 1 : Math.min(1, center + half);
  return { lower, upper, level };
}

/**
 * Fraction of predictions equal to their labels.
 *
 * @param predictions - predicted class per sample.
 * @param labels - true class per sample; same length as `predictions`.
 * @returns a fraction in `[0, 1]`; `0` for empty inputs (report the count alongside, as reports do).
 * @throws `ShapeError` if the lengths differ.
 * @example
 * ```ts
 * accuracy([1, 2, 3, 0], [1, 2, 0, 0]); // 0.75
 * ```
 */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length) {
    throw new ShapeError(`accuracy: expected labels to have ${predictions.length} entries like predictions, got ${labels.length}`);
  }
  const n = predictions.length;
  if (n === 0) return 0;
  let correct = 0;
  for (let i = 0; i < n; i++) if (predictions[i] === labels[i]) correct++;
  return correct / n;
}

/**
 * The index of the largest entry of each row (the predicted class of each sample), computed on the device;
 * only the `[N]` int32 result is read to the host.
 *
 * Ties resolve to the first maximal index (tfjs `argMax`).
 *
 * @param logits - `[N, C]` scores (logits or probabilities); not disposed.
 * @returns a new `Int32Array` of length `N`.
 * @throws `ShapeError` if `logits` is not rank 2 or has no columns.
 * @example
 * ```ts
 * const preds = await argmaxRows(tf.tensor2d([[0.1, 2], [3, -1]])); // Int32Array [1, 0]
 * ```
 */
export async function argmaxRows(logits: tf.Tensor2D): Promise<Int32Array> {
  if (logits.rank !== 2) {
    throw new ShapeError(`argmaxRows: expected logits of rank 2 [N, C], got shape [${logits.shape.join(', ')}]`);
  }
  const [n, c] = logits.shape;
  if (c === 0 && n > 0) {
    throw new ShapeError(`argmaxRows: expected at least one column, got shape [${logits.shape.join(', ')}]`);
  }
  if (n === 0) return new Int32Array(0);
  const idx = tf.tidy(() => tf.argMax(logits, 1));
  try {
    const data = await idx.data();
    return Int32Array.from(data);
  } finally {
    idx.dispose();
  }
}
