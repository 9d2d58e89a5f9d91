/**
 * The types of the model interface: what every model carries ({@link ModelInfo}), the two kinds
 * ({@link DifferentiableModel}, {@link QueryModel}), their options, warnings and the values they exchange with
 * attacks. The implementations (adapters) live in `model.ts`, which re-exports everything here.
 * @module
 */
import type * as tf from './tf.js';

/** The raw input range `[lower, upper]` of a model, e.g. `[0, 1]` or `[0, 255]`. */
export type Bounds = readonly [lower: number, upper: number];

/**
 * Memory layout of one input, without the batch dimension.
 * `NHWC`: `[height, width, channels]` (tfjs/Keras). `NCHW`: `[channels, height, width]` (PyTorch/ONNX).
 * `flat`: any other shape (vectors); preprocessing then broadcasts over the last axis.
 */
export type Layout = 'NHWC' | 'NCHW' | 'flat';

/**
 * Per-channel normalisation applied *inside* the model: the network sees `(x - mean) / std`.
 * Each array has one entry per channel, or a single entry for all channels.
 */
export interface Preprocessing {
  /** Per-channel mean, in raw input units. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation, in raw input units; every entry must be positive. */
  readonly std: readonly number[];
}

/**
 * A per-sample loss of the logits: `[N, C]` logits in, `[N]` losses out, built from tfjs ops so that it can
 * be differentiated. Labels or targets are captured by the closure (see `src/losses.ts`).
 */
export type LossFn = (logits: tf.Tensor2D) => tf.Tensor1D;

/**
 * Stable codes of {@link ModelWarning}s: match on these, never on a warning's message.
 * - `softmax-removed`: the model ends in a softmax or log-softmax; attacks use its input, the logits.
 * - `softmax-kept`: the model ends in a softmax or log-softmax that was kept (asked for, or impossible to remove),
 *   so attacks see probabilities or log-probabilities and gradient attacks may underestimate vulnerability.
 * - `output-not-class-axis`: the output comes from a softmax over another axis than the classes; used as is.
 * - `export-approximation`: the model was exported to ONNX with a setting it ignores (as tfjs-layers does).
 * - `gradient-engine-fallback`: gradients are computed by tfjs because the requested engine cannot run the model.
 * - `query-only`: the importer cannot run the model, so it runs in onnxruntime without gradients (black-box attacks only).
 *
 * @example
 * ```ts
 * if (model.warnings.some((w) => w.code === MODEL_WARNING_CODES.softmaxKept)) console.log('attacking probabilities');
 * ```
 */
export const MODEL_WARNING_CODES = Object.freeze({
  /** A softmax/log-softmax head was removed; attacks use the logits. */
  softmaxRemoved: 'softmax-removed',
  /** A softmax/log-softmax head was kept; attacks see probabilities. */
  softmaxKept: 'softmax-kept',
  /** The output's softmax is over another axis than the classes. */
  outputNotClassAxis: 'output-not-class-axis',
  /** The ONNX export ignores a layer setting. */
  exportApproximation: 'export-approximation',
  /** Gradients fall back to tfjs. */
  gradientEngineFallback: 'gradient-engine-fallback',
  /** The model could only be loaded as a query-only model. */
  queryOnly: 'query-only',
} as const);

/** One of the {@link MODEL_WARNING_CODES}. */
export type ModelWarningCode = (typeof MODEL_WARNING_CODES)[keyof typeof MODEL_WARNING_CODES];

/**
 * Something found while wrapping a model that a report should show, with a stable code.
 *
 * @example
 * ```ts
 * const w: ModelWarning = { code: 'softmax-removed', message: "mnist: the last layer 'softmax' is a softmax; attacks use its input" };
 * ```
 */
export interface ModelWarning {
  /** Stable code; see {@link MODEL_WARNING_CODES}. */
  readonly code: ModelWarningCode;
  /** Human-readable explanation. */
  readonly message: string;
}

/** The result of {@link DifferentiableModel.valueAndGrad}; the caller owns (and disposes) both tensors. */
export interface ValueAndGrad {
  /** Per-sample loss, shape `[N]`. */
  readonly value: tf.Tensor1D;
  /** Gradient of the summed loss with respect to the raw input, same shape as the input. */
  readonly grad: tf.Tensor;
}

/**
 * How a defended model (built by `defend` from `robustest/defenses`) is put together, for reports and checks.
 *
 * @example
 * ```ts
 * if (model.defense && !model.defense.adaptive) console.log(`non-adaptive evaluation of ${model.defense.transforms.join(',')}`);
 * ```
 */
