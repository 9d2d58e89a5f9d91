/**
 * Carlini–Wagner L2: the minimum-norm attack of Carlini & Wagner, with Adam in tanh space and a per-sample
 * binary search over the trade-off constant.
 *
 * Paper: N. Carlini, D. Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE Symposium on
 * Security and Privacy 2017, https://arxiv.org/abs/1608.04644.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type MinimizeContext } from '../src/runner.js';
import { selectSamples } from '../src/norms.js';
import type { LossFn } from '../src/model.js';
import { ConfigError, describe } from '../src/errors.js';
import { requireInt, requirePositive } from '../src/validate.js';

/** Configuration of {@link cw}. Every field is optional. */
export interface CwConfig {
  /**
   * Adam steps per binary-search step. Default `1000`, a tenth of the paper's 10,000 (and of its time: once `c` is
   * large enough to fool a sample, abort-early seldom ends a search step sooner). On the bundled MNIST model it
   * fools every one of the first 100 test images, median L2 1.06 (DeepFool: 1.31). Far fewer steps weaken it:
   * pixels at a bound start at `|w| ≈ 7.25` in tanh space and Adam moves `w` by about the learning rate
   * per step, so they only start to move after some hundreds of steps (200 steps from `c` = 0.01 left 1 of 20
   * images unfooled, at a median norm of 1.70 against 0.98 with 1,000).
   */
  steps?: number;
  /**
   * Steps of the per-sample search over the constant `c`: ×10 while a sample has not been fooled, then bisection
   * between the largest failing and the smallest succeeding `c`. With 10 or more, the last step reuses each
   * sample's smallest succeeding `c` (as the authors' code does). Default `9` (the paper's, and Foolbox's). The
   * time is proportional to it; on the bundled MNIST model the median norm of the first 100 test images stopped
   * falling after 3 search steps (1.105, 1.083, 1.068 after 1, 2 and 3 of them, then unchanged).
   */
  binarySearchSteps?: number;
  /**
   * The constant `c` every sample starts from. Default `1` (torchattacks' fixed `c`; the authors' code and Foolbox
   * start at `0.001`). With the hinge form of `f`, any `c` above a sample's threshold has the same minimiser (the
   * closest point with margin ≥ κ), so starting high costs little, while every search step spent below the
   * threshold finds nothing: on the bundled MNIST model and its first 20 test images, 1,000 steps at `c` = 0.01,
   * 0.1 and 1 fooled 0, 2 and 17 of them (at 1: 97 of the first 100). Samples fooled then bisect downwards.
   */
  initialConst?: number;
  /**
   * Confidence κ ≥ 0: a sample counts as fooled only when its logit margin reaches κ (untargeted:
   * `max_{j≠y} z_j − z_y ≥ κ`; targeted: `z_t − max_{j≠t} z_j ≥ κ`). Larger κ gives larger, more transferable
   * perturbations. Default `0`.
   */
  confidence?: number;
  /** Adam's learning rate on the tanh-space variable `w`. Default `0.01` (the paper's). */
  learningRate?: number;
  /**
   * Ends a binary-search step early when the objective (summed over the batch) has not fallen by 0.01% over the
   * last `⌈steps / 10⌉` steps, as the authors' code does. Default `true`.
   */
  abortEarly?: boolean;
}

interface Settings {
  readonly steps: number;
  readonly binarySearchSteps: number;
  readonly initialConst: number;
  readonly confidence: number;
  readonly learningRate: number;
  readonly abortEarly: boolean;
}

/** Adam's moment decay rates and its denominator guard (Kingma & Ba 2015; the paper's choices). */
const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;
/** The clean input's tanh-space image is `atanh` of its scaled value clipped to `±(1 − TANH_CLIP)`, finite at the bounds. */
const TANH_CLIP = 1e-6;
/**
 * Logit margin beyond κ that counts as fooled (and that the hinge asks for), like DeepFool's 1e-4 crossing: a
 * sample counted as fooled is misclassified strictly, not on a tie, also when an engine's logits differ from the
 * gradient pass's in the last bits. It adds about `1e-4 / ‖∇ margin‖` to a norm.
 */
