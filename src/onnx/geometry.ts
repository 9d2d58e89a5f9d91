/**
 * Convolution and pooling geometry shared by the importer (`ops/`), the gradient-graph generator (`vjp/`) and the
 * exporter (`export.ts`): one implementation of SAME padding (ONNX `auto_pad` SAME_UPPER/SAME_LOWER, TF `'same'`).
 *
 * Spec: https://onnx.ai/onnx/operators/onnx__Conv.html (auto_pad).
 * @internal
 * @module
 */

/** Extent of a kernel of `kernel` taps spread by `dilation`: `(kernel - 1) * dilation + 1`. */
export function effectiveKernel(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1;
}

/**
 * SAME padding of every spatial axis: the output has `ceil(size / stride)` positions, and the total padding
 * `max(0, (out - 1) * stride + effectiveKernel - size)` is split in two halves, the odd pixel at the end for
 * `upper` (ONNX SAME_UPPER, TF/Keras `'same'`) or at the beginning for `lower` (ONNX SAME_LOWER).
 * @param sizes - input size of each spatial axis.
 * @returns begin and end padding per axis.
 * @example
 * ```ts
 * samePads([5], [3], [2], [1], 'upper'); // { begin: [1], end: [1] }
 * samePads([4], [3], [2], [1], 'upper'); // { begin: [0], end: [1] }
 * ```
 */
export function samePads(
  sizes: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  mode: 'upper' | 'lower',
): { begin: number[]; end: number[] } {
  const begin: number[] = [];
  const end: number[] = [];
  sizes.forEach((size, i) => {
    const stride = strides[i]!;
    const out = Math.ceil(size / stride);
    const total = Math.max(0, (out - 1) * stride + effectiveKernel(kernel[i]!, dilations[i]!) - size);
    const small = Math.floor(total / 2);
    begin.push(mode === 'upper' ? small : total - small);
    end.push(mode === 'upper' ? total - small : small);
  });
  return { begin, end };
}

/**
 * The divisor of each output position of an ONNX average pool along one axis: how many of the window's taps fall
 * inside the input (`includePad` false) or inside the input plus its explicit pads (true); ceil-mode overhang is
 * never counted. Positions are in padded coordinates (the input starts at `padBegin`). Shared by the importer and
 * the onnxruntime gradient graphs.
 * @example
 * ```ts
 * windowTapCounts(4, 2, 3, 2, 1, 1, 1, false); // [2, 3]: the first window overlaps one pad
 * ```
 */
export function windowTapCounts(
  inSize: number,
  out: number,
  kernel: number,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  includePad: boolean,
): number[] {
  const lo = includePad ? 0 : padBegin;
  const hi = includePad ? inSize + padBegin + padEnd : padBegin + inSize;
  return Array.from({ length: out }, (_, o) => {
    let c = 0;
    for (let t = 0; t < kernel; t++) {
      const pos = o * stride + t * dilation;
      if (pos >= lo && pos < hi) c++;
    }
    return c;
  });
}
