/**
 * Per-sample losses of the logits that attacks maximise. Each returns a {@link LossFn} closing over the labels
 * or targets; the closure does not own them.
 * @module
 */
import * as tf from './tf.js';
import type { LossFn } from './model.js';

/** Names of the built-in losses: cross-entropy, or the Carlini–Wagner margin. */
export type LossName = 'ce' | 'margin';

/**
 * What a built-in loss computes, as data: enough to rebuild the same loss elsewhere (in a worker thread, say) with
 * {@link attackLoss} or {@link targetedLoss}. Returned by {@link describeLoss}.
 * @example
 * ```ts
 * const d = describeLoss(crossEntropy(labels, 10)); // { name: 'ce', targeted: false, classes: labels, numClasses: 10 }
 * ```
 */
export interface LossDescription {
  /** Which loss: `ce` (cross-entropy) or `margin` (Carlini–Wagner). */
  readonly name: LossName;
  /** `true` for a loss towards `classes` ({@link targetedLoss}), `false` for one away from them. */
  readonly targeted: boolean;
  /** The int32 `[N]` labels (untargeted) or targets (targeted) the loss closes over; owned by whoever made the loss. */
  readonly classes: tf.Tensor1D;
  /** Width of the logits. */
  readonly numClasses: number;
}

const descriptions = new WeakMap<LossFn, LossDescription>();

function described(fn: LossFn, d: LossDescription): LossFn {
  descriptions.set(fn, Object.freeze(d));
  return fn;
}

/**
 * Describes a loss made by {@link crossEntropy}, {@link marginLoss}, {@link targetedLoss} or {@link attackLoss}, so
 * that it can be rebuilt where the closure cannot go (a worker thread). Any other function gives `undefined`.
 *
 * @param fn - a loss function.
 * @returns its description, or `undefined` when `fn` is not one of the built-in losses.
 * @example
 * ```ts
 * describeLoss(attackLoss('margin', labels, 10, targets)); // { name: 'margin', targeted: true, classes: targets, numClasses: 10 }
 * describeLoss((z) => tf.max(z, 1));                      // undefined
 * ```
 */
export function describeLoss(fn: LossFn): LossDescription | undefined {
  return descriptions.get(fn);
}

/**
 * Cross-entropy of the logits against `labels`, per sample: `logSumExp(z) - z[y]`. Maximised by untargeted attacks.
 *
 * @param labels - int32 `[N]` labels; not disposed.
 * @param numClasses - width of the logits.
 * @example
 * ```ts
 * const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 10));
 * ```
 */
export function crossEntropy(labels: tf.Tensor1D, numClasses: number): LossFn {
  return described(
    (logits) => {
      const picked = tf.sum(tf.mul(logits, tf.oneHot(labels, numClasses)), 1);
      return tf.sub(tf.logSumExp(logits, 1), picked) as tf.Tensor1D;
    },
    { name: 'ce', targeted: false, classes: labels, numClasses },
  );
}

/**
 * The margin loss of Carlini & Wagner (2017), per sample: `max_{j≠y} z_j − z_y` (untargeted). Positive exactly
 * when the sample is misclassified.
 *
 * @param labels - int32 `[N]` labels; not disposed.
 * @param numClasses - width of the logits.
 * @example
 * ```ts
 * const loss = marginLoss(labels, 10);
 * ```
 */
export function marginLoss(labels: tf.Tensor1D, numClasses: number): LossFn {
  return described(
    (logits) => {
      const onehot = tf.oneHot(labels, numClasses);
      const own = tf.sum(tf.mul(logits, onehot), 1);
      const others = tf.max(tf.sub(logits, tf.mul(onehot, 1e9)), 1);
      return tf.sub(others, own) as tf.Tensor1D;
    },
    { name: 'margin', targeted: false, classes: labels, numClasses },
  );
}

/**
 * Turns a loss towards `targets` into one to maximise: the negated loss of the target class.
 * For `ce` it is `−CE(z, t)`; for `margin` it is `z_t − max_{j≠t} z_j`.
 *
 * @param name - `ce` or `margin`.
 * @param targets - int32 `[N]` target classes; not disposed.
 * @param numClasses - width of the logits.
 * @example
 * ```ts
 * const loss = targetedLoss('ce', targets, 10);
 * ```
 */
export function targetedLoss(name: LossName, targets: tf.Tensor1D, numClasses: number): LossFn {
  const base = name === 'ce' ? crossEntropy(targets, numClasses) : marginLoss(targets, numClasses);
  return described((logits) => tf.neg(base(logits)) as tf.Tensor1D, { name, targeted: true, classes: targets, numClasses });
}

/**
 * The loss an attack maximises: `name` against the labels (untargeted) or towards the targets (targeted).
 *
 * @param name - `ce` or `margin`.
 * @param labels - int32 `[N]` labels.
 * @param numClasses - width of the logits.
 * @param targets - int32 `[N]` targets, for a targeted attack.
 * @example
 * ```ts
 * const loss = attackLoss('ce', labels, 10);
 * ```
 */
export function attackLoss(name: LossName, labels: tf.Tensor1D, numClasses: number, targets?: tf.Tensor1D): LossFn {
  if (targets) return targetedLoss(name, targets, numClasses);
  return name === 'ce' ? crossEntropy(labels, numClasses) : marginLoss(labels, numClasses);
}
