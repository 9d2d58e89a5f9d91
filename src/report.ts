/**
 * The robustness report: its types, its version and its JSON Schema.
 *
 * A report is plain JSON. Every accuracy and rate in it is a fraction in `[0, 1]` (not a percentage), every
 * epsilon is measured in raw input space (the model's `bounds`), and every time is in seconds. The shape is
 * described by `schema/report.schema.json` (JSON Schema draft 2020-12), shipped with the package, and checked
 * by {@link validateReport}. Markdown and plain-text renderings live in `src/report-markdown.ts`.
 *
 * Versioning: {@link REPORT_VERSION} follows semver. A minor version may add optional fields; the schema
 * therefore accepts unknown extra properties and any `1.x.y` version, and rejects other major versions.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { validateReport } from 'robustest';
 * const report = validateReport(JSON.parse(await readFile('report.json', 'utf8')));
 * console.log(report.cleanAccuracy, report.curve.at(-1)?.robustAccuracy);
 * ```
 * @module
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { RobustestError, describe } from './errors.js';

// Defined in version.ts, which reads no files: evaluate (part of the browser-safe core) imports it from there.
export { REPORT_VERSION } from './version.js';

/**
 * A two-sided confidence interval for a proportion (robustest uses Wilson score intervals).
 *
 * @example
 * ```ts
 * const ci: Interval = { lower: 0.4902, upper: 0.9433, level: 0.95 }; // 8 successes out of 10
 * ```
 */
export interface Interval {
  /** Lower end, a fraction in `[0, 1]`. */
  lower: number;
  /** Upper end, a fraction in `[0, 1]`, never below {@link Interval.lower}. */
  upper: number;
  /** Confidence level in `(0, 1)`, e.g. `0.95`. */
  level: number;
}

/**
 * Summary statistics of a set of non-negative values (perturbation norms). An empty set summarises to zeros.
 *
 * @example
 * ```ts
 * const s: Stat = { mean: 0.8, median: 0.75, max: 1.2 };
 * ```
 */
export interface Stat {
  /** Arithmetic mean; `0` for an empty set. */
  mean: number;
  /** Median (mean of the two middle values for an even count); `0` for an empty set. */
  median: number;
  /** Maximum; `0` for an empty set. */
  max: number;
}

/**
 * Statistics of the perturbation `adversarial - clean` under four norms, over the successful adversarial
 * examples of one attack at one epsilon.
 *
 * @example
 * ```ts
 * const zero = { mean: 0, median: 0, max: 0 };
 * const n: NormStats = { l0: zero, l1: zero, l2: zero, linf: zero };
 * ```
 */
export interface NormStats {
  /** Number of changed input components (`|delta| > 1e-12`). */
  l0: Stat;
  /** Sum of absolute changes. */
  l1: Stat;
  /** Euclidean norm of the change. */
  l2: Stat;
  /** Largest absolute change of one component. */
  linf: Stat;
}

/**
 * One point of the robustness curve: the per-sample worst case over every attack of one norm at one epsilon
 * (a sample counts as robust only if no attack of that norm fooled it). A report has one curve per norm: the
 * points of attacks measured in different norms are never merged.
 *
 * @example
 * ```ts
 * const p: CurvePoint = { norm: 'linf', epsilon: 0.1, robustAccuracy: 0.8, robustCount: 8, ci: { lower: 0.4902, upper: 0.9433, level: 0.95 } };
 * ```
 */
export interface CurvePoint {
  /** The norm `epsilon` is measured in. Absent in 1.0 reports, which had one curve: read it as `linf` there. */
  norm: 'linf' | 'l2';
  /** Perturbation budget in raw input units; `>= 0`. */
  epsilon: number;
  /** Fraction of all evaluated samples that are correctly classified and survive every attack. */
  robustAccuracy: number;
  /** Number of such samples (`robustAccuracy * count`). */
  robustCount: number;
  /** Confidence interval of {@link CurvePoint.robustAccuracy}. */
  ci: Interval;
}

