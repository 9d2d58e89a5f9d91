/**
 * A pool of `worker_threads` workers, each running `worker.ts` with its own tfjs engine and model, fed from one
 * queue of shard tasks: an idle worker takes the next task, so a slow worker (a busy core) gets fewer.
 *
 * Failure is never a hang: a worker that fails to start, crashes, or exits rejects every pending task with a typed
 * error, and marks the pool broken so that later calls reject at once. Workers are `unref`'d while idle, so a pool
 * that is never disposed does not keep the process alive; they are `ref`'d while a task is in flight.
 * @internal
 * @module
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BackendError,
  BoundsError,
  ConfigError,
  DataLoadError,
  LabelError,
  ModelLoadError,
  NonFiniteError,
  RobustestError,
  ShapeError,
  UnsupportedError,
} from '../errors.js';
import type { FastGradientSetting, Request, Response, Task, WireError, WorkerSetup } from './protocol.js';

const ERROR_CLASSES: Record<string, new (message: string) => RobustestError> = {
  E_CONFIG: ConfigError,
  E_SHAPE: ShapeError,
  E_BOUNDS: BoundsError,
  E_NON_FINITE: NonFiniteError,
  E_LABEL: LabelError,
  E_MODEL_LOAD: ModelLoadError,
  E_DATA_LOAD: DataLoadError,
  E_UNSUPPORTED: UnsupportedError,
  E_BACKEND: BackendError,
};

/**
 * Rebuilds a worker's error on this thread: a robustest error keeps its class and message; anything else becomes a
 * {@link BackendError} that says what the worker was doing.
 */
export function fromWireError(e: WireError, doing: string): RobustestError {
  const cls = e.code === undefined ? undefined : ERROR_CLASSES[e.code];
  if (cls) return new cls(e.message);
  return new BackendError(`parallelModel: expected ${doing}, got ${e.name}: ${e.message}`);
}

/** The result of a task: the arrays the worker sent back. */
export interface TaskResult {
  readonly value?: Float32Array;
  readonly grad?: Float32Array;
  readonly logits?: Float32Array;
  /** Worker-side milliseconds for the task. */
  readonly computeMs: number;
}

interface Pending {
  readonly task: Task;
  readonly transfer: ArrayBuffer[];
  readonly resolve: (r: TaskResult) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly index: number;
  busy: { readonly id: number; readonly pending: Pending } | undefined;
}

/** Where the worker entry is, and how to start it, for compiled JavaScript (`dist/`) or TypeScript source (tsx, vitest). */
function workerEntry(): { url: URL; eval: false } | { code: string; eval: true } {
  const self = import.meta.url;
  if (!/\.[cm]?ts$/.test(new URL(self).pathname)) return { url: new URL('./worker.js', self), eval: false };
  // Node 20 cannot load .ts in a worker, and `--import tsx` in a worker's execArgv does not reach its entry:
  // start an ES-module bootstrap that registers tsx's loader, then imports the TypeScript entry.
  let api: string;
  try {
    const require = createRequire(self);
    const pkgPath = require.resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
    const rel = pkg.exports?.['./esm/api']?.import?.default;
    if (typeof rel !== 'string') throw new Error('no ./esm/api export');
    api = pathToFileURL(join(dirname(pkgPath), rel)).href;
  } catch (e) {
    throw new BackendError(`parallelModel: expected tsx to be installed to run the worker from TypeScript source, got ${(e as Error).message}`);
  }
  const entry = new URL('./worker.ts', self).href;
  return { code: `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`, eval: true };
}

/** What {@link WorkerPool.start} resolves to: the pool, and what each worker said when ready. */
export interface StartedPool {
  readonly pool: WorkerPool;
  readonly ready: readonly Extract<Response, { type: 'ready' }>[];
}

