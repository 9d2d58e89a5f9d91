/**
 * `defend`: a model with input transforms in front of it, as a model like any other (attacks, `evaluate`, the CLI
 * and the matcher take it unchanged), whose `valueAndGrad` is the adaptive one: BPDA through non-differentiable
 * transforms and EOT over random ones (Athalye, Carlini, Wagner, "Obfuscated Gradients Give a False Sense of
 * Security", ICML 2018).
 * @module
 */
import * as tf from '../src/tf.js';
import { ConfigError } from '../src/errors.js';
import { checkBatchShape } from '../src/model.js';
import { deriveSeed } from '../src/rng.js';
import { requireInt } from '../src/validate.js';
import type {
  Bounds,
  DefenseInfo,
  DifferentiableModel,
  Layout,
  LossFn,
  Model,
  ModelWarning,
  Preprocessing,
  QueryModel,
  ValueAndGrad,
} from '../src/model-types.js';
import type { InputTransform, TransformContext } from './transforms.js';

/** Options of {@link defend}. */
export interface DefendOptions {
  /**
   * How `valueAndGrad` crosses non-differentiable transforms (JPEG, bit-depth reduction): `bpda` uses each one's
   * `approximate` (the identity when it has none) on the backward pass, evaluated at the forward values (BPDA,
   * Athalye et al. 2018); `exact` uses their own gradient, which is zero (none through a host codec, zero almost
   * everywhere through rounding): the non-adaptive attack a defense's authors often reported, and gradient masking.
   * Differentiable transforms always get their exact gradient. Default `bpda`.
   */
  readonly gradient?: 'bpda' | 'exact';
  /**
   * Draws of the random transforms over which `valueAndGrad` averages loss and gradient (EOT, Athalye et al. 2018).
   * Ignored (1) when no transform is random. Default 10 when some transform is random.
   */
  readonly eotSamples?: number;
  /** The seed every draw derives from. Default 0. */
  readonly seed?: number;
  /** Name for reports. Default `<model name>+<transform specs>`. */
  readonly name?: string;
}

/** What {@link defend} adds to a model. */
export interface DefenseParts {
  /** How the defense is built (in the report's provenance). */
  readonly defense: DefenseInfo;
  /** The transforms, in order. */
  readonly transforms: readonly InputTransform[];
}
/** A {@link DifferentiableModel} with a defense in front of it. */
export type DefendedModel = DifferentiableModel & DefenseParts;
/** A {@link QueryModel} with a defense in front of it. */
export type DefendedQueryModel = QueryModel & DefenseParts;

const DEFAULT_EOT = 10;

function defenseInfo(transforms: readonly InputTransform[], options: DefendOptions, where: string): DefenseInfo {
  if (transforms.length === 0) throw new ConfigError(`${where}: expected at least one transform, got 0`);
  const gradient = options.gradient ?? 'bpda';
  if (gradient !== 'bpda' && gradient !== 'exact') throw new ConfigError(`${where}: expected gradient to be 'bpda' or 'exact', got ${String(gradient)}`);
  const random = transforms.some((t) => t.random);
  const nonDifferentiable = transforms.some((t) => !t.differentiable);
  const requested = options.eotSamples ?? (random ? DEFAULT_EOT : 1);
  requireInt(requested, 1, where, 'eotSamples');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ConfigError(`${where}: expected seed to be an integer, got ${seed}`);
  const eotSamples = random ? requested : 1;
  return Object.freeze({
    transforms: Object.freeze(transforms.map((t) => t.spec)),
    gradient,
    eotSamples,
    random,
    nonDifferentiable,
    adaptive: (!nonDifferentiable || gradient === 'bpda') && (!random || eotSamples > 1),
    seed,
  });
}

/** The shared part of both defended kinds: description, draws, the forward chain. */
abstract class DefendedBase {
  readonly bounds: Bounds;
  readonly numClasses: number;
  readonly inputShape: readonly number[];
  readonly layout: Layout;
  readonly preprocessing?: Preprocessing;
  readonly name: string;
  readonly engine: string;
  readonly warnings: readonly ModelWarning[];
  readonly defense: DefenseInfo;
  readonly transforms: readonly InputTransform[];
  /** Calls so far that drew the random transforms; each call's draws derive from (seed, this counter). */
  protected calls = 0;

