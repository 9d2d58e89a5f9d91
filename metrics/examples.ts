/**
 * Kept adversarial examples for the HTML report's image grid (`--examples N`): a separate, deterministic pass over
 * the first N points that re-runs the evaluation's attacks with the evaluation's per-sample seeds (the seed, the
 * attack, the epsilon and the sample's global index), so each point gets exactly the adversarial the evaluation
 * found, and keeps, per point, the one from the smallest radius at which an attack fooled it (the worst case).
 * Stored compactly: 8-bit channels-last images in base64 ({@link ReportExamples}).
 * @module
 */
import * as tf from '../src/tf.js';
import type { Model } from '../src/model.js';
import type { Dataset, DataSource } from '../src/data/types.js';
import type { Attack } from '../src/runner.js';
import type { ReportExample, ReportExamples } from '../src/report.js';
import { ConfigError, ShapeError, describe } from '../src/errors.js';
import { deriveSeed, randomTargets } from '../src/rng.js';
import { encodeBase64 } from '../src/report-format.js';
import { planEvaluation, type EvaluateData, type EvaluateOptions, type TensorData } from './evaluate.js';

/**
 * The most examples {@link collectExamples} keeps (each is two small images; 100 MNIST digits make about 400 KB of HTML).
 *
 * @example
 * ```ts
 * import { MAX_EXAMPLES } from 'robustest';
 * const n = Math.min(200, MAX_EXAMPLES);
 * ```
 */
export const MAX_EXAMPLES = 1000;

/** The first `n` inputs (float32, `[n, ...inputShape]`) and labels of any evaluation data. */
async function firstInputs(model: Model, data: EvaluateData, n: number): Promise<{ x: Float32Array; labels: Int32Array; count: number }> {
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  if ((data as Dataset).images instanceof Float32Array) {
    const d = data as Dataset;
    const k = Math.min(n, d.count);
    return { x: d.images.slice(0, k * per), labels: Int32Array.from(d.labels.subarray(0, k)), count: k };
  }
  if (typeof (data as DataSource).read === 'function') {
    const d = data as DataSource;
    const k = Math.min(n, d.count);
    const b = await d.read(0, k);
    return { x: b.images.slice(0, k * per), labels: Int32Array.from(b.labels as ArrayLike<number>), count: k };
  }
  const t = data as TensorData;
  if (!(t.x instanceof tf.Tensor))
    throw new ConfigError(`collectExamples: expected data to be a Dataset, a DataSource or { x, labels }, got ${describe(data)}`);
  const k = Math.min(n, t.x.shape[0]!);
  const slice = tf.tidy(() => tf.cast(tf.slice(t.x, 0, k), 'float32'));
  const x = (await slice.data()) as Float32Array;
  slice.dispose();
  const raw = t.labels instanceof tf.Tensor ? Array.from(await t.labels.data()) : Array.from(t.labels as ArrayLike<number>);
  return { x, labels: Int32Array.from(raw.slice(0, k)), count: k };
}

/** How one input is laid out as an image: height, width, stored channels, and the offset of pixel (r, c, ch). */
function imageGeometry(model: Model): { shape: [number, number, number]; at: (r: number, c: number, ch: number) => number } {
  const s = model.inputShape;
  if (s.length === 3) {
    if (model.layout === 'NCHW') {
      const [c, h, w] = s as [number, number, number];
      return { shape: [h, w, c >= 3 ? 3 : 1], at: (r, col, ch) => ch * h * w + r * w + col };
    }
    const [h, w, c] = s as [number, number, number];
    return { shape: [h, w, c >= 3 ? 3 : 1], at: (r, col, ch) => (r * w + col) * c + ch };
  }
  if (s.length === 2) {
    const [h, w] = s as [number, number];
    return { shape: [h, w, 1], at: (r, col) => r * w + col };
  }
  const d = s.reduce((a, b) => a * b, 1);
  const side = Math.round(Math.sqrt(d));
  if (side * side === d) return { shape: [side, side, 1], at: (r, col) => r * side + col };
  return { shape: [1, d, 1], at: (_r, col) => col };
}

/** One input (`values`, a view of `per` floats) as 8-bit channels-last bytes, base64. */
function encodeImage(values: Float32Array, geometry: ReturnType<typeof imageGeometry>, bounds: readonly [number, number]): string {
  const [h, w, c] = geometry.shape;
  const out = new Uint8Array(h * w * c);
  const span = bounds[1] - bounds[0];
  let k = 0;
  for (let r = 0; r < h; r++)
    for (let col = 0; col < w; col++)
      for (let ch = 0; ch < c; ch++) out[k++] = Math.max(0, Math.min(255, Math.round(((values[geometry.at(r, col, ch)]! - bounds[0]) / span) * 255)));
  return encodeBase64(out);
}

/**
 * Collects adversarial examples for the first `count` points of an evaluation: re-runs the attacks of `options`
 * (the same options given to `evaluate`) on those points with the evaluation's per-sample seeds, on the first norm of
 * the plan, radii in increasing order, attacks in plan order, each only on the points not fooled yet; keeps, per
 * point, the adversarial of the first attack that fooled it at the smallest radius, with its prediction. Points the
 * model misclassifies clean, and points no attack fooled, keep only their clean input.
 *
 * Deterministic: the same model, data, options and seed give the same examples, matching the evaluation's own
 * per-point outcomes (attacks seed every random choice from the sample's global index, not from its batch).
 *
 * @param model - the evaluated model.
 * @param data - the evaluated data (a Dataset, a DataSource or `{ x, labels }`).
 * @param options - the evaluation's options (attacks or preset, epsilons, seed, targeted).
 * @param count - how many points, from the first; an integer in `[1, 1000]`.
 * @returns the examples, for `report.examples`.
 * @throws {@link ConfigError} for a bad `count` or options (as `evaluate`); {@link ShapeError} for data of the wrong shape.
 * @example
 * ```ts
 * import { collectExamples, evaluate, pgd } from 'robustest';
 * const options = { attacks: [pgd()], epsilons: [0.1], seed: 0 };
 * const report = await evaluate(model, data, options);
 * report.examples = await collectExamples(model, data, options, 16);
 * ```
 */
