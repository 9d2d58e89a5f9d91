/**
 * The shared attack runner. It owns everything every attack would otherwise repeat: input and label checks, the
 * epsilon list, restarts with a per-sample best, the final projection onto the epsilon ball and the bounds,
 * success from the criterion (untargeted or targeted), norms, query counting, per-sample seeding and memory
 * hygiene. An attack supplies only its inner loop, in one of three kinds:
 *
 * - `fixed-epsilon` ({@link FixedEpsilonCore}): runs once per epsilon (and restart) inside the ball, with
 *   gradients from `model.valueAndGrad` (FGSM, PGD, APGD, MI-FGSM).
 * - `minimum-norm` ({@link MinimumNormCore}): runs once per batch and returns, per sample, the smallest
 *   successful perturbation it found; the runner thresholds it at every epsilon ("fooled with a perturbation of
 *   norm <= epsilon"), so one run draws the whole robustness curve (DeepFool, Carlini–Wagner, FMN).
 * - `query` ({@link QueryCore}): black-box; sees the model only through an async `query` (scores) or `decide`
 *   (decisions) that count queries per sample, so it runs on a {@link QueryModel} too. It searches inside the
 *   ball at each epsilon (Square, random search) or for a minimal perturbation (HopSkipJump), as it declares.
 *
 * Every random choice of an attack comes from `ctx.rngs`: one generator per sample, seeded from the run's seed,
 * the epsilon index, the restart and the sample's global index ({@link RunOptions.indices}), so a sample's result
 * does not depend on the batch it shares.
 * @module
 */
import * as tf from './tf.js';
import type { DifferentiableModel, LossFn, Model } from './model.js';
import { project, batchNorm, checkNorm, isZeroRadius, selectSamples, type Norm } from './norms.js';
import { attackLoss, type LossName } from './losses.js';
import { sampleRngs, type Rng } from './rng.js';
import { ConfigError, LabelError, UnsupportedError, describe } from './errors.js';
import { checkEpsilons, checkInputs, checkLabels, checkModel, checkRadius, requireInt, type LabelsLike } from './validate.js';

/** How an attack relates to epsilon: see the module documentation. */
export type AttackKind = 'fixed-epsilon' | 'minimum-norm' | 'query';

/** The kinds, in order. */
export const ATTACK_KINDS: readonly AttackKind[] = Object.freeze(['fixed-epsilon', 'minimum-norm', 'query']);

/** Options of one {@link Attack.run} call. */
export interface RunOptions {
  /** Radii to attack at, in raw input units of `norm`. One result per epsilon, in this order. */
  epsilons: readonly number[];
  /** Target classes, one per input: makes the attack targeted (success = predicted class equals target). Default: untargeted. */
  targets?: LabelsLike;
  /** Seed of every random choice. Default `0`. The same seed on the same backend gives bit-identical results. */
  seed?: number;
  /**
   * Global index of each input in its dataset, for per-sample seeding: sample `indices[i]` gets the same random
   * draws whatever batch it is run in. Distinct integers, one per input. Default `0, 1, ..., N-1`.
   */
  indices?: readonly number[];
  /** Called after each restart of each epsilon (progress reporting). */
  onProgress?: (event: ProgressEvent) => void;
}

/** Progress of a run, passed to {@link RunOptions.onProgress}. */
export interface ProgressEvent {
  /** Attack name. */
  readonly attack: string;
  /** Index of the epsilon being attacked (0 for the single run of a minimum-norm attack). */
  readonly epsilonIndex: number;
  /** Restart just finished (0-based). */
  readonly restart: number;
  /** Number of epsilons. */
  readonly epsilons: number;
  /** Number of restarts. */
  readonly restarts: number;
}

