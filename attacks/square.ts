/**
 * Square Attack, L∞ and L2: a score-based black-box attack by random search over square-shaped updates.
 *
 * Paper: M. Andriushchenko, F. Croce, N. Flammarion, M. Hein, "Square Attack: a query-efficient black-box
 * adversarial attack via random search", ECCV 2020, https://arxiv.org/abs/1912.00049. Reference implementations:
 * the authors' `attack.py` (github.com/max-andr/square-attack) and AutoAttack's `autoattack/square.py`
 * (github.com/fra31/auto-attack), whose defaults (`p_init` 0.8, 5,000 queries, rescaled schedule) this follows.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type QueryContext } from '../src/runner.js';
import { checkNorm, type Norm } from '../src/norms.js';
import type { Rng } from '../src/rng.js';
import type { Layout } from '../src/model.js';
import { ConfigError, describe } from '../src/errors.js';
import { requireInt } from '../src/validate.js';

/** Configuration of {@link square}. Every field is optional. */
export interface SquareConfig {
  /** Threat model: `'linf'` or `'l2'`. Default `'linf'`. */
  norm?: Norm;
  /**
   * Query budget per input and restart (the initial query included), so a point costs at most
   * `queries · restarts` queries per epsilon. Default `5000` (AutoAttack's standard version).
   */
  queries?: number;
  /**
   * Initial share of the features a square covers (`p` of the paper); it is halved at the reference's checkpoints
   * (iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000, scaled to `queries`; see {@link squareP}).
   * In (0, 1]. Default `0.8` (AutoAttack's, for both norms; the paper tunes 0.05 for L∞ and 0.1 for L2 on
   * undefended ImageNet models).
   */
  pInit?: number;
  /**
   * Runs per epsilon: each further run starts afresh on the points the earlier ones did not fool, with the full
   * budget; per point the best run is kept. Default `1`.
   */
  restarts?: number;
}

interface Settings {
  readonly norm: Norm;
  readonly queries: number;
  readonly pInit: number;
  readonly restarts: number;
}

/** Guards divisions by a norm, as the reference does. */
const TINY = 1e-12;
/** Upper bound on redraws of an L∞ square's signs that would leave the point unchanged (the reference redraws until it changes). */
const MAX_REDRAWS = 64;
/** Loss trajectory records per run (evenly spaced), for the report's convergence check. */
const TRACE_POINTS = 64;

/** Python's `round`: halves go to the even neighbour (the reference's square sides use it). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The share `p` of the features a square covers at an iteration: the reference's piecewise-constant schedule,
 * `pInit` halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000, with the iteration
 * rescaled to the budget first (`⌊iteration / queries · 10000⌋`, AutoAttack's `resc_schedule`).
 *
 * @param pInit - initial share.
 * @param iteration - 0-based iteration after the initial query.
 * @param queries - the budget the schedule is scaled to.
 * @example
 * ```ts
 * squareP(0.8, 0, 5000); // 0.8
 * squareP(0.8, 6, 5000); // 0.4 (12 of 10,000)
 * ```
 */
export function squareP(pInit: number, iteration: number, queries: number): number {
  const it = Math.floor((iteration / queries) * 10000);
  const checkpoints = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const c of checkpoints) if (it > c) halvings++;
  return pInit / 2 ** halvings;
}

/**
 * The side of the square window for a share `p` on an `height × width` grid, as the reference computes it:
 * `round(√(p·height·width))`, at least 1 (L∞) or 3 and odd (L2), at most `min(height, width)`. On a strip
 * (`height` 1: flat inputs, see {@link square}) the window is a segment of `round(p·width)` features, with the same
 * bounds (at most `width`).
 *
 * @param p - share of the features, from {@link squareP}.
 * @param height - grid rows (1 for a strip).
 * @param width - grid columns.
 * @param norm - the threat model.
 * @example
 * ```ts
 * squareSide(0.8, 28, 28, 'linf'); // 25
 * squareSide(0.05, 28, 28, 'l2'); // 7 (6, made odd)
 * ```
 */
