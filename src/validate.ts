/**
 * Input checks shared by the runner, evaluation and the CLI: shapes, finiteness, bounds, labels.
 * Each throws a typed error naming what was expected and what arrived.
 * @module
 */
import * as tf from './tf.js';
import type { ModelInfo } from './model.js';
import { BoundsError, ConfigError, LabelError, NonFiniteError, ShapeError, describe } from './errors.js';

/** Labels as a plain array, a typed array, or an int `[N]` tensor. */
export type LabelsLike = ArrayLike<number> | tf.Tensor1D;

/** The shortest decimal that reads back as the same float32 value (0.4 rather than 0.4000000059604645). */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

/**
 * Checks that `x` is a batch the model accepts: shape `[N, ...inputShape]` with N ≥ 1, only finite values, all
 * within `model.bounds`. Reads three scalars from the device.
 *
 * @param model - the model whose shape and bounds apply.
 * @param x - the batch; not disposed.
 * @param where - prefix of error messages.
 * @throws {@link ShapeError}, {@link NonFiniteError}, {@link BoundsError}.
 * @example
 * ```ts
 * await checkInputs(model, x, 'pgd');
 * ```
 */
export async function checkInputs(model: ModelInfo, x: tf.Tensor, where: string): Promise<void> {
  const expected = model.inputShape;
  if (x.rank !== expected.length + 1 || expected.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
    throw new ShapeError(`${where}: expected inputs of shape [N, ${expected.join(', ')}] with N >= 1, got [${x.shape.join(', ')}]`);
  }
  const stats = tf.tidy(() => {
    const f = tf.cast(x, 'float32');
    const finite = tf.logicalNot(tf.logicalOr(tf.isNaN(f), tf.isInf(f)));
    const safe = tf.where(finite, f, tf.zerosLike(f));
    return tf.stack([tf.sum(tf.cast(tf.logicalNot(finite), 'float32')), tf.min(safe), tf.max(safe)]);
  });
  const [bad, lo, hi] = Array.from(await stats.data());
  stats.dispose();
  if (bad! > 0) throw new NonFiniteError(`${where}: expected finite input values, got ${bad} NaN or infinite values`);
  const [blo, bhi] = model.bounds;
  if (lo! < blo || hi! > bhi) {
    throw new BoundsError(
      `${where}: expected input values within the model bounds [${blo}, ${bhi}], got values in [${formatFloat32(lo!)}, ${formatFloat32(hi!)}] (scale the data into the bounds, or declare the model's bounds)`,
    );
  }
}

/**
 * Checks labels (or targets): one integer in `[0, numClasses)` per sample.
 *
 * @param labels - the labels.
 * @param count - the batch size they must match.
 * @param numClasses - number of classes.
 * @param where - prefix of error messages, e.g. `pgd labels`.
 * @returns the labels as an `Int32Array` (a copy).
 * @throws {@link ShapeError} for a wrong count; {@link LabelError} for a non-integer or out-of-range value.
 * @example
 * ```ts
 * const y = await checkLabels([7, 2, 1], 3, 10, 'labels');
 * ```
 */
export async function checkLabels(labels: LabelsLike, count: number, numClasses: number, where: string): Promise<Int32Array> {
  let values: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1) throw new ShapeError(`${where}: expected a rank-1 tensor of ${count} labels, got shape [${labels.shape.join(', ')}]`);
    values = await labels.data();
  } else {
    values = labels;
  }
  if (values.length !== count) throw new ShapeError(`${where}: expected ${count} labels (one per input), got ${values.length}`);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new LabelError(`${where}: expected integers in [0, ${numClasses}), got ${describe(v)} at index ${i}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Checks a list of epsilons: non-empty, finite, ≥ 0.
 *
 * @param epsilons - the radii.
 * @param where - prefix of error messages.
 * @returns a copy.
 * @throws {@link ConfigError}.
 * @example
 * ```ts
 * checkEpsilons([0, 0.1, 0.3], 'pgd');
 * ```
 */
export function checkEpsilons(epsilons: readonly number[], where: string): number[] {
  if (!Array.isArray(epsilons) || epsilons.length === 0) {
    throw new ConfigError(`${where}: expected a non-empty list of epsilons, got ${describe(epsilons)}`);
  }
  for (const e of epsilons) {
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) {
      throw new ConfigError(`${where}: expected every epsilon to be a finite number >= 0, got ${describe(e)}`);
    }
  }
  return [...epsilons];
}

/** Throws a {@link ConfigError} unless `value` is an integer ≥ `min`. */
export function requireInt(value: unknown, min: number, where: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`${where}: expected ${name} to be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** Throws a {@link ConfigError} unless `value` is a finite number > 0 (or ≥ 0 with `allowZero`). */
export function requirePositive(value: unknown, where: string, name: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigError(`${where}: expected ${name} to be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${describe(value)}`);
  }
  return value;
}