/** The outcome at one epsilon. `adversarial` is owned by the caller (dispose it, or call {@link AttackResult.dispose}). */
export interface EpsilonResult {
  /** The radius. */
  readonly epsilon: number;
  /** Adversarial inputs, same shape as the clean batch, inside the epsilon ball and the bounds (the clean input where the attack failed, for a minimum-norm attack). */
  readonly adversarial: tf.Tensor;
  /** Per sample: true when `adversarial` fools the model (misclassified, or classified as the target). */
  readonly success: boolean[];
  /** Per sample: the model's predicted class on `adversarial`. */
  readonly predictions: Int32Array;
  /** Per sample: L2 norm of the perturbation. */
  readonly l2: Float32Array;
  /** Per sample: Linf norm of the perturbation. */
  readonly linf: Float32Array;
  /**
   * Per sample: the model queries the attack made at this epsilon (all restarts); only for `query` attacks. The
   * runner's own forward pass over the returned candidates (one per epsilon and restart, to verify success) is not
   * counted: the attack already knows, from its last query, whether a candidate succeeds.
   */
  readonly queries?: Int32Array;
  /**
   * Per sample, how much the attack's loss still rose over its last quarter of steps, relative to its whole rise:
   * `(L_T − L_⌊3T/4⌋) / max(|L_T − L_0|, 1e-6·(1 + |L_T|))` over the `T + 1` losses the attack recorded with
   * `ctx.trace` (the restart kept for the sample). A loss climbing linearly gives 0.25; near 0: converged. `NaN`
   * where the attack traced fewer than 4 steps.
   */
  readonly lateLossRise?: Float32Array;
}

/** What {@link Attack.run} returns: one {@link EpsilonResult} per epsilon. */
export interface AttackResult {
  /** Attack name. */
  readonly attack: string;
  /** Threat model. */
  readonly norm: Norm;
  /** The attack's kind. */
  readonly kind: AttackKind;
  /** Whether the run was targeted. */
  readonly targeted: boolean;
  /** One result per epsilon, in the order given. */
  readonly results: EpsilonResult[];
  /**
   * Minimum-norm attacks (and query attacks that search for a minimal perturbation): per sample, the norm (in
   * the attack's norm) of the smallest successful perturbation found, `Infinity` where the attack never fooled
   * the model.
   */
  readonly minimalNorms?: Float32Array;
  /** Disposes every adversarial tensor of this result. */
  dispose(): void;
}

/**
 * An attack: an immutable value built by a factory (`pgd({...})`), usable on many models and batches.
 */
export interface Attack {
  /** Short name, e.g. `pgd`. */
  readonly name: string;
  /** Threat model. */
  readonly norm: Norm;
  /** How the attack relates to epsilon (see {@link AttackKind}). */
  readonly kind: AttackKind;
  /**
   * How its results relate to epsilon: `fixed-epsilon` attacks run once per epsilon; `minimum-norm` ones run once
   * for all epsilons (minimum-norm attacks, and query attacks that search for a minimal perturbation).
   */
  readonly search: 'fixed-epsilon' | 'minimum-norm';
  /** The full configuration with defaults filled in (recorded in reports). */
  readonly config: Readonly<Record<string, unknown>>;
  /** What the attack needs from the model: gradients (a {@link DifferentiableModel}) or only queries. */
  readonly requires: 'gradients' | 'queries';
  /**
   * Attacks a batch at every epsilon of `options.epsilons`.
   *
   * @param model - a differentiable model (a query model for black-box attacks).
   * @param x - clean inputs `[N, ...model.inputShape]` within `model.bounds`; not disposed.
   * @param labels - true labels, one per input.
   * @param options - epsilons, targets, seed, global indices.
   * @returns one result per epsilon; the caller owns the adversarial tensors.
   * @throws {@link ShapeError}, {@link BoundsError}, {@link NonFiniteError}, {@link LabelError}, {@link ConfigError},
   *   {@link UnsupportedError} (a gradient attack given a query-only model).
   */
  run(model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions): Promise<AttackResult>;
}

