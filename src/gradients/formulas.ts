/**
 * Gradient formulas that use only *forward* kernels (convolutions, pads, transposes, matmuls without transpose
 * flags, elementwise ops), which are fast on tfjs-backend-wasm (XNNPACK), unlike its backprop kernels.
 *
 * Notation (NHWC): a 2-D convolution with strides `s`, dilations `d`, padding `p` (top/left `pt`/`pl`) computes
 * `y[n,oh,ow,co] = Σ_{kh,kw,ci} x[n, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw, ci] · w[kh,kw,ci,co]`
 * (terms outside `x` are zero). Its adjoints are again convolutions:
 * - input gradient: `dx = conv(pad(up_s(dy)), flip(w)ᵀ, stride 1, dilation d)`, where `up_s` inserts `s−1` zeros
 *   between rows/columns and `flip(w)ᵀ[kh,kw,co,ci] = w[KH−1−kh, KW−1−kw, ci, co]` (the transposed convolution,
 *   Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", 2016, §4);
 * - filter gradient: `dw[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh − pt + kh·dh, …, ci] · dy[n,oh,ow,co]`, a
 *   convolution of `x` viewed as `[ci,H,W,n]` with `dy` viewed as an `[OH,OW,n,co]` filter, with the roles of
 *   strides and dilations swapped.
 *
 * Every function here is pure, returns a new tensor, and disposes its intermediates (`tf.tidy`).
 * @internal
 * @module
 */
import * as tf from '../tf.js';
import { hasLoopKernels, maxPoolGradByLoop } from './kernels.js';

