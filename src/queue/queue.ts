/**
 * Elastic workers on BullMQ and Redis: {@link enqueueRun} stores a run's manifest once and adds one job per chunk of
 * global indices, {@link runWorker} takes jobs (any number of processes on any number of machines), builds the run's
 * executor once per run and stores each range's records in a Redis hash (first write wins, so a retried job never
 * counts twice), and {@link waitForRun} reports progress until every range is stored, then returns the checked parts.
 *
 * BullMQ and ioredis are optional dependencies, imported only here and only when a queue is used, so library users
 * without Redis never load them. A worker killed mid-job leaves its job locked; once the lock expires
 * (`lockDuration`), BullMQ's stalled-job check (every `stalledInterval`) moves it back to the queue and another
 * worker takes it.
 * @module
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ERROR_REASONS, QueueError, RobustestError } from '../errors.js';
import { checkParts, chunkRanges, jobId, parseManifest, rangeField, runKeys, short } from './protocol.js';
import type { IndexRange, JobData, Json, RunManifest, StoredPart } from './protocol.js';
import { parseQueueUrl, type QueueAddress } from './url.js';

/** A connection to a queue: its address, a BullMQ `Queue` and a Redis client for robustest's own keys. */
interface Session {
  readonly address: QueueAddress;
  readonly queue: Queue<JobData>;
  readonly redis: Redis;
  readonly keys: ReturnType<typeof runKeys>;
  close(): Promise<void>;
}

interface Modules {
  readonly bullmq: typeof import('bullmq');
  readonly ioredis: { readonly Redis: typeof import('ioredis').Redis };
}

let modules: Promise<Modules> | undefined;

/** Imports bullmq and ioredis (optional dependencies) once. */
async function loadModules(): Promise<Modules> {
  const loading = (modules ??= (async () => {
    try {
      const [bullmq, ioredis] = await Promise.all([import('bullmq'), import('ioredis')]);
      return { bullmq, ioredis: { Redis: ioredis.Redis } };
    } catch (e) {
      modules = undefined;
      throw new QueueError(
        `queue: expected the optional dependencies bullmq and ioredis (npm install bullmq ioredis), got ${oneLine(e)}`,
        ERROR_REASONS.bullmqMissing,
      );
    }
  })());
  return loading;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
}

/** ioredis options for an address (without retry policy). */
function connectionOptions(a: QueueAddress): { host: string; port: number; db: number; username?: string; password?: string; tls?: object } {
  return {
    host: a.host,
    port: a.port,
    db: a.db,
    ...(a.username !== undefined ? { username: a.username } : {}),
    ...(a.password !== undefined ? { password: a.password } : {}),
    ...(a.tls ? { tls: {} } : {}),
  };
}

/** Options shared by the functions that connect to a queue. */
export interface ConnectOptions {
  /** How long to wait for Redis to answer the first PING, in milliseconds. Default 5000. */
  readonly connectTimeoutMs?: number;
}

