/**
 * Saved per-point records as data: a run's identity ({@link RunHeader}), the records of a range of points as JSON
 * ({@link EvaluationPart}), and the merge of the records of disjoint ranges back into one {@link EvaluationState}.
 * Pure functions of plain data (no model, no tensors): what checkpoints, shards' partial reports and work queues
 * store. The evaluation that produces parts and the report built from merged parts are in `metrics/parts.ts`.
 * @module
 */
import { RecordsError, UnsupportedError, describe } from '../src/errors.js';
import { sha256Js } from '../src/digest.js';
import type { Norm } from '../src/norms.js';
import type { Attack } from '../src/runner.js';
import type { Provenance, ReportWarning } from '../src/report.js';
import { warning, WARNING_CODES } from './checks.js';
import { OUTCOME, type AttackCell, type EvaluationPlan, type EvaluationState, type SupplementaryRun } from './records.js';

/** Version of the part and header formats; a reader refuses another. */
export const PARTS_FORMAT = 1;

/** An attack as a run's configuration records it. */
export interface AttackSpec {
  /** Attack name. */
  readonly name: string;
  /** Its norm. */
  readonly norm: Norm;
  /** `fixed-epsilon`, `minimum-norm` or `query`. */
  readonly kind: Attack['kind'];
  /** How it searches: `fixed-epsilon` or `minimum-norm`. */
  readonly search: Attack['search'];
  /** What it needs from the model. */
  readonly requires: Attack['requires'];
  /** Its full configuration (defaults filled in). */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Everything a run's per-point outcomes and report depend on besides the model, the data and the environment. */
export interface RunConfig {
  /** The attacks, in order. */
  readonly attacks: readonly AttackSpec[];
  /** The norms, in the order their first attack runs. */
  readonly norms: readonly Norm[];
  /** The radii per norm. */
  readonly epsilons: Readonly<Partial<Record<Norm, readonly number[]>>>;
  /** The seed. */
  readonly seed: number;
  /** Inputs per attack batch. */
  readonly batchSize: number;
  /** Whether attacks cascade. */
  readonly cascade: boolean;
  /** Whether the attacks are targeted. */
  readonly targeted: boolean;
  /** The preset the attacks came from, if any. */
  readonly preset?: string;
  /** Confidence level of the intervals. */
  readonly ciLevel: number;
  /** Class names, if known. */
  readonly classNames?: readonly string[];
  /** Whether the costlier pitfall checks run (`thorough`). */
  readonly thorough: boolean;
  /** The surrogate model of the transfer check, if any: its name and weights' SHA-256. */
  readonly surrogate?: {
    /** The surrogate's name. */
    readonly name: string;
    /** SHA-256 of its weights. */
    readonly sha256: string;
  };
}

/**
 * The identity of a run: its full configuration, the model and the data (with their SHA-256) and the environment
 * whose numerics the outcomes depend on. `runId` is the SHA-256 of all of it except the model's and data's names
 * and sources and the command line (which may differ between the machines that evaluate parts of one run).
 */
export interface RunHeader {
  /** Always `robustest-run`. */
  readonly kind: 'robustest-run';
  /** {@link PARTS_FORMAT}. */
  readonly format: number;
  /** SHA-256 (hex) of the identity (see above). */
  readonly runId: string;
  /** The configuration. */
  readonly config: RunConfig;
  /** The model, as the report's provenance describes it. */
  readonly model: Provenance['model'];
  /** The data: where it came from, its SHA-256 and its number of samples. */
  readonly data: {
    /** Where it came from (not part of the identity). */
    readonly source: string;
    /** SHA-256 of its inputs and labels. */
    readonly sha256: string;
    /** Number of samples. */
    readonly count: number;
  };
  /** The environment: robustest's version and the tfjs backend. */
  readonly environment: {
    /** robustest's version. */
    readonly library: string;
    /** The tfjs backend. */
    readonly backend: string;
  };
  /** The command line that started the run, if any (not part of the identity). */
  readonly command?: string;
}

/** One cell's records for a range of points: typed arrays as base64 of their little-endian bytes. */
export interface PartCell {
  /** Index of the attack in the configuration's attacks (0 in supplementary runs). */
  readonly attack: number;
  /** The norm. */
  readonly norm: Norm;
  /** The radius. */
  readonly epsilon: number;
  /** Seconds spent on this range. */
  readonly seconds: number;
  /** `Uint8Array` of {@link OUTCOME} codes. */
  readonly outcome: string;
  /** `Float32Array` of L0 counts of the fooled points. */
  readonly l0: string;
  /** `Float32Array` of L1 norms. */
  readonly l1: string;
  /** `Float32Array` of L2 norms. */
  readonly l2: string;
  /** `Float32Array` of L∞ norms. */
  readonly linf: string;
  /** `Int32Array` of queries (query attacks). */
  readonly queries?: string;
  /** `Float32Array` of late loss rises (attacks that trace their loss). */
  readonly lateLossRise?: string;
  /** `Float32Array` of minimal norms (minimum-norm attacks). */
  readonly minimalNorm?: string;
}

/** One supplementary run's records for a range of points (see {@link SupplementaryRun}). */
export interface PartRun {
  /** Why it ran. */
  readonly purpose: SupplementaryRun['purpose'];
  /** The attack that ran. */
  readonly attack: SupplementaryRun['attack'];
  /** The index of the plan's attack it repeats, if any. */
  readonly of?: number;
  /** The surrogate's name (`transfer`). */
  readonly surrogate?: string;
  /** Chance accuracy (`unbounded`). */
  readonly chance?: number;
  /** One cell per epsilon. */
  readonly cells: readonly PartCell[];
}

/**
 * The per-point records of a range `[start, end)` of global sample indices of one run: JSON, a few bytes per point
 * per attack and epsilon (base64 typed arrays), self-describing enough to be checked against its run.
 */
export interface EvaluationPart {
  /** Always `robustest-part`. */
  readonly kind: 'robustest-part';
  /** {@link PARTS_FORMAT}. */
  readonly format: number;
  /** The run it belongs to ({@link RunHeader.runId}). */
  readonly runId: string;
  /** First global index. */
  readonly start: number;
  /** One past the last global index. */
  readonly end: number;
  /** When its evaluation started (ISO 8601). */
  readonly startedAt: string;
  /** Wall-clock seconds its evaluation took. */
  readonly seconds: number;
  /** Whether robustest's fast gradient kernels were active when it finished. */
  readonly fastGradients: boolean;
  /** `Int32Array` of true labels. */
  readonly labels: string;
  /** `Int32Array` of clean predictions. */
  readonly predictions: string;
  /** `Int32Array` of targets (targeted runs). */
  readonly targets?: string;
  /** Warnings found while evaluating it (model warnings, the first batch's checks). */
  readonly warnings: readonly ReportWarning[];
  /** The plan's cells, in run order. */
  readonly cells: readonly PartCell[];
  /** The supplementary runs' records. */
  readonly supplementary: readonly PartRun[];
}

/**
 * The records of a range of points as an {@link EvaluationState} (its arrays hold `count` points from `offset`), and
 * whether the fast gradient kernels were active when it finished.
 */
export type RangeState = EvaluationState & { readonly offset: number; readonly total: number; fastGradients?: boolean };

/** JSON with object keys sorted, so that equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/**
 * A run's header with its `runId` computed.
 *
 * @param fields - everything but `kind`, `format` and `runId`.
 * @returns the header.
 * @example
 * ```ts
 * import { runHeader } from 'robustest/metrics';
 * const { config } = await runHeader(model, data, { attacks: [fgsm()], epsilons: [0.1] });
 * const provenance = await modelProvenance(model, 'models/cnn.onnx');
 * const points = { source: 'x.npy', sha256: 'e3b0c442...', count: 100 };
 * const header = makeRunHeader({ config, model: provenance, data: points, environment: { library: '0.1.0', backend: 'wasm' } });
 * header.runId; // 64 hex characters
 * ```
 */
export function makeRunHeader(fields: Omit<RunHeader, 'kind' | 'format' | 'runId'>): RunHeader {
  const { name: _name, source: _source, ...model } = fields.model;
  const identity = {
    format: PARTS_FORMAT,
    config: fields.config,
    model,
    data: { sha256: fields.data.sha256, count: fields.data.count },
    environment: fields.environment,
  };
  const runId = sha256Js(new TextEncoder().encode(canonicalJson(identity)));
  return { kind: 'robustest-run', format: PARTS_FORMAT, runId, ...fields };
}

/**
 * The differences between two runs' identities, for an error message: `seed 0 vs 1`, `model sha256 ab12… vs cd34…`.
 *
 * @param a - one header.
 * @param b - another.
 * @returns up to three differences, `[]` when the runs are the same.
 */
export function headerDifferences(a: RunHeader, b: RunHeader): string[] {
  const out: string[] = [];
  const short = (v: unknown): string => {
    const s = typeof v === 'string' ? v : canonicalJson(v);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  };
  const cmp = (what: string, x: unknown, y: unknown): void => {
    if (canonicalJson(x) !== canonicalJson(y)) out.push(`${what} ${short(x)} vs ${short(y)}`);
  };
  for (const key of Object.keys({ ...a.config, ...b.config }).sort()) {
    cmp(key, (a.config as unknown as Record<string, unknown>)[key], (b.config as unknown as Record<string, unknown>)[key]);
  }
  cmp('model sha256', a.model.sha256, b.model.sha256);
  cmp('model engine', a.model.engine, b.model.engine);
  cmp('data sha256', a.data.sha256, b.data.sha256);
  cmp('data count', a.data.count, b.data.count);
  cmp('robustest version', a.environment.library, b.environment.library);
  cmp('backend', a.environment.backend, b.environment.backend);
  if (out.length === 0 && a.runId !== b.runId) out.push(`model or format details (run ${a.runId.slice(0, 12)} vs ${b.runId.slice(0, 12)})`);
  return out.slice(0, 3);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toBase64(a: Uint8Array | Int32Array | Float32Array): string {
  if (!LITTLE_ENDIAN) throw new UnsupportedError('parts: expected a little-endian platform to save records, got a big-endian one');
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new RecordsError(`${what}: expected base64 records, got ${describe(s)}`);
  if (typeof Buffer !== 'undefined') {
    const b = Buffer.from(s, 'base64');
    return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

type ArrayKind = 'u8' | 'i32' | 'f32';
function decodeArray(s: unknown, kind: 'u8', n: number, what: string): Uint8Array;
function decodeArray(s: unknown, kind: 'i32', n: number, what: string): Int32Array;
function decodeArray(s: unknown, kind: 'f32', n: number, what: string): Float32Array;
function decodeArray(s: unknown, kind: ArrayKind, n: number, what: string): Uint8Array | Int32Array | Float32Array {
  const bytes = fromBase64(s, what);
  const width = kind === 'u8' ? 1 : 4;
  if (bytes.length !== n * width) throw new RecordsError(`${what}: expected ${n} records (${n * width} bytes), got ${bytes.length} bytes`);
  if (kind === 'u8') return bytes;
  return kind === 'i32' ? new Int32Array(bytes.buffer, bytes.byteOffset, n) : new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

function encodeCell(c: AttackCell, start: number, end: number): PartCell {
  return {
    attack: c.attack,
    norm: c.norm,
    epsilon: c.epsilon,
    seconds: c.seconds,
    outcome: toBase64(c.outcome.subarray(start, end)),
    l0: toBase64(c.l0.subarray(start, end)),
    l1: toBase64(c.l1.subarray(start, end)),
    l2: toBase64(c.l2.subarray(start, end)),
    linf: toBase64(c.linf.subarray(start, end)),
    ...(c.queries ? { queries: toBase64(c.queries.subarray(start, end)) } : {}),
    ...(c.lateLossRise ? { lateLossRise: toBase64(c.lateLossRise.subarray(start, end)) } : {}),
    ...(c.minimalNorm ? { minimalNorm: toBase64(c.minimalNorm.subarray(start, end)) } : {}),
  };
}

function decodeCell(c: PartCell, n: number, what: string): AttackCell {
  if (!c || typeof c !== 'object' || typeof c.attack !== 'number' || typeof c.epsilon !== 'number' || (c.norm !== 'linf' && c.norm !== 'l2')) {
    throw new RecordsError(`${what}: expected a cell { attack, norm, epsilon, outcome, ... }, got ${describe(c)}`);
  }
  return {
    attack: c.attack,
    norm: c.norm,
    epsilon: c.epsilon,
    seconds: typeof c.seconds === 'number' ? c.seconds : 0,
    outcome: decodeArray(c.outcome, 'u8', n, what),
    l0: decodeArray(c.l0, 'f32', n, what),
    l1: decodeArray(c.l1, 'f32', n, what),
    l2: decodeArray(c.l2, 'f32', n, what),
    linf: decodeArray(c.linf, 'f32', n, what),
    ...(c.queries !== undefined ? { queries: decodeArray(c.queries, 'i32', n, what) } : {}),
    ...(c.lateLossRise !== undefined ? { lateLossRise: decodeArray(c.lateLossRise, 'f32', n, what) } : {}),
    ...(c.minimalNorm !== undefined ? { minimalNorm: decodeArray(c.minimalNorm, 'f32', n, what) } : {}),
  };
}

/**
 * The records of a range state as a JSON part.
 *
 * @param runId - the run's id.
 * @param state - the records of `[state.offset, state.offset + state.count)`.
 * @param seconds - wall-clock seconds their evaluation took.
 * @returns the part.
 */
export function encodePart(runId: string, state: RangeState, seconds: number): EvaluationPart {
  if (!LITTLE_ENDIAN) throw new UnsupportedError('parts: expected a little-endian platform to save records, got a big-endian one');
  const n = state.count;
  return {
    kind: 'robustest-part',
    format: PARTS_FORMAT,
    runId,
    start: state.offset,
    end: state.offset + n,
    startedAt: state.startedAt,
    seconds,
    fastGradients: state.fastGradients ?? false,
    labels: toBase64(state.labels),
    predictions: toBase64(state.predictions),
    ...(state.targets ? { targets: toBase64(state.targets) } : {}),
    warnings: state.warnings.map((w) => ({ ...w })),
    cells: state.cells.map((c) => encodeCell(c, 0, n)),
    supplementary: (state.supplementary ?? []).map((r) => ({
      purpose: r.purpose,
      attack: r.attack,
      ...(r.of !== undefined ? { of: r.of } : {}),
      ...(r.surrogate !== undefined ? { surrogate: r.surrogate } : {}),
      ...(r.chance !== undefined ? { chance: r.chance } : {}),
      cells: r.cells.map((c) => encodeCell(c, 0, n)),
    })),
  };
}

/**
 * Checks a parsed JSON value as a part of the run `header` and decodes its records.
 *
 * @param value - a parsed part.
 * @param header - the run it must belong to.
 * @param what - names the part in errors (a file and line, say).
 * @returns its records as a range state.
 * @throws {@link RecordsError} when it is not a part, belongs to another run, or its records are malformed.
 */
export function decodePart(value: unknown, header: RunHeader, what = 'part'): RangeState {
  const p = value as EvaluationPart;
  if (!p || typeof p !== 'object' || p.kind !== 'robustest-part') throw new RecordsError(`${what}: expected a robustest part, got ${describe(value)}`);
  if (p.format !== PARTS_FORMAT) throw new RecordsError(`${what}: expected part format ${PARTS_FORMAT}, got ${describe(p.format)}`);
  if (p.runId !== header.runId) {
    throw new RecordsError(`${what}: expected a part of run ${header.runId.slice(0, 12)}, got one of run ${describe(p.runId).slice(0, 14)}`);
  }
  const count = header.data.count;
  if (!Number.isInteger(p.start) || !Number.isInteger(p.end) || p.start < 0 || p.end > count || p.start >= p.end) {
    throw new RecordsError(`${what}: expected a range within [0, ${count}), got [${describe(p.start)}, ${describe(p.end)})`);
  }
  const n = p.end - p.start;
  if (!Array.isArray(p.cells) || !Array.isArray(p.supplementary) || !Array.isArray(p.warnings)) {
    throw new RecordsError(`${what}: expected cells, supplementary and warnings lists, got ${describe(value)}`);
  }
  const state: RangeState = {
    plan: planOf(header),
    count: n,
    offset: p.start,
    total: count,
    fastGradients: p.fastGradients === true,
    labels: decodeArray(p.labels, 'i32', n, `${what} labels`),
    predictions: decodeArray(p.predictions, 'i32', n, `${what} predictions`),
    ...(p.targets !== undefined ? { targets: decodeArray(p.targets, 'i32', n, `${what} targets`) } : {}),
    cells: p.cells.map((c, i) => decodeCell(c, n, `${what} cell ${i}`)),
    warnings: p.warnings.map((w) => ({ ...w })),
    data: { source: header.data.source, sha256: header.data.sha256 },
    startedAt: typeof p.startedAt === 'string' ? p.startedAt : new Date(0).toISOString(),
  };
  const supplementary = p.supplementary.map((r, ri): SupplementaryRun => ({
    purpose: r.purpose,
    attack: r.attack,
    ...(r.of !== undefined ? { of: r.of } : {}),
    ...(r.surrogate !== undefined ? { surrogate: r.surrogate } : {}),
    ...(r.chance !== undefined ? { chance: r.chance } : {}),
    cells: (Array.isArray(r.cells) ? (r.cells as readonly PartCell[]) : []).map((c: PartCell, i: number) =>
      decodeCell(c, n, `${what} supplementary ${ri} cell ${i}`),
    ),
  }));
  if (supplementary.length > 0) state.supplementary = supplementary;
  return state;
}

/** An attack recorded in a header: it describes saved records and cannot run. */
function describedAttack(spec: AttackSpec): Attack {
  return {
    ...spec,
    run: () => Promise.reject(new UnsupportedError(`${spec.name}: expected a runnable attack, got the description of a saved run's attack`)),
  };
}

/**
 * The evaluation plan a header describes (its attacks are descriptions that cannot run).
 *
 * @param header - the run's header.
 * @returns the plan.
 */
export function planOf(header: RunHeader): EvaluationPlan {
  const c = header.config;
  return {
    attacks: c.attacks.map(describedAttack),
    norms: c.norms,
    epsilons: c.epsilons,
    seed: c.seed,
    batchSize: c.batchSize,
    cascade: c.cascade,
    targeted: c.targeted,
    ciLevel: c.ciLevel,
    ...(c.preset !== undefined ? { preset: c.preset } : {}),
    ...(c.classNames !== undefined ? { classNames: c.classNames } : {}),
  };
}

/** The warning of a run where no point is classified correctly (also raised by the clean pass of a whole run). */
export function noCorrectPointsWarning(modelName: string): ReportWarning {
  return warning(WARNING_CODES.noCorrectPoints, `${modelName}: no input is classified correctly, so robust accuracy is 0 at every epsilon and says nothing`);
}

const PURPOSE_ORDER: readonly SupplementaryRun['purpose'][] = ['unbounded', 'thorough', 'iterative-check', 'transfer'];

function emptyLike(c: AttackCell, n: number): AttackCell {
  return {
    attack: c.attack,
    norm: c.norm,
    epsilon: c.epsilon,
    seconds: 0,
    outcome: new Uint8Array(n),
    l0: new Float32Array(n),
    l1: new Float32Array(n),
    l2: new Float32Array(n),
    linf: new Float32Array(n),
    ...(c.queries ? { queries: new Int32Array(n) } : {}),
    ...(c.lateLossRise ? { lateLossRise: new Float32Array(n).fill(NaN) } : {}),
    ...(c.minimalNorm ? { minimalNorm: new Float32Array(n).fill(NaN) } : {}),
  };
}

function copyInto(target: AttackCell, source: AttackCell, offset: number): void {
  target.outcome.set(source.outcome, offset);
  target.l0.set(source.l0, offset);
  target.l1.set(source.l1, offset);
  target.l2.set(source.l2, offset);
  target.linf.set(source.linf, offset);
  if (target.queries && source.queries) target.queries.set(source.queries, offset);
  if (target.lateLossRise && source.lateLossRise) target.lateLossRise.set(source.lateLossRise, offset);
  if (target.minimalNorm && source.minimalNorm) target.minimalNorm.set(source.minimalNorm, offset);
  target.seconds += source.seconds;
}

const cellKey = (c: AttackCell): string => `${c.attack}|${c.norm}|${c.epsilon}`;

/**
 * Merges the records of disjoint ranges that together cover every point of a run (or of `range`) into one state, as
 * one evaluation of all those points would have produced: the plan's cells point by point, the supplementary runs (a
 * range without a run's records counts as not attacked there; `unbounded` and `iterative-check` cells that attacked
 * no point are left out, as a whole run leaves them out), the warnings in range order without repeats (plus
 * `no-correct-points` when no point of the whole run is classified correctly), the earliest start, and whether any
 * part ran with the fast gradient kernels.
 *
 * @param header - the run.
 * @param parts - range states of the run (any order).
 * @param range - the points to merge. Default: all the run's.
 * @returns the merged state (of the whole run, or of `range`).
 * @throws {@link RecordsError} when ranges overlap, leave points uncovered, or hold different cells.
 */
export function mergeStates(
  header: RunHeader,
  parts: readonly RangeState[],
  range: { readonly start: number; readonly end: number } = { start: 0, end: header.data.count },
): RangeState & { readonly fastGradients: boolean } {
  const whole = range.start === 0 && range.end === header.data.count;
  const total = range.end - range.start;
  const base = range.start;
  const sorted = [...parts].sort((a, b) => a.offset - b.offset);
  const what = whole ? `all ${total} points` : `points [${range.start}, ${range.end})`;
  if (sorted.length === 0) throw new RecordsError(`merge: expected parts covering ${what}, got none`);
  let next = range.start;
  for (const p of sorted) {
    if (p.offset < next) {
      throw new RecordsError(`merge: expected disjoint parts, got points [${p.offset}, ${Math.min(next, p.offset + p.count)}) in two parts`);
    }
    if (p.offset > next) throw new RecordsError(`merge: expected parts covering ${what}, got none for points [${next}, ${p.offset})`);
    next = p.offset + p.count;
  }
  if (next !== range.end) {
    throw new RecordsError(
      next > range.end
        ? `merge: expected parts within ${what}, got points up to ${next}`
        : `merge: expected parts covering ${what}, got none for points [${next}, ${range.end})`,
    );
  }
  const first = sorted[0]!;
  const labels = new Int32Array(total);
  const predictions = new Int32Array(total);
  const targets = first.targets ? new Int32Array(total) : undefined;
  const cells = first.cells.map((c) => emptyLike(c, total));
  const warnings: ReportWarning[] = [];
  const runs = new Map<string, { run: SupplementaryRun; cells: Map<string, AttackCell> }>();
  for (const p of sorted) {
    const at = p.offset - base;
    labels.set(p.labels, at);
    predictions.set(p.predictions, at);
    if (targets) {
      if (!p.targets)
        throw new RecordsError(`merge: expected targets in every part of a targeted run, got none for points [${p.offset}, ${p.offset + p.count})`);
      targets.set(p.targets, at);
    }
    if (p.cells.length !== cells.length || p.cells.some((c, i) => cellKey(c) !== cellKey(cells[i]!))) {
      throw new RecordsError(
        `merge: expected the same ${cells.length} attack cells in every part, got ${p.cells.length} different ones for points [${p.offset}, ${p.offset + p.count})`,
      );
    }
    p.cells.forEach((c, i) => copyInto(cells[i]!, c, at));
    for (const w of p.warnings) if (!warnings.some((x) => x.code === w.code && x.message === w.message)) warnings.push(w);
    for (const r of p.supplementary ?? []) {
      const key = `${r.purpose}|${r.of ?? ''}|${r.surrogate ?? ''}|${canonicalJson(r.attack)}`;
      let entry = runs.get(key);
      if (!entry) {
        entry = { run: r, cells: new Map() };
        runs.set(key, entry);
      }
      for (const c of r.cells) {
        const k = `${c.norm}|${c.epsilon}`;
        let target = entry.cells.get(k);
        if (!target) {
          target = emptyLike(c, total);
          entry.cells.set(k, target);
        }
        copyInto(target, c, at);
      }
    }
  }
  if (whole && !predictions.some((p, i) => p === labels[i])) {
    const w = noCorrectPointsWarning(header.model.name);
    if (!warnings.some((x) => x.code === w.code && x.message === w.message)) warnings.push(w);
  }
  const plan = planOf(header);
  const epsilonRank = (c: AttackCell): number => plan.epsilons[c.norm]?.indexOf(c.epsilon) ?? 0;
  const supplementary: SupplementaryRun[] = [];
  for (const { run, cells: byEpsilon } of runs.values()) {
    let runCells = [...byEpsilon.values()].sort((a, b) => epsilonRank(a) - epsilonRank(b));
    if (run.purpose === 'unbounded' || run.purpose === 'iterative-check') {
      runCells = runCells.filter((c) => c.outcome.some((o) => o !== OUTCOME.notAttacked));
      if (runCells.length === 0) continue;
    }
    supplementary.push({ ...run, cells: runCells });
  }
  supplementary.sort((a, b) => PURPOSE_ORDER.indexOf(a.purpose) - PURPOSE_ORDER.indexOf(b.purpose) || (a.of ?? -1) - (b.of ?? -1));
  const startedAt = sorted.map((p) => p.startedAt).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  const state: RangeState & { readonly fastGradients: boolean } = {
    plan,
    count: total,
    offset: base,
    total: header.data.count,
    fastGradients: sorted.some((p) => p.fastGradients === true),
    labels,
    predictions,
    ...(targets ? { targets } : {}),
    cells,
    warnings,
    data: { source: header.data.source, sha256: header.data.sha256 },
    startedAt,
  };
  if (supplementary.length > 0) state.supplementary = supplementary;
  return state;
}
