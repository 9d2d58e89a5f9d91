/**
 * The work queue's protocol, as plain data: the run's manifest stored once in Redis, one job per chunk of global
 * indices with an id derived from the run and the range (so enqueueing twice adds nothing), and the stored results,
 * one per range, checked before they are merged (no foreign run, no overlap, no gap).
 * @module
 */
import { QueueError, ERROR_REASONS } from '../errors.js';

/** A JSON value (what the queue stores and passes between processes). */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** A half-open range `[start, end)` of global sample indices. */
export interface IndexRange {
  /** First index. */
  readonly start: number;
  /** One past the last index. */
  readonly end: number;
}

/**
 * What a run on a queue is: stored once in Redis (JSON) when it is enqueued, read by every worker and by `collect`.
 * Paths are stored as given to `eval`; workers on other machines resolve them themselves and verify the SHA-256.
 */
export interface RunManifest {
  /** Format version of the manifest (1). */
  readonly version: 1;
  /** The run's identity: configuration + model SHA-256 + data SHA-256. */
  readonly runId: string;
  /** Number of samples. */
  readonly total: number;
  /** Samples per job (the last job may hold fewer). */
  readonly chunk: number;
  /** The model: its path as given and its SHA-256. */
  readonly model: { readonly path: string; readonly sha256: string };
  /** The data: its path as given and its SHA-256. */
  readonly data: { readonly path: string; readonly sha256: string };
  /** What a worker needs to rebuild the run's configuration (for the CLI: the eval flags). */
  readonly config: Json;
  /** When it was enqueued (ISO 8601). */
  readonly createdAt: string;
  /** The robustest version that enqueued it. */
  readonly library: string;
}

/** A job's data: one range of one run. */
export interface JobData extends IndexRange {
  /** The run it belongs to. */
  readonly runId: string;
}

/** One range's results as stored in Redis. */
export interface StoredPart extends IndexRange {
  /** The run it belongs to. */
  readonly runId: string;
  /** The worker that stored it (`host:pid`). */
  readonly worker: string;
  /** Wall-clock seconds the range took on that worker (model loading excluded). */
  readonly seconds: number;
  /** The per-point records of the range, as the executor returned them. */
  readonly part: Json;
}

/**
 * The Redis keys of a queue's run, besides BullMQ's own (`bull:NAME:*`): its manifest (a string) and its parts (a
 * hash, one field per range).
 *
 * @param name - the queue's name.
 * @returns the two keys.
 * @example
 * ```ts
 * runKeys('mnist'); // { manifest: 'robustest:mnist:run', parts: 'robustest:mnist:parts' }
 * ```
 */
export function runKeys(name: string): { readonly manifest: string; readonly parts: string } {
  return { manifest: `robustest:${name}:run`, parts: `robustest:${name}:parts` };
}

/**
 * Splits `[0, total)` into consecutive ranges of `chunk` indices (the last may be shorter).
 *
 * @param total - number of samples.
 * @param chunk - samples per range.
 * @returns the ranges, in order.
 * @throws {@link QueueError} when total or chunk is not a positive integer.
 * @example
 * ```ts
 * chunkRanges(25, 10); // [{ start: 0, end: 10 }, { start: 10, end: 20 }, { start: 20, end: 25 }]
 * ```
 */
export function chunkRanges(total: number, chunk: number): IndexRange[] {
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(chunk) || chunk < 1) {
    throw new QueueError(`queue: expected positive integer sample count and chunk size, got ${total} and ${chunk}`);
  }
  const out: IndexRange[] = [];
  for (let start = 0; start < total; start += chunk) out.push({ start, end: Math.min(total, start + chunk) });
  return out;
}

/**
 * The field of a range in the parts hash, and the range part of a job id: `START-END`.
 *
 * @param range - the range.
 * @returns `START-END`.
 * @example
 * ```ts
 * rangeField({ start: 0, end: 10 }); // '0-10'
 * ```
 */
export function rangeField(range: IndexRange): string {
  return `${range.start}-${range.end}`;
}

/**
 * The BullMQ job id of a run's range: the same run and range always give the same id, so enqueueing a run again
 * adds no job that exists.
 *
 * @param runId - the run's id.
 * @param range - the range.
 * @returns `RUNID-START-END`.
 * @example
 * ```ts
 * jobId('3f2a…', { start: 0, end: 10 }); // '3f2a…-0-10'
 * ```
 */