/**
 * The result of one attack at one epsilon.
 *
 * @example
 * ```ts
 * const e: AttackEntry = {
 *   name: 'pgd', norm: 'linf', epsilon: 0.1, robustAccuracy: 0.8, ci: { lower: 0.49, upper: 0.94, level: 0.95 },
 *   successRate: 0.1, attacked: 9, succeeded: 1, meanL2: 1.3, meanLinf: 0.1, norms, seconds: 2.5,
 * };
 * ```
 */
export interface AttackEntry {
  /** Attack name, e.g. `pgd`. */
  name: string;
  /** The norm the attack's budget is measured in. */
  norm: 'linf' | 'l2';
  /** How the attack relates to epsilon: `fixed-epsilon`, `minimum-norm` or `query`. Absent in 1.0 reports (fixed-epsilon). */
  kind?: 'fixed-epsilon' | 'minimum-norm' | 'query';
  /** Perturbation budget in raw input units; `>= 0`. */
  epsilon: number;
  /**
   * Robust accuracy after this attack (and the attacks before it, when the evaluation cascades), as a fraction
   * of all evaluated samples.
   */
  robustAccuracy: number;
  /** Confidence interval of {@link AttackEntry.robustAccuracy}. */
  ci: Interval;
  /** `succeeded / attacked`, `0` when nothing was attacked. */
  successRate: number;
  /** Number of samples this attack ran on (correctly classified and, when cascading, still robust). */
  attacked: number;
  /** Number of those the attack fooled; `<= attacked`. */
  succeeded: number;
  /** Mean L2 norm of the successful perturbations; `0` when none succeeded. */
  meanL2: number;
  /** Mean L∞ norm of the successful perturbations; `0` when none succeeded. */
  meanLinf: number;
  /** Full statistics of the successful perturbations. */
  norms: NormStats;
  /** Wall-clock time spent in this attack at this epsilon (for a minimum-norm attack, its single run's time split evenly over the epsilons). */
  seconds: number;
  /** Minimum-norm attacks: the distribution of the per-sample minimal perturbations over the points it attacked. */
  minimalNorms?: MinimalNormStats;
  /** Query attacks: model queries per attacked point. */
  queries?: Stat;
  /** Query attacks: model queries per point it fooled (the usual "queries per success" of black-box papers). */
  queriesPerSuccess?: Stat;
}

/**
 * The distribution of a minimum-norm attack's per-sample minimal perturbations (in the attack's norm), over the
 * points it attacked. A point the attack never fooled counts as an infinite norm, so a quantile that falls among
 * those points is `null` ("robust beyond any epsilon the attack reached").
 *
 * @example
 * ```ts
 * const m: MinimalNormStats = { attacked: 100, fooled: 97, neverFooledRate: 0.03, q1: 0.9, median: 1.2, q3: 1.6 };
 * ```
 */
export interface MinimalNormStats {
  /** Points the attack ran on. */
  attacked: number;
  /** Points it fooled at some norm. */
  fooled: number;
  /** `(attacked − fooled) / attacked`; `0` when nothing was attacked. */
  neverFooledRate: number;
  /** First quartile, or `null` when it falls among the never-fooled points or nothing was attacked. */
  q1: number | null;
  /** Median, or `null` as above. */
  median: number | null;
  /** Third quartile, or `null` as above. */
  q3: number | null;
}

/**
 * Accuracy of one class, clean and per epsilon (worst case over attacks).
 *
 * @example
 * ```ts
 * const c: ClassEntry = { label: 3, name: 'cat', count: 100, cleanAccuracy: 0.9, robust: [{ norm: 'linf', epsilon: 0.1, robustAccuracy: 0.4 }] };
 * ```
 */
export interface ClassEntry {
  /** Class index in `[0, numClasses)`. */
  label: number;
  /** Human-readable class name, when known. */
  name?: string;
  /** Number of evaluated samples with this true label. */
  count: number;
  /** Clean accuracy on those samples; `0` when `count` is `0`. */
  cleanAccuracy: number;
  /** Robust accuracy on those samples, one entry per epsilon of the curve. */
  robust: {
    /** The norm of the radius (absent in 1.0 reports: `linf`). */
    norm: 'linf' | 'l2';
    /** The radius. */
    epsilon: number;
    /** Worst-case robust accuracy of this class at that radius, 0..1. */
    robustAccuracy: number;
  }[];
}

