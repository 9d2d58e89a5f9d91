/**
 * HopSkipJump, L2 and Linf: a decision-based (labels only) minimum-norm attack.
 *
 * Paper: J. Chen, M. I. Jordan, M. J. Wainwright, "HopSkipJumpAttack: A Query-Efficient Decision-Based Attack",
 * IEEE S&P 2020, https://arxiv.org/abs/1904.02144.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type QueryContext } from '../src/runner.js';
import { batchNorm, selectSamples, signExact, checkNorm, type Norm } from '../src/norms.js';
import { createRng, type Rng } from '../src/rng.js';
import { ConfigError, ShapeError, describe } from '../src/errors.js';
import { requireInt, requirePositive } from '../src/validate.js';

/** Configuration of {@link hopSkipJump}. Every field is optional. */
export interface HopSkipJumpConfig {
  /** Threat model: the norm HopSkipJump minimises, `'l2'` or `'linf'` (steps along the sign of the estimate). Default `'l2'`. */
  norm?: Norm;
  /**
   * Query budget per sample: every decision the attack asks for counts (the clean check, the initialisation, the
   * gradient probes, the step-size and binary searches). A sample stops when its next phase would exceed it.
   * Default `5000`.
   */
  queries?: number;
  /** Iterations (gradient estimate, step, binary search), at most; the budget usually ends the run first. Default `64` (Foolbox's). */
  steps?: number;
  /** Probes of the first gradient estimate; iteration `t` (from 1) uses `initialEvals·√t`. Default `100` (the paper's). */
  initialEvals?: number;
  /** Most probes of one gradient estimate. Default `10000` (the paper's). */
  maxEvals?: number;
  /**
   * Binary-search tolerance factor: the threshold is `θ = gamma / d^1.5` (L2) or `gamma / d²` (Linf) for inputs of
   * `d` elements, and the probe radius after the first iteration is `gamma·dist / d`. Default `1` (the paper's).
   */
  gamma?: number;
  /**
   * Most uniform-noise draws per sample when looking for a starting point (one that fools the model, or, in a
   * targeted run, that the model assigns to the target), within `queries`. A sample for which none of them
   * qualifies is never attacked: it ends unfooled, its input returned. Default `1000`.
   */
  initDraws?: number;
  /**
   * Starting points chosen by the caller, e.g. an input of the target class for each sample of a targeted run
   * (uniform noise rarely lands in a given class). Called once per batch with the clean inputs, labels and targets
   * (`undefined` when untargeted; all owned by the runner); returns `[N, ...inputShape]` candidates (owned by the
   * attack afterwards, which disposes them), clipped into the bounds. Each is checked with one query; a sample
   * whose candidate does not fool the model falls back to noise. Keep it a function of each sample's own row so
   * that results stay independent of the batch. Default: none (noise only).
   */
  startingPoints?: (batch: StartingPointBatch) => tf.Tensor | Promise<tf.Tensor>;
}

/** What {@link HopSkipJumpConfig.startingPoints} receives. */
export interface StartingPointBatch {
  /** Clean inputs `[N, ...inputShape]`. */
  readonly x: tf.Tensor;
  /** True labels, int32 `[N]`. */
  readonly labels: tf.Tensor1D;
  /** Target classes, int32 `[N]`, in a targeted run; else `undefined`. */
  readonly targets: tf.Tensor1D | undefined;
}

interface Settings {
  readonly norm: Norm;
  readonly queries: number;
  readonly steps: number;
  readonly initialEvals: number;
  readonly maxEvals: number;
  readonly gamma: number;
  readonly initDraws: number;
  readonly startingPoints: HopSkipJumpConfig['startingPoints'];
}