const CROSS = 1e-4;
/** Caps `c` in the last search step of a search with 10 or more steps (the authors' 1e10). */
const MAX_CONST = 1e10;
/** Relative improvement of the objective that abort-early asks for over each tenth of the steps. */
const MIN_IMPROVEMENT = 1e-4;

/** Per-sample squared L2 distance between two batches. */
function squaredDistance(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.reshape(tf.square(tf.sub(a, b)), [a.shape[0]!, -1]), 1) as tf.Tensor1D;
}

/** The optimisation state of one binary-search step. */
type AdamState = {
  /** The tanh-space variable. */
  readonly w: tf.Tensor;
  /** Adam's first and second moment estimates. */
  readonly m: tf.Tensor;
  readonly v: tf.Tensor;
  /** `x(w)`, the point whose objective the next step differentiates. */
  readonly x: tf.Tensor;
};

/** The per-sample best over all search steps, and whether the current search step fooled each sample. */
type Best = {
  /** Smallest fooling input so far (the clean input where none was found). */
  readonly x: tf.Tensor;
  /** Its squared L2 distance to the clean input (`Infinity` where none was found). */
  readonly norm2: tf.Tensor1D;
  /** Fooled at least once in the current search step (bool). */
  readonly found: tf.Tensor1D;
};

