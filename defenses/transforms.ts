/**
 * Input transforms: the preprocessing defenses that {@link defend} puts in front of a model. Each is a typed value
 * ({@link InputTransform}) built by a factory that checks its options; `apply` maps a batch in the model's raw input
 * space to a batch of the same shape inside the same bounds. Random transforms draw from the seed they are given, so
 * a draw reproduces bit for bit on the same backend.
 * @module
 */
import * as tf from '../src/tf.js';
import { ConfigError } from '../src/errors.js';
import { createRng, deriveSeed } from '../src/rng.js';
import type { Bounds, Layout } from '../src/model-types.js';

/** What a transform needs besides the batch: the model's bounds and layout, and the seed of this draw. */
export interface TransformContext {
  /** The model's raw input range; outputs stay inside it. */
  readonly bounds: Bounds;
  /** The layout of one input; image transforms need `NHWC` or `NCHW`. */
  readonly layout: Layout;
  /** The seed of this draw (used by random transforms only). */
  readonly seed: number;
}

/**
 * An input transform (a preprocessing defense). Build one with a factory ({@link jpeg}, {@link bitDepth},
 * {@link medianSmoothing}, {@link gaussianNoise}, {@link randomResizePad}, {@link tvDenoise}) or write your own.
 *
 * @example
 * ```ts
 * const squeeze = bitDepth(4);
 * const y = squeeze.apply(tf.ones([2, 28, 28, 1]), { bounds: [0, 1], layout: 'NHWC', seed: 0 });
 * ```
 */
export interface InputTransform {
  /** Kind, e.g. `jpeg`, `bits`. */
  readonly name: string;
  /** The transform with its parameters, as the CLI's `--defense` writes it (e.g. `jpeg:75`). */
  readonly spec: string;
  /** The paper it comes from. */
  readonly paper: string;
  /** True when `apply` draws random numbers from the context's seed (attack it with EOT). */
  readonly random: boolean;
  /**
   * True when `apply` is built from tfjs ops whose gradient is the transform's true derivative. False for host
   * codecs (JPEG) and piecewise-constant maps (quantisation), whose gradient is missing or zero almost everywhere:
   * attack those with BPDA.
   */
  readonly differentiable: boolean;
  /**
   * Applies the transform to a batch `[N, ...inputShape]` in raw input space; same shape, inside `context.bounds`.
   * Synchronous (usable inside `tf.tidy`); the caller owns the result; `x` is not disposed.
   */
  apply(x: tf.Tensor, context: TransformContext): tf.Tensor;
  /**
   * BPDA's backward pass (Athalye et al. 2018) for a non-differentiable transform: a differentiable function close to
   * `apply`, whose vector–Jacobian product replaces the missing gradient. Default (absent): the identity.
   */
  approximate?(x: tf.Tensor, context: TransformContext): tf.Tensor;
}

function positiveInteger(where: string, option: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`${where}: expected ${option} to be an integer in [1, ${max}], got ${value}`);
  }
}