/** Step-size halvings per iteration at most: after them the step is ~1e-8 of the distance, i.e. no step. */
const MAX_HALVINGS = 25;
/** Binary-search rounds at most (float64 halving from the starting width reaches any sensible threshold sooner). */
const MAX_BISECTIONS = 64;
/** Blend tolerance of the first (L2-style) search of the Linf initialisation, as the reference implementation. */
const LINF_INIT_TOLERANCE = 1e-3;
/** Elements per batch of probes sent to the model at once (k·N rows of d elements): bounds host and device memory. */
const CHUNK_ELEMENTS = 1 << 22;

/** A per-sample `[N]` host vector as a tensor broadcastable against a batch of rank `rank`. */
function column(values: ArrayLike<number>, rank: number): tf.Tensor {
  return tf.tensor(Float32Array.from(values), [values.length, ...new Array<number>(rank - 1).fill(1)]);
}

/** A per-sample bool mask `[N]` as a tensor. */
function maskTensor(mask: readonly boolean[]): tf.Tensor1D {
  return tf.tensor1d(
    mask.map((m) => (m ? 1 : 0)),
    'bool',
  );
}

/** One batch of draws sent to `ctx.decide`: draws `start .. start+k−1` of every sample with `active[i]`. */
interface Segment {
  readonly start: number;
  readonly k: number;
  readonly active: boolean[];
}

/**
 * Cuts per-sample draw counts into batches: sample `i` takes part in exactly its first `counts[i]` draws and is
 * counted for exactly those (each batch's `active` mask holds the samples whose count covers the whole batch). The
 * cuts depend on the batch (its size bounds a batch's rows), but which draws a sample makes does not.
 */
function segments(counts: readonly number[], chunk: number): Segment[] {
  const max = counts.reduce((a, b) => Math.max(a, b), 0);
  if (max === 0) return [];
  const cuts = new Set<number>([max]);
  for (let c = chunk; c < max; c += chunk) cuts.add(c);
  for (const c of counts) if (c > 0) cuts.add(c);
  const out: Segment[] = [];
  let start = 0;
  for (const end of [...cuts].sort((a, b) => a - b)) {
    out.push({ start, k: end - start, active: counts.map((c) => c >= end) });
    start = end;
  }
  return out;
}

/** A probe direction of unit L2 norm written into `out` (Gaussian for L2, uniform in [−1, 1] per element for Linf, as the paper). */
function probe(rng: Rng, norm: Norm, out: Float32Array): void {
  const d = out.length;
  let sq = 0;
  if (norm === 'l2') {
    for (let j = 0; j < d; j += 2) {
      // Box–Muller, both outputs; 1 − u lies in (0, 1], so the logarithm is finite.
      const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
      const a = 2 * Math.PI * rng.next();
      out[j] = r * Math.cos(a);
      if (j + 1 < d) out[j + 1] = r * Math.sin(a);
    }
  } else {
    for (let j = 0; j < d; j++) out[j] = 2 * rng.next() - 1;
  }
  for (let j = 0; j < d; j++) sq += out[j]! * out[j]!;
  const scale = 1 / Math.max(Math.sqrt(sq), 1e-12);
  for (let j = 0; j < d; j++) out[j]! *= scale;
}

/** The caller's starting points, checked for shape and clipped into the bounds (the raw tensor disposed). */
async function startingPoints(fn: NonNullable<HopSkipJumpConfig['startingPoints']>, ctx: QueryContext): Promise<tf.Tensor> {
  const raw: unknown = await fn({ x: ctx.x, labels: ctx.labels, targets: ctx.targets });
  if (!(raw instanceof tf.Tensor)) throw new ConfigError(`hop-skip-jump: expected startingPoints to return a tensor, got ${describe(raw)}`);
  if (raw === ctx.x || raw.shape.length !== ctx.x.shape.length || (raw.shape as number[]).some((v, i) => v !== ctx.x.shape[i])) {
    if (raw !== ctx.x) raw.dispose();
    throw new ShapeError(
      `hop-skip-jump: expected startingPoints to return a new tensor of shape [${ctx.x.shape.join(', ')}], got ${raw === ctx.x ? 'the clean inputs themselves' : `[${raw.shape.join(', ')}]`}`,
    );
  }
  try {
    return tf.tidy(() => ctx.project(tf.cast(raw, 'float32')));
  } finally {
    raw.dispose();
  }
}