export async function collectExamples(model: Model, data: EvaluateData, options: EvaluateOptions, count: number): Promise<ReportExamples> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_EXAMPLES) {
    throw new ConfigError(`collectExamples: expected count to be an integer in [1, ${MAX_EXAMPLES}], got ${describe(count)}`);
  }
  const plan = planEvaluation(model, options);
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const { x, labels, count: n } = await firstInputs(model, data, count);
  if (x.length !== n * per) throw new ShapeError(`collectExamples: expected ${n} inputs of ${per} values, got ${x.length} values`);
  const geometry = imageGeometry(model);
  const bounds: [number, number] = [model.bounds[0], model.bounds[1]];
  const shape = [n, ...model.inputShape];
  const xs = tf.tensor(x, shape, 'float32');
  const targets = plan.targeted ? randomTargets(labels, model.numClasses, plan.seed) : undefined;
  const cleanPred = new Int32Array(n);
  try {
    const logits = await model.logits(xs);
    const arg = tf.tidy(() => tf.argMax(logits, 1));
    cleanPred.set((await arg.data()) as Int32Array);
    tf.dispose([logits, arg]);
  } finally {
    xs.dispose();
  }
  const norm = plan.norms[0]!;
  const radii = plan.epsilons[norm] ?? [];
  const order = radii.map((e, i) => ({ e, i })).sort((a, b) => a.e - b.e);
  const found: ({ attack: string; epsilon: number; adv: Float32Array; prediction: number } | undefined)[] = new Array(n).fill(undefined);
  const correct = Array.from(cleanPred, (p, i) => p === labels[i]);

  /** Runs `attack` on the points `idx` at `epsilons` and returns, per epsilon, each point's success, prediction and adversarial. */
  const run = async (attack: Attack, idx: number[], epsilons: number[], seed: number) => {
    const buf = new Float32Array(idx.length * per);
    idx.forEach((i, k) => buf.set(x.subarray(i * per, (i + 1) * per), k * per));
    const batch = tf.tensor(buf, [idx.length, ...model.inputShape], 'float32');
    try {
      const result = await attack.run(
        model,
        batch,
        idx.map((i) => labels[i]!),
        { epsilons, seed, indices: idx, ...(targets !== undefined ? { targets: idx.map((i) => targets[i]!) } : {}) },
      );
      try {
        const out: { success: boolean[]; predictions: Int32Array; adv: Float32Array }[] = [];
        for (const r of result.results) out.push({ success: r.success, predictions: r.predictions, adv: (await r.adversarial.data()) as Float32Array });
        return out;
      } finally {
        result.dispose();
      }
    } finally {
      batch.dispose();
    }
  };

  // Minimum-norm attacks run once for every radius of the norm (as in the evaluation); their results are reused.
  const minimal = new Map<number, Awaited<ReturnType<typeof run>>>();
  const pool = Array.from({ length: n }, (_, i) => i).filter((i) => correct[i]);
  for (const [ai, attack] of plan.attacks.entries()) {
    if (attack.norm !== norm || attack.search !== 'minimum-norm' || pool.length === 0) continue;
    minimal.set(ai, await run(attack, pool, [...radii], deriveSeed(plan.seed, ai)));
  }
  for (const { e: epsilon, i: ei } of order) {
    for (const [ai, attack] of plan.attacks.entries()) {
      if (attack.norm !== norm) continue;
      const todo = Array.from({ length: n }, (_, i) => i).filter((i) => correct[i] && found[i] === undefined);
      if (todo.length === 0) break;
      const cached = minimal.get(ai);
      const results = cached !== undefined ? undefined : await run(attack, todo, [epsilon], deriveSeed(plan.seed, ai, ei));
      for (const [k, i] of todo.entries()) {
        // Minimum-norm results are indexed over the whole pool; fixed-epsilon ones over `todo`.
        const r = cached !== undefined ? cached[ei]! : results![0]!;
        const at = cached !== undefined ? pool.indexOf(i) : k;
        if (!r.success[at]) continue;
        found[i] = { attack: attack.name, epsilon, adv: r.adv.slice(at * per, (at + 1) * per), prediction: r.predictions[at]! };
      }
    }
  }
  const items: ReportExample[] = [];
  for (let i = 0; i < n; i++) {
    const f = found[i];
    items.push({
      index: i,
      label: labels[i]!,
      cleanPrediction: cleanPred[i]!,
      clean: encodeImage(x.subarray(i * per, (i + 1) * per), geometry, bounds),
      ...(f !== undefined
        ? { adversarial: encodeImage(f.adv, geometry, bounds), adversarialPrediction: f.prediction, attack: f.attack, norm, epsilon: f.epsilon }
        : {}),
    });
  }
  return {
    shape: geometry.shape,
    bounds,
    selection: `Per point, the first attack (in the evaluation's order) that fooled it at the smallest ${norm === 'l2' ? 'L2' : 'L∞'} radius.`,
    items,
  };
}
