/**
 * The evaluation protocol: a clean pass, then each attack at each epsilon on the points still robust (the
 * AutoAttack cascade), robust accuracy as the per-point worst case over attacks, per class, with Wilson
 * confidence intervals, sanity-check warnings and full provenance, as a {@link Report}.
 *
 * Reference: F. Croce, M. Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690.
 * @module
 */
import * as tf from '../src/tf.js';
import { MODEL_WARNING_CODES, type Model } from '../src/model.js';
import type { Attack } from '../src/runner.js';
import type { Dataset } from '../src/data/types.js';
import { ConfigError, ShapeError, UnsupportedError, describe } from '../src/errors.js';
import { checkEpsilons, checkInputs, checkLabels, requireInt, type LabelsLike } from '../src/validate.js';
import { deriveSeed, randomTargets } from '../src/rng.js';
import { crossEntropy } from '../src/losses.js';
import { sha256Tensors } from '../src/hash.js';
import { libraryVersion } from '../src/package-info.js';
import { REPORT_VERSION, type AttackEntry, type ClassEntry, type CurvePoint, type Report, type ReportWarning } from '../src/report.js';
import { wilsonInterval } from './accuracy.js';
import { perturbationNorms, summarizeNorms, type PerturbationNorms } from './perturbation.js';
import { checkGradients, checkOutputs, warning, WARNING_CODES } from './checks.js';

/** Labelled inputs held as a tensor (the caller keeps ownership). */
export interface TensorData {
  /** Inputs `[N, ...model.inputShape]` within the model's bounds. */
  readonly x: tf.Tensor;
  /** One label per input. */
  readonly labels: LabelsLike;
  /** Where the data came from, for the report. Default `tensor`. */
  readonly source?: string;
}

/** What {@link evaluate} accepts: a loaded {@link Dataset} or tensors. */
export type EvaluateData = Dataset | TensorData;

/** Progress of an evaluation, passed to {@link EvaluateOptions.onProgress}. */
export interface EvaluateProgress {
  /** `clean` for the clean pass, else the attack's name. */
  readonly phase: string;
  /** The epsilon being attacked (attack phases). */
  readonly epsilon?: number;
  /** Units of work done so far (batches over all phases). */
  readonly done: number;
  /** Total units of work if every attack ran on every point (an upper bound in cascade mode). */
  readonly total: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Attacks, run in this order. At least one. */
  attacks: readonly Attack[];
  /** Radii, in raw input units of each attack's norm. At least one. */
  epsilons: readonly number[];
  /** Seed of every random choice. Default `0`. */
  seed?: number;
  /** Inputs per attack batch. Default `100`. */
  batchSize?: number;
  /**
   * Run each attack only on the points every earlier attack failed on at that epsilon (AutoAttack's cascade):
   * faster, same worst case. Then an attack's `robustAccuracy` is cumulative (after it and all earlier ones).
   * With `false`, each attack runs on every clean-correct point and its numbers are its own. Default `true`.
   */
  cascade?: boolean;
  /** Targeted attacks towards random classes (seeded) instead of untargeted. Default `false`. */
  targeted?: boolean;
  /** Confidence level of the intervals. Default `0.95`. */
  ciLevel?: number;
  /** Class names, for the per-class table. Default: none. */
  classNames?: readonly string[];
  /** Where the model came from (a path), for provenance. Default: the model's name. */
  modelSource?: string;
  /** The command line that started the run, for provenance. */
  command?: string;
  /** Called after each batch. */
  onProgress?: (event: EvaluateProgress) => void;
  /** Called for each warning as it is found (they are also in the report). */
  onWarning?: (w: ReportWarning) => void;
}

interface HostData {
  readonly count: number;
  readonly labels: Int32Array;
  readonly source: string;
  readonly sha256: () => Promise<string>;
  /** A batch of the given indices as a float32 tensor (caller disposes). */
  batch(indices: readonly number[]): tf.Tensor;
}

function isDataset(d: EvaluateData): d is Dataset {
  return (d as Dataset).images instanceof Float32Array;
}

