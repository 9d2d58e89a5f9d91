/**
 * FAB, the Fast Adaptive Boundary attack, untargeted (`fab`) and targeted at the top-k classes (`fab-t`, the
 * version in AutoAttack's standard evaluation), L∞ and L2.
 *
 * Paper: F. Croce, M. Hein, "Minimally distorted Adversarial Examples with a Fast Adaptive Boundary Attack",
 * ICML 2020, https://arxiv.org/abs/1907.02044. Reference implementation: AutoAttack's `fab_base.py`,
 * `fab_pt.py` and `fab_projections.py` (https://github.com/fra31/auto-attack); this is an independent
 * implementation of the same algorithm and defaults.
 *
 * Where the work happens: gradients and forward passes are tfjs ops on the whole batch (through
 * `model.valueAndGrad` and `model.logits`); the iterate, the projections onto the linearised boundary and the
 * step live on the host in typed arrays, one sample at a time. The projection needs an order statistic of its
 * breakpoints per sample, which tfjs has no cheap batched form of; on the host it is exact, expected O(D) per
 * sample, and its 200 projections per step take about 6 ms of CPU for a batch of 100 MNIST images (measured),
 * a small share of a step's gradient and forward pass. Each
 * step reads the chosen gradient `[N, D]` and one logit difference `[N]` back to the host and uploads the new
 * iterate: small reads, as the design asks.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type MinimizeContext } from '../src/runner.js';
import { checkNorm, type Norm } from '../src/norms.js';
import type { LossFn } from '../src/model.js';
import { logitDifference } from '../src/losses.js';
import { ConfigError, describe } from '../src/errors.js';
import { requireInt, requirePositive } from '../src/validate.js';

/** Configuration of {@link fab}. Every field is optional. */
export interface FabConfig {
  /** Threat model: `'linf'` or `'l2'`. Default `'linf'`. */
  norm?: Norm;
  /**
   * FAB-T: instead of the nearest linearised boundary over all classes, attack the boundary to one target class at
   * a time, for each of the `targetClasses` classes with the highest clean logits other than the label, and keep
   * per sample the smallest perturbation over all of them. Success is still misclassification (as in AutoAttack).
   * Each step then costs one gradient call instead of `C − 1`. Default `false` (untargeted FAB).
   */
  targeted?: boolean;
  /** FAB-T: the number of target classes, clipped to `C − 1`. Default `9` (AutoAttack's). */
  targetClasses?: number;
  /** Iterations per run (per target class and restart). Default `100` (AutoAttack's, for FAB and FAB-T alike). */
  steps?: number;
  /**
   * Runs per target class (or per attack, untargeted); the first starts at the clean input, the others at a random
   * point (see `restartRadius`). Per sample the smallest successful perturbation over all runs is kept. Default `1`.
   */
  restarts?: number;
  /** Largest weight of the step towards the clean input's projection (the bias towards small perturbations). Default `0.1`. */
  alphaMax?: number;
  /** Overshoot of each projection step (≥ 1 crosses the linearised boundary). Default `1.05`. */
  eta?: number;
  /** Backward step after a success: the iterate moves to `x + beta·(x_adv − x)`. In (0, 1]. Default `0.9`. */
  beta?: number;
  /**
   * Random restarts start at `x + (r/2)·u` with `u` a random direction of unit norm (L∞: uniform in the cube
   * scaled to unit L∞ norm; L2: Gaussian, normalised) and `r = min(restartRadius, best norm found so far)`, so
   * a restart explores around the clean input at the scale of what was already found. (The reference writes the
   * same minimum, but its best-so-far is reset at every run, so its restarts always use `eps/2`.) Default `0.3` for
   * L∞, `1` for L2 (the reference's defaults for its `eps`).
   */
  restartRadius?: number;
}

interface Settings {
  readonly norm: Norm;
  readonly targeted: boolean;
  readonly targetClasses: number;
  readonly steps: number;
  readonly restarts: number;
  readonly alphaMax: number;
  readonly eta: number;
  readonly beta: number;
  readonly restartRadius: number;
}

/** Lower bound of the projection lengths in the bias weight (the reference's 1e-8). */
const MIN_LENGTH = 1e-8;
/** Added to a dual norm before dividing by it (the reference's 1e-12). */
const TINY = 1e-12;

