/**
 * Evaluation in parts: the records of any slice of the points, as JSON, merged into the report one evaluation of
 * all of them gives. What checkpoints, shards (`robustest eval --shard i/n` + `robustest merge`) and work queues
 * are built on.
 *
 * How to use it (the same model, data and options on every machine; the CLI rebuilds them from the same flags with
 * `setupRun` of `src/cli/run-setup.ts`):
 * 1. `const header = await runHeader(model, data, options)`: the run's identity ({@link RunHeader}): its full
 *    configuration, the model's and data's SHA-256 and the backend; `header.runId` names the run. Store it once.
 * 2. Cut `[0, header.data.count)` into ranges: {@link chunkRanges} (equal chunks, for a queue's jobs) or
 *    {@link shardRange} (the i-th of n balanced slices).
 * 3. For each range, anywhere: `const part = await evaluateRange(model, data, options, range)`: an
 *    {@link EvaluationPart}, plain JSON (`JSON.stringify` it; a few bytes per point per attack and epsilon). It
 *    carries `runId`; evaluating a range twice gives the same records.
 * 4. `const report = mergeParts(header, parts)`: the {@link Report} `evaluate(model, data, options)` returns, except
 *    for timings (`seconds`, `startedAt`, `finishedAt`) and `command`. No model is needed. Parts of another run,
 *    overlapping parts and missing points are refused with a one-line `RecordsError`.
 *
 * Why merged equals single: every random choice is seeded from the run's seed and the sample's global index, and
 * every per-point outcome depends only on that point, so the records do not depend on the slicing. The run-wide parts
 * of an evaluation are made per point too: the clean pass's first-batch checks (probabilities, randomised model,
 * zero gradients) always run on samples `[0, batchSize)`, in the part that holds sample 0; the unbounded attack of
 * the pitfall checks runs on 100 samples chosen by global index (`isUnboundedSample`), each in the part that holds
 * it; `thorough` and surrogate runs are per point; and the pitfall checks, the curve and the per-class table are
 * computed from the merged records by `buildReport`. Warnings found in parts are merged in range order without
 * repeats.
 *
 * @example
 * ```ts
 * import { fgsm, pgd } from 'robustest/attacks';
 * import { chunkRanges, evaluateRange, mergeParts, runHeader } from 'robustest/metrics';
 * const options = { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], seed: 0 };
 * const header = await runHeader(model, data, options);
 * const parts = [];
 * for (const range of chunkRanges(header.data.count, 250)) parts.push(await evaluateRange(model, data, options, range));
 * const report = mergeParts(header, parts);
 * ```
 * @module
 */
import { ConfigError, RecordsError, describe } from '../src/errors.js';
import type { Model } from '../src/model.js';
import type { Report } from '../src/report.js';
import { buildReport, evaluateRanges, type EvaluateData, type EvaluateOptions } from './evaluate.js';
import { decodePart, encodePart, headerDifferences, mergeStates, PARTS_FORMAT, type EvaluationPart, type RunHeader } from './part-data.js';

export { runHeader } from './evaluate.js';
export { PARTS_FORMAT, type AttackSpec, type EvaluationPart, type PartCell, type PartRun, type RunConfig, type RunHeader } from './part-data.js';

/** A range of global sample indices, `[start, end)`. */
export interface PointRange {
  /** First index. */
  readonly start: number;
  /** One past the last index. */
  readonly end: number;
}

/**
 * The i-th of n deterministic, balanced, contiguous slices of `count` points: `[floor(i·count/n), floor((i+1)·count/n))`
 * (sizes differ by at most one). Shard indices are 0-based, as Kubernetes' `JOB_COMPLETION_INDEX` and AWS Batch's
 * `AWS_BATCH_JOB_ARRAY_INDEX` are.
 *
 * @param count - number of points.
 * @param index - the shard, `0 ≤ index < shards`.
 * @param shards - number of shards, `1 ≤ shards ≤ count`.
 * @returns its range.
 * @throws {@link ConfigError} for a bad index or count.
 * @example
 * ```ts
 * shardRange(10, 1, 3); // { start: 3, end: 6 }
 * ```
 */