async function hostData(model: Model, data: EvaluateData): Promise<HostData> {
  const shape = model.inputShape;
  if (isDataset(data)) {
    const per = shape.reduce((a, b) => a * b, 1);
    const dataPer = data.shape.reduce((a, b) => a * b, 1);
    // Same values in the same order: equal shapes, or shapes that differ only by unit axes ([28, 28] vs
    // [28, 28, 1]). A transposed layout ([32, 32, 3] vs [3, 32, 32]) would silently scramble the pixels.
    const squeeze = (sh: readonly number[]): string => sh.filter((v) => v !== 1).join(',');
    if (dataPer !== per || data.images.length !== data.count * per || squeeze(data.shape) !== squeeze(shape)) {
      throw new ShapeError(
        `evaluate: expected data of shape [N, ${shape.join(', ')}] for model '${model.name}', got [${data.count}, ${data.shape.join(', ')}] (load the data with the model's inputShape and layout to convert it)`,
      );
    }
    const labels = await checkLabels(data.labels, data.count, model.numClasses, 'evaluate labels');
    return {
      count: data.count,
      labels,
      source: data.source,
      sha256: async () => data.sha256,
      batch: (idx) => {
        const buf = new Float32Array(idx.length * per);
        idx.forEach((i, k) => buf.set(data.images.subarray(i * per, (i + 1) * per), k * per));
        return tf.tensor(buf, [idx.length, ...shape], 'float32');
      },
    };
  }
  const x = data.x;
  if (!(x instanceof tf.Tensor)) throw new ConfigError(`evaluate: expected data to be a Dataset or { x: Tensor, labels }, got ${describe(data)}`);
  if (x.rank !== shape.length + 1 || shape.some((d, i) => x.shape[i + 1] !== d)) {
    throw new ShapeError(`evaluate: expected inputs of shape [N, ${shape.join(', ')}] for model '${model.name}', got [${x.shape.join(', ')}]`);
  }
  const count = x.shape[0]!;
  const labels = await checkLabels(data.labels, count, model.numClasses, 'evaluate labels');
  return {
    count,
    labels,
    source: data.source ?? 'tensor',
    sha256: async () => sha256Tensors([x]),
    batch: (idx) => tf.tidy(() => tf.cast(tf.gather(x, tf.tensor1d(Array.from(idx), 'int32')), 'float32')),
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function mergeNorms(parts: PerturbationNorms[]): PerturbationNorms {
  const cat = (k: keyof PerturbationNorms): Float32Array => {
    const out = new Float32Array(parts.reduce((a, p) => a + p[k].length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p[k], o);
      o += p[k].length;
    }
    return out;
  };
  return { l0: cat('l0'), l1: cat('l1'), l2: cat('l2'), linf: cat('linf') };
}

/**
 * Evaluates a model's robustness: clean accuracy, then every attack at every epsilon, and the per-point worst
 * case over attacks (the robustness curve).
 *
 * The clean pass checks every batch (shape, NaN, bounds) and looks for suspicious set-ups: probability or
 * log-probability outputs, a randomised model (two forward passes differ), all-zero input gradients (gradient
 * masking), a robustness curve that rises with epsilon (a weak attack). Findings become report warnings.
 *
 * @param model - the model; gradient attacks need a {@link DifferentiableModel}.
 * @param data - a {@link Dataset} from the loaders, or `{ x, labels }` tensors.
 * @param options - attacks, epsilons, seed (default 0), batchSize (default 100), cascade (default true).
 * @returns the report (plain JSON; see `schema/report.schema.json`).
 * @throws {@link ConfigError} for empty attacks or epsilons or a bad batch size; {@link ShapeError},
 *   {@link BoundsError}, {@link NonFiniteError}, {@link LabelError} for bad data; {@link UnsupportedError} for a
 *   gradient attack on a query-only model.
 * @example
 * ```ts
 * const report = await evaluate(model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], seed: 0 });
 * console.log(report.curve.map((p) => `${p.epsilon}: ${p.robustAccuracy}`));
 * ```
 */
export async function evaluate(model: Model, data: EvaluateData, options: EvaluateOptions): Promise<Report> {
  const startedAt = new Date();
  const t0 = performance.now();
  if (!options || !Array.isArray(options.attacks) || options.attacks.length === 0) {
    throw new ConfigError(`evaluate: expected a non-empty list of attacks, got ${describe(options?.attacks)}`);
  }
  const attacks = options.attacks;
  const epsilons = checkEpsilons(options.epsilons, 'evaluate');
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new ConfigError(`evaluate: expected seed to be a finite number, got ${describe(seed)}`);
  const batchSize = requireInt(options.batchSize ?? 100, 1, 'evaluate', 'batchSize');
  const cascade = options.cascade ?? true;
  const level = options.ciLevel ?? 0.95;
  if (model.kind === 'query') {
    const needs = attacks.find((a) => a.requires === 'gradients');
    if (needs)
      throw new UnsupportedError(`evaluate: expected only black-box attacks for the query-only model '${model.name}', got the gradient attack '${needs.name}'`);
  }
  const warnings: ReportWarning[] = [];
  const warn = (w: ReportWarning): void => {
    if (warnings.some((x) => x.code === w.code && x.message === w.message)) return;
    warnings.push(w);
    options.onWarning?.(w);
  };
  for (const m of model.warnings) warn(warning(m.code === MODEL_WARNING_CODES.softmaxRemoved ? WARNING_CODES.softmaxHead : m.code, m.message));

  const d = await hostData(model, data);
  const n = d.count;
  const all = Array.from({ length: n }, (_, i) => i);
  const total = Math.ceil(n / batchSize) * (1 + attacks.length * epsilons.length);
  let done = 0;
  const progress = (phase: string, epsilon?: number): void => {
    done++;
    options.onProgress?.({ phase, ...(epsilon !== undefined ? { epsilon } : {}), done, total });
  };

  // Clean pass.
  const cleanPred = new Int32Array(n);
  for (const [bi, idx] of chunks(all, batchSize).entries()) {
    const x = d.batch(idx);
    try {
      await checkInputs(model, x, `evaluate batch ${bi}`);
      const logits = await model.logits(x);
      const pred = tf.tidy(() => tf.argMax(logits, 1));
      cleanPred.set(await pred.data(), idx[0]!);
      pred.dispose();
      if (bi === 0) {
        for (const w of await checkOutputs(logits, { name: model.name })) warn(w);
        const again = await model.logits(x);
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(logits, again))));
        const delta = (await diff.data())[0]!;
        tf.dispose([again, diff]);
        if (delta > 1e-5) {
          warn(
            warning(
              WARNING_CODES.randomizedModel,
              `${model.name}: two forward passes on the same inputs differ (max |Δlogit| = ${delta.toExponential(2)}); a randomised model needs EOT-style attacks, and one robust accuracy number is not well defined`,
            ),
          );
        }
        if (model.kind === 'differentiable') {
          const labels = tf.tensor1d(d.labels.subarray(idx[0]!, idx[0]! + idx.length), 'int32');
          const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, model.numClasses));
          for (const w of await checkGradients(grad, { name: model.name })) warn(w);
          tf.dispose([labels, value, grad]);
        }
      }
      logits.dispose();
    } finally {
      x.dispose();
    }
    progress('clean');
  }
  const cleanCorrect = Array.from(cleanPred, (p, i) => p === d.labels[i]);
  const cleanCount = cleanCorrect.filter(Boolean).length;
  const targets = options.targeted ? randomTargets(d.labels, model.numClasses, seed) : undefined;

  // Attacks.
  const robust = epsilons.map(() => [...cleanCorrect]);
  const entries: AttackEntry[] = [];
  for (const [ai, attack] of attacks.entries()) {
    for (const [ei, epsilon] of epsilons.entries()) {
      const t1 = performance.now();
      const pool = all.filter((i) => (cascade ? robust[ei]![i] : cleanCorrect[i]));
      let succeeded = 0;
      const norms: PerturbationNorms[] = [];
      for (const [bi, idx] of chunks(pool, batchSize).entries()) {
        const x = d.batch(idx);
        try {
          const labels = idx.map((i) => d.labels[i]!);
          const result = await attack.run(model, x, labels, {
            epsilons: [epsilon],
            seed: deriveSeed(seed, ai, ei, bi),
            ...(targets ? { targets: idx.map((i) => targets[i]!) } : {}),
          });
          const r = result.results[0]!;
          const hits = idx.filter((_, k) => r.success[k]);
          succeeded += hits.length;
          for (const i of hits) robust[ei]![i] = false;
          if (hits.length > 0) {
            const sel = tf.tensor1d(
              r.success.flatMap((s: boolean, k: number): number[] => (s ? [k] : [])),
              'int32',
            );
            const [cleanSel, advSel] = tf.tidy(() => [tf.gather(x, sel), tf.gather(r.adversarial, sel)]);
            norms.push(await perturbationNorms(cleanSel!, advSel!));
            tf.dispose([sel, cleanSel!, advSel!]);
          }
          result.dispose();
        } finally {
          x.dispose();
        }
        progress(attack.name, epsilon);
      }
      // Batches the cascade skipped still count as done for progress.
      for (let k = Math.ceil(pool.length / batchSize); k < Math.ceil(n / batchSize); k++) progress(attack.name, epsilon);
      const merged = mergeNorms(norms);
      const stats = summarizeNorms(merged);
      const robustCount = cascade ? robust[ei]!.filter(Boolean).length : cleanCount - succeeded;
      entries.push({
        name: attack.name,
        norm: attack.norm,
        epsilon,
        robustAccuracy: n === 0 ? 0 : robustCount / n,
        ci: wilsonInterval(robustCount, n, level),
        successRate: pool.length === 0 ? 0 : succeeded / pool.length,
        attacked: pool.length,
        succeeded,
        meanL2: stats.l2.mean,
        meanLinf: stats.linf.mean,
        norms: stats,
        seconds: (performance.now() - t1) / 1000,
      });
    }
  }

  const curve: CurvePoint[] = epsilons.map((epsilon, ei) => {
    const count = robust[ei]!.filter(Boolean).length;
    return { epsilon, robustAccuracy: count / n, robustCount: count, ci: wilsonInterval(count, n, level) };
  });
  const sorted = [...curve].sort((a, b) => a.epsilon - b.epsilon);
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k]!.robustCount > sorted[k - 1]!.robustCount) {
      warn(
        warning(
          WARNING_CODES.nonMonotoneCurve,
          `robust accuracy rises from ${sorted[k - 1]!.robustAccuracy.toFixed(4)} at ε=${sorted[k - 1]!.epsilon} to ${sorted[k]!.robustAccuracy.toFixed(4)} at ε=${sorted[k]!.epsilon}: a larger ball can only contain more adversarial examples, so the attacks are not converging (more steps or restarts)`,
        ),
      );
    }
  }
  if (cleanCount === 0)
    warn(warning(WARNING_CODES.noCorrectPoints, `${model.name}: no input is classified correctly, so robust accuracy is 0 at every epsilon and says nothing`));

  const perClass: ClassEntry[] = [];
  for (let c = 0; c < model.numClasses; c++) {
    const members = all.filter((i) => d.labels[i] === c);
    if (members.length === 0) continue;
    const name = options.classNames?.[c];
    perClass.push({
      label: c,
      ...(name !== undefined ? { name } : {}),
      count: members.length,
      cleanAccuracy: members.filter((i) => cleanCorrect[i]).length / members.length,
      robust: epsilons.map((epsilon, ei) => ({ epsilon, robustAccuracy: members.filter((i) => robust[ei]![i]).length / members.length })),
    });
  }

  const finishedAt = new Date();
  return {
    version: REPORT_VERSION,
    kind: 'robustest-report',
    count: n,
    cleanAccuracy: n === 0 ? 0 : cleanCount / n,
    cleanCi: wilsonInterval(cleanCount, n, level),
    curve,
    attacks: entries,
    perClass,
    warnings,
    provenance: {
      library: { name: 'robustest', version: libraryVersion() },
      tfjs: tf.version_core,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      backend: tf.getBackend(),
      seed,
      ...(options.command !== undefined ? { command: options.command } : {}),
      model: {
        name: model.name,
        engine: model.engine,
        source: options.modelSource ?? model.name,
        sha256: await model.fingerprint(),
        bounds: [model.bounds[0], model.bounds[1]],
        inputShape: [...model.inputShape],
        layout: model.layout,
        numClasses: model.numClasses,
        ...(model.preprocessing ? { preprocessing: { mean: [...model.preprocessing.mean], std: [...model.preprocessing.std] } } : {}),
      },
      data: { source: d.source, sha256: await d.sha256(), count: n },
      attacks: attacks.map((a) => ({ name: a.name, norm: a.norm, config: { ...a.config } })),
      epsilons,
      batchSize,
      cascade,
      targeted: targets !== undefined,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: (performance.now() - t0) / 1000,
    },
  };
}
