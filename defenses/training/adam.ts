/**
 * Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) with its whole state in plain view, for
 * {@link adversarialTrain}: the step count is a JS integer and the bias corrections are computed in double
 * precision from it, so a run resumed from a checkpoint (weights, first and second moments, step count) continues
 * bit for bit as the uninterrupted run. tfjs's own `AdamOptimizer` keeps `β^t` as a float32 product updated each
 * step and rebuilds it with `pow` in `setWeights`, which can differ in the last bit and so breaks exact resume.
 * The update is the one tfjs computes: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `w ← w − lr·m̂/(√v̂ + ε)` with the bias corrections folded into the step as
 * `lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)` applied to `m/(√v + ε·√(1−β₂ᵗ))`.
 * @internal
 * @module
 */
import * as tf from '../../src/tf.js';

/** Adam's moments for one variable. */
interface Slot {
  readonly variable: tf.Variable;
  m: tf.Tensor;
  v: tf.Tensor;
}

/** @internal */
export class Adam {
  private readonly slots: Slot[];
  /** Number of updates applied so far. */
  t = 0;

  constructor(
    variables: readonly tf.Variable[],
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {
    this.slots = variables.map((variable) => ({ variable, m: tf.zerosLike(variable), v: tf.zerosLike(variable) }));
  }

  /** The variables, in the order of `moments()`. */
  get variables(): tf.Variable[] {
    return this.slots.map((s) => s.variable);
  }

  /** Applies one update with learning rate `lr` from gradients in variable order; disposes nothing it was given. */
  apply(grads: readonly tf.Tensor[], lr: number): void {
    this.t += 1;
    const { beta1, beta2 } = this;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = Math.sqrt(1 - Math.pow(beta2, this.t));
    const stepSize = (lr * c2) / c1;
    const eps = this.epsilon * c2;
    this.slots.forEach((slot, i) => {
      const g = grads[i]!;
      const [m, v] = tf.tidy(() => {
        const m1 = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        slot.variable.assign(tf.sub(slot.variable, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), eps)), stepSize)));
        return [m1, v1];
      });
      slot.m.dispose();
      slot.v.dispose();
      slot.m = m;
      slot.v = v;
    });
  }

  /** First then second moments, in variable order (borrowed: do not dispose). */
  moments(): tf.Tensor[] {
    return [...this.slots.map((s) => s.m), ...this.slots.map((s) => s.v)];
  }

  /** Replaces the moments (first then second, in variable order) and the step count; takes ownership of `values`. */
  restore(values: readonly tf.Tensor[], t: number): void {
    const n = this.slots.length;
    this.slots.forEach((slot, i) => {
      slot.m.dispose();
      slot.v.dispose();
      slot.m = values[i]!;
      slot.v = values[n + i]!;
    });
    this.t = t;
  }

  dispose(): void {
    for (const slot of this.slots) tf.dispose([slot.m, slot.v]);
  }
}