/**
 * A sanity-check finding: something about the setup that makes the numbers suspicious.
 *
 * @example
 * ```ts
 * const w: ReportWarning = { code: 'probability-output', message: 'model outputs look like probabilities ...' };
 * ```
 */
export interface ReportWarning {
  /** Stable kebab-case code, e.g. `probability-output`, `zero-gradients`, `softmax-head`. */
  code: string;
  /** Human-readable explanation and what to do about it. */
  message: string;
  /**
   * `severe` when the finding makes the robust accuracy likely an overestimate (the renderings' verdict is then
   * UNRELIABLE), `info` otherwise; from the table `WARNING_SEVERITY` of `metrics/checks.ts`. Reports written by
   * `evaluate` always carry it; a warning without one counts as severe in the verdict.
   */
  severity?: 'severe' | 'info';
}

/**
 * Everything needed to reproduce (or distrust) a report: versions, hashes, configuration and timings.
 *
 * @example
 * ```ts
 * console.log(`${report.provenance.model.name} ${report.provenance.model.sha256.slice(0, 12)} seed=${report.provenance.seed}`);
 * ```
 */
export interface Provenance {
  /** The library that produced the report. */
  library: {
    /** Package name, `robustest`. */
    name: string;
    /** Package version. */
    version: string;
  };
  /** Version of `@tensorflow/tfjs-core`. */
  tfjs: string;
  /** Node.js version (`process.version`). */
  node: string;
  /** Platform and architecture, e.g. `linux-x64`. */
  platform: string;
  /** The tfjs backend that ran the evaluation (`cpu`, `wasm`, `tensorflow`). */
  backend: string;
  /** The seed every random choice derives from. */
  seed: number;
  /** The command line, when run from the CLI. */
  command?: string;
  /** The model under test. */
  model: {
    /** Model name. */
    name: string;
    /** Engine, e.g. `tfjs`, `onnx-import`, `onnxruntime`. */
    engine: string;
    /** Where the model was loaded from (a path or URL). */
    source: string;
    /** SHA-256 (64 lowercase hex digits) of the weights, or `unknown` / `unknown:<why>`. */
    sha256: string;
    /** Raw input range `[lower, upper]`. */
    bounds: [number, number];
    /** Shape of one input, without the batch dimension. */
    inputShape: number[];
    /** Input layout (`NHWC`, `NCHW`, `flat`). */
    layout: string;
    /** Number of classes. */
    numClasses: number;
    /** Normalisation applied inside the model. */
    preprocessing?: {
      /** Per-channel mean. */
      mean: number[];
      /** Per-channel standard deviation. */
      std: number[];
    };
    /**
     * The input-transform defense in front of the model (`defend` in `robustest/defenses`) and how attacks
     * differentiated it. Absent for an undefended model.
     */
    defense?: {
      /** The transforms in order, e.g. `jpeg:75`. */
      transforms: string[];
      /** `bpda` or `exact` (the transforms' own gradient). */
      gradient: 'bpda' | 'exact';
      /** Draws averaged per gradient (EOT); 1 = none. */
      eotSamples: number;
      /** Whether some transform is random. */
      random: boolean;
      /** Whether some transform is not differentiable. */
      nonDifferentiable: boolean;
      /** Whether attacks saw an adaptive gradient (BPDA where needed, EOT where needed). */
      adaptive: boolean;
      /** The seed of the transforms' draws. */
      seed: number;
    };
  };
  /** The evaluation data. */
  data: {
    /** Where the data came from (a path, or a description). */
    source: string;
    /** SHA-256 (64 lowercase hex digits) of inputs and labels, or `unknown` / `unknown:<why>`. */
    sha256: string;
    /** Number of samples evaluated. */
    count: number;
  };
  /** Every attack with its full configuration, in the order it ran. */
  attacks: {
    /** Attack name. */
    name: string;
    /** Threat model. */
    norm: string;
    /** The attack's kind (absent in 1.0 reports). */
    kind?: string;
    /** Full configuration with defaults filled in. */
    config: Record<string, unknown>;
  }[];
  /** The epsilons evaluated, in raw input units (every norm's, in order of first appearance). */
  epsilons: number[];
  /** The epsilons of each norm, when they differ between norms or more than one norm was evaluated (1.1). */
  epsilonsByNorm?: {
    /** The L∞ radii. */
    linf?: number[];
    /** The L2 radii. */
    l2?: number[];
  };
  /** Whether robustest's fast tfjs gradient kernels were active (1.1; they matter only for the tfjs engine). */
  fastGradients?: boolean;
  /** Batch size used for the evaluation. */
  batchSize: number;
  /** Whether each attack ran only on the samples that survived the attacks before it. */
  cascade: boolean;
  /** The evaluation preset the attacks came from (`standard`, `fast`), if any (1.1). */
  preset?: string;
  /** Whether the attacks were targeted (towards random classes drawn from the seed). Absent in older reports: untargeted. */
  targeted?: boolean;
  /** ISO 8601 start time, e.g. `2026-01-31T12:00:00.000Z`. */
  startedAt: string;
  /** ISO 8601 end time. */
  finishedAt: string;
  /** Total wall-clock time of the evaluation. */
  seconds: number;
}

