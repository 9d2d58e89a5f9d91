/**
 * The evaluation protocol: a clean pass, then each attack at each epsilon on the points still robust (the
 * AutoAttack cascade), robust accuracy as the per-point worst case over the attacks of each norm, per class, with
 * Wilson confidence intervals, sanity-check warnings and full provenance, as a {@link Report}.
 *
 * Evaluation as data: the state of an evaluation is one plain object of per-point records
 * ({@link EvaluationState}: clean predictions, and per attack and epsilon each point's outcome, perturbation norms
 * and queries), a few bytes per point. {@link evaluate} is three steps that can be run (and their state saved,
 * resumed or merged) separately: {@link cleanPass}, {@link attackPhase}, and {@link buildReport}, a pure function
 * of the records and the configuration. Every random choice is seeded from the run's seed, the attack, the
 * epsilon and the sample's global index, never from the batch the sample shares, so a point's outcome does not
 * depend on the batch size, on the cascade, or on where a run is cut.
 *
 * Reference: F. Croce, M. Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690.
 * @module
 */
import * as tf from '../src/tf.js';
import { MODEL_WARNING_CODES, type DifferentiableModel, type Model } from '../src/model.js';
import type { Attack } from '../src/runner.js';
import type { DataSource, Dataset } from '../src/data/types.js';
import { NORMS, type Norm } from '../src/norms.js';
import { ConfigError, ShapeError, UnsupportedError, describe } from '../src/errors.js';
import { encodePointOutcomes } from '../src/compare.js';
import { checkEpsilons, checkInputs, checkLabels, checkModel, checkRadius, requireInt, type LabelsLike } from '../src/validate.js';
import { deriveSeed, randomTargets } from '../src/rng.js';
import { crossEntropy, LOSSES, type LossName } from '../src/losses.js';
import { sha256Tensors } from '../src/digest.js';
import { LIBRARY_VERSION, REPORT_VERSION } from '../src/version.js';
import { fastGradientsActive } from '../src/gradients/index.js';
import type { AttackEntry, ClassEntry, CurvePoint, MinimalNormStats, Provenance, Report, ReportWarning } from '../src/report.js';
import { wilsonInterval } from './accuracy.js';
import { OUTCOME, robustMask, type AttackCell, type EvaluationPlan, type EvaluationState } from './records.js';

export { OUTCOME, robustMask, type AttackCell, type EvaluationPlan, type EvaluationState } from './records.js';
import { perturbationNorms, summarize, summarizeNorms } from './perturbation.js';
import { checkDataRange, checkDefense, checkGradients, checkOutputs, warning, withSeverity, WARNING_CODES } from './checks.js';
import { evaluationChecks } from './pitfalls.js';
import { checkSurrogate, supplementaryRuns } from './supplementary.js';
import { encodePart, makeRunHeader, mergeStates, noCorrectPointsWarning, type RangeState, type RunConfig, type RunHeader } from './part-data.js';
import type { Checkpoint } from './checkpoint.js';
import { presetAttacks, PRESET_NAMES, type PresetName } from '../attacks/presets.js';

/** Labelled inputs held as a tensor (the caller keeps ownership). */
export interface TensorData {
  /** Inputs `[N, ...model.inputShape]` within the model's bounds. */
  readonly x: tf.Tensor;
  /** One label per input. */
  readonly labels: LabelsLike;
  /** Where the data came from, for the report. Default `tensor`. */
  readonly source?: string;
}

/**
 * What {@link evaluate} accepts: a loaded {@link Dataset}, tensors, or a {@link DataSource} read a chunk at a time
 * (bounded memory: one chunk of inputs on the host; the caller closes it).
 */
export type EvaluateData = Dataset | TensorData | DataSource;

/** Progress of an evaluation, passed to {@link EvaluateOptions.onProgress}. */
export interface EvaluateProgress {
  /** `clean` for the clean pass, else the attack's name. */
  readonly phase: string;
  /** The epsilon being attacked (fixed-epsilon attack phases). */
  readonly epsilon?: number;
  /** Units of work done so far (batches over all phases). */
  readonly done: number;
  /** Total units of work if every attack ran on every point (an upper bound in cascade mode). */
  readonly total: number;
}

/**
 * Radii to evaluate: one list for every norm, or a list per norm (`{ linf: [0.1, 0.3], l2: [1, 2] }`), in raw
 * input units of each norm. Every norm of the attacks needs its list.
 */
export type EpsilonSpec = readonly number[] | Readonly<Partial<Record<Norm, readonly number[]>>>;

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Attacks, run in this order. At least one, unless `preset` names them. */
  attacks?: readonly Attack[];
  /**
   * A fixed composition of attacks instead of `attacks` (see `attacks/presets.ts`): `standard` (AutoAttack's
   * standard version: APGD-CE, APGD-T, FAB-T, Square) or `fast` (APGD-CE, APGD-T), for each norm of `epsilons`.
   */
  preset?: PresetName;
  /** The norm of a preset's attacks when `epsilons` is a plain list. Default `linf`. */
  norm?: Norm;
  /** Radii per norm (see {@link EpsilonSpec}). At least one per norm of the attacks. */
  epsilons: EpsilonSpec;
  /** Seed of every random choice. Default `0`. */
  seed?: number;
  /** Inputs per attack batch. Default `100`. Per-point outcomes do not depend on it. */
  batchSize?: number;
  /**
   * Run each attack only on the points every earlier attack of its norm failed on at that epsilon (AutoAttack's
   * cascade): faster, same worst case. Then an attack's `robustAccuracy` is cumulative (after it and all earlier
   * ones of its norm). With `false`, each attack runs on every clean-correct point and its numbers are its own.
   * Default `true`.
   */
  cascade?: boolean;
  /** Targeted attacks towards random classes (seeded per sample) instead of untargeted. Default `false`. */
  targeted?: boolean;
  /** Confidence level of the intervals. Default `0.95`. */
  ciLevel?: number;
  /** Class names, for the per-class table. Default: the dataset's `classNames` (image folders have them), else none. */
  classNames?: readonly string[];
  /** Where the model came from (a path), for provenance. Default: the model's name. */
  modelSource?: string;
  /** The command line that started the run, for provenance. */
  command?: string;
  /** Called after each batch. */
  onProgress?: (event: EvaluateProgress) => void;
  /** Called for each warning as it is found (they are also in the report). */
  onWarning?: (w: ReportWarning) => void;
  /**
   * Also run the checks that cost extra attack runs (`metrics/supplementary.ts`): every iterative attack again with
   * twice the steps and at least 5 restarts on the points still robust (`restarts-matter`), and in a cascade on the
   * points a single step fooled before it (`iterative-weaker-than-single-step`). Default `false`. (The cheap
   * unbounded attack, PGD with ε the whole input range on up to 100 points for `unbounded-attack-fails`, always runs
   * on a differentiable model.)
   */
  thorough?: boolean;
  /**
   * A differentiable model taking the same inputs whose gradients the plan's gradient attacks also follow, judged on
   * the model (`transfer-beats-white-box`): e.g. the model without its last defence. Default: none.
   */
  surrogate?: DifferentiableModel;
  /**
   * Points evaluated together (clean pass, every attack, the supplementary runs) before the next ones: the unit of a
   * checkpoint and of memory for a {@link DataSource} (one chunk of inputs on the host). Per-point outcomes do not
   * depend on it; a smaller chunk leaves the cascade's later attacks smaller batches. Default: `batchSize` with a
   * `checkpoint` or a `DataSource`, else all the points at once.
   */
  chunkSize?: number;
  /**
   * A folder to checkpoint into (Node only): each finished chunk's per-point records are appended and fsynced to
   * `checkpoint.jsonl` there, after a header with the run's full configuration and the model's and data's SHA-256
   * (`metrics/checkpoint.ts`). Evaluating again with the same checkpoint resumes after its last complete chunk, and
   * the report equals an uninterrupted run's except for timings. A checkpoint of another configuration, model or data
   * is refused with a `RecordsError` naming the differences. Default: none.
   */
  checkpoint?: string;
  /** With `checkpoint`: start over, replacing a checkpoint there instead of resuming it. Default `false`. */
  restart?: boolean;
}