/** Connects to the queue at `url`; a Redis that does not answer PING is a typed error, not an endless retry. */
async function connect(url: string, where: string, options: ConnectOptions = {}): Promise<Session> {
  const address = parseQueueUrl(url);
  const { bullmq, ioredis } = await loadModules();
  const base = connectionOptions(address);
  const probe = new ioredis.Redis({
    ...base,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let cause: unknown;
  probe.on('error', (e) => void (cause ??= e)); // the socket's error (ECONNREFUSED, ENOTFOUND, ...): connect() only says "Connection is closed"
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    probe.disconnect();
    throw new QueueError(`${where}: expected a Redis server at ${address.display}, got ${oneLine(cause ?? e) || 'no answer'}`, ERROR_REASONS.redisUnreachable);
  }
  probe.disconnect();
  const redis = new ioredis.Redis({ ...base, maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // ioredis reconnects; commands wait for it
  const queue = new bullmq.Queue<JobData>(address.name, { connection: { ...base, maxRetriesPerRequest: null } });
  queue.on('error', () => undefined);
  return {
    address,
    queue,
    redis,
    keys: runKeys(address.name),
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * Checks that the queue's Redis answers, without touching the queue: for callers that have slow work to do before
 * they use it (`eval --queue` loads the model first).
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param where - the command, for the message.
 * @param options - connect timeout.
 * @throws {@link QueueError} `redis-unreachable`, `bullmq-missing`; `ConfigError` for a bad URL.
 * @example
 * ```ts
 * await checkQueue('redis://127.0.0.1:6379/mnist', 'eval');
 * ```
 */
export async function checkQueue(url: string, where: string, options: ConnectOptions = {}): Promise<void> {
  await (await connect(url, where, options)).close();
}

async function readManifest(s: Session, where: string): Promise<RunManifest | undefined> {
  const text = await s.redis.get(s.keys.manifest);
  return text === null ? undefined : parseManifest(text, where);
}

/** What {@link enqueueRun} did. */
export interface EnqueueSummary {
  /** The queue's address (password redacted). */
  readonly queue: string;
  /** Jobs of the run (ranges). */
  readonly jobs: number;
  /** Jobs added now. */
  readonly added: number;
  /** Failed jobs moved back to the queue. */
  readonly retried: number;
  /** Ranges whose records are already stored. */
  readonly done: number;
  /** Jobs already queued or running (left as they are). */
  readonly pending: number;
}

/** Options of {@link enqueueRun}. */
export interface EnqueueOptions extends ConnectOptions {
  /** Attempts per job before it fails for good (a stalled job counts as one only past `maxStalledCount`). Default 3. */
  readonly attempts?: number;
}

/**
 * Enqueues a run: stores its manifest (once) and adds one job per range of `manifest.chunk` indices that has no
 * stored records yet. Idempotent: job ids come from the run id and the range, so enqueueing the same run again adds
 * only what is missing, and moves jobs that failed for good back to the queue.
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param manifest - the run.
 * @param options - attempts per job, connect timeout.
 * @returns what was added, retried, done or pending.
 * @throws {@link QueueError} `redis-unreachable` when Redis does not answer, `other-run` when the queue holds another
 * run's manifest, jobs or results (they are left untouched), `bullmq-missing` without bullmq.
 * @example
 * ```ts
 * const manifest = JSON.parse(text) as Parameters<typeof enqueueRun>[1]; // a RunManifest
 * const summary = await enqueueRun('redis://127.0.0.1:6379/mnist', manifest);
 * console.log(`${summary.added} jobs added`);
 * ```
 */
export async function enqueueRun(url: string, manifest: RunManifest, options: EnqueueOptions = {}): Promise<EnqueueSummary> {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) throw new QueueError(`eval: expected attempts to be a positive integer, got ${attempts}`);
  const ranges = chunkRanges(manifest.total, manifest.chunk);
  const s = await connect(url, 'eval', options);
  try {
    let current = await readManifest(s, 'eval');
    if (current === undefined) {
      const counts = await s.queue.getJobCounts();
      const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
      const parts = await s.redis.hlen(s.keys.parts);
      if (jobs > 0 || parts > 0) {
        throw new QueueError(
          `eval: expected queue "${s.address.name}" to be empty or to hold this run, got ${jobs} jobs and ${parts} stored parts of no known run; use another queue name, or clear it with robustest collect --queue ${s.address.display} --clear`,
          ERROR_REASONS.otherRun,
        );
      }
      if ((await s.redis.set(s.keys.manifest, JSON.stringify(manifest), 'NX')) !== 'OK') current = await readManifest(s, 'eval');
    }
    if (current !== undefined && current.runId !== manifest.runId) {
      const stored = await s.redis.hlen(s.keys.parts);
      throw new QueueError(
        `eval: expected queue "${s.address.name}" to be empty or to hold this run (${short(manifest.runId)}), got run ${short(current.runId)} enqueued ${current.createdAt} with ${stored} of ${chunkRanges(current.total, current.chunk).length} parts stored; collect it (robustest collect --queue ${s.address.display} --clear writes its report, then clears the queue) or use another queue name`,
        ERROR_REASONS.otherRun,
      );
    }
    let done = 0;
    let pending = 0;
    let retried = 0;
    const toAdd: IndexRange[] = [];
    for (const range of ranges) {
      if ((await s.redis.hexists(s.keys.parts, rangeField(range))) === 1) {
        done++;
        continue;
      }
      const id = jobId(manifest.runId, range);
      const state = await s.queue.getJobState(id);
      if (state === 'unknown') toAdd.push(range);
      else if (state === 'failed') {
        await (await s.queue.getJob(id))?.retry('failed');
        retried++;
      } else if (state === 'completed') {
        // Completed without stored records (the parts hash was deleted by hand): run it again.
        await s.queue.remove(id);
        toAdd.push(range);
      } else pending++;
    }
    await s.queue.addBulk(
      toAdd.map((range) => ({
        name: 'range',
        data: { runId: manifest.runId, start: range.start, end: range.end },
        opts: { jobId: jobId(manifest.runId, range), attempts, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: false, removeOnFail: false },
      })),
    );
    return { queue: s.address.display, jobs: ranges.length, added: toAdd.length, retried, done, pending };
  } finally {
    await s.close();
  }
}

/** Runs a run's ranges: built once per run by {@link WorkerOptions.prepare}, disposed when the run changes or the worker stops. */
export interface RangeExecutor {
  /** Evaluates the samples `[range.start, range.end)` and returns their records (JSON). */
  run(range: IndexRange): Promise<Json>;
  /** Releases the model and data. */
  dispose(): void | Promise<void>;
}

/** What a worker reports while it runs. */
export type WorkerEvent =
  | { readonly type: 'ready'; readonly worker: string; readonly queue: string }
  | { readonly type: 'started'; readonly job: string; readonly range: IndexRange; readonly attempt: number }
  | { readonly type: 'prepared'; readonly runId: string; readonly seconds: number }
  | { readonly type: 'stored'; readonly job: string; readonly range: IndexRange; readonly seconds: number; readonly stored: boolean }
  | { readonly type: 'failed'; readonly job: string; readonly range: IndexRange; readonly error: string }
  | { readonly type: 'stopping'; readonly reason: string };

/** Options of {@link runWorker}. */
export interface WorkerOptions extends ConnectOptions {
  /**
   * Builds the executor of a run from its manifest: loads the model and data and verifies their SHA-256 against the
   * manifest's. Called once per run. An error here stops the worker (it cannot serve this run); the job is failed
   * for this attempt, so another worker retries it.
   */
  readonly prepare: (manifest: RunManifest) => Promise<RangeExecutor>;
  /** The worker's name in progress reports. Default `HOST:PID`. */
  readonly name?: string;
  /** How long a job's lock lasts without renewal, in ms; a killed worker's job is retried after it. Default 30000. */
  readonly lockDuration?: number;
  /** How often to look for stalled jobs (locks expired), in ms. Default 30000. */
  readonly stalledInterval?: number;
  /** How many times a job may stall before it fails. Default 2. */
  readonly maxStalledCount?: number;
  /** Stop after the queue has been empty this long, in ms. Default: never. */
  readonly exitWhenIdleMs?: number;
  /** Stops the worker: the job in progress finishes first. */
  readonly signal?: AbortSignal;
  /** Stops the worker at once: the job in progress is abandoned (and retried elsewhere once its lock expires). */
  readonly forceSignal?: AbortSignal;
  /** Progress events. */
  readonly onEvent?: (event: WorkerEvent) => void;
}

/** What a worker did, returned when it stops. */
export interface WorkerSummary {
  /** The worker's name. */
  readonly name: string;
  /** Ranges whose records it stored. */
  readonly stored: number;
  /** Ranges it evaluated that another attempt had already stored (not stored twice). */
  readonly duplicates: number;
  /** Job attempts that failed on it. */
  readonly failed: number;
}

/**
 * Runs a worker until it is stopped (`signal`), the queue stays empty (`exitWhenIdleMs`), or it cannot serve a run.
 * One job at a time. For each job it reads the run's manifest, builds the run's executor once per run
 * ({@link WorkerOptions.prepare}), evaluates the range and stores the records under the range in the run's parts
 * hash, unless an earlier attempt stored them already.
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param options - the executor factory, lock and stall timings, stop signals, events.
 * @returns what it did.
 * @throws {@link QueueError} `redis-unreachable`, `bullmq-missing`; and whatever `prepare` throws (a
 * `fingerprint-mismatch` {@link QueueError} when the model or data differs from the run's), after the job it was
 * preparing is failed for this attempt.
 * @example
 * ```ts
 * const summary = await runWorker('redis://127.0.0.1:6379/mnist', {
 *   prepare: async (manifest) => ({ run: async (range) => ({ points: range.end - range.start, of: manifest.total }), dispose: () => undefined }),
 *   exitWhenIdleMs: 5000,
 * });
 * console.log(`${summary.stored} ranges stored`);
 * ```
 */
export async function runWorker(url: string, options: WorkerOptions): Promise<WorkerSummary> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const s = await connect(url, 'worker', options);
  const { bullmq } = await loadModules();
  const emit = options.onEvent ?? (() => undefined);
  let current: { runId: string; executor: RangeExecutor } | undefined;
  let fatal: unknown;
  const summary = { name, stored: 0, duplicates: 0, failed: 0 };
  let idleTimer: NodeJS.Timeout | undefined;
  let worker: Worker<JobData, { stored: boolean }> | undefined = undefined;
  const stop = (reason: string, force = false): void => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    emit({ type: 'stopping', reason });
    void worker?.close(force).catch(() => undefined);
  };

  const processJob = async (job: Job<JobData, { stored: boolean }>): Promise<{ stored: boolean }> => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    const range = { start: job.data.start, end: job.data.end };
    const id = job.id ?? rangeField(range);
    emit({ type: 'started', job: id, range, attempt: job.attemptsMade + 1 });
    try {
      const manifest = await readManifest(s, 'worker');
      if (manifest === undefined) {
        throw new QueueError(
          `worker: expected the manifest of run ${short(job.data.runId)} in Redis, got none (was the queue cleared?)`,
          ERROR_REASONS.otherRun,
        );
      }
      if (manifest.runId !== job.data.runId) {
        throw new QueueError(
          `worker: expected jobs of the queue's run ${short(manifest.runId)}, got job ${id} of run ${short(job.data.runId)}`,
          ERROR_REASONS.otherRun,
        );
      }
      if (current?.runId !== manifest.runId) {
        const old = current;
        current = undefined;
        await old?.executor.dispose();
        const t0 = performance.now();
        try {
          current = { runId: manifest.runId, executor: await options.prepare(manifest) };
        } catch (e) {
          fatal = e;
          stop(`cannot serve run ${short(manifest.runId)}: ${oneLine(e)}`);
          throw e;
        }
        emit({ type: 'prepared', runId: manifest.runId, seconds: (performance.now() - t0) / 1000 });
      }
      const field = rangeField(range);
      const t0 = performance.now();
      let stored = false;
      if ((await s.redis.hexists(s.keys.parts, field)) === 0) {
        const part = await current.executor.run(range);
        const seconds = (performance.now() - t0) / 1000;
        const record: StoredPart = { runId: manifest.runId, start: range.start, end: range.end, worker: name, seconds, part };
        stored = (await s.redis.hsetnx(s.keys.parts, field, JSON.stringify(record))) === 1;
      }
      if (stored) summary.stored++;
      else summary.duplicates++;
      emit({ type: 'stored', job: id, range, seconds: (performance.now() - t0) / 1000, stored });
      return { stored };
    } catch (e) {
      summary.failed++;
      emit({ type: 'failed', job: id, range, error: oneLine(e) });
      // BullMQ records the message as the job's failedReason; keep robustest's one-line message.
      throw e instanceof RobustestError ? new Error(e.message) : e;
    }
  };

  worker = new bullmq.Worker<JobData, { stored: boolean }>(s.address.name, processJob, {
    connection: { ...connectionOptions(s.address), maxRetriesPerRequest: null },
    name,
    concurrency: 1,
    autorun: false,
    lockDuration: options.lockDuration ?? 30_000,
    stalledInterval: options.stalledInterval ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
  });
  worker.on('error', () => undefined); // connection errors: ioredis reconnects
  if (options.exitWhenIdleMs !== undefined) {
    const ms = options.exitWhenIdleMs;
    const arm = (): void => {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => stop(`the queue was empty for ${ms} ms`), ms);
    };
    worker.on('drained', arm);
    arm();
  }
  const onStop = (): void => stop('asked to stop');
  const onForce = (): void => stop('asked to stop at once', true);
  options.signal?.addEventListener('abort', onStop, { once: true });
  options.forceSignal?.addEventListener('abort', onForce, { once: true });
  try {
    if (options.signal?.aborted) return summary;
    emit({ type: 'ready', worker: name, queue: s.address.display });
    await worker.run();
  } finally {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    options.signal?.removeEventListener('abort', onStop);
    options.forceSignal?.removeEventListener('abort', onForce);
    await worker.close().catch(() => undefined);
    await current?.executor.dispose();
    await s.close();
  }
  if (fatal !== undefined) throw fatal;
  return summary;
}