/**
 * A complete robustness report, the JSON the CLI writes and every rendering reads.
 *
 * @example
 * ```ts
 * const report: Report = validateReport(JSON.parse(text));
 * for (const p of report.curve) console.log(p.epsilon, p.robustAccuracy);
 * ```
 */
export interface Report {
  /** Report format version, {@link REPORT_VERSION} when written by this library. */
  version: string;
  /** Discriminant, always `robustest-report`. */
  kind: 'robustest-report';
  /** Number of samples evaluated. */
  count: number;
  /** Fraction of samples classified correctly without any attack. */
  cleanAccuracy: number;
  /** Confidence interval of {@link Report.cleanAccuracy}. */
  cleanCi: Interval;
  /** Worst case over attacks, one point per norm and epsilon: norms in the order their first attack ran, epsilons in the order given. */
  curve: CurvePoint[];
  /** One entry per attack and epsilon. */
  attacks: AttackEntry[];
  /** One entry per class present in the data. */
  perClass: ClassEntry[];
  /** Sanity-check findings; empty when nothing looked suspicious. */
  warnings: ReportWarning[];
  /** Versions, hashes, configuration and timings. */
  provenance: Provenance;
  /** A few kept adversarial examples (the first N points), when the evaluation was asked for them (`--examples N`). */
  examples?: ReportExamples;
  /**
   * Per-point outcomes as bitsets (1.2; written by every evaluation): clean correctness and, per curve point,
   * robustness of each point. `robustest compare` runs its paired test on them.
   */
  pointOutcomes?: EncodedPointOutcomes;
}

/**
 * Per-point outcomes as a report carries them, compactly: each vector a bitset (point `i` is bit `i % 8` of byte
 * `⌊i / 8⌋`), base64-encoded, about `count / 6` characters per vector. `reportOutcomes` (compare) reads it and
 * `encodePointOutcomes` writes it.
 *
 * @example
 * ```ts
 * import type { EncodedPointOutcomes } from 'robustest';
 * const none: EncodedPointOutcomes = { count: 0, clean: '', robust: [] };
 * ```
 */
export interface EncodedPointOutcomes {
  /** Number of points. */
  readonly count: number;
  /** Clean correctness, a base64 bitset. */
  readonly clean: string;
  /** Per norm and radius, robustness as a base64 bitset. */
  readonly robust: readonly {
    /** The norm of the radius. */
    readonly norm: 'linf' | 'l2';
    /** The radius. */
    readonly epsilon: number;
    /** Robustness of each point, a base64 bitset. */
    readonly bits: string;
  }[];
}

/**
 * Adversarial examples kept in a report for the HTML rendering's image grid, stored compactly: each image as
 * 8-bit values in channels-last order (`[height, width, channels]`), base64-encoded, byte `b` standing for
 * `bounds[0] + b / 255 · (bounds[1] − bounds[0])` in the model's raw input units.
 *
 * @example
 * ```ts
 * const ex = report.examples;
 * if (ex) console.log(`${ex.items.length} examples of ${ex.shape.join('×')}`);
 * ```
 */
export interface ReportExamples {
  /** Shape of one stored image, `[height, width, channels]` with 1 or 3 channels. */
  shape: [number, number, number];
  /** The raw input range the bytes map to (the model's bounds). */
  bounds: [number, number];
  /** How each example's adversarial was chosen, in words. */
  selection: string;
  /** One entry per kept point, in data order. */
  items: ReportExample[];
}