/** Callbacks of the evaluation steps. */
export interface EvaluationHooks {
  /** Called after each batch. */
  onProgress?: ((event: EvaluateProgress) => void) | undefined;
  /** Called for each new warning. */
  onWarning?: ((w: ReportWarning) => void) | undefined;
}

/** The samples `[offset, offset + count)` of the data, held on the host (or as the caller's tensor). */
interface Slice {
  /** Global index of the first sample. */
  readonly offset: number;
  /** Number of samples. */
  readonly count: number;
  /** Their labels (checked). */
  readonly labels: Int32Array;
  /** A batch of the given local indices as a float32 tensor (caller disposes). */
  batch(indices: readonly number[]): tf.Tensor;
}

/** The data of an evaluation, checked against the model: its size and identity, and its slices. */
interface HostData {
  readonly count: number;
  readonly source: string;
  readonly classNames: readonly string[] | undefined;
  readonly sha256: () => Promise<string>;
  /** Samples `[start, end)` (reads them for a data source). */
  slice(start: number, end: number): Promise<Slice>;
}

function isDataset(d: EvaluateData): d is Dataset {
  return (d as Dataset).images instanceof Float32Array;
}

function isDataSource(d: EvaluateData): d is DataSource {
  return typeof (d as DataSource).read === 'function' && !isDataset(d);
}