export function jobId(runId: string, range: IndexRange): string {
  return `${runId}-${rangeField(range)}`;
}

function isRange(v: unknown): v is IndexRange {
  const r = v as IndexRange;
  return typeof v === 'object' && v !== null && Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.end > r.start;
}

/**
 * Parses and checks a manifest read from Redis.
 *
 * @param text - the stored JSON.
 * @param where - the command, for messages.
 * @returns the manifest.
 * @throws {@link QueueError} when it is not a version-1 manifest.
 * @example
 * ```ts
 * const manifest = parseManifest(text, 'collect');
 * console.log(manifest.runId, manifest.total);
 * ```
 */
export function parseManifest(text: string, where: string): RunManifest {
  let m: RunManifest;
  try {
    m = JSON.parse(text) as RunManifest;
  } catch {
    throw new QueueError(`${where}: expected the run's manifest to be JSON, got ${JSON.stringify(text.slice(0, 40))}`, ERROR_REASONS.otherRun);
  }
  if (
    typeof m !== 'object' ||
    m === null ||
    m.version !== 1 ||
    typeof m.runId !== 'string' ||
    !Number.isInteger(m.total) ||
    !Number.isInteger(m.chunk) ||
    typeof m.model?.sha256 !== 'string' ||
    typeof m.data?.sha256 !== 'string'
  ) {
    throw new QueueError(`${where}: expected a robustest run manifest (version 1), got ${JSON.stringify(text.slice(0, 60))}`, ERROR_REASONS.otherRun);
  }
  return m;
}

/**
 * Checks the stored parts of a run before they are merged, and returns them in index order: each must belong to the
 * run, be stored under its own range, and the ranges must tile `[0, total)` exactly (no overlap, no gap). A retried
 * job writes its range once (the first write wins), so a point is never counted twice.
 *
 * @param manifest - the run.
 * @param stored - the parts hash: field `START-END` → the stored part's JSON.
 * @returns the parts, sorted by start.
 * @throws {@link QueueError} on a part of another run (`other-run`), a malformed part, an overlap or a gap.
 * @example
 * ```ts
 * const manifest = parseManifest(text, 'collect');
 * const stored = JSON.parse(await readFile('parts.json', 'utf8')) as Record<string, string>; // the parts hash
 * const parts = checkParts(manifest, stored);
 * ```
 */
export function checkParts(manifest: RunManifest, stored: Readonly<Record<string, string>>): StoredPart[] {
  const parts: StoredPart[] = [];
  for (const [field, text] of Object.entries(stored)) {
    let p: StoredPart;
    try {
      p = JSON.parse(text) as StoredPart;
    } catch {
      throw new QueueError(`collect: expected the part ${field} to be JSON, got ${JSON.stringify(text.slice(0, 40))}`);
    }
    if (!isRange(p) || rangeField(p) !== field) {
      throw new QueueError(`collect: expected the part stored under ${field} to hold that range, got ${isRange(p) ? rangeField(p) : 'no range'}`);
    }
    if (p.runId !== manifest.runId) {
      throw new QueueError(
        `collect: expected parts of run ${short(manifest.runId)}, got the part ${field} of run ${short(String(p.runId))}`,
        ERROR_REASONS.otherRun,
      );
    }
    parts.push(p);
  }
  parts.sort((a, b) => a.start - b.start || a.end - b.end);
  let next = 0;
  for (const p of parts) {
    if (p.start < next) throw new QueueError(`collect: expected disjoint ranges, got ${rangeField(p)} overlapping the range before it (ending at ${next})`);
    if (p.start > next) throw new QueueError(`collect: expected the parts to cover [0, ${manifest.total}), got a gap [${next}, ${p.start})`);
    next = p.end;
  }
  if (next !== manifest.total) throw new QueueError(`collect: expected the parts to cover [0, ${manifest.total}), got [0, ${next})`);
  return parts;
}

/**
 * The first 12 characters of a run id and an ellipsis, for messages.
 *
 * @param runId - the id.
 * @returns the shortened id (ids of 12 characters or fewer unchanged).
 * @example
 * ```ts
 * short('497eb8c4d36e0a5f'); // '497eb8c4d36e…'
 * ```
 */
export function short(runId: string): string {
  return runId.length > 12 ? `${runId.slice(0, 12)}…` : runId;
}