/** A started pool of workers. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private broken: RobustestError | undefined;
  private disposed = false;
  /** Read on every task, so that the workers follow the main thread's fast-gradient setting. */
  private readonly fastGradients: () => FastGradientSetting;

  private constructor(fastGradients: () => FastGradientSetting) {
    this.fastGradients = fastGradients;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Starts `count` workers in parallel and waits until every one has loaded the model. Rejects (and terminates
   * them all) if any fails: with the worker's own typed error, or a {@link BackendError} if it exits first.
   */
  static async start(count: number, setup: Omit<WorkerSetup, 'index'>, fastGradients: () => FastGradientSetting): Promise<StartedPool> {
    const pool = new WorkerPool(fastGradients);
    const entry = workerEntry();
    const ready: Promise<Extract<Response, { type: 'ready' }>>[] = [];
    const t0 = performance.now();
    for (let index = 0; index < count; index++) {
      let worker: Worker;
      try {
        const workerData: WorkerSetup = { ...setup, index };
        // No inherited execArgv: the worker needs none, and some main-thread flags (`--input-type`, `-e`) make a
        // worker fail to start.
        worker = entry.eval ? new Worker(entry.code, { eval: true, workerData, execArgv: [] }) : new Worker(entry.url, { workerData, execArgv: [] });
      } catch (e) {
        pool.terminate();
        const err = e as Error & { code?: string };
        throw err.name === 'DataCloneError'
          ? new ConfigError(`parallelModel: expected serialisable model options, got ${err.message}`)
          : new BackendError(`parallelModel: expected worker ${index} to start, got ${err.message}`);
      }
      // A listener that is always there: an 'error' with no listener would throw in this thread.
      worker.on('error', () => undefined);
      const slot: Slot = { worker, index, busy: undefined };
      pool.slots.push(slot);
      ready.push(
        new Promise((resolve, reject) => {
          const onMessage = (m: Response): void => {
            cleanup();
            if (m.type === 'ready') resolve({ ...m, startupMs: performance.now() - t0 });
            else if (m.type === 'failed') reject(fromWireError(m.error, `worker ${index} to load the model`));
            else reject(new BackendError(`parallelModel: expected worker ${index} to report ready, got a '${m.type}' message`));
          };
          const onError = (e: Error): void => {
            cleanup();
            reject(new BackendError(`parallelModel: expected worker ${index} to start, got ${e.name}: ${e.message}`));
          };
          const onExit = (code: number): void => {
            cleanup();
            reject(new BackendError(`parallelModel: expected worker ${index} to start, got it exiting with code ${code}`));
          };
          const cleanup = (): void => {
            worker.off('message', onMessage);
            worker.off('error', onError);
            worker.off('exit', onExit);
          };
          worker.on('message', onMessage);
          worker.on('error', onError);
          worker.on('exit', onExit);
        }),
      );
    }
    const settled = await Promise.allSettled(ready);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      pool.terminate();
      throw failure.reason as Error;
    }
    for (const slot of pool.slots) pool.attach(slot);
    return { pool, ready: settled.map((s) => (s as PromiseFulfilledResult<Extract<Response, { type: 'ready' }>>).value) };
  }

  private attach(slot: Slot): void {
    const { worker, index } = slot;
    worker.on('message', (m: Response) => {
      const busy = slot.busy;
      if (!busy || (m.type !== 'result' && m.type !== 'error') || m.id !== busy.id) {
        this.fail(new BackendError(`parallelModel: expected worker ${index} to answer task ${busy?.id ?? '(none)'}, got a '${m.type}' message`));
        return;
      }
      slot.busy = undefined;
      if (m.type === 'result') busy.pending.resolve(m);
      else busy.pending.reject(fromWireError(m.error, `worker ${index} to compute '${busy.pending.task.op}'`));
      this.pump();
    });
    worker.on('error', (e) => {
      this.fail(new BackendError(`parallelModel: expected worker ${index} to keep running, got ${e.name}: ${e.message}`));
    });
    worker.on('messageerror', (e) => {
      this.fail(new BackendError(`parallelModel: expected a readable message from worker ${index}, got ${e.message}`));
    });
    worker.on('exit', (code) => {
      if (!this.disposed) this.fail(new BackendError(`parallelModel: expected worker ${index} to keep running, got it exiting with code ${code}`));
    });
    worker.unref();
  }

  /**
   * Runs tasks on the pool; resolves with their results in the order given. The arrays in `transfers[i]` are
   * transferred with task `i` (the caller must not use them afterwards).
   */
  run(tasks: readonly Task[], transfers: readonly ArrayBuffer[][]): Promise<TaskResult[]> {
    if (this.disposed) return Promise.reject(new ConfigError('parallelModel: expected a live model, got one that was disposed'));
    if (this.broken) return Promise.reject(this.broken);
    const all = tasks.map(
      (task, i) =>
        new Promise<TaskResult>((resolve, reject) => {
          this.queue.push({ task, transfer: transfers[i] ?? [], resolve, reject });
        }),
    );
    this.pump();
    return Promise.all(all);
  }

  /** Hands queued tasks to idle workers. */
  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const next = this.queue.shift();
      if (!next) break;
      const id = this.nextId++;
      slot.busy = { id, pending: next };
      const request: Request = { ...next.task, id, fastGradients: this.fastGradients() };
      try {
        slot.worker.postMessage(request, next.transfer);
      } catch (e) {
        this.fail(new BackendError(`parallelModel: expected to send a task to worker ${slot.index}, got ${(e as Error).message}`));
        return;
      }
    }
    // Keep the process alive exactly while some worker has a task.
    for (const slot of this.slots) {
      if (slot.busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  /** Marks the pool broken, rejects everything pending, and terminates the workers. */
  private fail(error: RobustestError): void {
    if (this.broken || this.disposed) return;
    this.broken = error;
    this.rejectAll(error);
    this.terminate();
  }

  private rejectAll(error: Error): void {
    for (const slot of this.slots) {
      slot.busy?.pending.reject(error);
      slot.busy = undefined;
    }
    for (const p of this.queue.splice(0)) p.reject(error);
  }

  private terminate(): void {
    for (const slot of this.slots) {
      slot.worker.removeAllListeners('message');
      slot.worker.terminate().catch(() => undefined);
    }
  }

  /** Test hook: makes worker `index` exit with `code`, as a crash would. */
  crashWorker(index: number, code = 1): void {
    this.slots[index]?.worker.postMessage({ op: 'exit', code, id: -1, fastGradients: false } satisfies Request);
  }

  /** Terminates the workers; pending tasks reject with a {@link ConfigError}. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rejectAll(new ConfigError('parallelModel: expected the model to stay live until its calls finished, got it disposed'));
    this.terminate();
  }
}