async function hostData(model: Model, data: EvaluateData): Promise<HostData> {
  const shape = model.inputShape;
  const per = shape.reduce((a, b) => a * b, 1);
  if (!data || typeof data !== 'object')
    throw new ConfigError(`evaluate: expected data to be a Dataset, a DataSource or { x: Tensor, labels }, got ${describe(data)}`);
  if (isDataset(data) || isDataSource(data)) {
    const dataPer = data.shape.reduce((a, b) => a * b, 1);
    // Same values in the same order: equal shapes, or shapes that differ only by unit axes ([28, 28] vs
    // [28, 28, 1]). A transposed layout ([32, 32, 3] vs [3, 32, 32]) would silently scramble the pixels.
    const squeeze = (sh: readonly number[]): string => sh.filter((v) => v !== 1).join(',');
    const whole = isDataset(data) ? data.images.length === data.count * per : Number.isInteger(data.count) && data.count >= 0;
    if (dataPer !== per || !whole || squeeze(data.shape) !== squeeze(shape)) {
      throw new ShapeError(
        `evaluate: expected data of shape [N, ${shape.join(', ')}] for model '${model.name}', got [${data.count}, ${data.shape.join(', ')}] (load the data with the model's inputShape and layout to convert it)`,
      );
    }
    const view = (offset: number, count: number, images: Float32Array, labels: Int32Array): Slice => ({
      offset,
      count,
      labels,
      batch: (idx) => {
        const buf = new Float32Array(idx.length * per);
        idx.forEach((i, k) => buf.set(images.subarray(i * per, (i + 1) * per), k * per));
        return tf.tensor(buf, [idx.length, ...shape], 'float32');
      },
    });
    const common = { count: data.count, source: data.source, classNames: data.classNames, sha256: async () => data.sha256 };
    if (isDataset(data)) {
      const labels = await checkLabels(data.labels, data.count, model.numClasses, 'evaluate labels');
      return {
        ...common,
        slice: async (start, end) => view(start, end - start, data.images.subarray(start * per, end * per), labels.subarray(start, end)),
      };
    }
    const source = data;
    return {
      ...common,
      slice: async (start, end) => {
        const batch = await source.read(start, end);
        if (!(batch?.images instanceof Float32Array) || batch.images.length !== (end - start) * per) {
          throw new ShapeError(
            `evaluate: expected ${end - start} inputs of ${per} values from ${source.source} [${start}, ${end}), got ${describe(batch?.images)}`,
          );
        }
        const labels = await checkLabels(batch.labels, end - start, model.numClasses, `evaluate labels [${start}, ${end})`);
        return view(start, end - start, batch.images, labels);
      },
    };
  }
  const x = data.x;
  if (!(x instanceof tf.Tensor)) throw new ConfigError(`evaluate: expected data to be a Dataset, a DataSource or { x: Tensor, labels }, got ${describe(data)}`);
  if (x.rank !== shape.length + 1 || shape.some((d, i) => x.shape[i + 1] !== d)) {
    throw new ShapeError(`evaluate: expected inputs of shape [N, ${shape.join(', ')}] for model '${model.name}', got [${x.shape.join(', ')}]`);
  }
  const count = x.shape[0]!;
  const labels = await checkLabels(data.labels, count, model.numClasses, 'evaluate labels');
  return {
    count,
    source: data.source ?? 'tensor',
    classNames: undefined,
    sha256: async () => sha256Tensors([x]),
    slice: async (start, end) => ({
      offset: start,
      count: end - start,
      labels: labels.subarray(start, end),
      batch: (idx) =>
        tf.tidy(() =>
          tf.cast(
            tf.gather(
              x,
              tf.tensor1d(
                Array.from(idx, (i) => i + start),
                'int32',
              ),
            ),
            'float32',
          ),
        ),
    }),
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function resolveEpsilons(spec: EpsilonSpec, norms: readonly Norm[]): Partial<Record<Norm, readonly number[]>> {
  if (Array.isArray(spec)) {
    const list = checkEpsilons(spec as readonly number[], 'evaluate');
    return Object.fromEntries(norms.map((n) => [n, list]));
  }
  if (!spec || typeof spec !== 'object')
    throw new ConfigError(`evaluate: expected epsilons to be a list or { linf?: [...], l2?: [...] }, got ${describe(spec)}`);
  const bad = Object.keys(spec).find((k) => !(NORMS as readonly string[]).includes(k));
  if (bad !== undefined) throw new ConfigError(`evaluate: expected epsilons keyed by ${NORMS.join(' or ')}, got the key ${describe(bad)}`);
  const out: Partial<Record<Norm, readonly number[]>> = {};
  for (const n of norms) {
    const list = (spec as Partial<Record<Norm, readonly number[]>>)[n];
    if (list === undefined) throw new ConfigError(`evaluate: expected epsilons for the norm ${n} (an attack uses it), got none`);
    out[n] = checkEpsilons(list, `evaluate (${n})`);
  }
  return out;
}

/** The attacks of the options: the list, or the preset's for each norm of the epsilons. */
function resolveAttacks(model: Model, options: EvaluateOptions): readonly Attack[] {
  if (!options || typeof options !== 'object') throw new ConfigError(`evaluate: expected options with attacks and epsilons, got ${describe(options)}`);
  if (options.preset !== undefined) {
    if (options.attacks !== undefined) throw new ConfigError(`evaluate: expected either attacks or a preset, got both (preset ${describe(options.preset)})`);
    if (!(PRESET_NAMES as readonly string[]).includes(options.preset)) {
      throw new ConfigError(`evaluate: expected preset to be one of ${PRESET_NAMES.join(', ')}, got ${describe(options.preset)}`);
    }
    const spec = options.epsilons;
    const norms: Norm[] = Array.isArray(spec) ? [options.norm ?? 'linf'] : NORMS.filter((n) => spec && typeof spec === 'object' && n in spec);
    if (!norms.every((n) => NORMS.includes(n)))
      throw new ConfigError(`evaluate: expected norm to be one of ${NORMS.join(', ')}, got ${describe(options.norm)}`);
    return norms.flatMap((n) => presetAttacks(options.preset!, n, model.numClasses));
  }
  if (!Array.isArray(options.attacks) || options.attacks.length === 0) {
    throw new ConfigError(`evaluate: expected a non-empty list of attacks (or a preset), got ${describe(options.attacks)}`);
  }
  const bad = options.attacks.findIndex((a: unknown) => !a || typeof a !== 'object' || typeof (a as Attack).run !== 'function');
  if (bad >= 0)
    throw new ConfigError(`evaluate: expected attacks built by an attack factory (fgsm(), pgd(), ...), got ${describe(options.attacks[bad])} at index ${bad}`);
  return options.attacks;
}

/** The most bytes of float32 inputs one evaluation batch holds (256 MiB); `batchSize` shrinks to fit. */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** The optional flags, lists and callbacks of {@link EvaluateOptions} have the types they claim. */
function checkOptionTypes(options: EvaluateOptions): void {
  for (const key of ['cascade', 'targeted', 'thorough'] as const) {
    const v: unknown = options[key];
    if (v !== undefined && typeof v !== 'boolean') throw new ConfigError(`evaluate: expected ${key} to be true or false, got ${describe(v)}`);
  }
  for (const key of ['onProgress', 'onWarning'] as const) {
    const v: unknown = options[key];
    if (v !== undefined && typeof v !== 'function') throw new ConfigError(`evaluate: expected ${key} to be a function, got ${describe(v)}`);
  }
  for (const key of ['modelSource', 'command'] as const) {
    const v: unknown = options[key];
    if (v !== undefined && typeof v !== 'string') throw new ConfigError(`evaluate: expected ${key} to be a string, got ${describe(v)}`);
  }
  const names: unknown = options.classNames;
  if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) {
    throw new ConfigError(`evaluate: expected classNames to be an array of strings, got ${describe(names)}`);
  }
}

/**
 * Checks and resolves the options of an evaluation (defaults filled in).
 *
 * @param model - the model to evaluate (its kind decides which attacks may run).
 * @param options - see {@link EvaluateOptions}.
 * @returns the plan.
 * @throws {@link ConfigError} for empty attacks, missing or bad epsilons, a bad seed, batch size or level;
 *   {@link UnsupportedError} for a gradient attack on a query-only model.
 * @example
 * ```ts
 * const plan = planEvaluation(model, { attacks: [fgsm(), fgm()], epsilons: { linf: [0.1, 0.3], l2: [1, 2] } });
 * plan.norms; // ['linf', 'l2']
 * ```
 */
export function planEvaluation(model: Model, options: EvaluateOptions): EvaluationPlan {
  checkModel(model, 'evaluate');
  const attacks = resolveAttacks(model, options);
  const norms = [...new Set(attacks.map((a) => a.norm))];
  const epsilons = resolveEpsilons(options.epsilons, norms);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  for (const norm of norms) {
    if (attacks.some((a) => a.norm === norm && a.search === 'fixed-epsilon')) checkRadius(epsilons[norm]!, norm, model.bounds, size, 'evaluate');
  }
  checkOptionTypes(options);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ConfigError(`evaluate: expected seed to be a finite number, got ${describe(seed)}`);
  // Batches are split by bytes as well as by count: a model declaring huge inputs gets batches of fewer samples
  // rather than a multi-GB allocation (per-point outcomes do not depend on the batch size).
  const batchSize = Math.min(requireInt(options.batchSize ?? 100, 1, 'evaluate', 'batchSize'), Math.max(1, Math.floor(MAX_BATCH_BYTES / (4 * size))));
  const ciLevel = options.ciLevel ?? 0.95;
  if (typeof ciLevel !== 'number' || !(ciLevel > 0 && ciLevel < 1)) throw new ConfigError(`evaluate: expected ciLevel in (0, 1), got ${describe(ciLevel)}`);
  for (const a of attacks) {
    const loss = a.config['loss'];
    if (typeof loss !== 'string' || !Object.prototype.hasOwnProperty.call(LOSSES, loss)) continue;
    const targeted = (options.targeted ?? false) || a.config['targeted'] === true;
    const min = targeted ? LOSSES[loss as LossName].minClassesTargeted : LOSSES[loss as LossName].minClasses;
    if (model.numClasses < min) {
      throw new ConfigError(
        `evaluate: expected at least ${min} classes for the attack '${a.name}' (its${targeted ? ' targeted' : ''} loss '${loss}' needs them), got ${model.numClasses} in model '${model.name}'`,
      );
    }
  }
  if (options.surrogate !== undefined) checkSurrogate(model, options.surrogate);
  if (model.kind === 'query') {
    const needs = attacks.find((a) => a.requires === 'gradients');
    if (needs) {
      throw new UnsupportedError(`evaluate: expected only black-box attacks for the query-only model '${model.name}', got the gradient attack '${needs.name}'`);
    }
  }
  return {
    attacks,
    norms,
    epsilons,
    seed,
    batchSize,
    cascade: options.cascade ?? true,
    ...(options.preset !== undefined ? { preset: options.preset } : {}),
    targeted: options.targeted ?? false,
    ciLevel,
    ...(options.classNames !== undefined ? { classNames: options.classNames } : {}),
  };
}

function addWarning(state: { warnings: ReportWarning[] }, hooks: EvaluationHooks, w: ReportWarning): void {
  if (state.warnings.some((x) => x.code === w.code && x.message === w.message)) return;
  state.warnings.push(w);
  hooks.onWarning?.(w);
}

/** Units of work of `n` points (batches over all phases, as if every attack ran on every point). */
function totalUnits(plan: EvaluationPlan, n: number): number {
  const batches = Math.ceil(n / plan.batchSize);
  const perAttack = plan.attacks.reduce((a, at) => a + (at.search === 'minimum-norm' ? 1 : plan.epsilons[at.norm]!.length), 0);
  return batches * (1 + perAttack);
}

/** Progress over a whole evaluation (every slice): units done and in all. */
interface Counter {
  done: number;
  readonly total: number;
}

function tick(counter: Counter | undefined, hooks: EvaluationHooks, phase: string, epsilon?: number): void {
  if (!counter) return;
  counter.done++;
  hooks.onProgress?.({ phase, ...(epsilon !== undefined ? { epsilon } : {}), done: counter.done, total: counter.total });
}

/**
 * The clean pass: checks every batch (shape, NaN, bounds), records the model's clean predictions, and looks for
 * suspicious set-ups on the first batch (probability or log-probability outputs, a randomised model, all-zero
 * input gradients). Also draws the targets of a targeted plan (per sample, from the seed and its index).
 *
 * @param model - the model.
 * @param data - the data.
 * @param plan - from {@link planEvaluation}.
 * @param hooks - progress and warning callbacks.
 * @returns the evaluation state, with no attack cells yet.
 * @throws as {@link evaluate}.
 * @example
 * ```ts
 * const plan = planEvaluation(model, { attacks: [pgd()], epsilons: [0.1] });
 * const state = await cleanPass(model, data, plan);
 * await attackPhase(model, data, state);
 * const report = buildReport(state, { model: await modelProvenance(model) });
 * ```
 */
export async function cleanPass(model: Model, data: EvaluateData, plan: EvaluationPlan, hooks: EvaluationHooks = {}): Promise<EvaluationState> {
  const d = await hostData(model, data);
  // No samples: no accuracy is defined, and a report of zeros would read as a measured 0%.
  if (d.count === 0) throw new ShapeError(`evaluate: expected at least one sample, got 0 (data '${d.source}')`);
  const s = await d.slice(0, d.count);
  const state = await cleanSlice(model, d, s, plan, hooks, { done: 0, total: totalUnits(plan, d.count) });
  if (!state.predictions.some((p, i) => p === state.labels[i])) addWarning(state, hooks, noCorrectPointsWarning(model.name));
  return state;
}

/** The clean pass on one slice; the first-batch checks run in the slice that starts at 0 (on samples `[0, batchSize)`). */
async function cleanSlice(model: Model, d: HostData, s: Slice, plan: EvaluationPlan, hooks: EvaluationHooks, counter?: Counter): Promise<RangeState> {
  const startedAt = new Date().toISOString();
  const classNames = plan.classNames ?? d.classNames;
  const resolvedPlan: EvaluationPlan = classNames !== undefined ? { ...plan, classNames } : plan;
  const n = s.count;
  const state: RangeState = {
    plan: resolvedPlan,
    count: n,
    offset: s.offset,
    total: d.count,
    labels: s.labels,
    predictions: new Int32Array(n),
    cells: [],
    warnings: [],
    data: { source: d.source, sha256: await d.sha256() },
    startedAt,
  };
  for (const m of model.warnings) {
    addWarning(state, hooks, warning(m.code === MODEL_WARNING_CODES.softmaxRemoved ? WARNING_CODES.softmaxHead : m.code, m.message));
  }
  for (const w of checkDefense(model)) addWarning(state, hooks, w);
  const bs = resolvedPlan.batchSize;
  const firstBatch = Math.min(bs, d.count);
  const all = Array.from({ length: n }, (_, i) => i);
  for (const [bi, idx] of chunks(all, bs).entries()) {
    const x = s.batch(idx);
    try {
      await checkInputs(model, x, `evaluate batch ${Math.floor(s.offset / bs) + bi}`);
      const logits = await model.logits(x);
      try {
        const pred = tf.tidy(() => tf.argMax(logits, 1));
        state.predictions.set(await pred.data(), idx[0]!);
        pred.dispose();
        if (s.offset === 0 && bi === 0 && idx.length === firstBatch) await firstBatchChecks(model, x, logits, s.labels.subarray(0, idx.length), state, hooks);
      } finally {
        logits.dispose();
      }
    } finally {
      x.dispose();
    }
    tick(counter, hooks, 'clean');
  }
  if (s.offset === 0 && n < firstBatch) {
    // A slice shorter than a batch: the checks still see the run's first batch, so that they do not depend on the slicing.
    const first = await d.slice(0, firstBatch);
    const x = first.batch(Array.from({ length: firstBatch }, (_, i) => i));
    try {
      const logits = await model.logits(x);
      try {
        await firstBatchChecks(model, x, logits, first.labels, state, hooks);
      } finally {
        logits.dispose();
      }
    } finally {
      x.dispose();
    }
  }
  if (resolvedPlan.targeted) {
    const indices = Array.from({ length: n }, (_, i) => s.offset + i);
    return { ...state, targets: randomTargets(s.labels, model.numClasses, resolvedPlan.seed, indices) };
  }
  return state;
}

async function firstBatchChecks(
  model: Model,
  x: tf.Tensor,
  logits: tf.Tensor2D,
  labels: Int32Array,
  state: EvaluationState,
  hooks: EvaluationHooks,
): Promise<void> {
  for (const w of await checkOutputs(logits, { name: model.name })) addWarning(state, hooks, w);
  for (const w of await checkDataRange(x, model.bounds, { name: model.name })) addWarning(state, hooks, w);
  const again = await model.logits(x);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(logits, again))));
  const delta = (await diff.data())[0]!;
  tf.dispose([again, diff]);
  // A defense whose randomness EOT averages over is expected to differ between passes (checkDefense covers the rest).
  if (delta > 1e-5 && !(model.defense?.random && model.defense.adaptive)) {
    addWarning(
      state,
      hooks,
      warning(
        WARNING_CODES.randomizedModel,
        `${model.name}: two forward passes on the same inputs differ (max |Δlogit| = ${delta.toExponential(2)}); a randomised model needs attacks that average gradients over its randomness (EOT, Athalye et al. 2018), as defend(model, transforms, { eotSamples }) from robustest/defenses does for input transforms, and one robust accuracy number is not well defined`,
      ),
    );
  }
  if (model.kind === 'differentiable') {
    const y = tf.tensor1d(labels, 'int32');
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(y, model.numClasses));
    try {
      for (const w of await checkGradients(grad, { name: model.name })) addWarning(state, hooks, w);
    } finally {
      tf.dispose([y, value, grad]);
    }
  }
}