  constructor(
    protected readonly base: Model,
    transforms: readonly InputTransform[],
    options: DefendOptions,
  ) {
    this.defense = defenseInfo(transforms, options, 'defend');
    this.transforms = Object.freeze([...transforms]);
    this.bounds = base.bounds;
    this.numClasses = base.numClasses;
    this.inputShape = base.inputShape;
    this.layout = base.layout;
    if (base.preprocessing) this.preprocessing = base.preprocessing;
    this.name = options.name ?? `${base.name}+${this.defense.transforms.join(',')}`;
    this.engine = base.engine;
    this.warnings = base.warnings;
  }

  /** The context of transform `i` in the draw seeded by `seed`. */
  protected context(seed: number, i: number): TransformContext {
    return { bounds: this.bounds, layout: this.layout, seed: deriveSeed(seed, i) };
  }

  /** The seed of the next call's draw (or of its EOT draw `s`). */
  protected nextSeed(): number {
    return deriveSeed(this.defense.seed, this.calls++);
  }

  /** `x` through every transform: the inputs of each transform and the final output (all new tensors, kept). */
  protected forward(x: tf.Tensor, seed: number): tf.Tensor[] {
    return tf.tidy(() => {
      const values: tf.Tensor[] = [];
      let v = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      for (const [i, t] of this.transforms.entries()) {
        v = t.apply(v, this.context(seed, i));
        values.push(v);
      }
      return values;
    });
  }

  fingerprint(): Promise<string> {
    return this.base.fingerprint();
  }

  dispose(): void {
    // The base model belongs to the caller.
  }
}

class DefendedDifferentiable extends DefendedBase implements DefendedModel {
  readonly kind = 'differentiable' as const;
  declare protected readonly base: DifferentiableModel;

  logits(x: tf.Tensor): tf.Tensor2D {
    checkBatchShape(this.name, this.inputShape, x);
    const seed = this.nextSeed();
    const values = this.forward(x, seed);
    try {
      return this.base.logits(values[values.length - 1]!);
    } finally {
      tf.dispose(values);
    }
  }

  /** The gradient with respect to `x` from the gradient `g` with respect to the last transform's output. */
  private backward(x: tf.Tensor, values: readonly tf.Tensor[], g: tf.Tensor, seed: number): tf.Tensor {
    return tf.tidy(() => {
      let grad = g;
      for (let i = this.transforms.length - 1; i >= 0; i--) {
        const t = this.transforms[i]!;
        const input = i === 0 ? (x.dtype === 'float32' ? x : tf.cast(x, 'float32')) : values[i - 1]!;
        const ctx = this.context(seed, i);
        const dy = grad;
        if (t.differentiable) {
          grad = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(t.apply(xi, ctx), dy)))(input);
        } else if (this.defense.gradient === 'exact') {
          grad = tf.zerosLike(input);
        } else if (t.approximate) {
          const approximate = t.approximate.bind(t);
          grad = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(approximate(xi, ctx), dy)))(input);
        }
      }
      return grad === g ? tf.clone(g) : grad;
    });
  }

  async valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad> {
    checkBatchShape(this.name, this.inputShape, x);
    const draws = this.defense.eotSamples;
    const call = this.nextSeed();
    let value: tf.Tensor1D | undefined;
    let grad: tf.Tensor | undefined;
    try {
      for (let s = 0; s < draws; s++) {
        const seed = draws === 1 ? call : deriveSeed(call, s);
        const values = this.forward(x, seed);
        try {
          const inner = await this.base.valueAndGrad(values[values.length - 1]!, loss);
          try {
            const g = this.backward(x, values, inner.grad, seed);
            const [v0, g0] = [value, grad];
            [value, grad] = tf.tidy(() => [v0 ? tf.add(v0, inner.value) : tf.clone(inner.value), g0 ? tf.add(g0, g) : tf.clone(g)] as [tf.Tensor1D, tf.Tensor]);
            tf.dispose([v0, g0, g]);
          } finally {
            tf.dispose([inner.value, inner.grad]);
          }
        } finally {
          tf.dispose(values);
        }
      }
      if (draws === 1) return { value: value!, grad: grad! };
      const [v1, g1] = [value!, grad!];
      const out = tf.tidy(() => ({ value: tf.div(v1, draws) as tf.Tensor1D, grad: tf.div(g1, draws) }));
      tf.dispose([v1, g1]);
      return out;
    } catch (e) {
      tf.dispose([value, grad].filter((t): t is tf.Tensor => t !== undefined));
      throw e;
    }
  }
}