/** Scratch buffers of {@link projectOnHyperplaneInBox} for one dimension, reused across calls. @internal */
export interface ProjectionScratch {
  /** Per coordinate: room towards the bound it heads for. */
  readonly cap: Float64Array;
  /** Per coordinate: `|v_i|·g_i`, the rate at which it reduces the gap while free (0: not moving). */
  readonly rate: Float64Array;
  /** Per coordinate: the `λ` at which it reaches its bound. */
  readonly brk: Float64Array;
  /** The coordinates whose state at the optimal `λ` is not settled yet. */
  readonly live: Uint32Array;
}

/** Scratch buffers for projections in dimension `dim`. @internal */
export function projectionScratch(dim: number): ProjectionScratch {
  return { cap: new Float64Array(dim), rate: new Float64Array(dim), brk: new Float64Array(dim), live: new Uint32Array(dim) };
}

/**
 * The smallest move `d` (in `norm`) from `t` onto the hyperplane `{z : ⟨w, z⟩ = b}` that stays in the box
 * `[lo, hi]^D`, written into `out` (length `D`). Where the box does not reach the hyperplane, `d` moves every
 * coordinate with a non-zero weight to the bound that brings `⟨w, t + d⟩` closest to `b` (the box point nearest
 * the hyperplane). `t` must lie in the box.
 *
 * Needing `⟨v, d⟩ = −|c|` with `c = ⟨w, t⟩ − b` and `v = sign(c)·w`, the optimum is
 * `d_i = −sign(v_i)·min(λ·g_i, cap_i)` for one `λ ≥ 0`, where `cap_i` is the room towards the bound `d_i` heads
 * for and `g_i = 1` (L∞: all free coordinates move by the same amount) or `g_i = |v_i|` (L2: along `−v`). The
 * gap closed, `h(λ) = Σ |v_i|·min(λ·g_i, cap_i)`, is piecewise linear and nondecreasing in `λ` with breakpoints
 * `cap_i / g_i`: a selection over the breakpoints (quickselect-like, pivoting on breakpoints) finds the segment
 * where `h(λ) = |c|`, and `λ` follows exactly from that segment's slope. Expected O(D), no sort.
 *
 * @param norm - `linf` or `l2`.
 * @param t - the point, length `D`, inside the box.
 * @param w - the hyperplane's normal, length `D`.
 * @param b - the hyperplane's offset.
 * @param lo - the box's lower bound.
 * @param hi - the box's upper bound.
 * @param out - receives `d`, length `D`.
 * @param scratch - buffers for dimension `D` (see {@link projectionScratch}), to avoid allocating per call.
 * @internal
 */