export function squareSide(p: number, height: number, width: number, norm: Norm): number {
  const strip = height === 1;
  const raw = roundHalfEven(strip ? p * width : Math.sqrt(p * height * width));
  const cap = strip ? width : Math.min(height, width);
  if (norm === 'linf') return Math.min(Math.max(raw, 1), cap);
  let s = Math.max(raw, 3);
  if (s % 2 === 0) s += 1;
  return Math.min(s, cap);
}

/**
 * Where the features of one sample sit on the attack's grid: `channels × rows × cols`, with the stride of each in
 * the sample's flat (row-major) array. A strip (flat inputs, or an image one pixel high or wide) has one row.
 */
interface Grid {
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly strideC: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly d: number;
}

function grid(sampleShape: readonly number[], layout: Layout): Grid {
  const d = sampleShape.reduce((a, b) => a * b, 1);
  if (sampleShape.length === 3 && layout !== 'flat') {
    const [a, b, e] = sampleShape as [number, number, number];
    const g =
      layout === 'NHWC' ? { c: e, h: a, w: b, strideC: 1, strideH: b * e, strideW: e, d } : { c: a, h: b, w: e, strideC: b * e, strideH: e, strideW: 1, d };
    if (g.h >= 2 && g.w >= 2) return g;
    // One pixel high or wide: a strip along the long side.
    return g.w === 1 ? { ...g, h: 1, w: g.h, strideH: 0, strideW: g.strideH } : { ...g, h: 1, strideH: 0 };
  }
  return { c: 1, h: 1, w: d, strideC: 0, strideH: 0, strideW: 1, d };
}

/** The reference's pseudo-Gaussian bump on an `a × b` rectangle (row-major), unit L2 norm (all zeros when empty). */
function bump(a: number, b: number): Float64Array {
  const out = new Float64Array(a * b);
  const ca = Math.floor(a / 2);
  const cb = Math.floor(b / 2);
  for (let k = 0; k <= Math.max(ca, cb); k++) {
    // Nested rectangles around the centre, each of half-width k, weighted 1/(k+1)².
    const v = 1 / (k + 1) ** 2;
    for (let r = Math.max(ca - k, 0); r < Math.min(ca - k + 2 * k + 1, a); r++) {
      for (let q = Math.max(cb - k, 0); q < Math.min(cb - k + 2 * k + 1, b); q++) out[r * b + q]! += v;
    }
  }
  normalise(out);
  return out;
}

function normalise(v: Float64Array): void {
  let s = 0;
  for (const e of v) s += e * e;
  if (s === 0) return;
  const f = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i]! *= f;
}

/**
 * The reference's L2 update profile ("meta pseudo-Gaussian") on a `rows × cols` window, row-major, unit norm: a
 * bump on one half and minus a bump on the other. Square windows split their rows in two, or (with probability
 * 1/2, one draw) their columns; a one-row window (a strip) splits its columns.
 */
function profile(rows: number, cols: number, rng: Rng): Float64Array {
  const byCols = rows === 1 || (rng.next() >= 0.5 && rows > 1);
  const out = new Float64Array(rows * cols);
  if (!byCols) {
    const top = Math.floor(rows / 2);
    const first = bump(top, cols);
    const second = bump(rows - top, cols);
    out.set(first, 0);
    for (let i = 0; i < second.length; i++) out[top * cols + i] = -second[i]!;
  } else {
    const left = Math.floor(cols / 2);
    const first = bump(rows, left);
    const second = bump(rows, cols - left);
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < left; q++) out[r * cols + q] = first[r * left + q]!;
      for (let q = 0; q < cols - left; q++) out[r * cols + left + q] = -second[r * (cols - left) + q]!;
    }
  }
  normalise(out);
  return out;
}

