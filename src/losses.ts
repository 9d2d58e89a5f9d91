/**
 * Per-sample losses of the logits that attacks maximise, as one record ({@link LOSSES}): each entry has its
 * untargeted form (away from the label), its targeted form (towards a target) and the smallest class count it
 * makes sense for. A new loss is one entry; {@link attackLoss} and the attacks' `loss` option accept every key.
 * The functions built from the record close over the labels or targets; the closure does not own them.
 * @module
 */
import * as tf from './tf.js';
import type { LossFn } from './model.js';
import { ConfigError, describe } from './errors.js';

/**
 * One loss of {@link LOSSES}: pure tfjs functions of a logits batch, to be called inside a tidy.
 *
 * @example
 * ```ts
 * const ce = LOSSES.ce;
 * const perSample = tf.tidy(() => ce.untargeted(logits, labels, 10)); // [N]
 * ```
 */
export interface LossSpec {
  /** One line: what the loss is, and its paper. */
  readonly summary: string;
  /** Fewest classes the untargeted form needs (e.g. DLR's denominator needs a third-largest logit). */
  readonly minClasses: number;
  /** Fewest classes the targeted form needs. */
  readonly minClassesTargeted: number;
  /** Per-sample loss to maximise, moving away from `labels` (int32 `[N]`). */
  untargeted(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Tensor1D;
  /** Whether the targeted form needs the true labels as well as the targets (DLR does). */
  readonly targetedNeedsLabels: boolean;
  /** Per-sample loss to maximise, moving towards `targets` (int32 `[N]`); `labels` are given when {@link LossSpec.targetedNeedsLabels}. */
  targeted(logits: tf.Tensor2D, targets: tf.Tensor1D, numClasses: number, labels?: tf.Tensor1D): tf.Tensor1D;
}

/** `z[i, y_i]` per sample. */
function picked(logits: tf.Tensor2D, classes: tf.Tensor1D, numClasses: number): tf.Tensor1D {
  return tf.sum(tf.mul(logits, tf.oneHot(classes, numClasses)), 1) as tf.Tensor1D;
}

/** `max_{j≠y_i} z[i, j]` per sample. */
function bestOther(logits: tf.Tensor2D, classes: tf.Tensor1D, numClasses: number): tf.Tensor1D {
  return tf.max(tf.sub(logits, tf.mul(tf.oneHot(classes, numClasses), 1e9)), 1) as tf.Tensor1D;
}

/** Cross-entropy `logSumExp(z) − z_y`. */
function ce(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Tensor1D {
  // The picked logit first: the order of the two branches fixes the order in which their gradients are summed.
  const own = picked(logits, labels, numClasses);
  return tf.sub(tf.logSumExp(logits, 1), own) as tf.Tensor1D;
}

/** Carlini–Wagner margin `max_{j≠y} z_j − z_y`. */
function margin(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Tensor1D {
  const own = picked(logits, labels, numClasses);
  return tf.sub(bestOther(logits, labels, numClasses), own) as tf.Tensor1D;
}

/**
 * The k largest logits per sample, each `[N]`, in decreasing order. Picked by repeated argmax rather than
 * `tf.topk`: tfjs 4.22 registers no gradient for TopK, so a loss built on it could not be differentiated; this form
 * has the same values and passes the gradient to the picked logits, as a sort does.
 */
function largest(logits: tf.Tensor2D, k: number, numClasses: number): tf.Tensor1D[] {
  const out: tf.Tensor1D[] = [];
  let rest = logits;
  for (let j = 0; j < k; j++) {
    const hot = tf.oneHot(tf.argMax(rest, 1) as tf.Tensor1D, numClasses);
    out.push(tf.sum(tf.mul(logits, hot), 1) as tf.Tensor1D);
    if (j + 1 < k) rest = tf.sub(rest, tf.mul(hot, 1e9));
  }
  return out;
}

/**
 * The built-in losses, by name:
 * - `ce`: cross-entropy, `logSumExp(z) − z_y`; targeted: `−CE(z, t)`.
 * - `margin`: the Carlini–Wagner margin (Carlini & Wagner 2017, https://arxiv.org/abs/1608.04644),
 *   `max_{j≠y} z_j − z_y`, positive exactly when misclassified; targeted: `z_t − max_{j≠t} z_j`.
 * - `dlr`: the Difference of Logits Ratio of AutoAttack (Croce & Hein 2020, https://arxiv.org/abs/2003.01690),
 *   `(max_{j≠y} z_j − z_y) / (z_π1 − z_π3)`, invariant to shifting and scaling the logits (so it resists the
 *   scale tricks that saturate CE); targeted: `(z_t − z_y) / (z_π1 − (z_π3 + z_π4)/2)` as in AutoAttack's
 *   targeted APGD-DLR, where `y` is the label and `π` sorts the logits in decreasing order. Needs 3 classes
 *   (4 targeted). A targeted DLR needs the true labels, so it is only available through {@link attackLoss}
 *   with both labels and targets.
 *
 * @example
 * ```ts
 * const names = Object.keys(LOSSES); // ['ce', 'margin', 'dlr']
 * ```
 */
export const LOSSES: Readonly<Record<LossName, LossSpec>> = Object.freeze({
  ce: {
    summary: 'cross-entropy of the logits',
    minClasses: 2,
    minClassesTargeted: 2,
    targetedNeedsLabels: false,
    untargeted: ce,
    targeted: (logits, targets, numClasses) => tf.neg(ce(logits, targets, numClasses)) as tf.Tensor1D,
  },
  margin: {
    summary: 'Carlini–Wagner logit margin (Carlini & Wagner 2017)',
    minClasses: 2,
    minClassesTargeted: 2,
    targetedNeedsLabels: false,
    untargeted: margin,
    targeted: (logits, targets, numClasses) => tf.neg(margin(logits, targets, numClasses)) as tf.Tensor1D,
  },
  dlr: {
    summary: 'Difference of Logits Ratio (Croce & Hein 2020)',
    minClasses: 3,
    minClassesTargeted: 4,
    targetedNeedsLabels: true,
    untargeted: (logits, labels, numClasses) => {
      const [z1, , z3] = largest(logits, 3, numClasses);
      const denom = tf.add(tf.sub(z1!, z3!), 1e-12);
      return tf.div(margin(logits, labels, numClasses), denom) as tf.Tensor1D;
    },
    targeted: (logits, targets, numClasses, labels) => {
      if (!labels) throw new ConfigError(`loss 'dlr': expected the true labels as well for a targeted DLR`);
      const [z1, , z3, z4] = largest(logits, 4, numClasses);
      const denom = tf.add(tf.sub(z1!, tf.mul(tf.add(z3!, z4!), 0.5)), 1e-12);
      return tf.div(tf.sub(picked(logits, targets, numClasses), picked(logits, labels, numClasses)), denom) as tf.Tensor1D;
    },
  },
});

/** Names of the built-in losses: the keys of {@link LOSSES}. */
export type LossName = 'ce' | 'margin' | 'dlr';

/** The keys of {@link LOSSES}, in order. */
export const LOSS_NAMES: readonly LossName[] = Object.freeze(Object.keys(LOSSES) as LossName[]);

/**
 * What a built-in loss computes, as data: enough to rebuild the same loss elsewhere (in a worker thread, say) with
 * {@link attackLoss} or {@link targetedLoss}. Returned by {@link describeLoss}.
 * @example
 * ```ts
 * const d = describeLoss(crossEntropy(labels, 10)); // { name: 'ce', targeted: false, classes: labels, numClasses: 10 }
 * ```
 */
export interface LossDescription {
  /** Which loss: a key of {@link LOSSES}. */
  readonly name: LossName;
  /** `true` for a loss towards `classes` ({@link targetedLoss}), `false` for one away from them. */
  readonly targeted: boolean;
  /** The int32 `[N]` labels (untargeted) or targets (targeted) the loss closes over; owned by whoever made the loss. */
  readonly classes: tf.Tensor1D;
  /** For a targeted loss that also needs the true labels (DLR): those labels. */
  readonly labels?: tf.Tensor1D;
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
 * describeLoss((z) => tf.max(z, 1) as tf.Tensor1D);        // undefined
 * ```
 */
export function describeLoss(fn: LossFn): LossDescription | undefined {
  return descriptions.get(fn);
}

function spec(name: LossName, numClasses: number, targeted: boolean): LossSpec {
  const s: LossSpec | undefined = Object.prototype.hasOwnProperty.call(LOSSES, name) ? LOSSES[name] : undefined;
  if (!s) throw new ConfigError(`loss: expected one of ${LOSS_NAMES.join(', ')}, got ${describe(name)}`);
  const min = targeted ? s.minClassesTargeted : s.minClasses;
  if (numClasses < min) {
    throw new ConfigError(`loss '${name}': expected at least ${min} classes${targeted ? ' for a targeted attack' : ''}, got ${numClasses}`);
  }
  return s;
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
  return attackLoss('ce', labels, numClasses);
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
  return attackLoss('margin', labels, numClasses);
}

/**
 * Turns a loss towards `targets` into one to maximise (the record's targeted form). For `ce` it is `−CE(z, t)`;
 * for `margin` it is `z_t − max_{j≠t} z_j`. DLR's targeted form also needs the labels: use {@link attackLoss}.
 *
 * @param name - a key of {@link LOSSES} whose targeted form needs no labels (not `dlr`).
 * @param targets - int32 `[N]` target classes; not disposed.
 * @param numClasses - width of the logits.
 * @throws {@link ConfigError} for an unknown name, `dlr`, or too few classes.
 * @example
 * ```ts
 * const loss = targetedLoss('ce', targets, 10);
 * ```
 */
export function targetedLoss(name: LossName, targets: tf.Tensor1D, numClasses: number): LossFn {
  const s = spec(name, numClasses, true);
  if (s.targetedNeedsLabels) {
    throw new ConfigError(`loss '${name}': expected the true labels as well for a targeted attack; use attackLoss('${name}', labels, numClasses, targets)`);
  }
  return described((logits) => s.targeted(logits, targets, numClasses), { name, targeted: true, classes: targets, numClasses });
}

/**
 * The difference of two logits per sample, `z_k − z_ref`, for per-sample classes: the function whose gradient the
 * boundary attacks (DeepFool, FAB) linearise. Not a loss of {@link LOSSES} (it has no label semantics), so
 * {@link describeLoss} does not describe it.
 *
 * @param k - int32 `[N]` classes whose logit counts positively; not disposed.
 * @param ref - int32 `[N]` classes whose logit counts negatively; not disposed.
 * @param numClasses - width of the logits.
 * @example
 * ```ts
 * const { value, grad } = await model.valueAndGrad(x, logitDifference(targets, labels, 10)); // ∇(z_t − z_y)
 * ```
 */
export function logitDifference(k: tf.Tensor1D, ref: tf.Tensor1D, numClasses: number): LossFn {
  return (logits) => tf.sum(tf.mul(logits, tf.sub(tf.oneHot(k, numClasses), tf.oneHot(ref, numClasses))), 1) as tf.Tensor1D;
}

/**
 * The loss an attack maximises: `name` against the labels (untargeted) or towards the targets (targeted).
 *
 * @param name - a key of {@link LOSSES}.
 * @param labels - int32 `[N]` labels.
 * @param numClasses - width of the logits.
 * @param targets - int32 `[N]` targets, for a targeted attack.
 * @throws {@link ConfigError} for an unknown name or fewer classes than the loss needs.
 * @example
 * ```ts
 * const loss = attackLoss('ce', labels, 10);
 * const towards = attackLoss('dlr', labels, 10, targets);
 * ```
 */
export function attackLoss(name: LossName, labels: tf.Tensor1D, numClasses: number, targets?: tf.Tensor1D): LossFn {
  const s = spec(name, numClasses, targets !== undefined);
  if (!targets) return described((logits) => s.untargeted(logits, labels, numClasses), { name, targeted: false, classes: labels, numClasses });
  if (!s.targetedNeedsLabels) return targetedLoss(name, targets, numClasses);
  return described((logits) => s.targeted(logits, targets, numClasses, labels), { name, targeted: true, classes: targets, labels, numClasses });
}