function positiveNumber(where: string, option: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${where}: expected ${option} to be a positive number, got ${value}`);
}

/** `[N, H, W, C]` view of an image batch, and the function that maps a result back to the batch's layout. */
export function toNHWC(x: tf.Tensor, layout: Layout, where: string): { nhwc: tf.Tensor4D; back: (y: tf.Tensor4D) => tf.Tensor } {
  if (x.rank !== 4 || layout === 'flat') {
    throw new ConfigError(`${where}: expected image inputs (layout NHWC or NCHW, rank 4), got layout ${layout} and shape [${x.shape.join(', ')}]`);
  }
  if (layout === 'NHWC') return { nhwc: x as tf.Tensor4D, back: (y) => y };
  return { nhwc: tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, back: (y) => tf.transpose(y, [0, 3, 1, 2]) };
}

/**
 * Bit-depth reduction (feature squeezing; Xu, Evans, Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep
 * Neural Networks", NDSS 2018): each value, scaled to [0, 1] by the bounds, is rounded to `bits` bits
 * (`round(v·(2^bits − 1)) / (2^bits − 1)`). Deterministic and piecewise constant (zero gradient almost everywhere), so
 * {@link defend} attacks it with BPDA's straight-through estimator (the identity on the backward pass).
 *
 * @param bits - bits per value, an integer in [1, 8] (Xu et al. use 1 for MNIST, 4–5 for CIFAR-10).
 * @throws {@link ConfigError} if `bits` is not an integer in [1, 8].
 * @example
 * ```ts
 * const squeezed = bitDepth(1).apply(tf.tensor([[0.2, 0.7]]), { bounds: [0, 1], layout: 'flat', seed: 0 }); // [[0, 1]]
 * ```
 */
export function bitDepth(bits: number): InputTransform {
  positiveInteger('bitDepth', 'bits', bits, 8);
  const levels = 2 ** bits - 1;
  return Object.freeze({
    name: 'bits',
    spec: `bits:${bits}`,
    paper: 'Xu, Evans, Qi 2018, Feature Squeezing (NDSS), arXiv:1704.01155',
    random: false,
    differentiable: false,
    apply(x: tf.Tensor, { bounds: [lo, hi] }: TransformContext): tf.Tensor {
      return tf.tidy(() => {
        const unit = tf.div(tf.sub(x, lo), hi - lo);
        const q = tf.div(tf.round(tf.mul(tf.clipByValue(unit, 0, 1), levels)), levels);
        return tf.add(tf.mul(q, hi - lo), lo);
      });
    },
  });
}

/** The `rank`-th smallest (0-based) entry along the last axis, with the gradient routed to the selected entries. */
function orderStatistic(stacked: tf.Tensor, rank: number): tf.Tensor {
  const k = stacked.shape[stacked.rank - 1]!;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const s = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    // The top k − rank values in descending order end with the rank-th smallest: their minimum.
    const value = tf.min(tf.topk(s, k - rank, true).values, -1);
    save([s, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sv, v] = saved as [tf.Tensor, tf.Tensor];
        const hit = tf.cast(tf.equal(sv, tf.expandDims(v, -1)), 'float32');
        return [tf.mul(tf.expandDims(dy, -1), tf.div(hit, tf.sum(hit, -1, true)))];
      },
    };
  });
  return f(stacked);
}

/**
 * Pads one axis by mirroring with the edge repeated (numpy's `symmetric`, scipy's `reflect`), from slices, reverses
 * and a concat, whose gradients add the mirrored copies back (tfjs 4.22's `mirrorPad` gradient drops them).
 */
function symmetricPad(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  const size = x.shape[axis];
  const part = (start: number, length: number): tf.Tensor4D => {
    const begin = [0, 0, 0, 0];
    const shape = [...x.shape];
    begin[axis] = start;
    shape[axis] = length;
    return tf.reverse(tf.slice(x, begin, shape), axis);
  };
  const pieces: tf.Tensor4D[] = [];
  if (before > 0) pieces.push(part(0, before));
  pieces.push(x);
  if (after > 0) pieces.push(part(size - after, after));
  return pieces.length === 1 ? x : tf.concat(pieces, axis);
}

/**
 * Median smoothing (feature squeezing; Xu et al. 2018): each pixel of each channel becomes the median of the
 * `size × size` window around it, edges mirrored (scipy's `median_filter` with `mode='reflect'`; for an even size the
 * window spans `size/2` pixels before and `size/2 − 1` after, and the median is the upper one, as in scipy).
 * Deterministic; differentiable almost everywhere (the gradient flows to the pixel the median picked), so exact
 * gradients apply.
 *
 * @param size - window side, an integer in [2, 9] (Xu et al. use 2 for MNIST and CIFAR-10, 3 for ImageNet).
 * @throws {@link ConfigError} if `size` is out of range; at `apply`, if the inputs are not images.
 * @example
 * ```ts
 * const smooth = medianSmoothing(3);
 * const y = smooth.apply(tf.zeros([1, 8, 8, 1]), { bounds: [0, 1], layout: 'NHWC', seed: 0 });
 * ```
 */
export function medianSmoothing(size: number): InputTransform {
  if (!Number.isInteger(size) || size < 2 || size > 9) throw new ConfigError(`medianSmoothing: expected size to be an integer in [2, 9], got ${size}`);
  const before = Math.floor(size / 2);
  const after = size - 1 - before;
  const rank = Math.floor((size * size) / 2);
  return Object.freeze({
    name: 'median',
    spec: `median:${size}`,
    paper: 'Xu, Evans, Qi 2018, Feature Squeezing (NDSS), arXiv:1704.01155',
    random: false,
    differentiable: true,
    apply(x: tf.Tensor, { layout }: TransformContext): tf.Tensor {
      return tf.tidy(() => {
        const { nhwc, back } = toNHWC(x, layout, 'medianSmoothing');
        const [n, h, w, c] = nhwc.shape;
        if (h <= before || w <= before) throw new ConfigError(`medianSmoothing: expected images larger than ${before} pixels, got ${h}×${w}`);
        const padded = symmetricPad(symmetricPad(nhwc, 1, before, after), 2, before, after);
        // The size² shifted copies as channels, by a convolution with one-hot kernels (one fast op, with a fast
        // gradient), channels moved into the batch: [N·C, H, W, size²].
        const planes = c === 1 ? padded : (tf.reshape(tf.transpose(padded, [0, 3, 1, 2]), [n * c, h + size - 1, w + size - 1, 1]) as tf.Tensor4D);
        const windows = tf.conv2d(planes, tf.reshape(tf.eye(size * size), [size, size, 1, size * size]) as tf.Tensor4D, 1, 'valid');
        const median = orderStatistic(windows, rank);
        return back((c === 1 ? tf.reshape(median, [n, h, w, 1]) : tf.transpose(tf.reshape(median, [n, c, h, w]), [0, 2, 3, 1])) as tf.Tensor4D);
      });
    },
  });
}

/**
 * Additive Gaussian noise, clipped to the bounds: `clip(x + σ·ε)`, `ε ~ N(0, I)` drawn from the context's seed (the
 * randomisation of Cohen, Rosenfeld, Kolter, "Certified Adversarial Robustness via Randomized Smoothing", ICML 2019,
 * used here as a single draw). Random and differentiable: attack it with EOT.
 *
 * @param sigma - standard deviation in raw input units, positive.
 * @throws {@link ConfigError} if `sigma` is not a positive number.
 * @example
 * ```ts
 * const noisy = gaussianNoise(0.25).apply(tf.zeros([2, 4]), { bounds: [0, 1], layout: 'flat', seed: 7 });
 * ```
 */
export function gaussianNoise(sigma: number): InputTransform {
  positiveNumber('gaussianNoise', 'sigma', sigma);
  return Object.freeze({
    name: 'noise',
    spec: `noise:${sigma}`,
    paper: 'Cohen, Rosenfeld, Kolter 2019, Certified Adversarial Robustness via Randomized Smoothing (ICML), arXiv:1902.02918',
    random: true,
    differentiable: true,
    apply(x: tf.Tensor, { bounds: [lo, hi], seed }: TransformContext): tf.Tensor {
      return tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, sigma, 'float32', seed)), lo, hi));
    },
  });
}

/** Bilinear interpolation matrix `[outSize, inSize]` (half-pixel centres, edges clamped, as `tf.image.resizeBilinear`). */
function interpolation(outSize: number, inSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.min(inSize - 1, Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5));
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const t = src - i0;
    m[o * inSize + i0]! += 1 - t;
    m[o * inSize + i1]! += t;
  }
  return m;
}

/** The linear map of one axis: resize `size` → `resized`, pad into `padded` at `offset`, resize back to `size`. */
function resizePadAxis(size: number, resized: number, padded: number, offset: number): Float32Array {
  const a = interpolation(resized, size); // [resized, size]
  const b = interpolation(size, padded); // [size, padded]
  const m = new Float32Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let r = 0; r < resized; r++) {
      const w = b[i * padded + offset + r]!;
      if (w === 0) continue;
      for (let j = 0; j < size; j++) m[i * size + j]! += w * a[r * size + j]!;
    }
  }
  return m;
}

/**
 * Random resizing and padding (Xie, Wang, Zhang, Ren, Yuille, "Mitigating Adversarial Effects Through
 * Randomization", ICLR 2018): each image is resized to a random side `r` in `[H, ⌈scale·H⌉)` (bilinear), placed at a
 * random offset in a `⌈scale·H⌉ × ⌈scale·W⌉` canvas filled with the lower bound, and resized back to `H × W` so that
 * the model's input shape is kept. Every step is linear in the image, so the transform is one matrix product per side
 * and differentiable; each sample has its own draw from the context's seed. Random: attack it with EOT.
 *
 * @param scale - the canvas side over the image side, > 1. Default 1.11 (Xie et al.: 299 → 331).
 * @throws {@link ConfigError} if `scale` is not a number > 1; at `apply`, if the inputs are not images.
 * @example
 * ```ts
 * const y = randomResizePad().apply(tf.ones([2, 28, 28, 1]), { bounds: [0, 1], layout: 'NHWC', seed: 1 });
 * ```
 */
export function randomResizePad(scale = 1.11): InputTransform {
  if (!Number.isFinite(scale) || scale <= 1) throw new ConfigError(`randomResizePad: expected scale to be a number > 1, got ${scale}`);
  return Object.freeze({
    name: 'resize-pad',
    spec: `resize-pad:${scale}`,
    paper: 'Xie, Wang, Zhang, Ren, Yuille 2018, Mitigating Adversarial Effects Through Randomization (ICLR), arXiv:1711.01991',
    random: true,
    differentiable: true,
    apply(x: tf.Tensor, { bounds: [lo], layout, seed }: TransformContext): tf.Tensor {
      return tf.tidy(() => {
        const { nhwc, back } = toNHWC(x, layout, 'randomResizePad');
        const [n, h, w, c] = nhwc.shape;
        const ph = Math.max(h + 1, Math.ceil(scale * h));
        const pw = Math.max(w + 1, Math.ceil(scale * w));
        const rows = new Float32Array(n * h * h);
        const cols = new Float32Array(n * w * w);
        for (let i = 0; i < n; i++) {
          const rng = createRng(deriveSeed(seed, i));
          const rh = h + Math.floor(rng.next() * (ph - h));
          const rw = Math.max(1, Math.min(pw, Math.round((rh * w) / h)));
          rows.set(resizePadAxis(h, rh, ph, Math.floor(rng.next() * (ph - rh + 1))), i * h * h);
          cols.set(resizePadAxis(w, rw, pw, Math.floor(rng.next() * (pw - rw + 1))), i * w * w);
        }
        const mr = tf.reshape(tf.tile(tf.tensor4d(rows, [n, 1, h, h]), [1, c, 1, 1]), [n * c, h, h]) as tf.Tensor3D;
        const mc = tf.reshape(tf.tile(tf.tensor4d(cols, [n, 1, w, w]), [1, c, 1, 1]), [n * c, w, w]) as tf.Tensor3D;
        const planes = tf.reshape(tf.transpose(tf.sub(nhwc, lo), [0, 3, 1, 2]), [n * c, h, w]) as tf.Tensor3D;
        const out = tf.matMul(tf.matMul(mr, planes), mc, false, true);
        return back(tf.transpose(tf.add(tf.reshape(out, [n, c, h, w]), lo), [0, 2, 3, 1]) as tf.Tensor4D);
      });
    },
  });
}

/** Options of {@link tvDenoise}. */
export interface TvDenoiseConfig {
  /** Weight of the total variation against the distance to the input. Default 0.05 (pixels in [0, 1]). */
  readonly weight?: number;
  /** Gradient-descent steps. Default 10. */
  readonly steps?: number;
  /** Step size. Default 0.25. */
  readonly stepSize?: number;
}

/**
 * Total-variation minimisation (Rudin, Osher, Fatemi 1992; as a defense, Guo, Rana, Cissé, van der Maaten, "Countering
 * Adversarial Images using Input Transformations", ICLR 2018): `steps` gradient-descent steps from `x` on
 * `½‖y − x‖² + weight·TV(y)`, with the smoothed anisotropic total variation `Σ √(Δ² + 10⁻²·r²)` over horizontal and
 * vertical neighbour differences (r = the bounds' range, so the smoothing scales with the units), each step clipped
 * to the bounds. Deterministic and differentiable (the steps are unrolled tfjs ops), so exact gradients apply.
 *
 * @param config - weight (default 0.05), steps (default 10), stepSize (default 0.25).
 * @throws {@link ConfigError} if an option is out of range; at `apply`, if the inputs are not images.
 * @example
 * ```ts
 * const y = tvDenoise({ weight: 0.1 }).apply(tf.zeros([1, 28, 28, 1]), { bounds: [0, 1], layout: 'NHWC', seed: 0 });
 * ```
 */
export function tvDenoise(config: TvDenoiseConfig = {}): InputTransform {
  const weight = config.weight ?? 0.05;
  const steps = config.steps ?? 10;
  const stepSize = config.stepSize ?? 0.25;
  positiveNumber('tvDenoise', 'weight', weight);
  positiveInteger('tvDenoise', 'steps', steps, 1000);
  positiveNumber('tvDenoise', 'stepSize', stepSize);
  return Object.freeze({
    name: 'tv',
    spec: `tv:${weight}`,
    paper: 'Guo, Rana, Cissé, van der Maaten 2018, Countering Adversarial Images using Input Transformations (ICLR), arXiv:1711.00117',
    random: false,
    differentiable: true,
    apply(x: tf.Tensor, { bounds: [lo, hi], layout }: TransformContext): tf.Tensor {
      return tf.tidy(() => {
        const { nhwc, back } = toNHWC(x, layout, 'tvDenoise');
        const [n, h, w, c] = nhwc.shape;
        const eps = 1e-2 * (hi - lo) ** 2;
        const phi = (d: tf.Tensor): tf.Tensor => tf.div(d, tf.sqrt(tf.add(tf.square(d), eps)));
        let y: tf.Tensor4D = nhwc;
        for (let s = 0; s < steps; s++) {
          let tv = tf.zerosLike(y);
          if (w > 1) {
            const px = phi(tf.sub(tf.slice(y, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(y, [0, 0, 0, 0], [n, h, w - 1, c])));
            tv = tf.add(
              tv,
              tf.sub(
                tf.pad(px, [
                  [0, 0],
                  [0, 0],
                  [1, 0],
                  [0, 0],
                ]),
                tf.pad(px, [
                  [0, 0],
                  [0, 0],
                  [0, 1],
                  [0, 0],
                ]),
              ),
            );
          }
          if (h > 1) {
            const py = phi(tf.sub(tf.slice(y, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(y, [0, 0, 0, 0], [n, h - 1, w, c])));
            tv = tf.add(
              tv,
              tf.sub(
                tf.pad(py, [
                  [0, 0],
                  [1, 0],
                  [0, 0],
                  [0, 0],
                ]),
                tf.pad(py, [
                  [0, 0],
                  [0, 1],
                  [0, 0],
                  [0, 0],
                ]),
              ),
            );
          }
          const g = tf.add(tf.sub(y, nhwc), tf.mul(tv, weight));
          y = tf.clipByValue(tf.sub(y, tf.mul(g, stepSize)), lo, hi) as tf.Tensor4D;
        }
        return back(y);
      });
    },
  });
}
