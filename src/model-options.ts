/**
 * Checks of the options every model adapter shares (bounds, class count, input shape, preprocessing), and the
 * host-side form of preprocessing used by adapters whose engine is not tfjs (onnxruntime sessions, HTTP
 * endpoints): the same `(x - mean) * (1 / std)` per channel on a host copy of the batch, with its chain rule for
 * gradients. One check and one implementation, so every adapter accepts and refuses the same options.
 * @internal
 * @module
 */
import { ConfigError, describe } from './errors.js';
import type { Bounds, Layout, Preprocessing } from './model-types.js';

/**
 * Checks a model's preprocessing alone: mean and std of one non-zero length, finite means, finite positive stds.
 * @throws {@link ConfigError} (one line, naming `where`) for anything else.
 * @example
 * ```ts
 * checkPreprocessing('my-model', { mean: [0.5], std: [0] }); // throws ConfigError
 * ```
 * @internal
 */
export function checkPreprocessing(where: string, pre: Preprocessing): void {
  if (pre.mean.length === 0 || pre.std.length !== pre.mean.length) {
    throw new ConfigError(`${where}: expected preprocessing mean and std of the same non-zero length, got ${pre.mean.length} and ${pre.std.length}`);
  }
  if (pre.std.some((s) => !(s > 0) || !Number.isFinite(s)) || pre.mean.some((m) => !Number.isFinite(m))) {
    throw new ConfigError(`${where}: expected finite means and positive stds, got mean ${describe([...pre.mean])} and std ${describe([...pre.std])}`);
  }
}

/**
 * Checks the options every model adapter shares. `numClasses` or `inputShape` undefined skips that check (for
 * adapters that learn them later and check again then).
 * @param where - the model's name, for messages.
 * @throws {@link ConfigError} (one line) for bounds that are not finite `[lower, upper]` with lower < upper, a
 *   class count below 2 or not an integer, an input shape that is not a list of positive integers, or an invalid
 *   preprocessing (see {@link checkPreprocessing}).
 * @example
 * ```ts
 * checkOptions('my-model', [0, 1], 10, [28, 28, 1], { mean: [0.1307], std: [0.3081] }); // passes
 * ```
 * @internal
 */
export function checkOptions(
  where: string,
  bounds: Bounds,
  numClasses: number | undefined,
  inputShape: readonly number[] | undefined,
  pre?: Preprocessing,
): void {
  if (!Array.isArray(bounds) || bounds.length !== 2 || !Number.isFinite(bounds[0]) || !Number.isFinite(bounds[1]) || !(bounds[0] < bounds[1])) {
    throw new ConfigError(`${where}: expected bounds to be [lower, upper] with finite lower < upper, got ${describe(bounds)}`);
  }
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 2)) {
    throw new ConfigError(`${where}: expected numClasses to be an integer >= 2, got ${describe(numClasses)}`);
  }
  if (inputShape !== undefined && (!Array.isArray(inputShape) || inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d <= 0))) {
    throw new ConfigError(
      `${where}: expected inputShape to be a list of positive integers (without the batch dimension), got ${describe(Array.isArray(inputShape) ? [...inputShape] : inputShape)}`,
    );
  }
  if (pre) checkPreprocessing(where, pre);
}

/**
 * The default limit on what a model file may make robustest allocate on its say-so, in elements: one declared
 * input sample, the class count, and (ONNX) the output of one shape-building operator. 2^25 = 33,554,432
 * (134 MB as float32, 268 MB as the float64 host copies of folded ONNX constants).
 * @example
 * ```ts
 * const limit = DEFAULT_MAX_ELEMENTS * 4; // for a model with 4000×4000×3 inputs: loadModel(path, { maxElements: limit })
 * ```
 * @internal
 */
export const DEFAULT_MAX_ELEMENTS = 2 ** 25;

/**
 * Checks a `maxElements` option and returns it, or {@link DEFAULT_MAX_ELEMENTS} when it is undefined.
 * @throws {@link ConfigError} unless it is a positive safe integer.
 * @example
 * ```ts
 * maxElementsOf('loadModel', undefined); // 33554432
 * ```
 * @internal
 */