function emptyCell(attack: number, norm: Norm, epsilon: number, n: number, opts: { queries: boolean; minimal: boolean }): AttackCell {
  return {
    attack,
    norm,
    epsilon,
    outcome: new Uint8Array(n),
    l0: new Float32Array(n),
    l1: new Float32Array(n),
    l2: new Float32Array(n),
    linf: new Float32Array(n),
    ...(opts.queries ? { queries: new Int32Array(n) } : {}),
    ...(opts.minimal ? { minimalNorm: new Float32Array(n).fill(NaN) } : {}),
    ...(opts.minimal ? {} : { lateLossRise: new Float32Array(n).fill(NaN) }),
    seconds: 0,
  };
}

/**
 * The attack phase: runs every attack of the plan on the points the cascade leaves (or on every clean-correct
 * point without the cascade) and appends one {@link AttackCell} per attack and epsilon to `state.cells`. A
 * fixed-epsilon attack runs once per epsilon; a minimum-norm attack once for all epsilons of its norm, on the
 * points still robust at any of them.
 *
 * @param model - the model.
 * @param data - the same data as the clean pass.
 * @param state - from {@link cleanPass}; its `cells` are appended to.
 * @param hooks - progress and warning callbacks.
 * @throws as {@link evaluate}.
 * @example
 * ```ts
 * const state = await cleanPass(model, data, planEvaluation(model, { attacks: [fgsm(), pgd()], epsilons: [0.1] }));
 * await attackPhase(model, data, state);
 * console.log(state.cells.map((c) => c.outcome.filter((o) => o === OUTCOME.fooled).length));
 * ```
 */