/** Reads a small tensor to the host (as float64) and disposes it. */
async function hostValues(t: tf.Tensor): Promise<Float64Array> {
  try {
    return Float64Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/** `ctx.decide` on a batch aligned with `x`, asked (and counted) only for the samples in `ask`; `false` elsewhere. */
async function decideFor(ctx: QueryContext, candidates: tf.Tensor, ask: readonly boolean[]): Promise<boolean[]> {
  if (!ask.includes(true)) return ask.map(() => false);
  const answer = await ctx.decide(candidates, ask);
  return answer.map((v, i) => ask[i]! && v);
}

async function search(s: Settings, ctx: QueryContext): Promise<tf.Tensor> {
  const { x } = ctx;
  const n = x.shape[0]!;
  const rank = x.rank;
  const sampleShape = x.shape.slice(1);
  const d = x.size / n;
  const [lo, hi] = ctx.model.bounds;
  const theta = s.gamma / (s.norm === 'l2' ? d * Math.sqrt(d) : d * d);
  const chunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / (n * d)));
  const left = (i: number): number => s.queries - ctx.queries[i]!;
  // Independent streams per sample and purpose (initial noise; probes of iteration t), so that the draws of a
  // phase never depend on how many draws an earlier phase made.
  const initRngs = ctx.rngs.map((r) => createRng(`hop-skip-jump/init/${r.seed()}`));
  const probeSeeds = ctx.rngs.map((r) => r.seed());
  const distances = (p: tf.Tensor): Promise<Float64Array> => hostValues(tf.tidy(() => batchNorm(tf.sub(p, x), s.norm)));

  // 0. The clean check (one query): a point the model already gets wrong (or, targeted, assigns to its target)
  //    is returned as it is.
  const running = (await decideFor(ctx, x, new Array<boolean>(n).fill(true))).map((fooled) => !fooled);

  // 1. A starting point: the caller's, where given and adversarial (one query); else uniform noise in the
  //    bounds until a draw fools the model, in rounds of 1, 2, 4, ... draws per sample (a sample pays for its
  //    whole round and keeps its round's first success), at most `initDraws` draws and the budget. A sample
  //    without one is not attacked.
  const noise = new Float32Array(n * d);
  const found = new Array<boolean>(n).fill(false);
  const given = s.startingPoints ? await startingPoints(s.startingPoints, ctx) : undefined;
  // Per sample: the current point (always one the model's decision called adversarial), the best one so far and
  // their distances to x; samples not attacked keep their input (distance Infinity: never fooled here).
  let current: tf.Tensor;
  try {
    let fromCaller = new Array<boolean>(n).fill(false);
    if (given) {
      fromCaller = await decideFor(ctx, given, running);
      fromCaller.forEach((v, i) => (found[i] = v));
    }
    const drawn = new Array<number>(n).fill(0);
    for (let round = 0; running.some((r, i) => r && !found[i]); round++) {
      const counts = running.map((r, i) => (r && !found[i] ? Math.max(0, Math.min(2 ** round, s.initDraws - drawn[i]!, left(i))) : 0));
      if (!counts.some((c) => c > 0)) break;
      for (const seg of segments(counts, chunk)) {
        const buf = new Float32Array(seg.k * n * d).fill(lo);
        for (let j = 0; j < seg.k; j++) {
          for (let i = 0; i < n; i++) {
            if (!seg.active[i]) continue;
            const row = buf.subarray((j * n + i) * d, (j * n + i + 1) * d);
            for (let e = 0; e < d; e++) row[e] = lo + (hi - lo) * initRngs[i]!.next();
          }
        }
        const candidates = tf.tensor(buf, [seg.k * n, ...sampleShape]);
        let answer: boolean[];
        try {
          answer = await ctx.decide(candidates, seg.active);
        } finally {
          candidates.dispose();
        }
        for (let j = 0; j < seg.k; j++) {
          for (let i = 0; i < n; i++) {
            if (!seg.active[i] || found[i] || !answer[j * n + i]) continue;
            found[i] = true;
            noise.set(buf.subarray((j * n + i) * d, (j * n + i + 1) * d), i * d);
          }
        }
      }
      counts.forEach((c, i) => (drawn[i]! += c));
    }
    for (let i = 0; i < n; i++) running[i] = running[i]! && found[i]!;

    current = tf.tidy(() => {
      const fromNoise = selectSamples(maskTensor(running), tf.tensor(noise, x.shape), x);
      return given ? selectSamples(maskTensor(fromCaller), given, fromNoise) : fromNoise;
    });
  } finally {
    given?.dispose();
  }
  let best = tf.clone(current);
  let dist = await distances(current);
  let bestDist = Float64Array.from(dist, (v, i) => (running[i] ? v : Infinity));

  /** Moves the current point to `next` (disposed) where `mask`, and the best point where that is closer. */
  const advance = async (next: tf.Tensor, mask: readonly boolean[]): Promise<void> => {
    const prev = current;
    current = tf.tidy(() => selectSamples(maskTensor(mask), next, prev));
    tf.dispose([prev, next]);
    dist = await distances(current);
    const closer = mask.map((m, i) => m && dist[i]! < bestDist[i]!);
    if (!closer.includes(true)) return;
    const prevBest = best;
    best = tf.tidy(() => selectSamples(maskTensor(closer), current, prevBest));
    prevBest.dispose();
    bestDist = Float64Array.from(bestDist, (v, i) => (closer[i] ? dist[i]! : v));
  };

  /**
   * Binary search between `x` (not adversarial) and `p` (adversarial) for the samples in `active`: `'blend'`
   * moves along `(1 − α)·x + α·p`, `'box'` clips `p` into the Linf box of radius α around `x`. A sample stops at
   * its tolerance (Linf: relative to the starting radius, at most `tolerance`, as the paper), when its budget is
   * spent, or after {@link MAX_BISECTIONS} rounds. Returns, per sample, the last point decided adversarial (`p`
   * itself where the search never moved).
   */
  const bisect = async (p: tf.Tensor, active: readonly boolean[], mode: 'blend' | 'box', tolerance: number): Promise<tf.Tensor> => {
    const highs = mode === 'blend' ? new Float64Array(n).fill(1) : await hostValues(tf.tidy(() => batchNorm(tf.sub(p, x), 'linf')));
    const lows = new Float64Array(n);
    const limit = Float64Array.from(highs, (h) => (mode === 'blend' ? tolerance : Math.min(h * tolerance, tolerance)));
    const at = (alphas: ArrayLike<number>): tf.Tensor =>
      tf.tidy(() => {
        const a = column(alphas, rank);
        if (mode === 'blend') return ctx.project(tf.add(tf.mul(tf.sub(1, a), x), tf.mul(a, p)));
        return ctx.project(tf.minimum(tf.maximum(p, tf.sub(x, a)), tf.add(x, a)));
      });
    for (let round = 0; round < MAX_BISECTIONS; round++) {
      const ask = active.map((a, i) => a && highs[i]! - lows[i]! > limit[i]! && left(i) >= 1);
      if (!ask.includes(true)) break;
      const mids = Float64Array.from(highs, (h, i) => (h + lows[i]!) / 2);
      const candidate = at(mids);
      let fooled: boolean[];
      try {
        fooled = await decideFor(ctx, candidate, ask);
      } finally {
        candidate.dispose();
      }
      for (let i = 0; i < n; i++) {
        if (!ask[i]) continue;
        if (fooled[i]) highs[i] = mids[i]!;
        else lows[i] = mids[i]!;
      }
    }
    return at(highs);
  };

  /**
   * The gradient direction at the current point, from `probes` decisions per running sample at
   * `current + δ·u` (u of unit L2 norm), with the paper's baseline: `Σ (φ_b − mean φ)·u_b`, or `Σ φ_b·u_b` when
   * every decision agrees. Unit L2 norm for L2, its sign for Linf; zero where nothing was estimated.
   */
  const estimate = async (t: number, probes: number): Promise<tf.Tensor> => {
    const delta = Float32Array.from(dist, (v) => (t === 0 ? 0.1 * (hi - lo) : (s.gamma * v) / d));
    const rngs = probeSeeds.map((seed) => createRng(`hop-skip-jump/probes/${seed}/${t}`));
    const counts = running.map((r) => (r ? probes : 0));
    let sumFu = tf.zeros([n, d]);
    let sumU = tf.zeros([n, d]);
    const sumF = new Float64Array(n);
    try {
      for (const seg of segments(counts, chunk)) {
        const buf = new Float32Array(seg.k * n * d);
        for (let j = 0; j < seg.k; j++) {
          for (let i = 0; i < n; i++) if (seg.active[i]) probe(rngs[i]!, s.norm, buf.subarray((j * n + i) * d, (j * n + i + 1) * d));
        }
        const [perturbed, effective] = tf.tidy(() => {
          const base = tf.reshape(current, [1, n, d]);
          const radius = tf.tensor3d(delta, [1, n, 1]);
          const p = ctx.project(tf.reshape(tf.add(base, tf.mul(radius, tf.tensor3d(buf, [seg.k, n, d]))), [seg.k * n, ...sampleShape]));
          // The probe actually made (after clipping into the bounds), in units of the radius.
          return [p, tf.div(tf.sub(tf.reshape(p, [seg.k, n, d]), base), tf.add(radius, 1e-12))] as const;
        });
        let answer: boolean[];
        try {
          answer = await ctx.decide(perturbed, seg.active);
        } catch (e) {
          effective.dispose();
          throw e;
        } finally {
          perturbed.dispose();
        }
        const sign = new Float32Array(seg.k * n);
        const used = new Float32Array(seg.k * n);
        for (let j = 0; j < seg.k; j++) {
          for (let i = 0; i < n; i++) {
            if (!seg.active[i]) continue;
            const f = answer[j * n + i] ? 1 : -1;
            sign[j * n + i] = f;
            used[j * n + i] = 1;
            sumF[i]! += f;
          }
        }
        const [prevFu, prevU] = [sumFu, sumU];
        [sumFu, sumU] = tf.tidy(() => [
          tf.add(prevFu, tf.sum(tf.mul(tf.tensor3d(sign, [seg.k, n, 1]), effective), 0)),
          tf.add(prevU, tf.sum(tf.mul(tf.tensor3d(used, [seg.k, n, 1]), effective), 0)),
        ]);
        tf.dispose([effective, prevFu, prevU]);
      }
      const baseline = Array.from(sumF, (f, i) => (counts[i] === 0 || Math.abs(f) === counts[i] ? 0 : f / counts[i]!));
      const [fu, u] = [sumFu, sumU];
      return tf.tidy(() => {
        const g = tf.sub(fu, tf.mul(column(baseline, 2), u));
        const unit = tf.div(g, tf.add(tf.norm(g, 'euclidean', 1, true), 1e-12));
        return tf.reshape(s.norm === 'l2' ? unit : signExact(unit), x.shape);
      });
    } finally {
      tf.dispose([sumFu, sumU]);
    }
  };

  /**
   * Geometric step-size search: from `ε = dist/√(t+1)`, halve until `current + ε·direction` (clipped into the
   * bounds) is adversarial, at most {@link MAX_HALVINGS} times and within the budget. Returns the accepted points
   * (the current point where none was accepted) and which samples have one.
   */
  const step = async (t: number, direction: tf.Tensor): Promise<{ proposal: tf.Tensor; accepted: boolean[] }> => {
    const eps = Float64Array.from(dist, (v) => v / Math.sqrt(t + 1));
    const accepted = new Array<boolean>(n).fill(false);
    let proposal = tf.clone(current);
    try {
      for (let h = 0; h <= MAX_HALVINGS; h++) {
        const ask = running.map((r, i) => r && !accepted[i] && left(i) >= 1);
        if (!ask.includes(true)) break;
        const candidate = tf.tidy(() => ctx.project(tf.add(current, tf.mul(column(eps, rank), direction))));
        let fooled: boolean[];
        try {
          fooled = await decideFor(ctx, candidate, ask);
        } catch (e) {
          candidate.dispose();
          throw e;
        }
        const prev = proposal;
        proposal = tf.tidy(() => selectSamples(maskTensor(fooled), candidate, prev));
        tf.dispose([prev, candidate]);
        for (let i = 0; i < n; i++) {
          if (!ask[i]) continue;
          if (fooled[i]) accepted[i] = true;
          else eps[i]! /= 2;
        }
      }
      return { proposal, accepted };
    } catch (e) {
      proposal.dispose();
      throw e;
    }
  };

  try {
    // 2. Bring the starting point to the boundary (Linf: blend first, as the reference implementation does).
    if (s.norm === 'l2') {
      await advance(await bisect(current, running, 'blend', theta), running);
    } else {
      await advance(await bisect(current, running, 'blend', LINF_INIT_TOLERANCE), running);
      await advance(await bisect(current, running, 'box', theta), running);
    }
    for (let t = 0; t < s.steps; t++) {
      // 3. Estimate the gradient direction; a sample whose budget cannot pay for the probes stops here.
      const probes = Math.min(Math.floor(s.initialEvals * Math.sqrt(t + 1)), s.maxEvals);
      for (let i = 0; i < n; i++) if (running[i] && left(i) < probes) running[i] = false;
      if (!running.includes(true)) break;
      const direction = await estimate(t, probes);
      // 4. Step along it (geometric step-size search), 5. back to the boundary (binary search).
      let stepped: { proposal: tf.Tensor; accepted: boolean[] };
      try {
        stepped = await step(t, direction);
      } finally {
        direction.dispose();
      }
      let landed: tf.Tensor;
      try {
        landed = await bisect(stepped.proposal, stepped.accepted, s.norm === 'l2' ? 'blend' : 'box', theta);
      } finally {
        stepped.proposal.dispose();
      }
      await advance(landed, stepped.accepted);
    }
    return best;
  } catch (e) {
    best.dispose();
    throw e;
  } finally {
    current.dispose();
  }
}