/** Progress of a queued run, as {@link waitForRun} reports it. */
export interface RunProgress {
  /** The run id. */
  readonly runId: string;
  /** Jobs (ranges) of the run. */
  readonly jobs: number;
  /** Ranges whose records are stored. */
  readonly done: number;
  /** Jobs being processed now. */
  readonly active: number;
  /** Jobs waiting for a worker (including retries waiting out their backoff). */
  readonly waiting: number;
  /** Jobs that failed for good, their range not stored. */
  readonly failed: number;
  /** Names of the workers connected to the queue. */
  readonly workers: readonly string[];
}

/** Options of {@link waitForRun}. */
export interface WaitOptions extends ConnectOptions {
  /** How often to poll, in ms. Default 1000. */
  readonly intervalMs?: number;
  /** Give up after this long, in ms. Default: never. */
  readonly timeoutMs?: number;
  /** Called after every poll. */
  readonly onProgress?: (progress: RunProgress) => void;
  /** Stops waiting (rejects with a {@link QueueError}). */
  readonly signal?: AbortSignal;
}

/** The checked outcome of a queued run. */
export interface CollectedRun {
  /** The run's manifest. */
  readonly manifest: RunManifest;
  /** One stored part per range, in index order, tiling `[0, total)`. */
  readonly parts: readonly StoredPart[];
}