export async function attackPhase(model: Model, data: EvaluateData, state: EvaluationState, hooks: EvaluationHooks = {}): Promise<void> {
  const d = await hostData(model, data);
  const offset = state.offset ?? 0;
  const total = state.total ?? state.count;
  if (d.count !== total) throw new ShapeError(`evaluate: expected the clean pass's ${total} samples, got ${d.count}`);
  const s = await d.slice(offset, offset + state.count);
  const batches = Math.ceil(state.count / state.plan.batchSize);
  await attackSlice(model, s, state, hooks, { done: batches, total: totalUnits(state.plan, state.count) });
}

/** The attack phase on one slice (`state` holds its records). */
async function attackSlice(model: Model, s: Slice, state: EvaluationState, hooks: EvaluationHooks, counter?: Counter): Promise<void> {
  const { plan } = state;
  const n = state.count;
  const batches = Math.ceil(n / plan.batchSize);
  const progress = (phase: string, epsilon?: number): void => tick(counter, hooks, phase, epsilon);
  const d = s;
  const cleanCorrect = Array.from(state.predictions, (p, i) => p === state.labels[i]);
  for (const [ai, attack] of plan.attacks.entries()) {
    const epsilons = plan.epsilons[attack.norm]!;
    const opts = { queries: attack.kind === 'query', minimal: attack.search === 'minimum-norm' };
    if (attack.search === 'minimum-norm') {
      const t1 = performance.now();
      // Per epsilon, the points this attack is to run on; the attack runs once on their union.
      const eligible = epsilons.map((eps) => (plan.cascade ? robustMask(state, attack.norm, eps) : cleanCorrect));
      const pool = Array.from({ length: n }, (_, i) => i).filter((i) => eligible.some((e) => e[i]));
      const cells = epsilons.map((eps) => emptyCell(ai, attack.norm, eps, n, opts));
      for (const idx of chunks(pool, plan.batchSize)) {
        await runBatch(model, d, state, attack, idx, epsilons, deriveSeed(plan.seed, ai), (ei, i, r) => {
          const cell = cells[ei]!;
          cell.minimalNorm![i] = r.minimalNorm;
          if (!eligible[ei]![i]) return;
          record(cell, i, r);
        });
        progress(attack.name);
      }
      for (let k = Math.ceil(pool.length / plan.batchSize); k < batches; k++) progress(attack.name);
      const seconds = (performance.now() - t1) / 1000;
      for (const cell of cells) {
        cell.seconds = seconds / cells.length;
        state.cells.push(cell);
      }
      continue;
    }
    for (const [ei, epsilon] of epsilons.entries()) {
      const t1 = performance.now();
      const robust = plan.cascade ? robustMask(state, attack.norm, epsilon) : cleanCorrect;
      const pool = Array.from({ length: n }, (_, i) => i).filter((i) => robust[i]);
      const cell = emptyCell(ai, attack.norm, epsilon, n, opts);
      for (const idx of chunks(pool, plan.batchSize)) {
        await runBatch(model, d, state, attack, idx, [epsilon], deriveSeed(plan.seed, ai, ei), (_, i, r) => record(cell, i, r));
        progress(attack.name, epsilon);
      }
      // Batches the cascade skipped still count as done for progress.
      for (let k = Math.ceil(pool.length / plan.batchSize); k < batches; k++) progress(attack.name, epsilon);
      cell.seconds = (performance.now() - t1) / 1000;
      state.cells.push(cell);
    }
  }
}

/** One point's result at one epsilon, as {@link runBatch} reports it. */
interface PointResult {
  readonly success: boolean;
  readonly l0: number;
  readonly l1: number;
  readonly l2: number;
  readonly linf: number;
  readonly queries: number;
  readonly minimalNorm: number;
  readonly lateLossRise: number;
}

