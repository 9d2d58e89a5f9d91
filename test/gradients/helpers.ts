// Shared helpers of the gradient-override tests: deterministic host data, and gradients of Σ f(xs) · r computed
// on a chosen backend with the overrides on or off.
import * as tf from '../../src/tf.js';
import { disableFastGradients, enableFastGradients } from '../../src/gradients/index.js';

/** A host-side input: values and shape. */
export interface Input {
  data: Float32Array;
  shape: number[];
}

/** Deterministic pseudo-random values in [-1, 1) (a 32-bit LCG), or small integers when `levels` is set (ties). */
export function values(n: number, seed: number, levels?: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = levels === undefined ? 2 * u - 1 : Math.floor(u * levels);
  }
  return out;
}

/** Distinct values (a shuffled ramp), so that max pooling has no ties. */
export function distinct(n: number, seed: number): Float32Array {
  const r = values(n, seed);
  const idx = Array.from(r.keys()).sort((a, b) => r[a]! - r[b]!);
  const out = new Float32Array(n);
  idx.forEach((j, rank) => (out[j] = rank / n - 0.5));
  return out;
}

export function input(shape: number[], seed: number, kind: 'uniform' | 'ties' | 'distinct' = 'uniform'): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: kind === 'distinct' ? distinct(n, seed) : values(n, seed, kind === 'ties' ? 3 : undefined), shape };
}

/**
 * Gradients of `Σ f(xs) · r` (r fixed pseudo-random weights) with respect to every input, on `backend`, with the
 * overrides forced on every backend (`fast`) or tfjs's own gradients (`tfjs`). Restores the current backend and
 * leaves the overrides disabled. With `abs`, the inputs and weights are replaced by their absolute values: for
 * (bi)linear ops that gives `Σ|terms|` of every gradient entry, the scale float32 rounding errors are relative to.
 */
export async function gradsOn(
  backend: string,
  mode: 'fast' | 'tfjs',
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: Input[],
  seed = 99,
  abs = false,
): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  if (previous !== backend) await tf.setBackend(backend);
  if (mode === 'fast') enableFastGradients({ policy: 'all' });
  else disableFastGradients();
  try {
    const gs = tf.tidy(() => {
      const xs = inputs.map((i) => (abs ? tf.abs(tf.tensor(i.data, i.shape)) : tf.tensor(i.data, i.shape)));
      const shape = f(...xs).shape;
      const r0 = tf.tensor(
        values(
          shape.reduce((a, b) => a * b, 1),
          seed,
        ),
        shape,
      );
      const r = abs ? tf.abs(r0) : r0;
      return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(xs);
    });
    const out = gs.map((g) => g.dataSync() as Float32Array);
    tf.dispose(gs);
    return out;
  } finally {
    disableFastGradients();
    if (previous !== backend) await tf.setBackend(previous);
  }
}

/**
 * max |a − b| / max(|b|, |bound|, tiny): the error relative to the reference's scale (or to the scale of the
 * terms summed, `bound`, when given: a sum that cancels to nearly 0 is only as exact as its terms are large).
 */
export function relErr(a: Float32Array, b: Float32Array, bound?: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]!), Math.abs(bound?.[i] ?? 0));
  }
  return diff / Math.max(scale, 1e-30);
}

/** A filter `[KH,KW,A,B]` with `d − 1` zeros inserted between taps: conv with it = conv with dilation `d`. */
export function dilateFilter(w: tf.Tensor, dh: number, dw: number): tf.Tensor4D {
  const [kh, kw, a, b] = w.shape as [number, number, number, number];
  if (dh === 1 && dw === 1) return w as tf.Tensor4D;
  const r = tf.reshape(w, [kh, 1, kw, 1, a, b]);
  const p = tf.pad(r, [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  const full = tf.reshape(p, [kh * dh, kw * dw, a, b]);
  return tf.slice(full, [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b]) as tf.Tensor4D;
}