async function progressOf(s: Session, manifest: RunManifest): Promise<RunProgress & { failedReasons: string[] }> {
  const ranges = chunkRanges(manifest.total, manifest.chunk);
  const stored = new Set(await s.redis.hkeys(s.keys.parts));
  const counts = await s.queue.getJobCounts('active', 'wait', 'prioritized', 'delayed', 'waiting-children');
  const failedJobs = (await s.queue.getFailed(0, -1)).filter((j) => j.data.runId === manifest.runId && !stored.has(rangeField(j.data)));
  // BullMQ lists workers from CLIENT LIST; a Redis that forbids it (some managed services) shows none rather than failing.
  const clients = await s.queue.getWorkers().catch(() => []);
  const workers = clients.map((w) => (w['rawname'] ?? w['name'] ?? '').replace(/^.*?:w:/, ''));
  return {
    runId: manifest.runId,
    jobs: ranges.length,
    done: ranges.filter((r) => stored.has(rangeField(r))).length,
    active: counts['active'] ?? 0,
    waiting: (counts['wait'] ?? 0) + (counts['prioritized'] ?? 0) + (counts['delayed'] ?? 0) + (counts['waiting-children'] ?? 0),
    failed: failedJobs.length,
    workers,
    failedReasons: failedJobs.map((j) => `${rangeField(j.data)}: ${j.failedReason}`),
  };
}