function record(cell: AttackCell, i: number, r: PointResult): void {
  cell.outcome[i] = r.success ? OUTCOME.fooled : OUTCOME.survived;
  if (cell.queries) cell.queries[i] = r.queries;
  if (cell.lateLossRise) cell.lateLossRise[i] = r.lateLossRise;
  if (!r.success) return;
  cell.l0[i] = r.l0;
  cell.l1[i] = r.l1;
  cell.l2[i] = r.l2;
  cell.linf[i] = r.linf;
}

/** Runs `attack` on the samples `idx` (global indices) at `epsilons` and reports each point's result. */
async function runBatch(
  model: Model,
  d: Slice,
  state: EvaluationState,
  attack: Attack,
  idx: readonly number[],
  epsilons: readonly number[],
  seed: number,
  report: (epsilonIndex: number, index: number, r: PointResult) => void,
): Promise<void> {
  const x = d.batch(idx);
  const offset = state.offset ?? 0;
  try {
    const result = await attack.run(
      model,
      x,
      Array.from(idx, (i) => state.labels[i]!),
      {
        epsilons,
        seed,
        indices: idx.map((i) => i + offset),
        ...(state.targets ? { targets: Array.from(idx, (i) => state.targets![i]!) } : {}),
      },
    );
    try {
      for (const [ei, r] of result.results.entries()) {
        const norms = await perturbationNorms(x, r.adversarial);
        idx.forEach((i, k) =>
          report(ei, i, {
            success: r.success[k]!,
            l0: norms.l0[k]!,
            l1: norms.l1[k]!,
            l2: norms.l2[k]!,
            linf: norms.linf[k]!,
            queries: r.queries?.[k] ?? 0,
            minimalNorm: result.minimalNorms?.[k] ?? NaN,
            lateLossRise: r.lateLossRise?.[k] ?? NaN,
          }),
        );
      }
    } finally {
      result.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** Quantile `q` of sorted values (linear interpolation), or `null` when it falls on an infinite value. */
function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
  return a + (b - a) * (pos - lo);
}

function minimalNormStats(cell: AttackCell): MinimalNormStats {
  const values: number[] = [];
  for (let i = 0; i < cell.outcome.length; i++) if (cell.outcome[i] !== OUTCOME.notAttacked) values.push(cell.minimalNorm![i]!);
  values.sort((a, b) => a - b);
  const fooled = values.filter((v) => Number.isFinite(v)).length;
  return {
    attacked: values.length,
    fooled,
    neverFooledRate: values.length === 0 ? 0 : (values.length - fooled) / values.length,
    q1: quantile(values, 0.25),
    median: quantile(values, 0.5),
    q3: quantile(values, 0.75),
  };
}

/** What {@link buildReport} needs besides the records: the model's description and the run's context. */
export interface ReportContext {
  /** The model, as the report's provenance describes it ({@link modelProvenance}). */
  readonly model: Provenance['model'];
  /** The command line, when run from the CLI. */
  readonly command?: string;
  /** The tfjs backend. Default: the current one. */
  readonly backend?: string;
  /** Whether robustest's fast gradient kernels were active. Default: whether they are now. */
  readonly fastGradients?: boolean;
  /** When the evaluation finished (ISO 8601). Default: now. */
  readonly finishedAt?: string;
  /** Total wall-clock seconds. Default: the time since `state.startedAt`. */
  readonly seconds?: number;
}

/**
 * The model part of a report's provenance.
 *
 * @param model - the model.
 * @param source - where it came from (a path). Default: its name.
 * @example
 * ```ts
 * const report = buildReport(state, { model: await modelProvenance(model, 'models/cnn.onnx') });
 * ```
 */
export async function modelProvenance(model: Model, source?: string): Promise<Provenance['model']> {
  return {
    name: model.name,
    engine: model.engine,
    source: source ?? model.name,
    sha256: await model.fingerprint(),
    bounds: [model.bounds[0], model.bounds[1]],
    inputShape: [...model.inputShape],
    layout: model.layout,
    numClasses: model.numClasses,
    ...(model.preprocessing ? { preprocessing: { mean: [...model.preprocessing.mean], std: [...model.preprocessing.std] } } : {}),
    ...(model.defense ? { defense: { ...model.defense, transforms: [...model.defense.transforms] } } : {}),
  };
}

/**
 * Builds the report from the records: a pure function of the state and its context (no tensors, no model
 * calls). Robust accuracy at each norm and epsilon is the per-point worst case over that norm's attacks.
 *
 * @param state - after {@link cleanPass} and {@link attackPhase}.
 * @param context - the model's provenance and the run's context.
 * @returns the report; it always passes `validateReport`.
 * @example
 * ```ts
 * const report = buildReport(state, { model: await modelProvenance(model) });
 * ```
 */
export function buildReport(state: EvaluationState, context: ReportContext): Report {
  const { plan, count: n } = state;
  const level = plan.ciLevel;
  const frac = (k: number, of: number): number => (of === 0 ? 0 : k / of);
  const cleanCorrect = Array.from(state.predictions, (p, i) => p === state.labels[i]);
  const cleanCount = cleanCorrect.filter(Boolean).length;
  const warnings: ReportWarning[] = state.warnings.map(withSeverity);
  const warn = (w: ReportWarning): void => {
    if (!warnings.some((x) => x.code === w.code && x.message === w.message)) warnings.push(w);
  };

  const entries: AttackEntry[] = state.cells.map((cell, ci) => {
    const attack = plan.attacks[cell.attack]!;
    let attacked = 0;
    let succeeded = 0;
    const fooled: boolean[] = [];
    const attackedMask: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const o = cell.outcome[i]!;
      attackedMask.push(o !== OUTCOME.notAttacked);
      fooled.push(o === OUTCOME.fooled);
      if (o !== OUTCOME.notAttacked) attacked++;
      if (o === OUTCOME.fooled) succeeded++;
    }
    const robustCount = plan.cascade ? robustMask(state, cell.norm, cell.epsilon, ci + 1).filter(Boolean).length : cleanCount - succeeded;
    const stats = summarizeNorms({ l0: cell.l0, l1: cell.l1, l2: cell.l2, linf: cell.linf }, fooled);
    return {
      name: attack.name,
      norm: cell.norm,
      kind: attack.kind,
      epsilon: cell.epsilon,
      robustAccuracy: frac(robustCount, n),
      ci: wilsonInterval(robustCount, n, level),
      successRate: frac(succeeded, attacked),
      attacked,
      succeeded,
      meanL2: stats.l2.mean,
      meanLinf: stats.linf.mean,
      norms: stats,
      seconds: cell.seconds,
      ...(cell.minimalNorm ? { minimalNorms: minimalNormStats(cell) } : {}),
      ...(cell.queries
        ? {
            queries: summarize(Array.from(cell.queries).filter((_, i) => attackedMask[i])),
            queriesPerSuccess: summarize(Array.from(cell.queries).filter((_, i) => fooled[i])),
          }
        : {}),
    };
  });

  const points = plan.norms.flatMap((norm) => plan.epsilons[norm]!.map((epsilon) => ({ norm, epsilon, robust: robustMask(state, norm, epsilon) })));
  const curve: CurvePoint[] = points.map(({ norm, epsilon, robust }) => {
    const count = robust.filter(Boolean).length;
    return { norm, epsilon, robustAccuracy: frac(count, n), robustCount: count, ci: wilsonInterval(count, n, level) };
  });
  for (const norm of plan.norms) {
    const sorted = curve.filter((p) => p.norm === norm).sort((a, b) => a.epsilon - b.epsilon);
    for (let k = 1; k < sorted.length; k++) {
      const [a, b] = [sorted[k - 1]!, sorted[k]!];
      if (b.robustCount > a.robustCount) {
        warn(
          warning(
            WARNING_CODES.nonMonotoneCurve,
            `robust accuracy (${norm}) rises from ${a.robustAccuracy.toFixed(4)} at ε=${a.epsilon} to ${b.robustAccuracy.toFixed(4)} at ε=${b.epsilon}: a larger ball can only contain more adversarial examples, so the attacks are not converging (more steps or restarts)`,
          ),
        );
      }
    }
  }

  for (const w of evaluationChecks(state)) warn(w);

  const perClass: ClassEntry[] = [];
  for (let c = 0; c < context.model.numClasses; c++) {
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (state.labels[i] === c) members.push(i);
    if (members.length === 0) continue;
    const name = plan.classNames?.[c];
    perClass.push({
      label: c,
      ...(name !== undefined ? { name } : {}),
      count: members.length,
      cleanAccuracy: members.filter((i) => cleanCorrect[i]).length / members.length,
      robust: points.map(({ norm, epsilon, robust }) => ({ norm, epsilon, robustAccuracy: members.filter((i) => robust[i]).length / members.length })),
    });
  }

  const allEpsilons = [...new Set(plan.norms.flatMap((norm) => plan.epsilons[norm]!))];
  const finishedAt = context.finishedAt ?? new Date().toISOString();
  return {
    version: REPORT_VERSION,
    kind: 'robustest-report',
    count: n,
    cleanAccuracy: frac(cleanCount, n),
    cleanCi: wilsonInterval(cleanCount, n, level),
    curve,
    attacks: entries,
    perClass,
    warnings,
    pointOutcomes: encodePointOutcomes({ clean: cleanCorrect, robust: points.map(({ norm, epsilon, robust }) => ({ norm, epsilon, robust })) }),
    provenance: {
      library: { name: 'robustest', version: LIBRARY_VERSION },
      tfjs: tf.version_core,
      node: typeof process === 'undefined' ? 'none (browser)' : process.version,
      platform: typeof process === 'undefined' ? 'browser' : `${process.platform}-${process.arch}`,
      backend: context.backend ?? tf.getBackend(),
      seed: plan.seed,
      ...(context.command !== undefined ? { command: context.command } : {}),
      model: context.model,
      data: { source: state.data.source, sha256: state.data.sha256, count: n },
      attacks: plan.attacks.map((a) => ({ name: a.name, norm: a.norm, kind: a.kind, config: { ...a.config } })),
      epsilons: allEpsilons,
      epsilonsByNorm: Object.fromEntries(plan.norms.map((norm) => [norm, [...plan.epsilons[norm]!]])),
      fastGradients: context.fastGradients ?? fastGradientsActive(context.backend),
      batchSize: plan.batchSize,
      cascade: plan.cascade,
      ...(plan.preset !== undefined ? { preset: plan.preset } : {}),
      targeted: plan.targeted,
      startedAt: state.startedAt,
      finishedAt,
      seconds: context.seconds ?? Math.max(0, (Date.parse(finishedAt) - Date.parse(state.startedAt)) / 1000),
    },
  };
}

/**
 * Evaluates a model's robustness: clean accuracy, then every attack at every epsilon, and the per-point worst
 * case over the attacks of each norm (one robustness curve per norm). The three steps ({@link cleanPass},
 * {@link attackPhase}, {@link buildReport}) are exported for callers that save, resume or merge the records.
 *
 * The clean pass checks every batch (shape, NaN, bounds) and looks for suspicious set-ups: probability or
 * log-probability outputs, a randomised model (two forward passes differ), all-zero input gradients (gradient
 * masking), a robustness curve that rises with epsilon (a weak attack). Findings become report warnings.
 *
 * @param model - the model; gradient attacks need a {@link DifferentiableModel}.
 * @param data - a {@link Dataset} from the loaders, or `{ x, labels }` tensors.
 * @param options - attacks, epsilons (a list, or one per norm), seed (default 0), batchSize (default 100), cascade
 *   (default true), targeted (default false), classNames (default: the dataset's).
 * @returns the report (plain JSON; see `schema/report.schema.json`); it always passes `validateReport`, empty
 *   a data set with no clean-correct point included (robust accuracy 0, with a `no-correct-points` warning).
 * @throws {@link ConfigError} for empty attacks or epsilons or a bad batch size; {@link ShapeError},
 *   {@link BoundsError}, {@link NonFiniteError}, {@link LabelError} for bad data; {@link UnsupportedError} for a
 *   gradient attack on a query-only model.
 * @example
 * ```ts
 * const report = await evaluate(model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], seed: 0 });
 * console.log(report.curve.map((p) => `${p.norm} ${p.epsilon}: ${p.robustAccuracy}`));
 * ```
 */
export async function evaluate(model: Model, data: EvaluateData, options: EvaluateOptions): Promise<Report> {
  const t0 = performance.now();
  const run = await evaluateRanges(model, data, options);
  const state = mergeStates(run.header, run.states);
  const report = buildReport(state, {
    model: run.header.model,
    ...(options.command !== undefined ? { command: options.command } : {}),
    backend: run.header.environment.backend,
    fastGradients: state.fastGradients,
    seconds: (performance.now() - t0) / 1000,
  });
  for (const w of report.warnings.slice(run.warned)) options.onWarning?.(w);
  return report;
}

/**
 * The identity of the run `options` describe on `model` and `data` (see {@link RunHeader}).
 *
 * @param model - the model.
 * @param data - the data.
 * @param options - the evaluation's options.
 * @returns the run's header, with its `runId`.
 * @throws as {@link evaluate}.
 * @example
 * ```ts
 * const header = await runHeader(model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3] });
 * console.log(header.runId);
 * ```
 */
export async function runHeader(model: Model, data: EvaluateData, options: EvaluateOptions): Promise<RunHeader> {
  const plan = planEvaluation(model, options);
  return headerOf(model, await hostData(model, data), plan, options);
}

async function headerOf(model: Model, d: HostData, plan: EvaluationPlan, options: EvaluateOptions): Promise<RunHeader> {
  if (options.surrogate !== undefined) checkSurrogate(model, options.surrogate);
  const classNames = plan.classNames ?? d.classNames;
  const config: RunConfig = {
    attacks: plan.attacks.map((a) => ({ name: a.name, norm: a.norm, kind: a.kind, search: a.search, requires: a.requires, config: { ...a.config } })),
    norms: [...plan.norms],
    epsilons: Object.fromEntries(plan.norms.map((n) => [n, [...plan.epsilons[n]!]])),
    seed: plan.seed,
    batchSize: plan.batchSize,
    cascade: plan.cascade,
    targeted: plan.targeted,
    ...(plan.preset !== undefined ? { preset: plan.preset } : {}),
    ciLevel: plan.ciLevel,
    ...(classNames !== undefined ? { classNames: [...classNames] } : {}),
    thorough: options.thorough ?? false,
    ...(options.surrogate ? { surrogate: { name: options.surrogate.name, sha256: await options.surrogate.fingerprint() } } : {}),
  };
  const backend = tf.getBackend();
  return makeRunHeader({
    config,
    model: await modelProvenance(model, options.modelSource),
    data: { source: d.source, sha256: await d.sha256(), count: d.count },
    environment: { library: LIBRARY_VERSION, backend },
    ...(options.command !== undefined ? { command: options.command } : {}),
  });
}

/** What {@link evaluateRanges} returns. */
export interface RangesResult {
  /** The run's identity. */
  readonly header: RunHeader;
  /** The records, one per chunk (resumed ones first). */
  readonly states: readonly RangeState[];
  /** How many warnings were passed to `onWarning`. */
  readonly warned: number;
}

/**
 * Evaluates the points `[range.start, range.end)` (default: all) chunk by chunk, resuming from and appending to
 * `options.checkpoint` when set. What {@link evaluate} and `evaluateRange` (`metrics/parts.ts`) run.
 *
 * @param model - the model.
 * @param data - the data.
 * @param options - the evaluation's options.
 * @param range - the points. Default: all.
 * @param checkpointFile - the checkpoint's file name in `options.checkpoint`. Default `checkpoint.jsonl`.
 * @returns the run's header and the records of every chunk of the range.
 * @throws as {@link evaluate}; `RecordsError` for a checkpoint of another run or a corrupt one.
 * @internal
 */
export async function evaluateRanges(
  model: Model,
  data: EvaluateData,
  options: EvaluateOptions,
  range?: { readonly start: number; readonly end: number },
  checkpointFile?: string,
): Promise<RangesResult> {
  const plan = planEvaluation(model, options);
  const d = await hostData(model, data);
  // No samples: no accuracy is defined, and a report of zeros would read as a measured 0%.
  if (d.count === 0) throw new ShapeError(`evaluate: expected at least one sample, got 0 (data '${d.source}')`);
  const start = range?.start ?? 0;
  const end = range?.end ?? d.count;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > d.count || start >= end) {
    throw new ConfigError(`evaluate: expected a range of points within [0, ${d.count}), got [${describe(start)}, ${describe(end)})`);
  }
  const chunkSize = requireInt(
    options.chunkSize ?? (options.checkpoint !== undefined || isDataSource(data) ? plan.batchSize : end - start),
    1,
    'evaluate',
    'chunkSize',
  );
  if (options.checkpoint !== undefined && (typeof options.checkpoint !== 'string' || options.checkpoint === '')) {
    throw new ConfigError(`evaluate: expected checkpoint to be a folder path, got ${describe(options.checkpoint)}`);
  }
  const header = await headerOf(model, d, plan, options);
  const seen: ReportWarning[] = [];
  const onWarning = (w: ReportWarning): void => {
    if (seen.some((x) => x.code === w.code && x.message === w.message)) return;
    seen.push(w);
    options.onWarning?.(w);
  };
  const hooks: EvaluationHooks = { onProgress: options.onProgress, onWarning };
  let checkpoint: Checkpoint | undefined;
  if (options.checkpoint !== undefined) {
    // Node only (node:fs): a specifier that is not a literal keeps browser bundlers from pulling checkpoint.ts in.
    const checkpointModule = './checkpoint.js';
    const { openCheckpoint } = (await import(checkpointModule)) as typeof import('./checkpoint.js');
    checkpoint = await openCheckpoint(options.checkpoint, header, {
      ...(options.restart ? { restart: true } : {}),
      ...(checkpointFile !== undefined ? { file: checkpointFile } : {}),
    });
  }
  try {
    const states: RangeState[] = (checkpoint?.parts ?? []).filter((p) => p.offset >= start && p.offset + p.count <= end);
    const covered = states.map((p) => [p.offset, p.offset + p.count] as const).sort((a, b) => a[0] - b[0]);
    const todo: { start: number; end: number }[] = [];
    let at = start;
    for (const [a, b] of [...covered, [end, end] as const]) {
      for (let i = at; i < a; i += chunkSize) todo.push({ start: i, end: Math.min(a, i + chunkSize) });
      at = Math.max(at, b);
    }
    const counter: Counter = {
      done: 0,
      total: [...states.map((p) => p.count), ...todo.map((r) => r.end - r.start)].reduce((a, n) => a + totalUnits(plan, n), 0),
    };
    for (const p of states) {
      for (const w of p.warnings) onWarning(w);
      counter.done += totalUnits(plan, p.count);
    }
    const extra = { thorough: options.thorough ?? false, ...(options.surrogate ? { surrogate: options.surrogate } : {}) };
    for (const r of todo) {
      const t = performance.now();
      const s = await d.slice(r.start, r.end);
      const state = await cleanSlice(model, d, s, plan, hooks, counter);
      await attackSlice(model, s, state, hooks, counter);
      const phase = (m: Model, sl: Slice, st: EvaluationState): Promise<void> => attackSlice(m, sl, st, {});
      await supplementaryRuns(model, s, state, extra, phase);
      state.fastGradients = fastGradientsActive(header.environment.backend);
      await checkpoint?.append(encodePart(header.runId, state, (performance.now() - t) / 1000));
      states.push(state);
    }
    return { header, states, warned: seen.length };
  } finally {
    await checkpoint?.close();
  }
}