export interface DefenseInfo {
  /** The input transforms, in order, as the CLI's `--defense` writes them (e.g. `['jpeg:75', 'bits:4']`). */
  readonly transforms: readonly string[];
  /**
   * How gradients cross the non-differentiable transforms: `bpda` (Athalye et al. 2018: a differentiable
   * approximation, the identity by default, on the backward pass) or `exact` (their own gradient: none for a host
   * codec, zero for quantisation). Differentiable transforms always use their exact gradient.
   */
  readonly gradient: 'bpda' | 'exact';
  /** Draws of the random transforms averaged per gradient (EOT, Athalye et al. 2018); 1 = no EOT. */
  readonly eotSamples: number;
  /** Whether some transform is random. */
  readonly random: boolean;
  /** Whether some transform is not differentiable. */
  readonly nonDifferentiable: boolean;
  /** True when attacks see an adaptive gradient: BPDA (or no non-differentiable transform) and EOT (or no random one). */
  readonly adaptive: boolean;
  /** The seed the transforms' draws derive from. */
  readonly seed: number;
}

/** What every model carries, whatever its kind. */
export interface ModelInfo {
  /** Raw input range. Inputs outside it are rejected; adversarial examples are clipped to it. */
  readonly bounds: Bounds;
  /** Number of classes, i.e. the width of the logits. */
  readonly numClasses: number;
  /** Shape of one input, without the batch dimension. */
  readonly inputShape: readonly number[];
  /** Layout of one input. */
  readonly layout: Layout;
  /** Normalisation applied inside the model, if any. */
  readonly preprocessing?: Preprocessing;
  /** A human-readable name, used in reports. */
  readonly name: string;
  /** Which engine computes the model: `tfjs`, `onnx-import` (ONNX graph run as tfjs ops), `onnxruntime`, `http`. */
  readonly engine: string;
  /** Things found while wrapping the model that a report should show (a softmax head replaced, ...). */
  readonly warnings: readonly ModelWarning[];
  /** The input-transform defense in front of the model and how attacks differentiate it (set by `defend`). */
  readonly defense?: DefenseInfo;
  /** SHA-256 (hex) of the model's weights, for provenance; `unknown:...` when it cannot be computed. */
  fingerprint(): Promise<string>;
  /** Frees what the wrapper itself created (a rebuilt head, imported weights); never the user's model. */
  dispose(): void;
}

/**
 * A model that gives input-gradients. `logits` is built from tfjs ops so that gradients flow through it;
 * attacks never differentiate it themselves but ask {@link DifferentiableModel.valueAndGrad}, which a wrapper
 * may implement differently (EOT, BPDA, a native gradient engine).
 */
export interface DifferentiableModel extends ModelInfo {
  /** Discriminant. */
  readonly kind: 'differentiable';
  /**
   * Logits `[N, numClasses]` of a batch in raw input space (preprocessing is applied inside).
   * Synchronous tfjs ops; usable inside `tf.tidy` and `tf.grad`. The caller owns the result.
   */
  logits(x: tf.Tensor): tf.Tensor2D;
  /**
   * Per-sample loss of the logits and its gradient with respect to the raw input.
   * The caller owns both returned tensors; `x` is not disposed.
   */
  valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad>;
}

/** A model that can only be queried: an async forward pass, no gradients. Black-box attacks only. */
export interface QueryModel extends ModelInfo {
  /** Discriminant. */
  readonly kind: 'query';
  /** Logits (or scores) `[N, numClasses]` of a batch in raw input space. The caller owns the result. */
  logits(x: tf.Tensor): Promise<tf.Tensor2D>;
}

/** Either kind of model. */
export type Model = DifferentiableModel | QueryModel;

/** Options shared by every adapter. */
export interface ModelOptions {
  /** Raw input range. Default `[0, 1]`. */
  bounds?: Bounds;
  /**
   * Number of classes. Default: read from the model's output shape, or, for a graph model that does not declare
   * it, from one forward pass (required for {@link fromFunction}).
   */
  numClasses?: number;
  /** Shape of one input without the batch dimension. Default: read from the model (required for {@link fromFunction}). */
  inputShape?: readonly number[];
  /** Input layout. Default: inferred from `inputShape` (channels of 1, 3 or 4 last → NHWC, first → NCHW). */
  layout?: Layout;
  /** Normalisation applied inside the model. Default: none. */
  preprocessing?: Preprocessing;
  /** Name used in reports. Default: the model's own name, or `model`. */
  name?: string;
}

/** Options of {@link fromFunction}. */
export interface FunctionModelOptions extends ModelOptions {
  /** Number of classes (required). */
  numClasses: number;
  /** Shape of one input without the batch dimension (required). */
  inputShape: readonly number[];
  /** Tensors whose values define the function (its weights), hashed for provenance. Default: none. */
  weights?: readonly tf.Tensor[];
}