const sign = (rng: Rng): number => (rng.next() < 0.5 ? -1 : 1);

/** A window of the grid: top-left corner and extent. */
interface Window {
  readonly top: number;
  readonly left: number;
  readonly rows: number;
  readonly cols: number;
}

/** A random window of side `s` (a square, or a segment on a strip), every position equally likely. */
function randomWindow(g: Grid, s: number, rng: Rng): Window {
  const rows = g.h === 1 ? 1 : s;
  return { top: rng.int(g.h - rows + 1), left: rng.int(g.w - s + 1), rows, cols: s };
}

/** Flat offsets (within a sample) of a window's features of channel `c`, row-major over the window. */
function forWindow(g: Grid, win: Window, c: number, f: (offset: number, k: number) => void): void {
  let k = 0;
  for (let r = 0; r < win.rows; r++) {
    const base = c * g.strideC + (win.top + r) * g.strideH + win.left * g.strideW;
    for (let q = 0; q < win.cols; q++) f(base + q * g.strideW, k++);
  }
}

/** What the queries tell about one sample: the loss the attack minimises, and whether the logits fool the model. */
interface Scores {
  readonly loss: Float64Array;
  readonly success: Uint8Array;
}

/**
 * The reference's losses on host logits: untargeted, the margin `z_y − max_{j≠y} z_j` (the paper's); targeted, the
 * cross-entropy towards the target (the reference's choice for targeted runs). Both are minimised. Success is the
 * runner's criterion (arg max, first index on ties), so that the runner's verification agrees.
 */
function score(logits: Float32Array, n: number, numClasses: number, labels: Int32Array, targets: Int32Array | undefined): Scores {
  const loss = new Float64Array(n);
  const success = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    let arg = 0;
    for (let j = 1; j < numClasses; j++) if (row[j]! > row[arg]!) arg = j;
    if (targets) {
      const t = targets[i]!;
      let m = -Infinity;
      for (const z of row) m = Math.max(m, z);
      let s = 0;
      for (const z of row) s += Math.exp(z - m);
      loss[i] = m + Math.log(s) - row[t]!;
      success[i] = arg === t ? 1 : 0;
    } else {
      const y = labels[i]!;
      let other = -Infinity;
      for (let j = 0; j < numClasses; j++) if (j !== y) other = Math.max(other, row[j]!);
      loss[i] = row[y]! - other;
      success[i] = arg !== y ? 1 : 0;
    }
  }
  return { loss, success };
}

