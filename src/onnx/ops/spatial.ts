/**
 * Layout and padding helpers shared by the importer's convolutions and pools: NCHW ⇄ NHWC (and NCDHW ⇄ NDHWC)
 * transposes, explicit padding, and the pads/auto_pad resolution of ONNX's Conv and pooling operators.
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpNode } from '../op.js';
import { samePads } from '../geometry.js';
import { toDevice, type Value } from '../value.js';

export const dev = (n: OpNode, v: Value): tf.Tensor => {
  const t = toDevice(v, n.where);
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
};

/** A rank-4 float value in channels-last layout: its NHWC view when it has one, else a transpose. */
export const nhwcOf = (n: OpNode, v: Value): tf.Tensor4D => (v.nhwc ?? tf.transpose(dev(n, v), [0, 2, 3, 1])) as tf.Tensor4D;

/** Begin/end padding of each spatial axis from pads/auto_pad, as ONNX defines for Conv and pools. */
export function spatialPads(
  n: OpNode,
  inSizes: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): [number[], number[]] {
  const r = inSizes.length;
  const autoPad = n.str('auto_pad', 'NOTSET');
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const same = samePads(inSizes, kernel, strides, dilations, autoPad === 'SAME_UPPER' ? 'upper' : 'lower');
    return [same.begin, same.end];
  } else if (autoPad === 'NOTSET') {
    const pads = n.ints('pads', new Array<number>(2 * r).fill(0));
    if (pads.length !== 2 * r) n.shapeError(`${2 * r} pads, got ${pads.length}`);
    for (let i = 0; i < r; i++) {
      begin[i] = pads[i]!;
      end[i] = pads[i + r]!;
    }
  } else if (autoPad !== 'VALID') {
    n.unsupported(`auto_pad NOTSET, SAME_UPPER, SAME_LOWER or VALID, got ${autoPad}`);
  }
  return [begin, end];
}

/** Padding of the two spatial axes of an NHWC tensor: `[top, bottom, left, right]`. */
export type Pads2 = readonly [number, number, number, number];

/** A padding for tfjs: a number when all sides are equal (the kernel pads internally), else explicit. */
export function padArg(x: tf.Tensor4D, p: Pads2): [tf.Tensor4D, number | 'valid'] {
  if (p.every((v) => v === p[0])) return [x, p[0] === 0 ? 'valid' : p[0]];
  return [
    tf.pad(x, [
      [0, 0],
      [p[0], p[1]],
      [p[2], p[3]],
      [0, 0],
    ]),
    'valid',
  ];
}

/** The forward padding `p` as the explicit padding of a tfjs convolution or pool. */
export const explicitPads = (p: Pads2): tf.backend_util.ExplicitPadding => [
  [0, 0],
  [p[0], p[1]],
  [p[2], p[3]],
  [0, 0],
];

export interface ConvGeom {
  kernel: number[];
  strides: number[];
  dilations: number[];
  begin: number[];
  end: number[];
}

export function convGeom(n: OpNode, inSizes: number[], kernelFromWeights: number[]): ConvGeom {
  const r = inSizes.length;
  const kernel = n.ints('kernel_shape', kernelFromWeights);
  const strides = n.ints('strides', new Array<number>(r).fill(1));
  const dilations = n.ints('dilations', new Array<number>(r).fill(1));
  const [begin, end] = spatialPads(n, inSizes, kernel, strides, dilations);
  return { kernel, strides, dilations, begin, end };
}

/** NCHW (or NCL) → NHWC with a unit H for 1-D. */
export function toNhwc(x: tf.Tensor, spatial: number): tf.Tensor4D {
  if (spatial === 1) return tf.transpose(tf.expandDims(x, 2), [0, 2, 3, 1]) as tf.Tensor4D;
  return tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
}

export function fromNhwc(y: tf.Tensor4D, spatial: number): tf.Tensor {
  const t = tf.transpose(y, [0, 3, 1, 2]);
  return spatial === 1 ? tf.squeeze(t, [2]) : t;
}

export function checkSpatial(n: OpNode, rank: number): number {
  const spatial = rank - 2;
  if (spatial !== 1 && spatial !== 2 && spatial !== 3) n.unsupported(`a 1-D, 2-D or 3-D input (rank 3, 4 or 5), got rank ${rank}`);
  return spatial;
}

/** NCDHW → NDHWC with explicit padding of the three spatial axes. */
export function toNdhwc(x: tf.Tensor, begin: readonly number[], end: readonly number[], value = 0): tf.Tensor5D {
  const t = tf.transpose(x, [0, 2, 3, 4, 1]) as tf.Tensor5D;
  if (begin.every((b) => b === 0) && end.every((e) => e === 0)) return t;
  return tf.pad(
    t,
    [
      [0, 0],
      [begin[0]!, end[0]!],
      [begin[1]!, end[1]!],
      [begin[2]!, end[2]!],
      [0, 0],
    ],
    value,
  );
}

export const fromNdhwc = (y: tf.Tensor): tf.Tensor => tf.transpose(y, [0, 4, 1, 2, 3]);
export const triple = (v: readonly number[]): [number, number, number] => [v[0]!, v[1]!, v[2]!];

export function padNhwc(x: tf.Tensor4D, begin: number[], end: number[], spatial: number, value = 0): tf.Tensor4D {
  const b = spatial === 1 ? [0, begin[0]!] : begin;
  const e = spatial === 1 ? [0, end[0]!] : end;
  if (b.every((v) => v === 0) && e.every((v) => v === 0)) return x;
  return tf.pad(
    x,
    [
      [0, 0],
      [b[0]!, e[0]!],
      [b[1]!, e[1]!],
      [0, 0],
    ],
    value,
  );
}