/** What every core's context has. */
export interface CoreContext {
  /** Clean inputs (owned by the runner: do not dispose). */
  readonly x: tf.Tensor;
  /** True labels, int32 `[N]` (owned by the runner). */
  readonly labels: tf.Tensor1D;
  /** Target classes of a targeted run, int32 `[N]` (owned by the runner); `undefined` when untargeted. */
  readonly targets: tf.Tensor1D | undefined;
  /** The loss to maximise (already targeted or untargeted). */
  readonly loss: LossFn;
  /** Per-sample success of logits `[N]` (bool), under the run's criterion. Call inside a tidy. */
  readonly isSuccess: (logits: tf.Tensor2D) => tf.Tensor1D;
  /**
   * One generator per sample for every random choice (seeded from the run's seed, the epsilon index, the restart
   * and the sample's global index). Use them row by row (`uniformPerSample`, `normalPerSample`, `randomInBall`),
   * never one generator for the whole batch, so that results do not depend on the batch.
   */
  readonly rngs: readonly Rng[];
  /** Restart index (0-based). */
  readonly restart: number;
  /**
   * Records the per-sample loss of the current iterate `[N]` (call once per step, e.g. with the `value` that
   * `valueAndGrad` returned; the runner keeps a copy). The runner turns the trajectory into
   * {@link EpsilonResult.lateLossRise}, which the evaluation's convergence check reads. Optional for an attack;
   * ignored in minimum-norm runs.
   */
  readonly trace: (loss: tf.Tensor1D) => void;
}

/** What {@link FixedEpsilonCore.perturb} receives for one epsilon and one restart. */
export interface PerturbContext extends CoreContext {
  /** The model. */
  readonly model: DifferentiableModel;
  /** The radius. */
  readonly epsilon: number;
  /** Projects a candidate onto the epsilon ball around `x` and into the bounds. Call inside a tidy. */
  readonly project: (candidate: tf.Tensor) => tf.Tensor;
}

/** What {@link MinimumNormCore.minimize} receives for one batch. */
export interface MinimizeContext extends CoreContext {
  /** The model. */
  readonly model: DifferentiableModel;
  /** Clips a candidate into the model's bounds. Call inside a tidy. */
  readonly clip: (candidate: tf.Tensor) => tf.Tensor;
}

/** What {@link QueryCore.search} receives for one epsilon (or, for a minimum-norm search, once) and one restart. */
export interface QueryContext extends CoreContext {
  /** The model: use only what the query functions give (never gradients). */
  readonly model: Model;
  /** The radius (`Infinity` for a minimum-norm search). */
  readonly epsilon: number;
  /** Projects a candidate onto the epsilon ball and into the bounds (into the bounds only, for a minimum-norm search). */
  readonly project: (candidate: tf.Tensor) => tf.Tensor;
  /**
   * Logits of a batch of candidates (score-based attacks only): `k·N` rows for `k` draws per sample, draw-major
   * (row `j·N + i` is draw `j` of sample `i`; `k = 1` is a batch aligned with `x`). Counts `k` queries for each
   * sample that is `active` (default: all); inactive rows are computed but not counted, so pass a mask of the
   * samples whose answers you use. The caller owns the result.
   */
  readonly query: (candidates: tf.Tensor, active?: readonly boolean[]) => Promise<tf.Tensor2D>;
  /** Whether each candidate fools the model (decision-based attacks): `k·N` rows as in `query`, `k` queries per active sample. */
  readonly decide: (candidates: tf.Tensor, active?: readonly boolean[]) => Promise<boolean[]>;
  /** Queries spent so far per sample (in this epsilon, over all restarts). */
  readonly queries: Int32Array;
}

/** Fields every core declares. */
interface CoreBase {
  /** Attack name. */
  readonly name: string;
  /** Threat model. */
  readonly norm: Norm;
  /** Full configuration with defaults. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Loss to maximise (a key of `LOSSES`). */
  readonly loss: LossName;
}

/** A fixed-epsilon gradient attack's inner loop (FGSM, PGD). */
export interface FixedEpsilonCore extends CoreBase {
  /** Kind: fixed-epsilon. */
  readonly kind: 'fixed-epsilon';
  /** Number of runs per epsilon; the runner keeps the per-sample best. */
  readonly restarts: number;
  /**
   * Returns a candidate adversarial batch for one epsilon and restart (owned by the runner afterwards). The runner
   * projects it once more, so small numerical overshoot is harmless.
   */
  perturb(ctx: PerturbContext): Promise<tf.Tensor>;
}