/**
 * The progress of the run on a queue, read once.
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param options - connect timeout.
 * @returns jobs done, active, waiting and failed, and the workers connected.
 * @throws {@link QueueError} `redis-unreachable`, or when the queue holds no run.
 * @example
 * ```ts
 * const p = await runProgress('redis://127.0.0.1:6379/mnist');
 * console.log(`${p.done}/${p.jobs} jobs done, ${p.workers.length} workers`);
 * ```
 */
export async function runProgress(url: string, options: ConnectOptions = {}): Promise<RunProgress> {
  const s = await connect(url, 'collect', options);
  try {
    const manifest = await readManifest(s, 'collect');
    if (manifest === undefined) throw noRun(s);
    const { failedReasons: _f, ...p } = await progressOf(s, manifest);
    return p;
  } finally {
    await s.close();
  }
}

function noRun(s: Session): QueueError {
  return new QueueError(`collect: expected a run on queue "${s.address.name}", got none (enqueue one with robustest eval ... --queue ${s.address.display})`);
}

/**
 * Waits until every range of the queue's run is stored, reporting progress, then reads and checks the parts
 * ({@link checkParts}: no foreign run, no overlap, no gap). Stored parts are never deleted here.
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param options - poll interval, timeout, progress callback, abort signal.
 * @returns the manifest and the parts in index order.
 * @throws {@link QueueError} `redis-unreachable`; no run on the queue; `jobs-failed` when nothing is left to run but
 * some ranges failed for good (their reasons in the message; the finished parts stay stored, and enqueueing the same
 * run again retries only the failed ones); on timeout or abort.
 * @example
 * ```ts
 * const { manifest, parts } = await waitForRun('redis://127.0.0.1:6379/mnist', {
 *   onProgress: (p) => console.error(`${p.done}/${p.jobs} done, ${p.workers.length} workers`),
 * });
 * ```
 */