/** Padding attribute of a tfjs convolution or pooling kernel. */
export type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** `[h, w]` from a number or a pair. */
export function pair(v: number | readonly number[] | undefined, fallback = 1): [number, number] {
  if (v === undefined) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

/**
 * Inserts `sh − 1` zero rows after every row and `sw − 1` zero columns after every column of `t` (`[N,A,B,C]`),
 * giving `[N, A·sh, B·sw, C]` (the trailing zeros included; callers account for them in their padding).
 * Returns `t` itself when both strides are 1.
 */
export function upsampleZeros(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  // No clone for stride 1: a clone runs an Identity kernel, which copies on wasm.
  if (sh === 1 && sw === 1) return t;
  return tf.tidy(() => {
    const [n, a, b, c] = t.shape;
    const r = tf.reshape(t, [n, a, 1, b, 1, c]);
    const p = tf.pad(r, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return tf.reshape(p, [n, a * sh, b * sw, c]);
  });
}

/**
 * Rows `[r0, r0 + rows)` and columns `[c0, c0 + cols)` of an NHWC tensor of finite values, as a `valid` depthwise
 * convolution with a one-hot filter (1 at `[r0, c0]`, size `(H − rows + 1) × (W − cols + 1)`): exact for finite
 * values, and far faster on wasm than `Slice`, which copies one pixel's channels at a time there (100×11×11×32 →
 * 10×10: 4.5 ms as a 4-D slice, 11.8 ms as two 2-D slices, ~0.5 ms as this convolution). A non-finite value
 * would spread to the entries whose window holds it (`0 · ∞ = NaN`).
 */
export function cropSpatial(t: tf.Tensor4D, r0: number, rows: number, c0: number, cols: number): tf.Tensor4D {
  const [, h, w, c] = t.shape;
  if (r0 === 0 && c0 === 0 && rows === h && cols === w) return t;
  const fh = h - rows + 1;
  const fw = w - cols + 1;
  const filter = new Float32Array(fh * fw * c);
  filter.fill(1, (r0 * fw + c0) * c, (r0 * fw + c0 + 1) * c);
  return tf.depthwiseConv2d(t, tf.tensor4d(filter, [fh, fw, c, 1]), 1, 'valid');
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor.
 * Returns the padded/cropped tensor and the non-negative padding still to apply, as an explicit padding.
 */
function cropNegative(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): [tf.Tensor4D, tf.backend_util.ExplicitPadding] {
  const [n, h, w, c] = t.shape;
  const ct = Math.max(0, -top);
  const cb = Math.max(0, -bottom);
  const cl = Math.max(0, -left);
  const cr = Math.max(0, -right);
  // Nothing left after cropping: the result is all padding (zeros). A zero-sized convolution fails in XNNPACK.
  if (h - ct - cb <= 0 || w - cl - cr <= 0)
    return [
      tf.zeros([n, Math.max(0, h + top + bottom), Math.max(0, w + left + right), c]),
      [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    ];
  const cropped = ct || cb || cl || cr ? cropSpatial(t, ct, h - ct - cb, cl, w - cl - cr) : t;
  return [
    cropped,
    [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ],
  ];
}

/** Shape information of a Conv2D/DepthwiseConv2dNative call. */
export interface ConvGeometry {
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly pad: PadAttr;
  readonly dimRoundingMode?: 'floor' | 'round' | 'ceil' | undefined;
}

function convInfo(xShape: readonly number[], filterShape: readonly number[], g: ConvGeometry, depthwise: boolean): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    g.strides,
    g.dilations,
    g.pad,
    g.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/**
 * `dy` upsampled by the strides and padded so that a stride-1 convolution with the flipped filter (dilation `d`)
 * gives exactly the input gradient: top padding `effKH − 1 − pt`, bottom padding `H + pt − (OH−1)·sh − 1`
 * (negative amounts crop).
 */
function backpropInputOperand(dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): [tf.Tensor4D, tf.backend_util.ExplicitPadding] {
  const { strideHeight: sh, strideWidth: sw, padInfo, inHeight, inWidth, outHeight, outWidth } = info;
  const up = upsampleZeros(dy, sh, sw);
  const top = info.effectiveFilterHeight - 1 - padInfo.top;
  const left = info.effectiveFilterWidth - 1 - padInfo.left;
  // up has (sh − 1) trailing zero rows beyond (OH−1)·sh + 1; they count against the bottom padding.
  const bottom = inHeight + padInfo.top - (outHeight - 1) * sh - 1 - (sh - 1);
  const right = inWidth + padInfo.left - (outWidth - 1) * sw - 1 - (sw - 1);
  return cropNegative(up, top, bottom, left, right);
}

/**
 * Input gradient of Conv2D (NHWC) as one forward convolution:
 * `dx = conv2d(pad(up_s(dy)), flip(w)ᵀ, strides 1, dilations d)`.
 *
 * @param xShape - shape of the convolution's input `[N,H,W,CI]`.
 * @param dy - upstream gradient `[N,OH,OW,CO]`.
 * @param filter - the filter `[KH,KW,CI,CO]`.
 */
export function conv2dInputGrad(xShape: readonly number[], dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(xShape, filter.shape, g, false);
    const [kh, kw, ci] = filter.shape;
    const strided = info.strideHeight > 1 || info.strideWidth > 1;
    if (strided && info.dilationHeight === 1 && info.dilationWidth === 1) {
      return kh <= info.strideHeight && kw <= info.strideWidth ? conv2dInputGradDisjoint(dy, filter, info) : conv2dInputGradSubPixel(dy, filter, info);
    }
    if (ci === 1) return conv2dInputGradOneChannel(dy, filter, info, g.dilations);
    const [operand, padding] = backpropInputOperand(dy, info);
    const w = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(operand, w, 1, padding, 'NHWC', g.dilations);
  });
}

/**
 * One axis of the sub-pixel decomposition of a strided transposed convolution (see
 * {@link conv2dInputGradSubPixel}): for output phase `ρ` (input row `i = q·s + ρ`) and tap `t` of the stride-1
 * convolution over `dy` (rows `q + t − A`), the filter row it uses (`K` for none), and the padding `A` (top) and
 * `B` (bottom; negative amounts crop) of `dy`, the number of taps `T` and of output rows `Q = ⌈H/s⌉`.
 *
 * With `m = i + pt = Q'·s + r` (`r = (ρ + pt) mod s`, `Q' = q + e`, `e = ⌊(ρ + pt)/s⌋`):
 * `dx[i] = Σ_j dy[q + e − j] · w[r + s·j]` over `j ≥ 0`, `r + s·j < K`; tap `t = A + e − j`.
 */
function subPixelAxis(k: number, s: number, pt: number, inSize: number, outSize: number): { taps: number[]; a: number; b: number; t: number; q: number } {
  const phases = Array.from({ length: s }, (_, rho) => {
    const r = (rho + pt) % s;
    return { r, e: Math.floor((rho + pt) / s), j: Math.max(0, Math.ceil((k - r) / s)) };
  });
  // A ≥ 0: the first rows of dy a phase does not need stay as (zero-weighted) taps rather than being cropped.
  const a = Math.max(0, ...phases.map((p) => p.j - 1 - p.e));
  const t = Math.max(1, Math.max(...phases.map((p) => a + p.e)) + 1);
  const q = Math.ceil(inSize / s);
  const taps = new Array<number>(t * s).fill(k);
  phases.forEach(({ r, e, j: count }, rho) => {
    for (let j = 0; j < count; j++) {
      const tap = a + e - j;
      if (tap >= 0 && tap < t) taps[tap * s + rho] = r + s * j;
    }
  });
  return { taps, a, b: q + t - 1 - outSize - a, t, q };
}

/**
 * Input gradient of a strided Conv2D (dilation 1) without multiplying inserted zeros (the sub-pixel form of a
 * transposed convolution): the `sh·sw` output phases `dx[q·sh + ρh, q'·sw + ρw]` are each a stride-1 convolution
 * of `dy` with a sub-filter of `w` (every `s`-th tap), computed together as one convolution with
 * `sh·sw·CI` output channels, then interleaved by a reshape/transpose and cropped to `[H, W]`. For a 3×3/2
 * convolution that is `16/36` of the multiply-adds of the upsampled form, and it needs no `Pad` of `dy`.
 */
function conv2dInputGradSubPixel(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const [n] = dy.shape;
  const { strideHeight: sh, strideWidth: sw, padInfo, inHeight: h, inWidth: w } = info;
  const rows = subPixelAxis(kh, sh, padInfo.top, h, info.outHeight);
  const cols = subPixelAxis(kw, sw, padInfo.left, w, info.outWidth);
  // The combined filter [T_h, T_w, CO, sh·sw·CI] = S · w: a one-hot selection matrix S (rows (t_h, t_w, ρh, ρw),
  // columns (kh, kw)) times w viewed as [KH·KW, CI·CO]; a row without a tap is zero.
  const sel = new Float32Array(rows.t * cols.t * sh * sw * kh * kw);
  for (let th = 0; th < rows.t; th++) {
    for (let tw = 0; tw < cols.t; tw++) {
      for (let ph = 0; ph < sh; ph++) {
        for (let pw = 0; pw < sw; pw++) {
          const a = rows.taps[th * sh + ph]!;
          const b = cols.taps[tw * sw + pw]!;
          if (a < kh && b < kw) sel[(((th * cols.t + tw) * sh + ph) * sw + pw) * kh * kw + a * kw + b] = 1;
        }
      }
    }
  }
  const picked = tf.matMul(tf.tensor2d(sel, [rows.t * cols.t * sh * sw, kh * kw]), tf.reshape(filter, [kh * kw, ci * co]));
  const f = tf.reshape(tf.transpose(tf.reshape(picked, [rows.t, cols.t, sh * sw, ci, co]), [0, 1, 4, 2, 3]), [rows.t, cols.t, co, sh * sw * ci]) as tf.Tensor4D;
  const [operand, padding] = cropNegative(dy, rows.a, rows.b, cols.a, cols.b);
  const out = tf.conv2d(operand, f, 1, padding);
  // [N, Q, Q', sh, sw, CI] → [N, Q, sh, Q', sw, CI]: swap two middle axes of a [N·Q, Q', sh, sw·CI] view.
  const full = sh === 1 ? out : tf.transpose(tf.reshape(out, [n * rows.q, cols.q, sh, sw * ci]), [0, 2, 1, 3]);
  const dx = tf.reshape(full, [n, rows.q * sh, cols.q * sw, ci]) as tf.Tensor4D;
  return cropSpatial(dx, 0, h, 0, w);
}

/**
 * Input gradient of a Conv2D whose windows do not overlap (`K ≤ s` on both axes, dilation 1: each input pixel
 * meets at most one tap), as col2im without sums: `P = dy · W` (a matmul, `W = w` viewed as
 * `[CO, KH·KW·CI]`) gives every contribution `dx[o·s − pt + k] = P[o, k]`; the taps are laid out in their
 * `s × s` blocks (a transpose of two middle axes, and a pad when `K < s`), then the blocks are shifted by the
 * padding and cropped or zero-filled to `[H, W]`. A 1×1/2 convolution's input gradient thus costs a matmul at
 * the output's resolution instead of a convolution at the input's.
 */
function conv2dInputGradDisjoint(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const [n, oh, ow] = dy.shape;
  const { strideHeight: sh, strideWidth: sw, padInfo, inHeight: h, inWidth: w } = info;
  const wm = tf.reshape(tf.transpose(filter, [3, 0, 1, 2]), [co, kh * kw * ci]);
  const p = tf.matMul(tf.reshape(dy, [n * oh * ow, co]), wm);
  // [N·OH, OW, KH, KW·CI] → [N·OH, KH, OW, KW·CI], then each tap block padded to s × s.
  const blocks = kh === 1 ? p : tf.transpose(tf.reshape(p, [n * oh, ow, kh, kw * ci]), [0, 2, 1, 3]);
  const b6 = tf.reshape(blocks, [n, oh, kh, ow, kw, ci]);
  const full =
    kh === sh && kw === sw
      ? b6
      : tf.pad(b6, [
          [0, 0],
          [0, 0],
          [0, sh - kh],
          [0, 0],
          [0, sw - kw],
          [0, 0],
        ]);
  const z = tf.reshape(full, [n, oh * sh, ow * sw, ci]) as tf.Tensor4D;
  // dx[i] = z[i + pt]: crop pt rows at the top, then crop or zero-fill the bottom to H rows.
  const [cropped, fill] = cropNegative(z, -padInfo.top, h + padInfo.top - oh * sh, -padInfo.left, w + padInfo.left - ow * sw);
  return fill.some(([a, b]) => a > 0 || b > 0) ? tf.pad(cropped, fill) : cropped;
}

/**
 * Input gradient of Conv2D with one input channel (a network's first layer on grey images) as a depthwise
 * convolution of the padded `dy` over its `CO` channels with the flipped filter, summed over the channels:
 * `dx[n,i,j,0] = Σ_co (dy_co ⋆ flip(w[:,:,0,co]))[n,i,j]`. A forward convolution with one output channel runs
 * far below XNNPACK's peak on wasm (MNIST's first layer at batch 100, 16 → 1 channels: 8–12 ms as one
 * convolution, 4–5 ms as this).
 */
function conv2dInputGradOneChannel(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo, dilations: [number, number]): tf.Tensor4D {
  const [kh, kw, , co] = filter.shape;
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, co, 1]) as tf.Tensor4D;
  const [operand, padding] = backpropInputOperand(dy, info);
  return tf.sum(tf.depthwiseConv2d(operand, flipped, 1, padding, 'NHWC', dilations), 3, true) as tf.Tensor4D;
}