export function projectOnHyperplaneInBox(
  norm: Norm,
  t: ArrayLike<number>,
  w: ArrayLike<number>,
  b: number,
  lo: number,
  hi: number,
  out: Float64Array,
  scratch: ProjectionScratch = projectionScratch(t.length),
): void {
  const dim = t.length;
  const { cap, rate, brk, live } = scratch;
  let c = -b;
  for (let i = 0; i < dim; i++) c += w[i]! * t[i]!;
  out.fill(0);
  if (c === 0 || !Number.isFinite(c)) return;
  const s = c > 0 ? 1 : -1;
  const need = Math.abs(c);
  let m = 0;
  let total = 0;
  for (let i = 0; i < dim; i++) {
    const v = s * w[i]!;
    if (v === 0) {
      rate[i] = 0;
      continue;
    }
    const room = Math.max(0, v > 0 ? t[i]! - lo : hi - t[i]!);
    const g = norm === 'linf' ? 1 : Math.abs(v);
    cap[i] = room;
    rate[i] = Math.abs(v) * g;
    brk[i] = room / g;
    total += Math.abs(v) * room;
    live[m++] = i;
  }
  if (total <= need) {
    // Unreachable (or reached only with every coordinate at its bound): the box point nearest the hyperplane.
    // (`+ 0` turns −0 into 0.)
    for (let i = 0; i < dim; i++) if (rate[i] !== 0) out[i] = -Math.sign(s * w[i]!) * cap[i]! + 0;
    return;
  }
  // Find λ by selection, not sorting: `live` holds the coordinates not yet known to be at their bound or free at λ.
  // Each round takes a pivot breakpoint p and the gap closed at p: if it reaches |c|, then λ <= p and every live
  // coordinate with breakpoint >= p is free (moves with λ); otherwise λ > p and those with breakpoint <= p sit at
  // their bounds. Expected O(D).
  let saturated = 0;
  let slope = 0;
  let size = m;
  while (size > 0) {
    const pivot = brk[live[size >> 1]!]!;
    let [satBelow, satAt, rateAt, rateAbove] = [0, 0, 0, 0];
    for (let j = 0; j < size; j++) {
      const i = live[j]!;
      const k = brk[i]!;
      if (k < pivot) satBelow += rate[i]! * k;
      else if (k === pivot) {
        satAt += rate[i]! * k;
        rateAt += rate[i]!;
      } else rateAbove += rate[i]!;
    }
    const keepBelow = saturated + satBelow + satAt + (slope + rateAbove) * pivot >= need;
    if (keepBelow) slope += rateAt + rateAbove;
    else saturated += satBelow + satAt;
    // Keep the live coordinates on the side where λ lies (the pivot's equals are settled either way).
    let kept = 0;
    for (let j = 0; j < size; j++) {
      const i = live[j]!;
      if (keepBelow ? brk[i]! < pivot : brk[i]! > pivot) live[kept++] = i;
    }
    size = kept;
  }
  const lambda = slope > 0 ? (need - saturated) / slope : 0;
  for (let i = 0; i < dim; i++) {
    if (rate[i] === 0) continue;
    const g = norm === 'linf' ? 1 : Math.abs(w[i]!);
    out[i] = -Math.sign(s * w[i]!) * Math.min(lambda * g, cap[i]!) + 0;
  }
}

/** Norm of a host vector. */
function hostNorm(d: ArrayLike<number>, norm: Norm): number {
  let acc = 0;
  if (norm === 'linf') {
    for (let i = 0; i < d.length; i++) acc = Math.max(acc, Math.abs(d[i]!));
    return acc;
  }
  for (let i = 0; i < d.length; i++) acc += d[i]! * d[i]!;
  return Math.sqrt(acc);
}

/** `z_t − max_{j ≠ t} z_j` per sample: the margin to the target `t` (for runs given explicit targets). */
function targetMargin(t: tf.Tensor1D, numClasses: number): LossFn {
  return (logits) => {
    const hot = tf.oneHot(t, numClasses);
    const zt = tf.sum(tf.mul(logits, hot), 1);
    const others = tf.max(tf.sub(logits, tf.mul(hot, 1e9)), 1);
    return tf.sub(zt, others) as tf.Tensor1D;
  };
}

/** One linearisation per step: the logit difference(s) to differentiate and, per sample, the one to follow. */
interface Boundary {
  /** The logit differences whose gradients a step needs (one for a targeted run, C − 1 untargeted). */
  readonly losses: readonly LossFn[];
}

/**
 * Per sample, the value `f` and gradient `w` (host, `[N]` and `[N·D]`) of the logit difference whose linearised
 * boundary is nearest in the dual norm (the only one, for a targeted run).
 */
