/**
 * Norms, projections and random starts for the Linf and L2 threat models. All functions are pure tfjs ops
 * meant to be called inside the caller's `tf.tidy`.
 * @module
 */
import * as tf from './tf.js';
import type { Bounds } from './model.js';
import { normalPerSample, sampleRngs, uniformPerSample, type Rng } from './rng.js';
import { ConfigError, describe } from './errors.js';

/** A threat model: the norm that measures a perturbation. */
export type Norm = 'linf' | 'l2';

/** float32's smallest normal number. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * True for radii that float32 cannot represent as a normal number (0 included). The backends cannot clip to them
 * reliably (wasm's clip mishandles them), so robustest treats them as 0: the identity.
 *
 * @param epsilon - a radius.
 * @example
 * ```ts
 * isZeroRadius(1e-300); // true
 * ```
 */
export function isZeroRadius(epsilon: number): boolean {
  return Math.abs(Math.fround(epsilon)) < FLOAT32_MIN_NORMAL;
}

/** Names of the supported norms. */
export const NORMS: readonly Norm[] = ['linf', 'l2'];

function flat(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0]!, -1]) as tf.Tensor2D;
}

/**
 * Reshapes a per-sample `[N]` tensor to `[N, 1, ..., 1]` so that it broadcasts against a batch of rank `rank`
 * (a per-sample step size, a per-sample mask as 0/1). Call inside a tidy.
 *
 * @param v - one value per sample.
 * @param rank - rank of the batch.
 * @example
 * ```ts
 * const stepSizes = tf.tensor1d([0.1, 0.2]); // one per sample of a batch of 2
 * const scaled = tf.tidy(() => tf.mul(tf.ones([2, 28, 28, 1]), perSample(stepSizes, 4)));
 * ```
 */
export function perSample(v: tf.Tensor1D, rank: number): tf.Tensor {
  return tf.reshape(v, [v.shape[0], ...new Array<number>(rank - 1).fill(1)]);
}

/**
 * Throws a one-line {@link ConfigError} unless `norm` is one of {@link NORMS}.
 *
 * @param norm - the value to check.
 * @param where - who asks (an attack name), for the message.
 * @returns the norm, typed.
 * @example
 * ```ts
 * checkNorm('l1', 'fmn'); // throws: fmn: expected norm to be one of linf, l2, got "l1"
 * ```
 */
export function checkNorm(norm: unknown, where: string): Norm {
  if (!(NORMS as readonly unknown[]).includes(norm)) throw new ConfigError(`${where}: expected norm to be one of ${NORMS.join(', ')}, got ${describe(norm)}`);
  return norm as Norm;
}

/**
 * Per-sample norm of a batch, `[N]`.
 *
 * @param t - a batch `[N, ...]`.
 * @param norm - `linf` or `l2`.
 * @example
 * ```ts
 * const n = tf.tidy(() => batchNorm(tf.sub(adv, x), 'l2'));
 * ```
 */
export function batchNorm(t: tf.Tensor, norm: Norm): tf.Tensor1D {
  const f = flat(t);
  return (norm === 'linf' ? tf.max(tf.abs(f), 1) : tf.sqrt(tf.sum(tf.square(f), 1))) as tf.Tensor1D;
}

/**
 * The sign of every element, exact on every backend: `1` for `x > 0` (denormals included), `-1` for `x < 0`, `0`
 * for `±0` and NaN. tfjs-wasm 4.22's `Sign` kernel returns 0 for `|x| <= 1e-7`, so `tf.sign` would silently drop
 * small gradient components there; this is built from comparisons, which are exact everywhere.
 *
 * @param x - any float tensor.
 * @returns a float32 tensor of the same shape with values in `{-1, 0, 1}`.
 * @example
 * ```ts
 * signExact(tf.tensor1d([1e-30, -2, 0])); // [1, -1, 0] on cpu and wasm alike (tf.sign gives [0, -1, 0] on wasm)
 * ```
 */
export function signExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(x, 0), 'float32'), tf.cast(tf.less(x, 0), 'float32')));
}

/**
 * The steepest-ascent direction of unit norm for a gradient: `sign(g)` for Linf (with {@link signExact}, so tiny
 * components count on every backend), `g / ||g||₂` per sample for L2 (a zero gradient stays zero).
 *
 * @param grad - a batch of gradients.
 * @param norm - the threat model.
 * @example
 * ```ts
 * const step = tf.tidy(() => tf.mul(steepestDirection(grad, 'linf'), alpha));
 * ```
 */
export function steepestDirection(grad: tf.Tensor, norm: Norm): tf.Tensor {
  if (norm === 'linf') return signExact(grad);
  const n = batchNorm(grad, 'l2');
  return tf.div(grad, perSample(tf.maximum(n, 1e-12), grad.rank));
}