/**
 * `x` (`[N,H,W,C]`) padded by the forward padding at the top/left and so that a window of
 * `(O−1)·s + 1` rows placed every `d` rows fits `K` times, bottom/right.
 */
function filterGradPadding(info: tf.backend_util.Conv2DInfo, kh: number, kw: number): tf.backend_util.ExplicitPadding {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo, inHeight, inWidth, outHeight, outWidth } = info;
  const bottom = Math.max(0, (kh - 1) * dh + (outHeight - 1) * sh + 1 - inHeight - padInfo.top);
  const right = Math.max(0, (kw - 1) * dw + (outWidth - 1) * sw + 1 - inWidth - padInfo.left);
  return [
    [0, 0],
    [padInfo.top, bottom],
    [padInfo.left, right],
    [0, 0],
  ];
}

/**
 * Filter gradient of Conv2D (NHWC) as one forward convolution (strides and dilations swapped):
 * `dw = transpose(conv2d(xᵀ, dyᵀ, strides d, dilations s), [1,2,0,3])` with `xᵀ = x` viewed as `[CI,H,W,N]` and
 * `dyᵀ = dy` viewed as `[OH,OW,N,CO]`.
 *
 * @param x - the convolution's input `[N,H,W,CI]`.
 * @param dy - upstream gradient `[N,OH,OW,CO]`.
 * @param filterShape - `[KH,KW,CI,CO]`.
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, g, false);
    const [kh, kw] = filterShape as [number, number, number, number];
    const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const out = tf.conv2d(xt, dyt, g.dilations, filterGradPadding(info, kh, kw), 'NHWC', [info.strideHeight, info.strideWidth]);
    const cropped = out.shape[1] === kh && out.shape[2] === kw ? out : cropSpatial(out, 0, kh, 0, kw);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/**
 * Input gradient of DepthwiseConv2dNative (NHWC, filter `[KH,KW,C,M]`, output channel `c·M + m`) as `M`
 * forward depthwise convolutions of the padded, upsampled `dy` with the spatially flipped filter, summed.
 */