async function linearise(ctx: MinimizeContext, s: Settings, boundary: Boundary, x1: tf.Tensor): Promise<{ f: Float32Array; w: Float32Array }> {
  const n = x1.shape[0]!;
  let best: { dist: tf.Tensor1D; f: tf.Tensor1D; g: tf.Tensor } | undefined;
  try {
    for (const loss of boundary.losses) {
      const { value, grad } = await ctx.model.valueAndGrad(x1, loss);
      const prev = best;
      if (boundary.losses.length === 1) {
        best = { dist: tf.zerosLike(value), f: value, g: grad };
        break;
      }
      best = tf.tidy(() => {
        const flat = tf.reshape(grad, [n, -1]);
        const dual = s.norm === 'l2' ? tf.sqrt(tf.sum(tf.square(flat), 1)) : tf.sum(tf.abs(flat), 1);
        const dist = tf.div(tf.abs(value), tf.add(dual, TINY)) as tf.Tensor1D;
        if (!prev) return { dist, f: tf.clone(value), g: tf.clone(grad) };
        // Ties keep the earlier class (the reference's argmin takes the first).
        const closer = tf.less(dist, prev.dist) as tf.Tensor1D;
        const wide = tf.reshape(closer, [n, ...new Array<number>(grad.rank - 1).fill(1)]);
        return {
          dist: tf.where(closer, dist, prev.dist) as tf.Tensor1D,
          f: tf.where(closer, value, prev.f) as tf.Tensor1D,
          g: tf.where(tf.broadcastTo(wide, grad.shape), grad, prev.g),
        };
      });
      tf.dispose([value, grad]);
      if (prev) tf.dispose([prev.dist, prev.f, prev.g]);
    }
  } catch (e) {
    if (best) tf.dispose([best.dist, best.f, best.g]);
    throw e;
  }
  const chosen = best!;
  try {
    return { f: (await chosen.f.data()) as Float32Array, w: (await chosen.g.data()) as Float32Array };
  } finally {
    tf.dispose([chosen.dist, chosen.f, chosen.g]);
  }
}

/** Per-sample success of a host batch under the run's criterion. */
async function fools(ctx: MinimizeContext, x1: Float32Array): Promise<Uint8Array> {
  const ok = tf.tidy(() => tf.cast(ctx.isSuccess(ctx.model.logits(tf.tensor(x1, ctx.x.shape, 'float32')) as tf.Tensor2D), 'int32'));
  const host = await ok.data();
  ok.dispose();
  return Uint8Array.from(host);
}

/** The host state of one minimisation: clean inputs, per-sample best adversarial and its norm. */
interface Best {
  readonly x0: Float32Array;
  readonly x: Float32Array;
  readonly norm: Float64Array;
  /** Samples attacked (not already fooled on the clean input). */
  readonly active: readonly number[];
}

/** A random start around the clean input for restart `r > 0`, per sample from its own generator (see {@link FabConfig.restartRadius}). */
function randomStart(ctx: MinimizeContext, s: Settings, best: Best, dim: number): Float32Array {
  const [lo, hi] = ctx.model.bounds;
  const x1 = Float32Array.from(best.x0);
  const u = new Float64Array(dim);
  for (const i of best.active) {
    const rng = ctx.rngs[i]!;
    for (let j = 0; j < dim; j++) u[j] = s.norm === 'linf' ? 2 * rng.next() - 1 : rng.normal();
    const size = hostNorm(u, s.norm);
    const radius = Math.min(s.restartRadius, best.norm[i]!) / 2;
    if (!(size > 0)) continue;
    for (let j = 0; j < dim; j++) {
      const k = i * dim + j;
      x1[k] = Math.min(hi, Math.max(lo, best.x0[k]! + (radius * u[j]!) / size));
    }
  }
  return x1;
}