export function maxElementsOf(where: string, maxElements: unknown): number {
  if (maxElements === undefined) return DEFAULT_MAX_ELEMENTS;
  if (typeof maxElements !== 'number' || !Number.isSafeInteger(maxElements) || maxElements < 1) {
    throw new ConfigError(`${where}: expected maxElements to be a positive integer, got ${describe(maxElements)}`);
  }
  return maxElements;
}

/** The channel count of one input: axis 0 for NCHW, the last axis otherwise. */
function channelsOf(layout: Layout, inputShape: readonly number[]): number {
  return layout === 'NCHW' ? inputShape[0]! : inputShape[inputShape.length - 1]!;
}

/**
 * Preprocessing applied on a host copy of a batch, for adapters whose engine is not tfjs: `apply` normalises
 * `(x - mean) * (1 / std)` per channel, as the tfjs adapters do (axis 1 of the batch for NCHW, the last axis otherwise; a single entry applies
 * to every channel), and `backward` is its chain rule, `g * (1 / std)`, turning a gradient with respect to the
 * normalised input into one with respect to the raw input. Both work in place.
 * @example
 * ```ts
 * const host = HostPreprocessing.create('m', { mean: [0.5], std: [0.25] }, 'flat', [4]);
 * const data = Float32Array.from([0.5, 0.75, 1, 0]);
 * host?.apply(data, [1, 4]); // data is [0, 1, 2, -2]
 * ```
 * @internal
 */
export class HostPreprocessing {
  /** A copy of the preprocessing, for the model's `preprocessing` field. */
  readonly preprocessing: Preprocessing;
  private readonly mean: readonly number[];
  private readonly invStd: readonly number[];

  private constructor(
    pre: Preprocessing,
    private readonly layout: Layout,
  ) {
    this.mean = [...pre.mean];
    this.invStd = pre.std.map((s) => 1 / s);
    this.preprocessing = { mean: [...pre.mean], std: [...pre.std] };
  }

  /**
   * Checks `pre` against the input shape and layout and returns its host form, or `undefined` without preprocessing.
   * @throws {@link ConfigError} (one line) for an invalid preprocessing (see {@link checkPreprocessing}) or one
   *   whose length is neither 1 nor the channel count.
   */
  static create(where: string, pre: Preprocessing | undefined, layout: Layout, inputShape: readonly number[]): HostPreprocessing | undefined {
    if (!pre) return undefined;
    checkPreprocessing(where, pre);
    const channels = channelsOf(layout, inputShape);
    const n = pre.mean.length;
    if (n !== 1 && n !== channels) throw new ConfigError(`${where}: expected preprocessing with 1 or ${channels} entries (one per channel), got ${n}`);
    return new HostPreprocessing(pre, layout);
  }

  /** The channel of each flat index of a batch of `shape`. */
  private channel(shape: readonly number[]): (i: number) => number {
    if (this.mean.length === 1) return () => 0;
    const nchw = this.layout === 'NCHW';
    const inner = nchw ? shape.slice(2).reduce((a, b) => a * b, 1) : 1;
    const count = nchw ? shape[1]! : shape[shape.length - 1]!;
    return (i) => Math.floor(i / inner) % count;
  }

  /** Normalises a host batch of `shape` in place: `(x - mean) * (1 / std)`. */
  apply(data: Float32Array, shape: readonly number[]): void {
    const c = this.channel(shape);
    const { mean, invStd } = this;
    for (let i = 0; i < data.length; i++) {
      const k = c(i);
      data[i] = (data[i]! - mean[k]!) * invStd[k]!;
    }
  }

  /** The chain rule in place: a gradient with respect to the normalised batch becomes one with respect to the raw batch (`g * (1 / std)`). */
  backward(grad: Float32Array, shape: readonly number[]): void {
    const c = this.channel(shape);
    const { invStd } = this;
    for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! * invStd[c(i)]!;
  }
}