export function depthwiseInputGrad(xShape: readonly number[], dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(xShape, filter.shape, g, true);
    const [kh, kw, c, m] = filter.shape;
    const flipped = tf.reverse(filter, [0, 1]);
    if (m === 1) {
      const [operand, padding] = backpropInputOperand(dy, info);
      return tf.depthwiseConv2d(operand, flipped as tf.Tensor4D, 1, padding, 'NHWC', g.dilations);
    }
    const [n, oh, ow] = dy.shape;
    const dy5 = tf.reshape(dy, [n, oh, ow, c, m]);
    let acc: tf.Tensor4D | undefined;
    for (let j = 0; j < m; j++) {
      const dyj = tf.reshape(tf.slice(dy5, [0, 0, 0, 0, j], [n, oh, ow, c, 1]), [n, oh, ow, c]) as tf.Tensor4D;
      const [operand, padding] = backpropInputOperand(dyj, info);
      const wj = tf.slice(flipped, [0, 0, 0, j], [kh, kw, c, 1]) as tf.Tensor4D;
      const part = tf.depthwiseConv2d(operand, wj, 1, padding, 'NHWC', g.dilations);
      acc = acc === undefined ? part : (tf.add(acc, part) as tf.Tensor4D);
    }
    return acc as tf.Tensor4D;
  });
}