/**
 * HopSkipJump (Chen, Jordan, Wainwright, IEEE S&P 2020): a decision-based minimum-norm attack. It sees only
 * whether a candidate fools the model (`ctx.decide`: misclassified, or classified as the target), never scores
 * or gradients, so it runs on a {@link QueryModel} (an onnxruntime session, an HTTP endpoint) as on any model.
 *
 * Per sample: one query checks the clean point (already fooled: returned as is, norm 0); the starting point is
 * the caller's (`startingPoints`, one query to check it) or else uniform noise in the bounds that fools the model
 * (at most `initDraws` draws). A targeted run needs a start the model assigns to the target, which noise rarely
 * is (on the bundled MNIST CNN, 1000 draws found one for 3 of 8 random targets): pass `startingPoints` (e.g. an
 * input of the target class) or a larger `initDraws`. The start is brought to the decision boundary by a binary
 * search toward the input. Then each iteration `t` estimates the boundary's gradient direction from
 * `min(initialEvals·√t, maxEvals)` decisions around the current point (random probes of radius
 * `δ = gamma·dist/d`, `0.1·(hi − lo)` at first, with the paper's baseline subtraction), steps along it (L2: the
 * unit estimate; Linf: its sign) with a geometric step-size search from `dist/√t`, and returns to the boundary by
 * binary search (threshold `θ = gamma/d^1.5`, L2, or `gamma/d²`, Linf). The result per sample is the closest
 * adversarial point found. Every loop is bounded: by `steps`, by the per-sample budget `queries` (a sample stops
 * before a gradient estimate its budget cannot pay for, and a search stops at its last adversarial point when the
 * budget runs out), by 25 step-size halvings and by 64 binary-search rounds. A point for which no starting point
 * is found (e.g. a model that predicts its label everywhere) ends unfooled with its input returned, never NaN.
 * With a larger budget (same seed) a sample makes the same queries first, so its minimal norm never grows.
 *
 * Kind `query` (decisions, minimum-norm search): one run per batch; `AttackResult.minimalNorms` holds the norms
 * (`Infinity` where it failed) and the runner counts a sample as fooled at epsilon when that norm is ≤ epsilon;
 * `EpsilonResult.queries` holds the decisions each sample asked for, at most `queries`. Probes are sent as `k·N`
 * row batches (at most 4M elements each). Every random draw comes from the sample's own generator (`ctx.rngs`),
 * so a sample's result does not depend on its batch. Untargeted, or targeted when `run` gets `targets`.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Reference implementations: the authors'
 * (github.com/Jianbo-Lab/HSJA) and Foolbox's `HopSkipJumpAttack`, whose defaults (64 steps, 100 to 10,000
 * probes, gamma 1, geometric step-size search) these follow. Paper: https://arxiv.org/abs/1904.02144.
 *
 * @param config - see {@link HopSkipJumpConfig}; defaults: L2, 5000 queries, 64 steps, 100–10,000 probes, gamma 1, 1000 initial draws.
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons, seed })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `queries: 0`, `maxEvals` below `initialEvals`).
 * @example
 * ```ts
 * const result = await hopSkipJump({ queries: 1000 }).run(model, x, labels, { epsilons: [1, 2], seed: 0 });
 * console.log(result.minimalNorms, result.results[0]!.queries); // per sample: minimal L2 norm and decisions asked
 * result.dispose();
 * ```
 */