/** One FAB run (one target class, or untargeted; one start), updating `best` in place. */
async function run(ctx: MinimizeContext, s: Settings, boundary: Boundary, best: Best, start: Float32Array): Promise<void> {
  const [lo, hi] = ctx.model.bounds;
  const n = ctx.x.shape[0]!;
  const dim = best.x0.length / n;
  const x1 = start;
  const d1 = new Float64Array(dim);
  const d2 = new Float64Array(dim);
  const scratch = projectionScratch(dim);
  for (let step = 0; step < s.steps; step++) {
    const iterate = tf.tensor(x1, ctx.x.shape, 'float32');
    let lin: { f: Float32Array; w: Float32Array };
    try {
      lin = await linearise(ctx, s, boundary, iterate);
    } finally {
      iterate.dispose();
    }
    for (const i of best.active) {
      const off = i * dim;
      const xi = x1.subarray(off, off + dim);
      const x0i = best.x0.subarray(off, off + dim);
      const wi = lin.w.subarray(off, off + dim);
      // The linearised boundary at x1: {z : ⟨w, z⟩ = ⟨w, x1⟩ − f}.
      let b = -lin.f[i]!;
      for (let j = 0; j < dim; j++) b += wi[j]! * xi[j]!;
      projectOnHyperplaneInBox(s.norm, xi, wi, b, lo, hi, d1, scratch);
      projectOnHyperplaneInBox(s.norm, x0i, wi, b, lo, hi, d2, scratch);
      const a1 = Math.max(hostNorm(d1, s.norm), MIN_LENGTH);
      const a2 = Math.max(hostNorm(d2, s.norm), MIN_LENGTH);
      // Biased step: mostly the projection of the iterate, pulled towards the projection of the clean input.
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), s.alphaMax);
      for (let j = 0; j < dim; j++) {
        const v = (xi[j]! + s.eta * d1[j]!) * (1 - alpha) + (x0i[j]! + s.eta * d2[j]!) * alpha;
        xi[j] = Math.min(hi, Math.max(lo, v));
      }
    }
    const ok = await fools(ctx, x1);
    for (const i of best.active) {
      if (ok[i] !== 1) continue;
      const off = i * dim;
      let acc = 0;
      for (let j = 0; j < dim; j++) {
        const delta = x1[off + j]! - best.x0[off + j]!;
        acc = s.norm === 'linf' ? Math.max(acc, Math.abs(delta)) : acc + delta * delta;
      }
      const size = s.norm === 'linf' ? acc : Math.sqrt(acc);
      if (size < best.norm[i]!) {
        best.norm[i] = size;
        best.x.set(x1.subarray(off, off + dim), off);
      }
      // Backward step towards the clean input, to look for a smaller perturbation.
      for (let j = 0; j < dim; j++) x1[off + j] = best.x0[off + j]! + s.beta * (x1[off + j]! - best.x0[off + j]!);
    }
  }
}

async function minimize(s: Settings, ctx: MinimizeContext): Promise<tf.Tensor> {
  const { model, x } = ctx;
  const n = x.shape[0]!;
  const c = model.numClasses;
  const dim = x.size / n;
  const [cleanFooled, ranked] = tf.tidy(() => {
    const logits = model.logits(x) as tf.Tensor2D;
    return [tf.cast(ctx.isSuccess(logits), 'int32'), tf.topk(logits, c, true).indices] as const;
  });
  const x0 = Float32Array.from(await x.data());
  const fooledHost = await cleanFooled.data();
  const rankedHost = await ranked.data();
  const labelsHost = await ctx.labels.data();
  tf.dispose([cleanFooled, ranked]);
  const best: Best = {
    x0,
    x: Float32Array.from(x0),
    // Points the clean input already fools keep it (norm 0) and are not attacked.
    norm: Float64Array.from(fooledHost, (v) => (v === 1 ? 0 : Infinity)),
    active: Array.from({ length: n }, (_, i) => i).filter((i) => fooledHost[i] !== 1),
  };
  if (best.active.length === 0) return tf.tensor(best.x, x.shape, 'float32');
  // The classes other than the label, by clean logit, per sample: `others[j][i]` is sample i's (j+1)-th.
  const others = Array.from({ length: c - 1 }, (_, j) =>
    Int32Array.from({ length: n }, (_, i) => {
      const row = Array.from(rankedHost.subarray(i * c, (i + 1) * c)).filter((k) => k !== labelsHost[i]);
      return row[j]!;
    }),
  );
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  try {
    // The boundaries each run follows.
    const runs: Boundary[] = [];
    if (ctx.targets !== undefined) {
      // A targeted run (success = the target class): the margin to each sample's given target.
      runs.push({ losses: [targetMargin(ctx.targets, c)] });
    } else if (s.targeted) {
      for (let j = 0; j < Math.min(s.targetClasses, c - 1); j++) {
        runs.push({ losses: [logitDifference(keep(tf.tensor1d(others[j]!, 'int32')), ctx.labels, c)] });
      }
    } else {
      runs.push({ losses: others.map((k) => logitDifference(keep(tf.tensor1d(k, 'int32')), ctx.labels, c)) });
    }
    for (const boundary of runs) {
      for (let r = 0; r < s.restarts; r++) {
        const start = r === 0 ? Float32Array.from(x0) : randomStart(ctx, s, best, dim);
        await run(ctx, s, boundary, best, start);
      }
    }
  } finally {
    tf.dispose(held);
  }
  return tf.tensor(best.x, x.shape, 'float32');
}