/**
 * Projects `x` onto the `epsilon` ball around `x0` and then into `bounds`. Clipping into the bounds after the
 * ball never leaves the ball, because `x0` lies inside the bounds.
 *
 * @param x0 - clean inputs.
 * @param x - candidate adversarial inputs.
 * @param epsilon - radius (>= 0).
 * @param norm - the threat model.
 * @param bounds - the model's input range.
 * @example
 * ```ts
 * const xAdv = tf.tidy(() => project(x, candidate, 0.3, 'linf', [0, 1]));
 * ```
 */
export function project(x0: tf.Tensor, x: tf.Tensor, epsilon: number, norm: Norm, bounds: Bounds): tf.Tensor {
  if (isZeroRadius(epsilon)) return tf.clone(x0);
  let delta = tf.sub(x, x0);
  if (norm === 'linf') {
    delta = tf.clipByValue(delta, -epsilon, epsilon);
  } else {
    const n = batchNorm(delta, 'l2');
    const factor = tf.minimum(tf.div(tf.scalar(epsilon), tf.maximum(n, 1e-12)), 1) as tf.Tensor1D;
    delta = tf.mul(delta, perSample(factor, delta.rank));
  }
  return tf.clipByValue(tf.add(x0, delta), bounds[0], bounds[1]);
}

/**
 * A random start in the `epsilon` ball, as a perturbation to add to a batch of `shape`. Linf: uniform in the cube.
 * L2: a uniformly random direction (a normalised Gaussian) at radius `epsilon / 10`, deliberately not uniform in
 * the ball. A uniform point of the L2 ball has radius `epsilon · u^(1/d)`, ≈ `epsilon` in high dimension (median
 * 0.9991·ε for MNIST's d = 784): PGD would start on the sphere, and that costs strength. Measured on the first 200
 * MNIST test images with a trained CNN, PGD-L2 ε = 2, 40 steps of 0.1, robust accuracy over seeds 0–9 (no start:
 * 14.5%): uniform in the ball 17.0–18.5% (mean 17.95%), radius uniform in `[0, ε]` 14.0–17.0% (mean 15.7%), radius
 * `ε / 10` 13.5–15.5% (mean 14.5%); with 5 restarts (seeds 0–1) 14.5%, 12.5–13.0% and 13.5%: a wider spread of
 * radii helps restarts a little, but costs the single run. The small radius keeps what a random start is for (a
 * different direction per seed and restart, a way off a point where the gradient vanishes) without the cost. APGD-CE
 * L2 (100 steps), whose first steps of 2ε leave any start behind, is indifferent on the same setting: 9.0% (seeds
 * 0–2) from the uniform start, 8.5–9.0% from this one. Drawn on the host, sample by sample: row `i` comes from its
 * own generator (the direction), so it does not depend on the batch it shares, and it is the same on every backend.
 *
 * @param shape - batch shape `[N, ...]`.
 * @param epsilon - radius of the ball.
 * @param norm - the threat model.
 * @param seed - one generator per sample (see {@link sampleRngs}), or a seed from which sample `i` gets
 *   `sampleRngs(seed, [i])`.
 * @example
 * ```ts
 * const start = tf.tidy(() => project(x, tf.add(x, randomInBall(x.shape, 0.3, 'linf', 7)), 0.3, 'linf', [0, 1]));
 * ```
 */
export function randomInBall(shape: readonly number[], epsilon: number, norm: Norm, seed: number | readonly Rng[]): tf.Tensor {
  const n = shape[0]!;
  const rngs =
    typeof seed === 'number'
      ? sampleRngs(
          seed,
          Array.from({ length: n }, (_, i) => i),
        )
      : seed;
  const sampleShape = shape.slice(1);
  if (norm === 'linf') return uniformPerSample(rngs, sampleShape, -epsilon, epsilon);
  const d = sampleShape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const dir = tf.reshape(normalPerSample(rngs, sampleShape), [n, d]);
    const unit = tf.div(dir, tf.maximum(tf.norm(dir, 'euclidean', 1, true), 1e-12));
    return tf.reshape(tf.mul(unit, epsilon / 10), [...shape]);
  });
}

/**
 * Per-sample select: for each sample `i`, `mask[i] ? a[i] : b[i]`, where `mask` is a bool `[N]` and `a`, `b`
 * are batches `[N, ...]` of one shape.
 *
 * @param mask - bool `[N]`.
 * @param a - taken where `mask` is true.
 * @param b - taken where `mask` is false.
 * @example
 * ```ts
 * const kept = tf.tidy(() => selectSamples(done, previous, next));
 * ```
 */
export function selectSamples(mask: tf.Tensor1D, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const m = a.rank === 1 ? mask : tf.reshape(mask, [mask.shape[0], ...new Array<number>(a.rank - 1).fill(1)]);
  return tf.where(tf.broadcastTo(m, a.shape), a, b);
}