/** A minimum-norm gradient attack's inner loop (DeepFool, Carlini–Wagner, FMN). */
export interface MinimumNormCore extends CoreBase {
  /** Kind: minimum-norm. */
  readonly kind: 'minimum-norm';
  /**
   * Returns, per sample, the adversarial input of smallest perturbation (in `norm`) the attack found, or any
   * input where it found none (the runner checks success itself). Owned by the runner afterwards; clipped into
   * the bounds once more.
   */
  minimize(ctx: MinimizeContext): Promise<tf.Tensor>;
}

/** A black-box attack's inner loop (Square, random search, HopSkipJump). */
export interface QueryCore extends CoreBase {
  /** Kind: query. */
  readonly kind: 'query';
  /** What the attack reads from the model: logits (`scores`) or only whether a candidate fools it (`decisions`). */
  readonly output: 'scores' | 'decisions';
  /** Whether it searches inside the ball at each epsilon, or once for a minimal perturbation. */
  readonly search: 'fixed-epsilon' | 'minimum-norm';
  /** Runs per epsilon (fixed-epsilon search); the runner keeps the per-sample best. */
  readonly restarts: number;
  /** Returns a candidate batch (owned by the runner afterwards), as {@link FixedEpsilonCore.perturb} or {@link MinimumNormCore.minimize}. */
  attack(ctx: QueryContext): Promise<tf.Tensor>;
}

/** The part of an attack that differs between attacks. */
export type AttackCore = FixedEpsilonCore | MinimumNormCore | QueryCore;

function successFn(labels: tf.Tensor1D, targets: tf.Tensor1D | undefined): (logits: tf.Tensor2D) => tf.Tensor1D {
  return (logits) => {
    const pred = tf.argMax(logits, 1);
    return (targets ? tf.equal(pred, targets) : tf.notEqual(pred, labels)) as tf.Tensor1D;
  };
}

function searchOf(core: AttackCore): 'fixed-epsilon' | 'minimum-norm' {
  return core.kind === 'query' ? core.search : core.kind;
}

function checkCore(core: AttackCore): void {
  if (!core || typeof core !== 'object') throw new ConfigError(`defineAttack: expected an attack core object, got ${describe(core)}`);
  const where = typeof core.name === 'string' && core.name !== '' ? core.name : 'defineAttack';
  if (typeof core.name !== 'string' || core.name === '') throw new ConfigError(`defineAttack: expected a non-empty name, got ${describe(core.name)}`);
  if (!ATTACK_KINDS.includes(core.kind)) throw new ConfigError(`${where}: expected kind to be one of ${ATTACK_KINDS.join(', ')}, got ${describe(core.kind)}`);
  checkNorm(core.norm, where);
  if (core.kind !== 'minimum-norm') requireInt(core.restarts, 1, where, 'restarts');
  if (core.kind === 'query') {
    if (core.output !== 'scores' && core.output !== 'decisions')
      throw new ConfigError(`${where}: expected output to be 'scores' or 'decisions', got ${describe(core.output)}`);
    if (core.search !== 'fixed-epsilon' && core.search !== 'minimum-norm') {
      throw new ConfigError(`${where}: expected search to be 'fixed-epsilon' or 'minimum-norm', got ${describe(core.search)}`);
    }
  }
}

/**
 * Builds an {@link Attack} from its core: the shared runner supplies `run`.
 *
 * @param core - name, kind, norm, config, loss and the inner loop (see {@link AttackCore}).
 * @returns an immutable attack value.
 * @throws {@link ConfigError} for an unknown kind or norm, or `restarts` that is not a positive integer.
 * @example
 * ```ts
 * const noise = defineAttack({
 *   name: 'noise', kind: 'fixed-epsilon', norm: 'linf', config: {}, loss: 'ce', restarts: 1,
 *   perturb: async (ctx) => tf.tidy(() => ctx.project(tf.add(ctx.x, uniformPerSample(ctx.rngs, ctx.x.shape.slice(1), -ctx.epsilon, ctx.epsilon)))),
 * });
 * ```
 */
export function defineAttack(core: AttackCore): Attack {
  checkCore(core);
  const config = Object.freeze({ ...core.config });
  return Object.freeze({
    name: core.name,
    norm: core.norm,
    kind: core.kind,
    search: searchOf(core),
    config,
    requires: core.kind === 'query' ? ('queries' as const) : ('gradients' as const),
    run: (model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions) => runAttack(core, model, x, labels, options),
  });
}