/**
 * Filter gradient of DepthwiseConv2dNative as one forward depthwise convolution over `C·N` channels:
 * `x` viewed as `[1,H,W,C·N]`, `dy` viewed as an `[OH,OW,C·N,M]` filter (strides and dilations swapped),
 * then summed over `N`.
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, g, true);
    const [kh, kw, c, m] = filterShape as [number, number, number, number];
    const [n, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const xt = tf.reshape(tf.transpose(x, [1, 2, 3, 0]), [1, h, w, c * n]) as tf.Tensor4D;
    const dyt = tf.reshape(tf.transpose(tf.reshape(dy, [n, oh, ow, c, m]), [1, 2, 3, 0, 4]), [oh, ow, c * n, m]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(xt, dyt, g.dilations, filterGradPadding(info, kh, kw), 'NHWC', [info.strideHeight, info.strideWidth]);
    const cropped = tf.slice(out, [0, 0, 0, 0], [1, kh, kw, c * n * m]);
    return tf.sum(tf.reshape(cropped, [kh, kw, c, n, m]), 3) as tf.Tensor4D;
  });
}

/**
 * Input gradient of MaxPool when the windows tile the input (strides equal to the window size, the usual 2×2/2
 * pooling), from elementwise ops on a `[N,OH,KH,OW,KW,C]` view of `x` and one forward max pool, so exactly like
 * tfjs's `MaxPoolGrad` (the first maximum of each window in row-major order gets `dy`, the rest 0):
 * 1. `s = P · step(y − x, K+1)` with `P = K, K−1, …, 1` in row-major window order (`K = KH·KW`);
 *    `step(v, α)` is 1 for `v > 0` and `α` otherwise, so a position below the window's maximum `y` scores
 *    `P ≤ K` and a maximum scores `P·(K+1) ≥ K+1`, the first maximum most (padding is −∞; all integers);
 * 2. `b = maxPool(s)`: the score of the first maximum; `sel = step(s − (b − 1))` is 1 there and 0 elsewhere
 *    (other maxima score at least `K+1` less, the rest at least 1 less; integer arithmetic, exact);
 * 3. `dx = sel · dy`, broadcast over each window, then cropped/zero-padded back to `x`'s shape.
 * On wasm (batch 100, 26×26×16 → 13×13×16) this takes ~8 ms against 12 ms for `MaxPoolWithArgmax` + `ScatterNd`
 * and ~39 ms for tfjs's `MaxPoolGrad`. Windows whose maximum is −∞ or NaN get NaN gradients.
 */