export function shardRange(count: number, index: number, shards: number): PointRange {
  if (!Number.isInteger(count) || count < 1) throw new ConfigError(`shard: expected a positive number of points, got ${describe(count)}`);
  if (!Number.isInteger(shards) || shards < 1 || shards > count) {
    throw new ConfigError(`shard: expected between 1 and ${count} shards (one point each at least), got ${describe(shards)}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= shards) {
    throw new ConfigError(`shard: expected a shard index in [0, ${shards}) (0-based), got ${describe(index)}`);
  }
  return { start: Math.floor((index * count) / shards), end: Math.floor(((index + 1) * count) / shards) };
}

/**
 * Cuts `[range.start, range.end)` into consecutive chunks of `size` points (the last one shorter).
 *
 * @param count - number of points of the run (the default range is `[0, count)`).
 * @param size - points per chunk, a positive integer.
 * @param range - the points to cut. Default: all.
 * @returns the chunks, in order.
 * @throws {@link ConfigError} for a bad size or range.
 * @example
 * ```ts
 * chunkRanges(10, 4); // [{ start: 0, end: 4 }, { start: 4, end: 8 }, { start: 8, end: 10 }]
 * ```
 */
export function chunkRanges(count: number, size: number, range: PointRange = { start: 0, end: count }): PointRange[] {
  if (!Number.isInteger(size) || size < 1) throw new ConfigError(`chunkRanges: expected size to be a positive integer, got ${describe(size)}`);
  if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end > count || range.start > range.end) {
    throw new ConfigError(`chunkRanges: expected a range within [0, ${describe(count)}], got [${describe(range.start)}, ${describe(range.end)})`);
  }
  const out: PointRange[] = [];
  for (let i = range.start; i < range.end; i += size) out.push({ start: i, end: Math.min(range.end, i + size) });
  return out;
}

/**
 * Evaluates the points `[range.start, range.end)` of the run `options` describe and returns their records as one
 * JSON part. With `options.checkpoint`, the range is evaluated in chunks (`options.chunkSize`) appended to the
 * checkpoint file `checkpointFile` there, and a re-run resumes.
 *
 * @param model - the model.
 * @param data - the whole data (a `DataSource` is read only within the range).
 * @param options - the run's options, as for `evaluate`.
 * @param range - the points.
 * @param checkpointFile - with `options.checkpoint`: the file name in that folder. Default `checkpoint.jsonl`.
 * @returns the part.
 * @throws as `evaluate`; {@link ConfigError} for a range outside the data.
 * @example
 * ```ts
 * const part = await evaluateRange(model, data, { attacks: [fgsm()], epsilons: [0.1] }, { start: 0, end: 50 });
 * await writeFile('part-0.json', JSON.stringify(part));
 * ```
 */
export async function evaluateRange(
  model: Model,
  data: EvaluateData,
  options: EvaluateOptions,
  range: PointRange,
  checkpointFile?: string,
): Promise<EvaluationPart> {
  const t0 = performance.now();
  const run = await evaluateRanges(model, data, options, range, checkpointFile);
  const state = mergeStates(run.header, run.states, range);
  return encodePart(run.header.runId, state, (performance.now() - t0) / 1000);
}

/** Context of a merged report: what the records do not hold. */
export interface MergeContext {
  /** The command line of the merge. Default: the header's. */
  readonly command?: string;
  /** When it finished (ISO 8601). Default: now. */
  readonly finishedAt?: string;
}

/**
 * Merges the parts of one run into its report: the report `evaluate` gives for the same model, data and options,
 * except for timings (per-attack `seconds` and the provenance's `seconds` are the sums over the parts; `startedAt`
 * is the earliest part's) and `command`.
 *
 * @param header - the run ({@link runHeader}).
 * @param parts - its parts (parsed JSON, any order), disjoint and covering every point.
 * @param context - see {@link MergeContext}.
 * @returns the report; it passes `validateReport`.
 * @throws {@link RecordsError} for a part of another run, a malformed part, overlapping parts or missing points.
 * @example
 * ```ts
 * const options = { attacks: [fgsm()], epsilons: [0.1] };
 * const header = await runHeader(model, data, options);
 * const parts = [await evaluateRange(model, data, options, { start: 50, end: 100 }), await evaluateRange(model, data, options, { start: 0, end: 50 })];
 * const report = mergeParts(header, parts); // data holds 100 points
 * console.log(report.curve);
 * ```
 */
export function mergeParts(header: RunHeader, parts: readonly unknown[], context: MergeContext = {}): Report {
  checkHeader(header, 'merge');
  const states = parts.map((p, i) => decodePart(p, header, `merge: part ${i}`));
  const state = mergeStates(header, states);
  const command = context.command ?? header.command;
  return buildReport(state, {
    model: header.model,
    ...(command !== undefined ? { command } : {}),
    backend: header.environment.backend,
    fastGradients: state.fastGradients,
    ...(context.finishedAt !== undefined ? { finishedAt: context.finishedAt } : {}),
    seconds: parts.reduce((a: number, p) => a + ((p as EvaluationPart).seconds ?? 0), 0),
  });
}

/** The file a shard writes: its run's header and its parts. */
export interface PartialReport {
  /** Always `robustest-partial-report`. */
  readonly kind: 'robustest-partial-report';
  /** {@link PARTS_FORMAT}. */
  readonly format: number;
  /** The run. */
  readonly header: RunHeader;
  /** Which shard it is, when it is one. */
  readonly shard?: {
    /** Its index, from 0. */
    readonly index: number;
    /** The number of shards. */
    readonly count: number;
  };
  /** The records of its points. */
  readonly parts: readonly EvaluationPart[];
}

/**
 * A shard's partial report.
 *
 * @param header - the run.
 * @param parts - the shard's parts.
 * @param shard - which shard it is.
 * @returns the partial report (write it with `JSON.stringify`).
 * @example
 * ```ts
 * const options = { attacks: [fgsm()], epsilons: [0.1] };
 * const header = await runHeader(model, data, options);
 * const part = await evaluateRange(model, data, options, shardRange(header.data.count, 0, 3));
 * const partial = partialReport(header, [part], { index: 0, count: 3 });
 * ```
 */
export function partialReport(header: RunHeader, parts: readonly EvaluationPart[], shard?: { index: number; count: number }): PartialReport {
  return { kind: 'robustest-partial-report', format: PARTS_FORMAT, header, ...(shard ? { shard } : {}), parts };
}

function checkHeader(header: RunHeader, what: string): void {
  if (!header || typeof header !== 'object' || header.kind !== 'robustest-run' || typeof header.runId !== 'string' || !header.config || !header.data) {
    throw new RecordsError(`${what}: expected a robustest run header, got ${describe(header)}`);
  }
  if (header.format !== PARTS_FORMAT) throw new RecordsError(`${what}: expected run header format ${PARTS_FORMAT}, got ${describe(header.format)}`);
}

/**
 * Merges shards' partial reports (parsed JSON) into the run's report: they must share one run (same configuration,
 * model, data and backend), be disjoint and cover every point.
 *
 * @param reports - the partial reports, with names for error messages (file paths, say).
 * @param context - see {@link MergeContext}.
 * @returns the report.
 * @throws {@link RecordsError} for a file that is not a partial report, partial reports of different runs (naming
 *   the differences), overlapping ones or missing points.
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * const files = ['part-0.json', 'part-1.json'];
 * const report = mergePartialReports(await Promise.all(files.map(async (name) => ({ name, value: JSON.parse(await readFile(name, 'utf8')) as unknown }))));
 * ```
 */
export function mergePartialReports(reports: readonly { readonly name: string; readonly value: unknown }[], context: MergeContext = {}): Report {
  if (reports.length === 0) throw new RecordsError('merge: expected at least one partial report, got none');
  const checked = reports.map(({ name, value }) => {
    const r = value as PartialReport;
    if (!r || typeof r !== 'object' || r.kind !== 'robustest-partial-report') {
      throw new RecordsError(`merge: expected ${name} to be a partial report (eval --shard), got ${describe(value)}`);
    }
    if (r.format !== PARTS_FORMAT) throw new RecordsError(`merge: expected ${name} of format ${PARTS_FORMAT}, got ${describe(r.format)}`);
    checkHeader(r.header, `merge: ${name}`);
    if (!Array.isArray(r.parts)) throw new RecordsError(`merge: expected ${name} to hold a list of parts, got ${describe(r.parts)}`);
    return { name, report: r };
  });
  const first = checked[0]!;
  for (const { name, report } of checked.slice(1)) {
    if (report.header.runId !== first.report.header.runId) {
      throw new RecordsError(
        `merge: expected partial reports of one run, got ${first.name} and ${name} of different runs (${headerDifferences(first.report.header, report.header).join(', ')})`,
      );
    }
  }
  const header = first.report.header;
  const states = checked.flatMap(({ name, report }) => report.parts.map((p, i) => decodePart(p, header, `merge: ${name} part ${i}`)));
  const names = checked.flatMap(({ name, report }) => report.parts.map(() => name));
  try {
    mergeStates(header, states);
  } catch (e) {
    if (!(e instanceof RecordsError)) throw e;
    // Name the files of an overlap.
    const order = states.map((s, i) => ({ s, name: names[i]! })).sort((a, b) => a.s.offset - b.s.offset);
    for (let k = 1; k < order.length; k++) {
      const [a, b] = [order[k - 1]!, order[k]!];
      if (b.s.offset < a.s.offset + a.s.count) {
        throw new RecordsError(
          `merge: expected disjoint partial reports, got points [${b.s.offset}, ${Math.min(a.s.offset + a.s.count, b.s.offset + b.s.count)}) in both ${a.name} and ${b.name}`,
        );
      }
    }
    throw e;
  }
  return mergeParts(
    header,
    checked.flatMap(({ report }) => report.parts),
    context,
  );
}