async function minimize(s: Settings, ctx: MinimizeContext): Promise<tf.Tensor> {
  const { model, x } = ctx;
  const n = x.shape[0]!;
  const [lo, hi] = model.bounds;
  const mid = (lo + hi) / 2;
  const half = (hi - lo) / 2;
  // The change of variables x = mid + half·tanh(w) keeps every iterate inside the bounds. The objective's
  // distance term is measured from the clean input's own reconstruction, so that it and its gradient are exactly
  // zero at the start; the kept norms are measured from the clean input itself, as the runner does.
  const [w0, x0] = tf.tidy(() => {
    const w = tf.atanh(tf.clipByValue(tf.div(tf.sub(x, mid), half), -(1 - TANH_CLIP), 1 - TANH_CLIP));
    return [w, tf.add(tf.mul(tf.tanh(w), half), mid)] as const;
  });
  const checkEvery = Math.ceil(s.steps / 10);
  const consts = new Float64Array(n).fill(s.initialConst);
  const lower = new Float64Array(n).fill(0);
  const upper = new Float64Array(n).fill(Infinity);
  let best: Best = tf.tidy(() => ({ x: tf.clone(x), norm2: tf.fill([n], Infinity) as tf.Tensor1D, found: tf.zeros([n], 'bool') as tf.Tensor1D }));
  let state: AdamState | undefined;
  let c: tf.Tensor1D | undefined;
  try {
    for (let search = 0; search < s.binarySearchSteps; search++) {
      if (search === s.binarySearchSteps - 1 && s.binarySearchSteps >= 10) {
        for (let i = 0; i < n; i++) consts[i] = Math.min(upper[i]!, MAX_CONST);
      }
      c?.dispose();
      c = tf.tensor1d(Float32Array.from(consts), 'float32');
      const cs = c;
      // The classification term c·max(κ + CROSS − margin, 0), with `ctx.loss` the margin to maximise (already
      // targeted or untargeted): zero exactly when the sample is fooled with margin ≥ κ + CROSS. Its gradient is
      // c·∂f/∂x; `valueAndGrad` differentiates the sum, and each sample's term depends on its own input only.
      const hinge: LossFn = (logits) => tf.mul(cs, tf.relu(tf.sub(s.confidence + CROSS, ctx.loss(logits)))) as tf.Tensor1D;
      if (state) tf.dispose([state.w, state.m, state.v, state.x]);
      let current: AdamState = tf.tidy(() => ({ w: tf.clone(w0), m: tf.zerosLike(w0), v: tf.zerosLike(w0), x: tf.clone(x0) }));
      state = current;
      const prevBest = best;
      best = { x: prevBest.x, norm2: prevBest.norm2, found: tf.zeros([n], 'bool') as tf.Tensor1D };
      prevBest.found.dispose();
      let previous = Infinity;
      for (let step = 0; step < s.steps; step++) {
        const cur = current;
        const old = best;
        const { value, grad } = await model.valueAndGrad(cur.x, hinge);
        const check = s.abortEarly && step % checkEvery === 0;
        const t = step + 1;
        const [next, nextBest, objective] = tf.tidy((): [AdamState, Best, tf.Scalar | undefined] => {
          // The point `cur.x` that was just differentiated: is it a better (smaller) fooling input?
          const fooled = tf.equal(value, 0) as tf.Tensor1D;
          const norm2 = squaredDistance(cur.x, x);
          const closer = tf.logicalAnd(fooled, tf.less(norm2, old.norm2)) as tf.Tensor1D;
          const b: Best = {
            x: selectSamples(closer, cur.x, old.x),
            norm2: tf.where(closer, norm2, old.norm2) as tf.Tensor1D,
            found: tf.logicalOr(old.found, fooled) as tf.Tensor1D,
          };
          // ∂obj/∂w = (2(x − x0) + c·∂f/∂x) · ∂x/∂w, with ∂x/∂w = half·(1 − tanh²(w)).
          const tanh = tf.tanh(cur.w);
          const gx = tf.add(tf.mul(tf.sub(cur.x, x0), 2), grad);
          const gw = tf.mul(gx, tf.mul(tf.sub(1, tf.square(tanh)), half));
          const m = tf.add(tf.mul(cur.m, BETA1), tf.mul(gw, 1 - BETA1));
          const v = tf.add(tf.mul(cur.v, BETA2), tf.mul(tf.square(gw), 1 - BETA2));
          const mHat = tf.div(m, 1 - BETA1 ** t);
          const vHat = tf.div(v, 1 - BETA2 ** t);
          const w: tf.Tensor = tf.sub(cur.w, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM_EPSILON)), s.learningRate));
          const xNext = tf.add(tf.mul(tf.tanh(w), half), mid);
          const obj = check ? (tf.sum(tf.add(squaredDistance(cur.x, x0), value)) as tf.Scalar) : undefined;
          return [{ w, m, v, x: xNext }, b, obj];
        });
        tf.dispose([value, grad, cur.w, cur.m, cur.v, cur.x]);
        if (nextBest.x !== old.x) old.x.dispose();
        tf.dispose([old.norm2, old.found]);
        current = state = next;
        best = nextBest;
        if (objective) {
          // One scalar read every ⌈steps/10⌉ steps. An objective of 0 leaves nothing to minimise (every sample
          // fooled at its clean input).
          const value = (await objective.data())[0]!;
          objective.dispose();
          if (!(value <= (1 - MIN_IMPROVEMENT) * previous) || value === 0) break;
          previous = value;
        }
      }
      // One read per search step: which samples this constant fooled.
      const found = await best.found.data();
      for (let i = 0; i < n; i++) {
        const c0 = consts[i]!;
        if (found[i] === 1) upper[i] = Math.min(upper[i]!, c0);
        else lower[i] = Math.max(lower[i]!, c0);
        consts[i] = upper[i] === Infinity ? c0 * 10 : (lower[i]! + upper[i]!) / 2;
      }
    }
    const out = best.x;
    tf.dispose([best.norm2, best.found]);
    return out;
  } catch (e) {
    tf.dispose([best.x, best.norm2, best.found]);
    throw e;
  } finally {
    tf.dispose([w0, x0]);
    c?.dispose();
    if (state) tf.dispose([state.w, state.m, state.v, state.x]);
  }
}