/** Everything one run over a batch shares. */
interface Run {
  readonly s: Settings;
  readonly ctx: QueryContext;
  readonly g: Grid;
  readonly n: number;
  /** Clean inputs, `n · d`. */
  readonly x: Float32Array;
  readonly lo: number;
  readonly hi: number;
  /** The radius, as float32 (the ball the runner projects onto). */
  readonly eps: number;
  readonly labels: Int32Array;
  readonly targets: Int32Array | undefined;
  /** Queries the batch, `active` counted; returns the scores. */
  readonly ask: (candidates: Float32Array, active: readonly boolean[]) => Promise<Scores>;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** The per-sample best of one run: the point, its loss and whether it fools the model. */
interface Best {
  readonly x: Float32Array;
  readonly loss: Float64Array;
  readonly success: Uint8Array;
}

/**
 * One L∞ run on the samples of `todo`. The state of a sample is a sign per feature: the candidate is
 * `clip(x + ε·σ)`, every feature at a corner of the ball (clipped into the bounds). It starts from vertical stripes
 * (one sign per channel and column) and each step sets the signs of a random square to one random sign per channel
 * (the reference's update `x_best ± 2ε` projected back), redrawing the signs when they would not change the point.
 */
async function runLinf(run: Run, todo: readonly boolean[], trace: (best: Best) => void): Promise<Best> {
  const { s, g, n, x, lo, hi, eps, ctx } = run;
  const d = g.d;
  const sigma = new Int8Array(n * d);
  const cand = new Float32Array(x);
  const value = (i: number, o: number, sg: number): number => clamp(Math.fround(x[i * d + o]! + eps * sg), lo, hi);
  for (let i = 0; i < n; i++) {
    if (!todo[i]) continue;
    const rng = ctx.rngs[i]!;
    for (let c = 0; c < g.c; c++) {
      for (let q = 0; q < g.w; q++) {
        const sg = sign(rng);
        for (let r = 0; r < g.h; r++) {
          const o = c * g.strideC + r * g.strideH + q * g.strideW;
          sigma[i * d + o] = sg;
          cand[i * d + o] = value(i, o, sg);
        }
      }
    }
  }
  const first = await run.ask(cand, todo);
  const best: Best = { x: new Float32Array(cand), loss: first.loss, success: first.success };
  const active = todo.map((t, i) => t && !first.success[i]);
  trace(best);
  const traceEvery = Math.max(1, Math.ceil((s.queries - 1) / TRACE_POINTS));
  const windows: (Window | undefined)[] = new Array<Window | undefined>(n);
  const signs = new Int8Array(n * g.c);
  for (let it = 0; it < s.queries - 1 && active.includes(true); it++) {
    const side = squareSide(squareP(s.pInit, it, s.queries), g.h, g.w, 'linf');
    for (let i = 0; i < n; i++) {
      windows[i] = undefined;
      if (!active[i]) continue;
      const rng = ctx.rngs[i]!;
      const win = randomWindow(g, side, rng);
      windows[i] = win;
      for (let tries = 0; ; tries++) {
        for (let c = 0; c < g.c; c++) signs[i * g.c + c] = sign(rng);
        let changes = false;
        for (let c = 0; c < g.c && !changes; c++) {
          const sg = signs[i * g.c + c]!;
          forWindow(g, win, c, (o) => {
            if (sigma[i * d + o] !== sg) changes = true;
          });
        }
        if (changes || tries + 1 >= MAX_REDRAWS) break;
      }
      for (let c = 0; c < g.c; c++) {
        const sg = signs[i * g.c + c]!;
        forWindow(g, win, c, (o) => {
          cand[i * d + o] = value(i, o, sg);
        });
      }
    }
    const r = await run.ask(cand, active);
    for (let i = 0; i < n; i++) {
      const win = windows[i];
      if (!win) continue;
      const take = r.success[i] === 1 || r.loss[i]! < best.loss[i]!;
      for (let c = 0; c < g.c; c++) {
        const sg = signs[i * g.c + c]!;
        forWindow(g, win, c, (o) => {
          if (take) {
            best.x[i * d + o] = cand[i * d + o]!;
            sigma[i * d + o] = sg;
          } else {
            cand[i * d + o] = best.x[i * d + o]!;
          }
        });
      }
      if (take) {
        best.loss[i] = r.loss[i]!;
        best.success[i] = r.success[i]!;
        if (r.success[i]) active[i] = false;
      }
    }
    if ((it + 1) % traceEvery === 0) trace(best);
  }
  return best;
}

/**
 * One L2 run on the samples of `todo`, as the reference: the start is a grid of tiles (a fifth of the side each),
 * each carrying the ± two-bump profile with a random sign per channel, scaled to norm ε; each step moves the mass
 * of a second random window into a first one (new profile plus the first window's old direction, rescaled so the
 * perturbation can reach norm ε), then the whole perturbation is rescaled to norm ε and clipped into the bounds.
 */
async function runL2(run: Run, todo: readonly boolean[], trace: (best: Best) => void): Promise<Best> {
  const { s, g, n, x, lo, hi, ctx } = run;
  const eps = ctx.epsilon;
  const d = g.d;
  const cand = new Float32Array(x);
  const delta = new Float64Array(d);
  /**
   * Writes `clip(x + r·δ/‖δ‖)` of sample i into `cand`, with `r = ε·(1 − 10⁻⁶)`: float32 rounding then never puts
   * a candidate outside the ball, so the runner's projection leaves it as it was queried.
   */
  const radius = eps * (1 - 1e-6);
  const emit = (i: number): void => {
    let sq = 0;
    for (let k = 0; k < d; k++) sq += delta[k]! * delta[k]!;
    const f = radius / (Math.sqrt(sq) + TINY);
    for (let k = 0; k < d; k++) cand[i * d + k] = clamp(Math.fround(x[i * d + k]! + delta[k]! * f), lo, hi);
  };
  const tile = Math.max(1, Math.floor(g.h === 1 ? g.w / 25 : Math.min(g.h, g.w) / 5));
  const tileRows = g.h === 1 ? 1 : tile;
  const nh = Math.floor(g.h / tileRows);
  const nw = Math.floor(g.w / tile);
  const top0 = Math.floor((g.h - nh * tileRows) / 2);
  const left0 = Math.floor((g.w - nw * tile) / 2);
  for (let i = 0; i < n; i++) {
    if (!todo[i]) continue;
    const rng = ctx.rngs[i]!;
    delta.fill(0);
    for (let a = 0; a < nh; a++) {
      for (let b = 0; b < nw; b++) {
        const prof = profile(tileRows, tile, rng);
        const win = { top: top0 + a * tileRows, left: left0 + b * tile, rows: tileRows, cols: tile };
        for (let c = 0; c < g.c; c++) {
          const sg = sign(rng);
          forWindow(g, win, c, (o, k) => {
            delta[o] = prof[k]! * sg;
          });
        }
      }
    }
    emit(i);
  }
  const first = await run.ask(cand, todo);
  const best: Best = { x: new Float32Array(cand), loss: first.loss, success: first.success };
  const active = todo.map((t, i) => t && !first.success[i]);
  trace(best);
  const traceEvery = Math.max(1, Math.ceil((s.queries - 1) / TRACE_POINTS));
  const window1 = new Float64Array(d);
  for (let it = 0; it < s.queries - 1 && active.includes(true); it++) {
    const side = squareSide(squareP(s.pInit, it, s.queries), g.h, g.w, 'l2');
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      const rng = ctx.rngs[i]!;
      let image = 0;
      for (let k = 0; k < d; k++) {
        delta[k] = best.x[i * d + k]! - x[i * d + k]!;
        image += delta[k]! * delta[k]!;
      }
      const w1 = randomWindow(g, side, rng);
      const w2 = randomWindow(g, side, rng);
      const prof = profile(w1.rows, w1.cols, rng);
      const budget = Math.max(eps * eps - image, 0) / g.c;
      const size = w1.rows * w1.cols;
      for (let c = 0; c < g.c; c++) {
        const sg = sign(rng);
        // ‖δ‖ over the first window, and over the union of both windows (the second minus their overlap).
        let n1 = 0;
        forWindow(g, w1, c, (o) => {
          n1 += delta[o]! * delta[o]!;
        });
        let union = n1;
        forWindow(g, w2, c, (o, k) => {
          const r = w2.top + Math.floor(k / w2.cols);
          const q = w2.left + (k % w2.cols);
          const inside = r >= w1.top && r < w1.top + w1.rows && q >= w1.left && q < w1.left + w1.cols;
          if (!inside) union += delta[o]! * delta[o]!;
        });
        const inv = 1 / (Math.sqrt(n1) + TINY);
        let sq = 0;
        forWindow(g, w1, c, (o, k) => {
          const v = prof[k]! * sg + delta[o]! * inv;
          window1[c * size + k] = v;
          sq += v * v;
        });
        const scale = Math.sqrt(budget + union) / (Math.sqrt(sq) + TINY);
        for (let k = 0; k < size; k++) window1[c * size + k]! *= scale;
      }
      for (let c = 0; c < g.c; c++) {
        forWindow(g, w2, c, (o) => {
          delta[o] = 0;
        });
      }
      for (let c = 0; c < g.c; c++) {
        forWindow(g, w1, c, (o, k) => {
          delta[o] = window1[c * size + k]!;
        });
      }
      emit(i);
    }
    const r = await run.ask(cand, active);
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      if (r.success[i] === 1 || r.loss[i]! < best.loss[i]!) {
        best.x.set(cand.subarray(i * d, (i + 1) * d), i * d);
        best.loss[i] = r.loss[i]!;
        best.success[i] = r.success[i]!;
        if (r.success[i]) active[i] = false;
      }
    }
    if ((it + 1) % traceEvery === 0) trace(best);
  }
  return best;
}