/**
 * One kept point: its clean input and, when an attack fooled it, the adversarial input of the attack that fooled
 * it at the smallest radius (worst case), with the labels the model gave each.
 *
 * @example
 * ```ts
 * const e: ReportExample = { index: 0, label: 7, cleanPrediction: 7, clean: 'AAEC', adversarial: 'AAED', adversarialPrediction: 3, attack: 'pgd', norm: 'linf', epsilon: 0.1 };
 * ```
 */
export interface ReportExample {
  /** The point's index in the evaluated data. */
  index: number;
  /** Its true label. */
  label: number;
  /** The model's prediction on the clean input. */
  cleanPrediction: number;
  /** The clean input, base64 of `height · width · channels` bytes (see {@link ReportExamples}). */
  clean: string;
  /** The adversarial input, same encoding; absent when no attack fooled the point (or it was misclassified clean). */
  adversarial?: string;
  /** The model's prediction on the adversarial input. */
  adversarialPrediction?: number;
  /** The attack that produced it. */
  attack?: string;
  /** The norm of its radius. */
  norm?: 'linf' | 'l2';
  /** The smallest radius at which an attack fooled the point. */
  epsilon?: number;
}

/**
 * Thrown by {@link validateReport} when a value is not a valid report; the message lists the first few
 * violations with their JSON paths, and {@link ReportError.violations} holds them all.
 *
 * @example
 * ```ts
 * try { validateReport(value); }
 * catch (e) { if (e instanceof ReportError) console.error(e.violations.join('\n')); }
 * ```
 */
export class ReportError extends RobustestError {
  /** Every violation found, each as `/json/path: problem`. */
  readonly violations: readonly string[];
  /**
   * @param message - `where: expected X, got Y`.
   * @param violations - every violation found, each as `/json/path: problem`.
   */
  constructor(message: string, violations: readonly string[] = []) {
    super(message, 'E_REPORT');
    this.violations = violations;
  }
}

const PACKAGE_NAME = 'robustest';
const SCHEMA_RELATIVE = join('schema', 'report.schema.json');

/**
 * Finds `schema/report.schema.json` by walking up from this module to the package root (the directory whose
 * package.json is named `robustest`): works both from `src/` (tests, tsx) and from the compiled `dist/src/`.
 */
function findSchemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
        if (parsed.name === PACKAGE_NAME) return join(dir, SCHEMA_RELATIVE);
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new ReportError(
        `validateReport: expected ${SCHEMA_RELATIVE} under the ${PACKAGE_NAME} package root, got no package.json named ${PACKAGE_NAME} above ${dirname(fileURLToPath(import.meta.url))}`,
      );
    }
    dir = parent;
  }
}

let schemaCache: Record<string, unknown> | undefined;
let validatorCache: ValidateFunction | undefined;

/**
 * The report's JSON Schema (draft 2020-12), read once from `schema/report.schema.json` in the package.
 *
 * @returns the parsed schema object; treat it as read-only.
 * @throws {@link ReportError} if the schema file cannot be found or parsed.
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * await writeFile('report.schema.json', JSON.stringify(reportSchema(), null, 2));
 * ```
 */