/**
 * Carlini–Wagner L2 (Carlini & Wagner, IEEE S&P 2017): a minimum-norm attack that minimises, per sample,
 * `‖x − x0‖₂² + c·f(x)` with `f(x) = max(z_y − max_{j≠y} z_j, −κ)` (untargeted; targeted towards `t`:
 * `max(max_{j≠t} z_j − z_t, −κ)`), written here in the equivalent hinge form `max(κ − margin, 0)`. The input is
 * reparametrised as `x = lo + (hi − lo)·(tanh(w) + 1)/2` onto the model's bounds `[lo, hi]`, so the
 * optimisation is unconstrained; Adam (β1 0.9, β2 0.999, ε 1e-8) minimises the objective over `w`, starting at
 * the clean input (whose `atanh` is clipped away from ±1), for `steps` steps or until the objective stalls
 * (`abortEarly`). Each sample has its own constant `c`, found by a search of `binarySearchSteps` steps: ×10 until
 * the sample is fooled, then bisection. Over all steps of all searches, each sample keeps the smallest fooling
 * input it met (fooled meaning a margin of at least κ, plus 1e-4 so that it is never a tie).
 *
 * Gradients come only from `model.valueAndGrad` (one call per Adam step, on a loss `c·max(κ − margin, 0)` that
 * closes over the labels or targets and the per-sample `c`); the distance term and the tanh chain rule are
 * applied in tfjs ops. Each step is one `tf.tidy`; the host reads one scalar every `⌈steps/10⌉` steps
 * (abort-early) and one boolean per sample per search step (the search over `c`).
 *
 * Kind `minimum-norm`: one run per batch; the runner counts a sample as fooled at epsilon when its smallest
 * fooling input has an L2 perturbation ≤ epsilon, and reports the norms in `AttackResult.minimalNorms`
 * (`Infinity` where CW never fooled the model). Targeted and untargeted. L2 only.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels (and targets) `[N]`. Paper: https://arxiv.org/abs/1608.04644.
 *
 * Defaults: `steps` 1000 (the paper's 10,000 takes 10× the time), `binarySearchSteps` 9, `initialConst` 1,
 * `confidence` 0, `learningRate` 0.01, `abortEarly` true. They fool every one of the first 100 MNIST test images on
 * the bundled model (median L2 1.06; DeepFool 1.31, larger on 93 of them), in 9,000 Adam steps per batch.
 *
 * @param config - see {@link CwConfig}.
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `confidence: -1`); `run` throws
 *   {@link UnsupportedError} for a query-only model.
 * @example
 * ```ts
 * const result = await cw().run(model, x, labels, { epsilons: [1, 1.5, 2] });
 * console.log(result.minimalNorms); // per sample: the smallest L2 perturbation CW found, Infinity where it failed
 * result.dispose();
 * ```
 */
export function cw(config: CwConfig = {}): Attack {
  const s: Settings = {
    steps: config.steps ?? 1000,
    binarySearchSteps: config.binarySearchSteps ?? 9,
    initialConst: config.initialConst ?? 1,
    confidence: config.confidence ?? 0,
    learningRate: config.learningRate ?? 0.01,
    abortEarly: config.abortEarly ?? true,
  };
  requireInt(s.steps, 1, 'cw', 'steps');
  requireInt(s.binarySearchSteps, 1, 'cw', 'binarySearchSteps');
  requirePositive(s.initialConst, 'cw', 'initialConst');
  requirePositive(s.confidence, 'cw', 'confidence', true);
  requirePositive(s.learningRate, 'cw', 'learningRate');
  if (typeof s.abortEarly !== 'boolean') throw new ConfigError(`cw: expected abortEarly to be a boolean, got ${describe(s.abortEarly)}`);
  return defineAttack({
    kind: 'minimum-norm',
    name: 'cw',
    norm: 'l2',
    config: { ...s },
    // The margin (already targeted or untargeted in `ctx.loss`) that the hinge term is built from.
    loss: 'margin',
    minimize: (ctx) => minimize(s, ctx),
  });
}