export function hopSkipJump(config: HopSkipJumpConfig = {}): Attack {
  const s: Settings = {
    norm: config.norm ?? 'l2',
    queries: config.queries ?? 5000,
    steps: config.steps ?? 64,
    initialEvals: config.initialEvals ?? 100,
    maxEvals: config.maxEvals ?? 10000,
    gamma: config.gamma ?? 1,
    initDraws: config.initDraws ?? 1000,
    startingPoints: config.startingPoints,
  };
  const where = 'hop-skip-jump';
  checkNorm(s.norm, where);
  requireInt(s.queries, 1, where, 'queries');
  requireInt(s.steps, 1, where, 'steps');
  requireInt(s.initialEvals, 1, where, 'initialEvals');
  requireInt(s.maxEvals, s.initialEvals, where, 'maxEvals');
  requirePositive(s.gamma, where, 'gamma');
  requireInt(s.initDraws, 1, where, 'initDraws');
  if (s.startingPoints !== undefined && typeof s.startingPoints !== 'function') {
    throw new ConfigError(`${where}: expected startingPoints to be a function of the batch, got ${describe(s.startingPoints)}`);
  }
  return defineAttack({
    kind: 'query',
    output: 'decisions',
    search: 'minimum-norm',
    restarts: 1,
    name: where,
    norm: s.norm,
    config: {
      norm: s.norm,
      queries: s.queries,
      steps: s.steps,
      initialEvals: s.initialEvals,
      maxEvals: s.maxEvals,
      gamma: s.gamma,
      initDraws: s.initDraws,
      ...(s.startingPoints ? { startingPoints: 'custom' } : {}),
    },
    // Not used (the attack reads decisions only); the margin is the loss a decision thresholds.
    loss: 'margin',
    attack: (ctx) => search(s, ctx),
  });
}