/** Everything a run's strategies share, checked once. */
interface Setup {
  readonly core: AttackCore;
  readonly model: Model;
  readonly x: tf.Tensor;
  readonly n: number;
  readonly epsilons: number[];
  readonly seed: number;
  readonly indices: readonly number[];
  readonly labels: tf.Tensor1D;
  readonly targets: tf.Tensor1D | undefined;
  readonly loss: LossFn;
  readonly isSuccess: (logits: tf.Tensor2D) => tf.Tensor1D;
  readonly onProgress: ((event: ProgressEvent) => void) | undefined;
}

function checkIndices(indices: unknown, n: number, where: string): readonly number[] {
  if (indices === undefined) return Array.from({ length: n }, (_, i) => i);
  if (!Array.isArray(indices) || indices.length !== n) {
    throw new ConfigError(`${where}: expected indices to be an array of ${n} integers (one per input), got ${describe(indices)}`);
  }
  const seen = new Set<number>();
  for (const v of indices as unknown[]) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new ConfigError(`${where}: expected indices to be non-negative integers, got ${describe(v)}`);
    if (seen.has(v)) throw new ConfigError(`${where}: expected distinct indices, got ${v} twice`);
    seen.add(v);
  }
  return indices as number[];
}

async function runAttack(core: AttackCore, model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions): Promise<AttackResult> {
  const where = core.name;
  checkModel(model, where);
  if (core.kind !== 'query' && model.kind !== 'differentiable') {
    throw new UnsupportedError(`${where}: expected a differentiable model (gradient attack), got a query-only model '${model.name}'; use a black-box attack`);
  }
  if (!options || typeof options !== 'object') throw new ConfigError(`${where}: expected run options with epsilons, got ${describe(options)}`);
  const epsilons = checkEpsilons(options.epsilons, where);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new ConfigError(`${where}: expected seed to be a finite number, got ${describe(seed)}`);
  await checkInputs(model, x, where);
  // A fixed-epsilon attack beyond the box's diameter would scale its steps by a radius that means nothing; a
  // minimum-norm attack may be asked at any radius (a large one reads its minimal norms unbounded).
  if (searchOf(core) === 'fixed-epsilon')
    checkRadius(
      epsilons,
      core.norm,
      model.bounds,
      model.inputShape.reduce((a, b) => a * b, 1),
      where,
    );
  const n = x.shape[0]!;
  const indices = checkIndices(options.indices, n, where);
  const y = await checkLabels(labels, n, model.numClasses, `${where} labels`);
  const t = options.targets === undefined ? undefined : await checkLabels(options.targets, n, model.numClasses, `${where} targets`);
  if (t) {
    const same = t.findIndex((v, i) => v === y[i]);
    if (same >= 0)
      throw new LabelError(`${where} targets: expected every target to differ from its label, got target ${t[same]} equal to the label at index ${same}`);
  }
  const labelT = tf.tensor1d(y, 'int32');
  const targetT = t ? tf.tensor1d(t, 'int32') : undefined;
  const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  try {
    const setup: Setup = {
      core,
      model,
      x: xf,
      n,
      epsilons,
      seed,
      indices,
      labels: labelT,
      targets: targetT,
      loss: lossFor(core, labelT, model.numClasses, targetT),
      isSuccess: successFn(labelT, targetT),
      onProgress: options.onProgress,
    };
    const out = searchOf(core) === 'minimum-norm' ? await runMinimumNorm(setup) : await runFixedEpsilon(setup);
    const results = out.results;
    return {
      attack: core.name,
      norm: core.norm,
      kind: core.kind,
      targeted: t !== undefined,
      results,
      ...(out.minimalNorms ? { minimalNorms: out.minimalNorms } : {}),
      dispose: () => tf.dispose(results.map((r) => r.adversarial)),
    };
  } finally {
    labelT.dispose();
    targetT?.dispose();
    if (xf !== x) xf.dispose();
  }
}