export async function waitForRun(url: string, options: WaitOptions = {}): Promise<CollectedRun> {
  const s = await connect(url, 'collect', options);
  const interval = options.intervalMs ?? 1000;
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  try {
    let idlePolls = 0;
    for (;;) {
      const manifest = await readManifest(s, 'collect');
      if (manifest === undefined) throw noRun(s);
      const { failedReasons, ...progress } = await progressOf(s, manifest);
      options.onProgress?.(progress);
      if (progress.done === progress.jobs) return { manifest, parts: checkParts(manifest, await s.redis.hgetall(s.keys.parts)) };
      // Nothing queued or running: either jobs failed for good, or jobs are missing. Twice in a row, so that a run
      // being enqueued right now (manifest written, jobs not yet added) is not mistaken for one.
      idlePolls = progress.active + progress.waiting === 0 ? idlePolls + 1 : 0;
      if (idlePolls >= 2 && progress.failed > 0) {
        throw new QueueError(
          `collect: expected all ${progress.jobs} jobs to finish, got ${progress.failed} failed for good (${failedReasons.slice(0, 3).join('; ')}${failedReasons.length > 3 ? '; …' : ''}); the ${progress.done} finished parts stay in Redis: fix the cause and run the same eval --queue again to retry only the failed ones`,
          ERROR_REASONS.jobsFailed,
        );
      }
      if (idlePolls >= 2) {
        throw new QueueError(
          `collect: expected jobs for the ${progress.jobs - progress.done} ranges not stored, got none queued; run the same eval --queue again to enqueue them`,
        );
      }
      if (options.signal?.aborted) throw new QueueError(`collect: stopped with ${progress.done} of ${progress.jobs} jobs done (the parts stay in Redis)`);
      if (Date.now() + interval > deadline) {
        throw new QueueError(
          `collect: expected the run to finish within ${options.timeoutMs} ms, got ${progress.done} of ${progress.jobs} jobs done (the parts stay in Redis)`,
        );
      }
      await sleep(interval, options.signal);
    }
  } finally {
    await s.close();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Removes the queue's run: its jobs (BullMQ's `obliterate`), manifest and stored parts. For after a report is
 * written, or to discard a run.
 *
 * @param url - `redis://HOST:PORT/NAME`.
 * @param options - connect timeout.
 * @throws {@link QueueError} `redis-unreachable`, `bullmq-missing`.
 * @example
 * ```ts
 * await clearRun('redis://127.0.0.1:6379/mnist');
 * ```
 */
export async function clearRun(url: string, options: ConnectOptions = {}): Promise<void> {
  const s = await connect(url, 'collect', options);
  try {
    await s.queue.obliterate({ force: true });
    await s.redis.del(s.keys.manifest, s.keys.parts);
  } finally {
    await s.close();
  }
}