class DefendedQuery extends DefendedBase implements DefendedQueryModel {
  readonly kind = 'query' as const;
  declare protected readonly base: QueryModel;

  async logits(x: tf.Tensor): Promise<tf.Tensor2D> {
    checkBatchShape(this.name, this.inputShape, x);
    const values = this.forward(x, this.nextSeed());
    try {
      return await this.base.logits(values[values.length - 1]!);
    } finally {
      tf.dispose(values);
    }
  }
}

/**
 * Puts input transforms in front of a model: `logits(x) = model.logits(tₖ(…t₁(x)))`. The result is a model of the
 * same kind, so every attack, `evaluate`, the CLI and the matcher work on it unchanged, and its `defense` field says
 * how it was built (the report's provenance records it; `evaluate` warns with `non-adaptive-defense` when it is not
 * attacked adaptively).
 *
 * Gradients (`valueAndGrad`) are the adaptive ones by default (Athalye, Carlini, Wagner, "Obfuscated Gradients Give a
 * False Sense of Security", ICML 2018, arXiv:1802.00420):
 * - the model's own `valueAndGrad` (whatever its engine) at the transformed input, then back through the transforms
 *   by the chain rule, evaluated at the forward values;
 * - a non-differentiable transform (JPEG, bit-depth reduction) contributes its `approximate`'s vector–Jacobian
 *   product, the identity when it has none (BPDA); with `gradient: 'exact'` it contributes zero;
 * - with random transforms, loss and gradient are averaged over `eotSamples` draws (EOT).
 *
 * Randomness: each call to `logits` or `valueAndGrad` draws anew, from `deriveSeed(seed, call number)` (and the EOT
 * draw's index), so a run reproduces bit for bit on the same backend given the same sequence of calls. `logits` is the
 * value only: differentiate the defended model through `valueAndGrad` (as attacks do), not `tf.grad(logits)`.
 *
 * @param model - the model to defend; not disposed by the defended model's `dispose`.
 * @param transforms - applied in order; at least one.
 * @param options - gradient (default `bpda`), eotSamples (default 10 with a random transform), seed (default 0), name.
 * @throws {@link ConfigError} if there is no transform or an option is invalid.
 * @example
 * ```ts
 * const defended = defend(model, [jpeg(75), bitDepth(4)]);               // BPDA on the backward pass
 * const report = await evaluate(defended, data, { attacks: [pgd()], epsilons: [0.1] });
 * const noisy = defend(model, [gaussianNoise(0.1)], { eotSamples: 20, seed: 1 }); // EOT over 20 draws
 * ```
 */
export function defend(model: DifferentiableModel, transforms: readonly InputTransform[], options?: DefendOptions): DefendedModel;
export function defend(model: QueryModel, transforms: readonly InputTransform[], options?: DefendOptions): DefendedQueryModel;
export function defend(model: Model, transforms: readonly InputTransform[], options?: DefendOptions): DefendedModel | DefendedQueryModel;
export function defend(model: Model, transforms: readonly InputTransform[], options: DefendOptions = {}): DefendedModel | DefendedQueryModel {
  return model.kind === 'differentiable' ? new DefendedDifferentiable(model, transforms, options) : new DefendedQuery(model, transforms, options);
}