export function maxPoolInputGradTiled(
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterSize: [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterSize;
    const k = kh * kw;
    const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, filterSize, 1, pad, dimRoundingMode);
    const { padInfo, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, batchSize: n, inChannels: c } = info;
    // The region the windows cover: rows [−top, oh·kh − top), columns likewise.
    const bottom = oh * kh - padInfo.top - h;
    const right = ow * kw - padInfo.left - w;
    const [core, morePad] = cropNegative(x, 0, bottom, 0, right);
    const needsPad = padInfo.top > 0 || padInfo.left > 0 || bottom > 0 || right > 0;
    const region = needsPad
      ? tf.pad(
          core,
          [
            [0, 0],
            [padInfo.top, morePad[1][1]],
            [padInfo.left, morePad[2][1]],
            [0, 0],
          ],
          -Infinity,
        )
      : core;
    const x6 = tf.reshape(region, [n, oh, kh, ow, kw, c]);
    const y6 = tf.reshape(y, [n, oh, 1, ow, 1, c]);
    const order = Float32Array.from({ length: k }, (_, i) => k - i);
    const p6 = tf.tensor(order, [1, 1, kh, 1, kw, 1]);
    const score = tf.mul(tf.step(tf.sub(y6, x6), k + 1), p6);
    const best = tf.maxPool(tf.reshape(score, [n, oh * kh, ow * kw, c]) as tf.Tensor4D, filterSize, filterSize, 'valid');
    const sel = tf.step(tf.sub(score, tf.reshape(tf.sub(best, 1), [n, oh, 1, ow, 1, c])));
    const dx = tf.reshape(tf.mul(sel, tf.reshape(dy, [n, oh, 1, ow, 1, c])), [n, oh * kh, ow * kw, c]) as tf.Tensor4D;
    // Back to x: drop the rows/columns that were padding, zero-fill those no window covered.
    const [back, fill] = cropNegative(dx, -padInfo.top, -bottom, -padInfo.left, -right);
    return fill.some(([a, b]) => a > 0 || b > 0) ? tf.pad(back, fill) : back;
  });
}

/**
 * Input gradient of MaxPool (NHWC): each window's `dy` goes to its first maximum in row-major order (tfjs-cpu's
 * `MaxPoolGrad` rule, ties included), for any window, stride, dilation and padding. Chooses the fastest exact
 * form for the backend: {@link maxPoolInputGradTiled} on wasm for tiling windows (elementwise XNNPACK ops), the
 * loop kernel of `kernels.ts` on wasm otherwise and always on cpu (whose broadcasting ops are slow JS: 1 s
 * against 21 ms for the first MNIST pool), and on other backends the tiled form or `MaxPoolWithArgmax` +
 * `ScatterNd` (no dilation, `valid`/`same` padding; else `undefined`).
 *
 * @param y - the pool's output (used by the tiled form only).
 */