async function attack(s: Settings, ctx: QueryContext): Promise<tf.Tensor> {
  const { model } = ctx;
  const n = ctx.x.shape[0]!;
  const sampleShape = ctx.x.shape.slice(1);
  const g = grid(sampleShape, model.layout);
  const x = Float32Array.from(await ctx.x.data());
  const labels = Int32Array.from(await ctx.labels.data());
  const targets = ctx.targets ? Int32Array.from(await ctx.targets.data()) : undefined;
  const numClasses = model.numClasses;
  const ask = async (candidates: Float32Array, active: readonly boolean[]): Promise<Scores> => {
    // A copy: a backend may keep a reference to the array it is given, and the attack reuses its buffer.
    const batch = tf.tensor(candidates.slice(), ctx.x.shape, 'float32');
    let logits: tf.Tensor2D;
    try {
      logits = await ctx.query(batch, active);
    } finally {
      batch.dispose();
    }
    try {
      return score((await logits.data()) as Float32Array, n, numClasses, labels, targets);
    } finally {
      logits.dispose();
    }
  };
  const run: Run = {
    s,
    ctx,
    g,
    n,
    x,
    lo: model.bounds[0],
    hi: model.bounds[1],
    eps: Math.fround(ctx.epsilon),
    labels,
    targets,
    ask,
  };
  // The best over runs: a success first, then the lower loss. Traced as the runner's loss to maximise (−loss).
  let overall: Best | undefined;
  const trace = (current: Best): void => {
    const values = Float32Array.from({ length: n }, (_, i) => {
      const prev = overall && (overall.success[i] || overall.loss[i]! <= current.loss[i]!) ? overall.loss[i]! : current.loss[i]!;
      return -prev;
    });
    const t = tf.tensor1d(values);
    ctx.trace(t);
    t.dispose();
  };
  const todo = new Array<boolean>(n).fill(true);
  for (let r = 0; r < s.restarts && todo.includes(true); r++) {
    const best = s.norm === 'linf' ? await runLinf(run, todo, trace) : await runL2(run, todo, trace);
    if (!overall) {
      overall = best;
    } else {
      for (let i = 0; i < n; i++) {
        if (!todo[i]) continue;
        if ((best.success[i] && !overall.success[i]) || (!overall.success[i] && best.loss[i]! < overall.loss[i]!)) {
          overall.x.set(best.x.subarray(i * g.d, (i + 1) * g.d), i * g.d);
          overall.loss[i] = best.loss[i]!;
          overall.success[i] = best.success[i]!;
        }
      }
    }
    for (let i = 0; i < n; i++) if (overall.success[i]) todo[i] = false;
  }
  return tf.tensor(overall!.x, ctx.x.shape, 'float32');
}