/**
 * FAB, the Fast Adaptive Boundary attack (Croce & Hein, ICML 2020), L∞ and L2: a minimum-norm attack. Each step
 * linearises the model at the iterate, projects both the iterate and the clean input onto the linearised decision
 * boundary intersected with the input box (the exact minimal-norm projection), and moves to a convex combination of
 * the two projections, overshot by `eta` and weighted towards the clean input's by at most `alphaMax`, so it
 * stays close to the clean input. After each success it keeps the perturbation if it is the smallest so far and
 * steps back towards the clean input by `beta`.
 *
 * - Untargeted (`fab`): the boundary followed is, per sample and step, the nearest linearised one over all
 *   `C − 1` logit differences `z_k − z_label` (`C − 1` gradient calls per step).
 * - FAB-T (`targeted: true`, AutoAttack's standard version): one run per target class, the `targetClasses` classes
 *   with the highest clean logits other than the label, each following `z_target − z_label` (one gradient call per
 *   step); per sample the smallest successful perturbation over all runs is kept. Success is misclassification.
 * - A run given `targets` (success = the target class) follows the margin `z_target − max_{j≠target} z_j`, for
 *   both variants.
 *
 * Points the clean input already fools are returned unchanged (perturbation 0). Random restarts (`restarts > 1`)
 * start at a random point around the clean input, per sample from its own generator. Gradients come only from
 * `model.valueAndGrad`; see the module documentation for what runs on the host.
 *
 * Kind `minimum-norm`: one run per batch; the runner then counts a sample as fooled at epsilon when the perturbation
 * found has norm ≤ epsilon, and reports the norms in `AttackResult.minimalNorms` (`Infinity` where FAB never fooled
 * the model). Cost per run: `steps` iterations of one forward pass plus one gradient call (FAB-T) or `C − 1` (FAB).
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Paper: https://arxiv.org/abs/1907.02044.
 *
 * @param config - see {@link FabConfig}; defaults follow AutoAttack (L∞, 100 steps, 1 restart, αmax 0.1, η 1.05,
 *   β 0.9, 9 target classes).
 * @returns an immutable attack named `fab`, or `fab-t` when targeted; run it with `attack.run(model, x, labels, { epsilons })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `steps: 0`).
 * @example
 * ```ts
 * const result = await fab({ targeted: true, norm: 'l2' }).run(model, x, labels, { epsilons: [0.5, 1, 1.5] });
 * console.log(result.minimalNorms); // per sample: the L2 norm FAB-T needed, Infinity where it failed
 * result.dispose();
 * ```
 */
export function fab(config: FabConfig = {}): Attack {
  const targeted = config.targeted ?? false;
  const name = targeted ? 'fab-t' : 'fab';
  if (typeof targeted !== 'boolean') throw new ConfigError(`${name}: expected targeted to be a boolean, got ${describe(targeted)}`);
  const norm = config.norm ?? 'linf';
  checkNorm(norm, name);
  const s: Settings = {
    norm,
    targeted,
    targetClasses: requireInt(config.targetClasses ?? 9, 1, name, 'targetClasses'),
    steps: requireInt(config.steps ?? 100, 1, name, 'steps'),
    restarts: requireInt(config.restarts ?? 1, 1, name, 'restarts'),
    alphaMax: requirePositive(config.alphaMax ?? 0.1, name, 'alphaMax', true),
    eta: requirePositive(config.eta ?? 1.05, name, 'eta'),
    beta: requirePositive(config.beta ?? 0.9, name, 'beta'),
    restartRadius: requirePositive(config.restartRadius ?? (norm === 'linf' ? 0.3 : 1), name, 'restartRadius'),
  };
  if (s.alphaMax > 1) throw new ConfigError(`${name}: expected alphaMax to be a number in [0, 1], got ${describe(s.alphaMax)}`);
  if (s.beta > 1) throw new ConfigError(`${name}: expected beta to be a number in (0, 1], got ${describe(s.beta)}`);
  return defineAttack({
    kind: 'minimum-norm',
    name,
    norm,
    config: { ...s },
    // Not used by the steps (they follow logit differences); the margin is the loss FAB linearises.
    loss: 'margin',
    minimize: (ctx) => minimize(s, ctx),
  });
}