export function reportSchema(): Record<string, unknown> {
  if (schemaCache === undefined) {
    const path = findSchemaPath();
    try {
      schemaCache = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ReportError(`validateReport: expected a readable JSON schema at ${path}, got ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return schemaCache;
}

function validator(): ValidateFunction {
  if (validatorCache === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    validatorCache = ajv.compile(reportSchema());
  }
  return validatorCache;
}

function formatViolation(e: ErrorObject): string {
  const path = e.instancePath === '' ? '/' : e.instancePath;
  let detail = e.message ?? e.keyword;
  if (e.keyword === 'required') detail = `missing required property ${JSON.stringify(e.params['missingProperty'])}`;
  else if (e.keyword === 'const') detail = `must be ${JSON.stringify(e.params['allowedValue'])}`;
  else if (e.keyword === 'enum') detail = `must be one of ${JSON.stringify(e.params['allowedValues'])}`;
  return `${path}: ${detail}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Constraints JSON Schema cannot express: orderings between fields. */
function semanticViolations(report: Report): string[] {
  const out: string[] = [];
  const interval = (path: string, ci: Interval): void => {
    if (ci.lower > ci.upper) out.push(`${path}: lower (${ci.lower}) must not exceed upper (${ci.upper})`);
  };
  interval('/cleanCi', report.cleanCi);
  report.curve.forEach((p, i) => {
    interval(`/curve/${i}/ci`, p.ci);
    if (p.robustCount > report.count) out.push(`/curve/${i}/robustCount: must not exceed count (${report.count}), got ${p.robustCount}`);
  });
  report.attacks.forEach((a, i) => {
    interval(`/attacks/${i}/ci`, a.ci);
    if (a.succeeded > a.attacked) out.push(`/attacks/${i}/succeeded: must not exceed attacked (${a.attacked}), got ${a.succeeded}`);
  });
  const [lo, hi] = report.provenance.model.bounds;
  if (!(lo < hi)) out.push(`/provenance/model/bounds: lower must be below upper, got [${lo}, ${hi}]`);
  if (!isVersion10(report)) {
    // From 1.1 on a report has one curve per norm, so every point says which norm it is in.
    report.curve.forEach((p, i) => {
      if (p.norm === undefined) out.push(`/curve/${i}: must have required property 'norm' (report version ${report.version})`);
    });
    report.perClass.forEach((c, i) =>
      c.robust.forEach((r, j) => {
        if (r.norm === undefined) out.push(`/perClass/${i}/robust/${j}: must have required property 'norm' (report version ${report.version})`);
      }),
    );
    const seen = new Set<string>();
    report.curve.forEach((p, i) => {
      const key = `${p.norm}/${p.epsilon}`;
      if (seen.has(key)) out.push(`/curve/${i}: duplicate point for norm ${p.norm} at epsilon ${p.epsilon}`);
      seen.add(key);
    });
  }
  return out;
}

function isVersion10(report: Report): boolean {
  return /^1\.0\./.test(report.version);
}

/** A 1.0 report in the 1.1 shape: its single curve (and per-class numbers) are in L∞. */
function upgrade10(report: Report): Report {
  return {
    ...report,
    curve: report.curve.map((p) => ({ ...p, norm: p.norm ?? 'linf' })),
    perClass: report.perClass.map((c) => ({ ...c, robust: c.robust.map((r) => ({ ...r, norm: r.norm ?? 'linf' })) })),
  };
}

/**
 * Checks that a value (typically parsed JSON) is a valid report: first against `schema/report.schema.json`
 * (every required field, types, accuracies and rates in `[0, 1]`, counts non-negative integers, version `1.x.y`),
 * then a few cross-field rules the schema cannot express (interval `lower <= upper`, `succeeded <= attacked`,
 * `robustCount <= count`, bounds lower below upper, and from version 1.1 a norm on every curve point, no two
 * points for the same norm and epsilon).
 *
 * @param value - the candidate report; not modified.
 * @returns the same value, typed as a {@link Report}; a 1.0 report (one curve, no norms on its points) as a copy
 *   with `norm: 'linf'` filled in, so that readers see one shape.
 * @throws {@link ReportError} listing the first five violations as `/json/path: problem` (all of them in
 * {@link ReportError.violations}), or when the schema file itself cannot be loaded.
 * @example
 * ```ts
 * const report = validateReport(JSON.parse(await readFile('report.json', 'utf8')));
 * ```
 */
export function validateReport(value: unknown): Report {
  const validate = validator();
  let violations: string[];
  if (validate(value)) {
    violations = semanticViolations(value as Report);
  } else {
    violations = (validate.errors ?? []).map(formatViolation);
  }
  if (violations.length === 0) return isVersion10(value as Report) ? upgrade10(value as Report) : (value as Report);
  const shown = violations.slice(0, 5).join('; ');
  const more = violations.length > 5 ? ` (and ${violations.length - 5} more)` : '';
  const got = isRecord(value) ? shown + more : `${describe(value)}: ${shown}${more}`;
  throw new ReportError(`validateReport: expected a valid robustest report, got ${got}`, violations);
}