/**
 * Square Attack (Andriushchenko et al. 2020), L∞ and L2: random search over square-shaped updates, accepting a
 * candidate when it lowers the margin loss (untargeted: `z_y − max_{j≠y} z_j`; targeted: the cross-entropy towards
 * the target, as the reference) or fools the model. It reads only the model's scores through the runner's counted
 * `query`, so it runs on a {@link QueryModel} (onnxruntime, HTTP) as well as on a differentiable one.
 *
 * - **L∞**: starts from vertical stripes of ±ε (one sign per channel and column); each step sets a random square
 *   of side `√(p·H·W)` to one random sign per channel (`x_best ± 2ε` projected back, so every feature stays at
 *   `x ± ε` clipped into the bounds), redrawing the signs when they would leave the point unchanged (the
 *   authors' implementation does). The reference draws window positions in `[0, H − s)`; here every position
 *   `[0, H − s]` is possible.
 * - **L2**: the reference's start (tiles a fifth of the side, each with a ± two-bump profile and a random sign per
 *   channel, scaled to norm ε) and its "meta-square" step (the mass of a second window moved into the first, with
 *   a new profile), the perturbation rescaled to norm ε (less 10⁻⁶ relative, so that float32 rounding stays inside
 *   the ball) before clipping into the bounds.
 * - `p` follows {@link squareP} (`pInit` halved at the reference's checkpoints, scaled to `queries`); square sides
 *   follow {@link squareSide}.
 *
 * Per sample: the first query is the start; each further one a step, up to `queries`; a sample stops at its first
 * success (its later queries are neither made nor counted) and otherwise keeps its lowest loss. With `restarts`,
 * a later run starts afresh only on the points not yet fooled. All draws (positions, signs, profiles) come from
 * the per-sample generators `ctx.rngs`, on the host, so a point's result does not depend on its batch.
 *
 * Inputs: images `[N, H, W, C]` or `[N, C, H, W]` as `model.layout` says, with H, W ≥ 2. Flat inputs
 * (`layout: 'flat'`, any other shape) and images one pixel high or wide are treated as a strip `1 × D`: the
 * "squares" are segments of `round(p·D)` consecutive features (the same share p of the features as a square) and
 * the L∞ stripes are single features.
 *
 * Kind `query` (scores, fixed-epsilon search): `EpsilonResult.queries` holds the queries per sample, at most
 * `queries · restarts`. Each step queries the whole batch once (the runner's `query` takes one candidate per
 * input; rows of finished samples are computed but not counted) and reads the `[N, C]` logits back. Each step
 * also costs O(N·D) host work (building the candidates), small next to a forward pass.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Reference: https://arxiv.org/abs/1912.00049.
 *
 * @param config - see {@link SquareConfig}; defaults: L∞, 5,000 queries, `pInit` 0.8, 1 restart.
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons, seed })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `queries: 0`, `pInit: 2`).
 * @example
 * ```ts
 * const result = await square({ queries: 1000 }).run(model, x, labels, { epsilons: [0.1, 0.3], seed: 0 });
 * console.log(result.results.map((r) => r.queries));
 * result.dispose();
 * ```
 */
export function square(config: SquareConfig = {}): Attack {
  const s: Settings = {
    norm: config.norm ?? 'linf',
    queries: config.queries ?? 5000,
    pInit: config.pInit ?? 0.8,
    restarts: config.restarts ?? 1,
  };
  checkNorm(s.norm, 'square');
  requireInt(s.queries, 1, 'square', 'queries');
  requireInt(s.restarts, 1, 'square', 'restarts');
  if (typeof s.pInit !== 'number' || !Number.isFinite(s.pInit) || s.pInit <= 0 || s.pInit > 1) {
    throw new ConfigError(`square: expected pInit to be a number in (0, 1], got ${describe(s.pInit)}`);
  }
  return defineAttack({
    kind: 'query',
    output: 'scores',
    search: 'fixed-epsilon',
    // Restarts run inside the attack, only on the points earlier runs did not fool (the runner would re-run all).
    restarts: 1,
    name: 'square',
    norm: s.norm,
    config: { ...s },
    loss: 'margin',
    attack: (ctx) => attack(s, ctx),
  });
}
