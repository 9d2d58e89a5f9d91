/**
 * Size of adversarial perturbations: per-sample L0, L1, L2 and L∞ norms of `adversarial - clean`, computed on
 * the device, and their summary statistics.
 * @module
 */
import { mean, median, max } from 'mathjs';
import * as tf from '../src/tf.js';
import { NonFiniteError, ShapeError, describe } from '../src/errors.js';
import type { NormStats, Stat } from '../src/report.js';

/**
 * A component counts towards the L0 norm when its absolute change exceeds this threshold. It is well below
 * the smallest step of 8-bit data in `[0, 1]` (1/255) and of float32 rounding at 1 (6e-8), and above zero so
 * that a `-0` or denormal difference does not count as a change.
 */
export const L0_THRESHOLD = 1e-12;

/**
 * Per-sample norms of a perturbation, one entry per sample of the batch.
 *
 * @example
 * ```ts
 * const norms: PerturbationNorms = await perturbationNorms(clean, adversarial);
 * norms.linf[0]; // largest absolute change in sample 0
 * ```
 */
export interface PerturbationNorms {
  /** Number of components whose absolute change exceeds {@link L0_THRESHOLD}. */
  l0: Float32Array;
  /** Sum of absolute changes. */
  l1: Float32Array;
  /** Euclidean norm of the change. */
  l2: Float32Array;
  /** Largest absolute change. */
  linf: Float32Array;
}

/**
 * Per-sample L0, L1, L2 and L∞ norms of `adversarial - clean`.
 *
 * Every axis but the first (the batch axis) is flattened. All four norms are reduced on the device in one
 * `tf.tidy` and stacked, so only `4 × N` floats are read to the host. Integer tensors are cast to float32.
 *
 * @param clean - the original batch `[N, ...]`; not disposed.
 * @param adversarial - the perturbed batch, same shape as `clean`; not disposed.
 * @returns four `Float32Array`s of length `N`; a sample of zero size has all norms `0`.
 * @throws `ShapeError` if the shapes differ or the tensors are scalars.
 * @example
 * ```ts
 * const { l2, linf } = await perturbationNorms(x, xAdv);
 * ```
 */
export async function perturbationNorms(clean: tf.Tensor, adversarial: tf.Tensor): Promise<PerturbationNorms> {
  if (clean.rank < 1) {
    throw new ShapeError(`perturbationNorms: expected a batch of rank >= 1 [N, ...], got a scalar`);
  }
  if (clean.rank !== adversarial.rank || clean.shape.some((d, i) => d !== adversarial.shape[i])) {
    throw new ShapeError(
      `perturbationNorms: expected adversarial to have the shape of clean [${clean.shape.join(', ')}], got [${adversarial.shape.join(', ')}]`,
    );
  }
  const n = clean.shape[0] ?? 0;
  const perSample = n === 0 ? 0 : clean.size / n;
  if (n === 0 || perSample === 0) {
    return { l0: new Float32Array(n), l1: new Float32Array(n), l2: new Float32Array(n), linf: new Float32Array(n) };
  }
  const stacked = tf.tidy(() => {
    const delta = tf.reshape(tf.sub(tf.cast(adversarial, 'float32'), tf.cast(clean, 'float32')), [n, perSample]);
    const abs = tf.abs(delta);
    const l0 = tf.sum(tf.cast(tf.greater(abs, L0_THRESHOLD), 'float32'), 1);
    const l1 = tf.sum(abs, 1);
    const l2 = tf.sqrt(tf.sum(tf.square(delta), 1));
    const linf = tf.max(abs, 1);
    return tf.stack([l0, l1, l2, linf]);
  });
  let data: Float32Array;
  try {
    data = Float32Array.from(await stacked.data());
  } finally {
    stacked.dispose();
  }
  return {
    l0: data.slice(0, n),
    l1: data.slice(n, 2 * n),
    l2: data.slice(2 * n, 3 * n),
    linf: data.slice(3 * n, 4 * n),
  };
}

/**
 * Mean, median and maximum of a set of values (via mathjs).
 *
 * An empty set summarises to `{ mean: 0, median: 0, max: 0 }` rather than `NaN` (which JSON cannot hold);
 * reports carry the count next to it (`succeeded`), so a zero with a count of zero is unambiguous.
 *
 * @param values - the values, e.g. one norm of the successful adversarial examples.
 * @returns `{ mean, median, max }`; the median of an even count is the mean of the two middle values.
 * @throws `NonFiniteError` if a value is NaN or ±Infinity.
 * @example
 * ```ts
 * summarize([1, 3, 2, 10]); // { mean: 4, median: 2.5, max: 10 }
 * ```
 */
export function summarize(values: ArrayLike<number>): Stat {
  const arr = Array.from(values);
  if (arr.length === 0) return { mean: 0, median: 0, max: 0 };
  const bad = arr.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new NonFiniteError(`summarize: expected finite values, got ${describe(arr[bad])} at index ${bad}`);
  }
  return { mean: mean(arr), median: median(arr), max: max(arr) };
}

/**
 * Summarises all four norms, optionally over a subset of samples (typically the successful ones).
 *
 * @param norms - per-sample norms from {@link perturbationNorms}.
 * @param select - optional mask, one entry per sample; truthy (non-zero / `true`) entries are kept. Default: all.
 * @returns `NormStats`; zeros for every statistic when nothing is selected.
 * @throws `ShapeError` if `select` does not have one entry per sample.
 * @example
 * ```ts
 * const norms = await perturbationNorms(x, xAdv);
 * const stats = summarizeNorms(norms, successMask); // only the adversarial examples that fooled the model
 * ```
 */
export function summarizeNorms(norms: PerturbationNorms, select?: ArrayLike<number | boolean>): NormStats {
  const n = norms.l2.length;
  if (select !== undefined && select.length !== n) {
    throw new ShapeError(`summarizeNorms: expected select to have ${n} entries (one per sample), got ${select.length}`);
  }
  const pick = (values: Float32Array): number[] => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (select === undefined || select[i]) out.push(values[i] as number);
    return out;
  };
  return {
    l0: summarize(pick(norms.l0)),
    l1: summarize(pick(norms.l1)),
    l2: summarize(pick(norms.l2)),
    linf: summarize(pick(norms.linf)),
  };
}
