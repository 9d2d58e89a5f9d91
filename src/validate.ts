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
 * Checks that `model` is a robustest model (from `loadModel`, `fromLayersModel`, `fromGraphModel`, `fromFunction`,
 * ...), not a raw tfjs model or another object: it must have a kind, a class count, an input shape, bounds and
 * `logits`. A raw tfjs LayersModel or GraphModel gets a message that says how to wrap it.
 *
 * @param model - the value passed as a model.
 * @param where - prefix of the error message.
 * @throws {@link ConfigError} naming what arrived.
 * @example
 * ```ts
 * import { checkModel } from 'robustest';
 * checkModel(model, 'evaluate');
 * ```
 */
export function checkModel(model: unknown, where: string): asserts model is ModelInfo {
  const m = model as Record<string, unknown> | null;
  if (m === null || typeof m !== 'object') throw new ConfigError(`${where}: expected a robustest model, got ${describe(model)}`);
  const ok =
    (m['kind'] === 'differentiable' || m['kind'] === 'query') &&
    typeof m['numClasses'] === 'number' &&
    Array.isArray(m['inputShape']) &&
    Array.isArray(m['bounds']) &&
    typeof m['logits'] === 'function';
  if (ok) return;
  if (typeof m['predict'] === 'function' && Array.isArray(m['layers'])) {
    throw new ConfigError(`${where}: expected a robustest model, got a raw tfjs LayersModel; wrap it with fromLayersModel(model, { bounds })`);
  }
  if (typeof m['executeAsync'] === 'function' || typeof m['execute'] === 'function') {
    throw new ConfigError(`${where}: expected a robustest model, got a raw tfjs GraphModel; wrap it with fromGraphModel(model, { bounds, numClasses })`);
  }
  throw new ConfigError(
    `${where}: expected a robustest model (from loadModel, fromLayersModel, fromGraphModel or fromFunction) with kind, numClasses, inputShape, bounds and logits, got ${describe(model)}`,
  );
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
  } else if (labels !== null && typeof labels === 'object' && typeof (labels as ArrayLike<number>).length === 'number') {
    values = labels;
  } else {
    throw new LabelError(`${where}: expected ${count} labels as an array, typed array or rank-1 tensor, got ${describe(labels)}`);
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
  if (epsilons.length > COUNT_LIMITS.epsilons) {
    throw new ConfigError(`${where}: expected at most ${COUNT_LIMITS.epsilons} epsilons, got ${epsilons.length}`);
  }
  for (const e of epsilons) {
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) {
      throw new ConfigError(`${where}: expected every epsilon to be a finite number >= 0, got ${describe(e)}`);
    }
    if (e > FLOAT32_MAX) throw new ConfigError(`${where}: expected every epsilon to be at most float32's maximum 3.4e38, got ${describe(e)}`);
  }
  return [...epsilons];
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The largest radius that can matter for inputs in `bounds` with `size` values each: the bounds' width for L∞,
 * width·√size for L2 (the diameter of the box). A larger radius changes nothing but makes a report read as if it did.
 *
 * @param norm - `linf` or `l2`.
 * @param bounds - the model's input bounds.
 * @param size - values per input.
 * @example
 * ```ts
 * import { maxRadius } from 'robustest';
 * maxRadius('linf', [0, 1], 784); // 1
 * ```
 */
export function maxRadius(norm: 'linf' | 'l2', bounds: readonly [number, number], size: number): number {
  const width = bounds[1] - bounds[0];
  return norm === 'linf' ? width : width * Math.sqrt(size);
}

/**
 * Throws a {@link ConfigError} for an L∞ epsilon beyond the width of the bounds (with a relative slack of 1e-6 for
 * rounding): such a radius means nothing and is most often a unit slip (`8` for `8/255`). L2 radii are not bounded
 * here beyond float32 ({@link checkEpsilons}): a radius past the box's diameter is a legitimate "unbounded" request.
 *
 * @param epsilons - the radii.
 * @param norm - the threat model; only `linf` is checked.
 * @param bounds - the model's input bounds.
 * @param size - values per input.
 * @param where - prefix of the error message.
 * @throws {@link ConfigError} naming the radius and the bound.
 * @example
 * ```ts
 * import { checkRadius } from 'robustest';
 * checkRadius([0.1, 0.3], 'linf', [0, 1], 784, 'pgd');
 * ```
 */
export function checkRadius(epsilons: readonly number[], norm: 'linf' | 'l2', bounds: readonly [number, number], size: number, where: string): void {
  if (norm !== 'linf') return;
  const max = maxRadius(norm, bounds, size);
  const bad = epsilons.find((e) => e > max * (1 + 1e-6));
  if (bad !== undefined) {
    throw new ConfigError(
      `${where}: expected every linf epsilon to be at most ${formatFloat32(max)} (the width of the bounds [${bounds[0]}, ${bounds[1]}]), got ${describe(bad)}`,
    );
  }
}

/**
 * The largest value each count option accepts, by option name (`default` for any other count). A count beyond
 * these would run for days or allocate beyond any machine, so it is a {@link ConfigError} rather than a hang:
 * - `steps` (every iterative attack), `checkEvery`: 100,000;
 * - `restarts`: 1,000; `binarySearchSteps` (CW): 100;
 * - `queries` (black-box budget per input), `samples` (random search): 10,000,000;
 * - `batchSize`: 65,536; `eotSamples`: 10,000; `epsilons` (radii in one list): 1,000;
 * - `targetClasses`, `candidates`: 100,000; `initialEvals`, `maxEvals`, `initDraws` (HopSkipJump): 100,000;
 * - any other count: 1,000,000,000.
 *
 * @example
 * ```ts
 * import { COUNT_LIMITS } from 'robustest';
 * console.log(`at most ${COUNT_LIMITS.steps} steps`);
 * ```
 */
export const COUNT_LIMITS = Object.freeze({
  /** Steps of every iterative attack. */
  steps: 100_000,
  /** Steps between success checks. */
  checkEvery: 100_000,
  /** Restarts of an attack. */
  restarts: 1_000,
  /** CW's binary-search steps over its constant. */
  binarySearchSteps: 100,
  /** Query budget per input of a black-box attack. */
  queries: 10_000_000,
  /** Random search's samples per input. */
  samples: 10_000_000,
  /** Inputs per batch. */
  batchSize: 65_536,
  /** Draws per gradient of an EOT defense. */
  eotSamples: 10_000,
  /** Target classes of a targeted attack. */
  targetClasses: 100_000,
  /** DeepFool's candidate classes. */
  candidates: 100_000,
  /** HopSkipJump's initial gradient-estimate queries. */
  initialEvals: 100_000,
  /** HopSkipJump's largest gradient-estimate queries. */
  maxEvals: 100_000,
  /** HopSkipJump's draws for its starting point. */
  initDraws: 100_000,
  /** Radii in one list (each is a full attack run). */
  epsilons: 1_000,
  /** Any other count. */
  default: 1_000_000_000,
} as const);

/** The documented maximum of a count option (see {@link COUNT_LIMITS}). */
export function countLimit(name: string): number {
  return (COUNT_LIMITS as Readonly<Record<string, number>>)[name] ?? COUNT_LIMITS.default;
}

/** Throws a {@link ConfigError} unless `value` is an integer in [`min`, the option's {@link COUNT_LIMITS} maximum]. */
export function requireInt(value: unknown, min: number, where: string, name: string): number {
  const max = countLimit(name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${where}: expected ${name} to be an integer in [${min}, ${max}], got ${describe(value)}`);
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