export function maxPoolInputGradFirst(
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterSize: [number, number],
  strides: [number, number],
  dilations: [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const backend = tf.getBackend();
  const tiled = filterSize[0] === strides[0] && filterSize[1] === strides[1] && dilations[0] === 1 && dilations[1] === 1;
  if (tiled && backend !== 'cpu') return maxPoolInputGradTiled(x, y, dy, filterSize, pad, dimRoundingMode);
  if (hasLoopKernels(backend)) return maxPoolGradByLoop(x, dy, filterSize, strides, dilations, pad, dimRoundingMode);
  if (tiled) return maxPoolInputGradTiled(x, y, dy, filterSize, pad, dimRoundingMode);
  if ((pad !== 'valid' && pad !== 'same') || dimRoundingMode !== undefined || dilations[0] !== 1 || dilations[1] !== 1) {
    throw new Error(`maxPoolInputGradFirst: no exact form for dilated or explicitly padded overlapping windows on ${backend}`);
  }
  return maxPoolInputGrad(x, dy, filterSize, strides, pad);
}

/**
 * Input gradient of MaxPool (NHWC) routed to the arg-max of each window, from `MaxPoolWithArgmax`'s flat indices
 * and one `ScatterNd` (which sums the contributions of overlapping windows):
 * `dx.flat[argmax(n,oh,ow,c)] += dy[n,oh,ow,c]`.
 * The arg-max is the first maximum in row-major window order, as in tfjs's own `MaxPoolGrad`.
 */
export function maxPoolInputGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterSize: [number, number], strides: [number, number], pad: 'valid' | 'same'): tf.Tensor4D {
  return tf.tidy(() => {
    const { indexes } = tf.maxPoolWithArgmax(x, filterSize, strides, pad, true);
    const dx = tf.scatterND(tf.reshape(indexes as tf.Tensor, [-1, 1]), tf.reshape(dy, [-1]), [x.size]);
    return tf.reshape(dx, x.shape) as tf.Tensor4D;
  });
}

/**
 * Input gradient of AvgPool (NHWC), consistent with tfjs's forward pass, which averages over the in-bounds
 * pixels of each window only: `dx[i] = Σ_{windows ∋ i} dy / count(window)`, computed as a stride-1 average pool
 * of `up_s(dy / count)` padded like a transposed convolution, times the window area.
 * For `valid` padding (every window full) this equals tfjs's `AvgPoolGrad`; with padding tfjs's kernel divides by
 * the full window area instead, which is not the derivative of its forward pass.
 */
export function avgPoolInputGrad(
  xShape: readonly number[],
  dy: tf.Tensor4D,
  filterSize: [number, number],
  strides: [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy((): tf.Tensor4D => {
    const [fh, fw] = filterSize;
    const c = xShape[3]!;
    const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { padInfo, inHeight, inWidth, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = info;
    const padded = padInfo.top + padInfo.bottom + padInfo.left + padInfo.right > 0;
    let scaled: tf.Tensor4D = dy;
    if (padded) {
      const counts = new Float32Array(outHeight * outWidth);
      for (let i = 0; i < outHeight; i++) {
        const r0 = i * sh - padInfo.top;
        const rows = Math.min(inHeight, r0 + fh) - Math.max(0, r0);
        for (let j = 0; j < outWidth; j++) {
          const c0 = j * sw - padInfo.left;
          const cols = Math.min(inWidth, c0 + fw) - Math.max(0, c0);
          counts[i * outWidth + j] = (fh * fw) / Math.max(1, rows * cols);
        }
      }
      scaled = tf.mul(dy, tf.tensor4d(counts, [1, outHeight, outWidth, 1])) as tf.Tensor4D;
    }
    const convLike: tf.backend_util.Conv2DInfo = { ...info, effectiveFilterHeight: fh, effectiveFilterWidth: fw } as tf.backend_util.Conv2DInfo;
    const [operand, padding] = backpropInputOperand(scaled, convLike);
    // A stride-1 average pool over the explicitly padded operand: the mean over a full fh×fw window.
    const ones = tf.fill([fh, fw, c, 1], 1 / (fh * fw)) as tf.Tensor4D;
    return tf.depthwiseConv2d(operand, ones, 1, padding, 'NHWC', 1);
  });
}

/** `x` with its last two axes swapped. */
function swapLast(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * `matMul(a, b, transposeA, transposeB)` with the transposes applied by a `Transpose` kernel first, so that the
 * `BatchMatMul` kernel itself runs without transpose flags (its fast path on wasm).
 */
export function matMulNoFlags(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  return tf.tidy(() => tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b));
}