/** The run's loss; a loss that cannot serve this model (too few classes) is an error that names the attack. */
function lossFor(core: AttackCore, labels: tf.Tensor1D, numClasses: number, targets: tf.Tensor1D | undefined): LossFn {
  try {
    return attackLoss(core.loss, labels, numClasses, targets);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${core.name}: ${e.message}`);
    throw e;
  }
}

/** Per-sample query counting for query cores. */
function queryFunctions(s: Setup, queries: Int32Array): Pick<QueryContext, 'query' | 'decide' | 'queries'> {
  const output = s.core.kind === 'query' ? s.core.output : 'scores';
  /** Draws per sample in a batch of candidates: `k·N` rows, draw-major (row `j·N + i` is draw `j` of sample `i`). */
  const draws = (c: tf.Tensor): number => {
    const rows = c.shape[0] ?? 0;
    if (s.n === 0 || rows === 0 || rows % s.n !== 0) {
      throw new ConfigError(`${s.core.name}: expected k·${s.n} candidates (k draws per input, draw-major), got ${rows}`);
    }
    return rows / s.n;
  };
  const count = (k: number, active: readonly boolean[] | undefined): void => {
    if (active !== undefined && active.length !== s.n) throw new ConfigError(`${s.core.name}: expected an active mask of ${s.n} entries, got ${active.length}`);
    for (let i = 0; i < s.n; i++) if (active === undefined || active[i]) queries[i]! += k;
  };
  return {
    queries,
    query: async (c, active) => {
      if (output !== 'scores') throw new UnsupportedError(`${s.core.name}: a decision-based attack may not read scores; use ctx.decide`);
      count(draws(c), active);
      return await s.model.logits(c);
    },
    decide: async (c, active) => {
      const k = draws(c);
      count(k, active);
      const l = await s.model.logits(c);
      const ok = tf.tidy(() => {
        const pred = tf.argMax(l, 1);
        const want = tf.tile(s.targets ?? s.labels, [k]);
        return s.targets ? tf.equal(pred, want) : tf.notEqual(pred, want);
      });
      l.dispose();
      const host = await ok.data();
      ok.dispose();
      return Array.from(host, (v) => v === 1);
    },
  };
}

/** A minimum-norm run keeps no loss trajectory (its objective is not the attack loss). */
const ignoreTrace = (): void => undefined;

/** Collects the per-step losses an attack records with `ctx.trace`. */
class LossTrace {
  private readonly steps: tf.Tensor1D[] = [];

  readonly record = (loss: tf.Tensor1D): void => {
    this.steps.push(tf.keep(tf.clone(loss)));
  };

  /** Per sample, the late rise of the loss (see {@link EpsilonResult.lateLossRise}); NaN with fewer than 4 steps. */
  async lateRise(n: number): Promise<Float32Array> {
    const t = this.steps.length;
    if (t < 4 || this.steps.some((l) => l.size !== n)) return new Float32Array(n).fill(NaN);
    const rows = tf.tidy(() => tf.stack([this.steps[0]!, this.steps[Math.floor((3 * (t - 1)) / 4)]!, this.steps[t - 1]!]));
    const host = await rows.data();
    rows.dispose();
    return Float32Array.from({ length: n }, (_, i) => {
      const [l0, l3, lt] = [host[i]!, host[n + i]!, host[2 * n + i]!];
      return (lt - l3) / Math.max(Math.abs(lt - l0), 1e-6 * (1 + Math.abs(lt)));
    });
  }

  dispose(): void {
    tf.dispose(this.steps);
    this.steps.length = 0;
  }
}

/** Host arrays of the result at one epsilon, from the chosen adversarial batch. */
async function summarise(
  s: Setup,
  epsilon: number,
  adversarial: tf.Tensor,
  success: tf.Tensor1D,
  pred: tf.Tensor1D,
  queries?: Int32Array,
  lateLossRise?: Float32Array,
): Promise<EpsilonResult> {
  const n = s.n;
  const summary = tf.tidy(() => {
    const delta = tf.sub(adversarial, s.x);
    return tf.stack([tf.cast(success, 'float32'), tf.cast(pred, 'float32'), batchNorm(delta, 'l2'), batchNorm(delta, 'linf')]);
  });
  const host = await summary.data();
  summary.dispose();
  return {
    epsilon,
    adversarial,
    success: Array.from(host.subarray(0, n), (v) => v === 1),
    predictions: Int32Array.from(host.subarray(n, 2 * n)),
    l2: Float32Array.from(host.subarray(2 * n, 3 * n)),
    linf: Float32Array.from(host.subarray(3 * n, 4 * n)),
    ...(queries ? { queries: Int32Array.from(queries) } : {}),
    ...(lateLossRise ? { lateLossRise } : {}),
  };
}

/** Fixed-epsilon strategy: per epsilon, `restarts` runs, keeping per sample a success, else the highest loss. */
async function runFixedEpsilon(s: Setup): Promise<{ results: EpsilonResult[]; minimalNorms?: Float32Array }> {
  const core = s.core as FixedEpsilonCore | QueryCore;
  const results: EpsilonResult[] = [];
  try {
    for (let ei = 0; ei < s.epsilons.length; ei++) {
      const epsilon = s.epsilons[ei]!;
      const proj = (c: tf.Tensor): tf.Tensor => project(s.x, c, epsilon, core.norm, s.model.bounds);
      const isZero = isZeroRadius(epsilon);
      const queries = core.kind === 'query' ? new Int32Array(s.n) : undefined;
      // Per sample, the best candidate over restarts: a success first, then the higher loss. Its predicted
      // class is kept alongside so that the result needs no further forward pass.
      let best: { x: tf.Tensor; success: tf.Tensor1D; loss: tf.Tensor1D; pred: tf.Tensor1D } | undefined;
      const restarts = isZero ? 1 : core.restarts;
      const lateRise = new Float32Array(s.n).fill(NaN);
      // What this epsilon holds while an attack or the model may throw: disposed on every error path.
      let candidate: tf.Tensor | undefined;
      try {
        for (let r = 0; r < restarts; r++) {
          let rise: Float32Array;
          const trace = new LossTrace();
          try {
            if (isZero) {
              candidate = tf.clone(s.x);
            } else {
              const base = {
                x: s.x,
                labels: s.labels,
                targets: s.targets,
                epsilon,
                loss: s.loss,
                isSuccess: s.isSuccess,
                project: proj,
                rngs: sampleRngs(s.seed, s.indices, ei, r),
                restart: r,
                trace: trace.record,
              };
              const raw =
                core.kind === 'query'
                  ? await core.attack({ ...base, model: s.model, ...queryFunctions(s, queries!) })
                  : await core.perturb({ ...base, model: s.model as DifferentiableModel });
              candidate = tf.tidy(() => proj(raw));
              raw.dispose();
            }
            rise = await trace.lateRise(s.n);
          } finally {
            trace.dispose();
          }
          const logits = await s.model.logits(candidate);
          const [success, lossV, pred] = tf.tidy(() => [s.isSuccess(logits), s.loss(logits), tf.argMax(logits, 1) as tf.Tensor1D] as const);
          logits.dispose();
          const current = { x: candidate, success, loss: lossV, pred };
          candidate = undefined;
          if (!best) {
            best = current;
            lateRise.set(rise);
          } else {
            const prev = best;
            const [next, better] = tf.tidy(() => {
              const better = tf.logicalOr(
                tf.logicalAnd(current.success, tf.logicalNot(prev.success)),
                tf.logicalAnd(tf.equal(current.success, prev.success), tf.greater(current.loss, prev.loss)),
              ) as tf.Tensor1D;
              const next = {
                x: selectSamples(better, current.x, prev.x),
                success: tf.logicalOr(prev.success, current.success) as tf.Tensor1D,
                loss: tf.where(better, current.loss, prev.loss) as tf.Tensor1D,
                pred: tf.where(better, current.pred, prev.pred) as tf.Tensor1D,
              };
              return [next, better] as const;
            });
            best = next;
            tf.dispose([prev.x, prev.success, prev.loss, prev.pred, current.x, current.success, current.loss, current.pred]);
            const took = await better.data();
            better.dispose();
            took.forEach((b, i) => {
              if (b) lateRise[i] = rise[i]!;
            });
          }
          s.onProgress?.({ attack: core.name, epsilonIndex: ei, restart: r, epsilons: s.epsilons.length, restarts });
          if (r + 1 < restarts) {
            const all = tf.tidy(() => tf.all(best!.success));
            const done = (await all.data())[0] === 1;
            all.dispose();
            if (done) break;
          }
        }
      } catch (e) {
        candidate?.dispose();
        if (best) tf.dispose([best.x, best.success, best.loss, best.pred]);
        throw e;
      }
      const { x: adversarial, success, loss, pred } = best!;
      try {
        results.push(await summarise(s, epsilon, adversarial, success, pred, queries, lateRise));
      } catch (e) {
        adversarial.dispose();
        throw e;
      } finally {
        tf.dispose([success, loss, pred]);
      }
    }
  } catch (e) {
    tf.dispose(results.map((r) => r.adversarial));
    throw e;
  }
  return { results };
}

/** Minimum-norm strategy: one run per batch, then per epsilon "fooled with a perturbation of norm <= epsilon". */
async function runMinimumNorm(s: Setup): Promise<{ results: EpsilonResult[]; minimalNorms: Float32Array }> {
  const core = s.core as MinimumNormCore | QueryCore;
  const { bounds } = s.model;
  const clip = (c: tf.Tensor): tf.Tensor => tf.clipByValue(c, bounds[0], bounds[1]);
  const rngs = sampleRngs(s.seed, s.indices, 0, 0);
  const queries = core.kind === 'query' ? new Int32Array(s.n) : undefined;
  const base = { x: s.x, labels: s.labels, targets: s.targets, loss: s.loss, isSuccess: s.isSuccess, rngs, restart: 0, trace: ignoreTrace };
  const raw =
    core.kind === 'query'
      ? await core.attack({ ...base, model: s.model, epsilon: Infinity, project: clip, ...queryFunctions(s, queries!) })
      : await core.minimize({ ...base, model: s.model as DifferentiableModel, clip });
  const candidate = tf.tidy(() => clip(raw));
  raw.dispose();
  s.onProgress?.({ attack: core.name, epsilonIndex: 0, restart: 0, epsilons: s.epsilons.length, restarts: 1 });
  const results: EpsilonResult[] = [];
  try {
    const cleanLogits = await s.model.logits(s.x);
    let advLogits: tf.Tensor2D;
    try {
      advLogits = await s.model.logits(candidate);
    } catch (e) {
      cleanLogits.dispose();
      throw e;
    }
    const [fooled, norm, cleanPred, advPred] = tf.tidy(() => [
      s.isSuccess(advLogits),
      batchNorm(tf.sub(candidate, s.x), core.norm),
      tf.argMax(cleanLogits, 1) as tf.Tensor1D,
      tf.argMax(advLogits, 1) as tf.Tensor1D,
    ]);
    tf.dispose([cleanLogits, advLogits]);
    const [fooledHost, normHost] = [await fooled.data(), await norm.data()];
    const minimalNorms = Float32Array.from(normHost, (v, i) => (fooledHost[i] === 1 ? v : Infinity));
    try {
      for (const epsilon of s.epsilons) {
        // A point counts at epsilon when the attack fooled it with a perturbation of norm <= epsilon (in float32,
        // as the norm was measured): strictly no slack, so a number at epsilon never credits a larger perturbation.
        const within = tf.tidy(() => tf.logicalAnd(fooled, tf.lessEqual(norm, Math.fround(epsilon))) as tf.Tensor1D);
        const [adversarial, pred] = tf.tidy(() => [selectSamples(within, candidate, s.x), tf.where(within, advPred, cleanPred) as tf.Tensor1D]);
        try {
          results.push(await summarise(s, epsilon, adversarial, within, pred, queries));
        } catch (e) {
          adversarial.dispose();
          throw e;
        } finally {
          tf.dispose([within, pred]);
        }
      }
    } finally {
      tf.dispose([fooled, norm, cleanPred, advPred]);
    }
    return { results, minimalNorms };
  } catch (e) {
    tf.dispose(results.map((r) => r.adversarial));
    throw e;
  } finally {
    candidate.dispose();
  }
}
