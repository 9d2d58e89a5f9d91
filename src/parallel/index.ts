/**
 * A data-parallel `worker_threads` pool for input-gradients: {@link parallelModel} loads a model in the main thread
 * and in each of `workers` worker threads (each with its own tfjs engine), and computes `valueAndGrad` by splitting
 * the batch into fixed-size shards that the workers take from one queue. Results are bit-identical to the
 * model's own in-process `valueAndGrad` on the cpu and wasm backends, whatever the number of workers (see
 * `docs/performance-threads.md`).
 * @module
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import * as tf from '../tf.js';
import { loadModel, type LoadModelOptions } from '../load.js';
import { describeLoss } from '../losses.js';
import { ConfigError, ModelLoadError, ShapeError, UnsupportedError, describe } from '../errors.js';
import { autoEnableFastGradients, fastGradientsEnabled, FAST_GRADIENT_KERNELS } from '../gradients/index.js';
import { WrappedModel, type DifferentiableModel, type LossFn, type ValueAndGrad } from '../model.js';
import { WorkerPool, type TaskResult } from './pool.js';
import type { FastGradientSetting, Task } from './protocol.js';

/**
 * Where the workers get the model from: what {@link loadModel} takes. Plain data, so that it can be sent to each
 * worker, which loads the model itself.
 * @example
 * ```ts
 * const source: ParallelModelSource = { path: 'assets/mnist-cnn/model.json', options: { bounds: [0, 1] } };
 * ```
 */
export interface ParallelModelSource {
  /** A `model.json`, a directory holding one, or a `.onnx` file that imports into tfjs ops (as for {@link loadModel}). */
  readonly path: string;
  /**
   * {@link loadModel}'s options (bounds, preprocessing, name, format). Default: none. `engine` is always `tfjs`
   * here (the main thread and every worker compute with tfjs; `onnxruntime` is refused, `auto` means `tfjs`).
   */
  readonly options?: LoadModelOptions;
}

/**
 * Options of {@link parallelModel}.
 * @example
 * ```ts
 * const options: ParallelModelOptions = { workers: 4, shardSize: 25 };
 * ```
 */
export interface ParallelModelOptions {
  /**
   * Number of worker threads. Default `os.availableParallelism()` (at least 1). More workers than free cores is
   * slower, not faster: with another process holding one of 2 cores, 2 workers measured 0.95× the single thread.
   */
  workers?: number;
  /**
   * Most samples per shard. A batch of `N` is cut into `ceil(N / shardSize)` shards of near-equal size (sizes differ
   * by at most one); the cut depends on `N` and `shardSize` only, never on the number of workers. Default
   * {@link DEFAULT_SHARD_SIZE} (50): a batch of 100 (`evaluate`'s default) gives one shard per worker on 2 cores.
   * Each shard costs a worker about 2 ms beyond its compute (MNIST CNN on wasm), so smaller shards balance better
   * but cost more; for 4 workers and batches of 100, use 25.
   */
  shardSize?: number;
  /**
   * The tfjs backend of the workers: `cpu`, `wasm` or `tensorflow`. Default: the main thread's current backend
   * (`tf.getBackend()`), which is what makes results bit-identical to the in-process model.
   */
  backend?: 'cpu' | 'wasm' | 'tensorflow';
}

/**
 * The default of {@link ParallelModelOptions.shardSize}.
 * @example
 * ```ts
 * const model = await parallelModel({ path }, { shardSize: DEFAULT_SHARD_SIZE / 2 });
 * ```
 */
export const DEFAULT_SHARD_SIZE = 50;

/**
 * A {@link DifferentiableModel} whose `valueAndGrad` runs on a pool of worker threads. `logits` (synchronous by
 * contract) runs on the main thread's copy of the model. `dispose()` terminates the workers.
 * @example
 * ```ts
 * const model: ParallelModel = await parallelModel({ path: 'assets/mnist-cnn/model.json' }, { workers: 2 });
 * console.log(model.workers, model.shardSize, model.backend); // 2 50 wasm
 * model.dispose();
 * ```
 */
export interface ParallelModel extends DifferentiableModel {
  /** Number of worker threads. */
  readonly workers: number;
  /** Most samples per shard. */
  readonly shardSize: number;
  /** The workers' tfjs backend. */
  readonly backend: string;
  /** Milliseconds each worker took to start, from its creation to its model being loaded and warmed up on one sample. */
  readonly workerStartupMs: readonly number[];
}

/** The shards of a batch of `n`: `ceil(n / size)` ranges `[lo, hi)` of near-equal length. @internal */
export function shardRanges(n: number, size: number): [number, number][] {
  const k = Math.ceil(n / size);
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) out.push([Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)]);
  return out;
}

function fastGradientSetting(backend: string): FastGradientSetting {
  if (!fastGradientsEnabled()) return false;
  return { kernels: FAST_GRADIENT_KERNELS.filter((k) => fastGradientsEnabled(k, backend)), backends: [backend] };
}

/** Host copy of a float tensor's values; may be the tensor's own storage (cpu backend), so never transfer it. */
async function hostFloats(x: tf.Tensor): Promise<Float32Array> {
  if (x.dtype === 'float32') return (await x.data()) as Float32Array;
  return Float32Array.from(await x.data());
}

const labelCache = new WeakMap<tf.Tensor, Int32Array>();
async function hostLabels(t: tf.Tensor1D): Promise<Int32Array> {
  let v = labelCache.get(t);
  if (v === undefined) {
    v = Int32Array.from(await t.data());
    labelCache.set(t, v);
  }
  return v;
}

/** @internal */
class PooledModel extends WrappedModel implements ParallelModel {
  readonly engine: string;
  readonly workers: number;
  readonly backend: string;
  readonly workerStartupMs: readonly number[];
  private readonly perSample: number;
  private disposed = false;

  constructor(
    readonly local: DifferentiableModel,
    readonly pool: WorkerPool,
    readonly shardSize: number,
    backend: string,
    startup: readonly number[],
    private readonly owner: boolean,
  ) {
    super(local);
    this.engine = local.engine;
    this.workers = pool.size;
    this.backend = backend;
    this.workerStartupMs = startup;
    this.perSample = local.inputShape.reduce((a, b) => a * b, 1);
  }

  /** One task per shard, each with its own buffers to transfer. */
  private tasks(n: number, make: (lo: number, hi: number) => { task: Task; transfer: ArrayBuffer[] }): { tasks: Task[]; transfers: ArrayBuffer[][] } {
    const tasks: Task[] = [];
    const transfers: ArrayBuffer[][] = [];
    for (const [lo, hi] of shardRanges(n, this.shardSize)) {
      const { task, transfer } = make(lo, hi);
      tasks.push(task);
      transfers.push(transfer);
    }
    return { tasks, transfers };
  }

  private gather(n: number, width: number, results: readonly TaskResult[], key: 'value' | 'grad' | 'logits'): Float32Array {
    const ranges = shardRanges(n, this.shardSize);
    const only = results.length === 1 ? results[0]![key] : undefined;
    if (only !== undefined && only.length === n * width) return only;
    const out = new Float32Array(n * width);
    ranges.forEach(([lo], i) => {
      const part = results[i]![key];
      if (part === undefined) throw new ShapeError(`parallelModel: expected '${key}' from shard ${i}, got none`);
      out.set(part, lo * width);
    });
    return out;
  }

  async valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad> {
    if (this.disposed) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    const n = this.checkInput(x);
    autoEnableFastGradients();
    if (n === 0) return this.local.valueAndGrad(x, loss);
    const d = this.perSample;
    const xs = await hostFloats(x);
    const shard = (lo: number, hi: number): Float32Array => xs.slice(lo * d, hi * d);
    const spec = describeLoss(loss);
    // A loss that closes over more than one class tensor (targeted DLR) takes the generic two-round-trip path below.
    if (spec !== undefined && spec.labels === undefined && spec.numClasses === this.numClasses) {
      if (spec.classes.isDisposed)
        throw new ConfigError(`${this.name}: expected the loss's ${spec.targeted ? 'targets' : 'labels'} to be a live tensor, got a disposed one`);
      if (spec.classes.size !== n)
        throw new ShapeError(
          `${this.name}: expected the loss's ${spec.targeted ? 'targets' : 'labels'} to have ${n} entries (one per input), got ${spec.classes.size}`,
        );
      const classes = await hostLabels(spec.classes);
      const { tasks, transfers } = this.tasks(n, (lo, hi) => {
        const xi = shard(lo, hi);
        const ci = classes.slice(lo, hi);
        return {
          task: { op: 'valueAndGrad', x: xi, n: hi - lo, loss: { name: spec.name, targeted: spec.targeted, numClasses: spec.numClasses, classes: ci } },
          transfer: [xi.buffer as ArrayBuffer, ci.buffer as ArrayBuffer],
        };
      });
      const results = await this.pool.run(tasks, transfers);
      const value = tf.tensor1d(this.gather(n, 1, results, 'value'), 'float32');
      const grad = tf.tensor(this.gather(n, d, results, 'grad'), x.shape, 'float32');
      return { value, grad };
    }
    // Any other loss: the workers give logits, this thread differentiates the loss, the workers back-propagate.
    const c = this.numClasses;
    const first = this.tasks(n, (lo, hi) => {
      const xi = shard(lo, hi);
      return { task: { op: 'logits', x: xi, n: hi - lo }, transfer: [xi.buffer as ArrayBuffer] };
    });
    const logits = this.gather(n, c, await this.pool.run(first.tasks, first.transfers), 'logits');
    const [value, dz] = tf.tidy(() => {
      const z = tf.tensor2d(logits, [n, c], 'float32');
      const r = tf.valueAndGrad((t: tf.Tensor2D) => loss(t))(z);
      return [r.value as tf.Tensor1D, r.grad] as const;
    });
    try {
      const dzs = (await dz.data()) as Float32Array;
      const second = this.tasks(n, (lo, hi) => {
        const xi = shard(lo, hi);
        const dzi = dzs.slice(lo * c, hi * c);
        return { task: { op: 'vjp', x: xi, n: hi - lo, dlogits: dzi }, transfer: [xi.buffer as ArrayBuffer, dzi.buffer as ArrayBuffer] };
      });
      dz.dispose();
      const grad = tf.tensor(this.gather(n, d, await this.pool.run(second.tasks, second.transfers), 'grad'), x.shape, 'float32');
      return { value, grad };
    } catch (e) {
      tf.dispose([value, dz]);
      throw e;
    }
  }

  /** Terminates the workers and frees the main thread's model; idempotent. A view from {@link withShardSize} frees nothing. */
  dispose(): void {
    if (!this.owner || this.disposed) return;
    this.disposed = true;
    this.pool.dispose();
    this.local.dispose();
  }
}

/**
 * Loads a model on the main thread and on a pool of `worker_threads` workers, and returns it as a
 * {@link DifferentiableModel} whose `valueAndGrad` runs on the workers, data-parallel.
 *
 * Each worker owns a tfjs engine on the same backend as the main thread, the main thread's fast-gradient setting
 * (see {@link enableFastGradients}; re-read at every call: the kernels whose overrides are active on that backend,
 * enabled with policy `measured`, so a main thread on policy `all` is matched only to float tolerance), and its own
 * copy of the model, loaded from `source`.
 * `valueAndGrad(x, loss)` cuts the batch into shards of at most `shardSize` samples; idle workers take the next
 * shard, and the results are assembled by sample index into tensors the caller owns. For the built-in losses
 * ({@link crossEntropy}, {@link marginLoss}, {@link targetedLoss}, {@link attackLoss}: see {@link describeLoss})
 * each worker rebuilds the loss for its shard (one round trip). Any other loss function (a closure cannot be sent
 * to a thread) takes two: the workers compute the logits, the main thread the loss and its gradient with respect to
 * the logits, then the workers back-propagate that gradient to the input. Both give values and gradients
 * bit-identical to the in-process `valueAndGrad` of the same model loaded with `engine: 'tfjs'` on the cpu and wasm
 * backends (tested; the built-in losses are per-sample, and a closure loss may even couple the samples: it runs on
 * the whole batch in this thread).
 *
 * Worth it for long jobs when a core is free: workers take 0.5 to 2 s to start, and with another process on one of
 * two cores there is no gain (`docs/performance-threads.md`). Not for the `tensorflow` backend, which already runs
 * several threads per op. `logits` runs on the main thread.
 *
 * A pool that is never disposed does not keep the process alive (its workers are unreferenced while idle), but
 * `dispose()` should still be called, in a `finally`: it terminates the workers and frees the main thread's model.
 *
 * @param source - the model's path and {@link loadModel} options; each worker loads it itself.
 * @param options - `workers` (default `os.availableParallelism()`), `shardSize` (default {@link DEFAULT_SHARD_SIZE}),
 *   `backend` (default: the main thread's).
 * @returns the pooled model; the caller disposes it.
 * @throws {@link ConfigError} for an invalid option, `engine: 'onnxruntime'`, or a model option that cannot be sent to
 *   a thread;
 *   {@link ModelLoadError} if the model cannot be loaded (here or in a worker) or a worker's copy differs;
 *   {@link UnsupportedError} for a model that loads as query-only (onnxruntime);
 *   {@link BackendError} if a worker's backend fails or a worker crashes while starting. Later, a worker that crashes
 *   makes the pending and every later `valueAndGrad` reject with a {@link BackendError}; none hangs.
 * @example
 * ```ts
 * await initBackend('wasm');
 * const model = await parallelModel({ path: 'assets/mnist-cnn/model.json' }, { workers: 2 });
 * try {
 *   const result = await pgd().run(model, x, labels, { epsilons: [0.1], seed: 0 }); // same numbers as in-process
 *   result.dispose();
 * } finally {
 *   model.dispose();
 * }
 * ```
 */
export async function parallelModel(source: ParallelModelSource, options: ParallelModelOptions = {}): Promise<ParallelModel> {
  if (!source || typeof source !== 'object' || typeof source.path !== 'string' || source.path.length === 0) {
    throw new ConfigError(`parallelModel: expected a source { path, options? } with a non-empty path, got ${describe(source)}`);
  }
  const workers = options.workers ?? Math.max(1, availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new ConfigError(`parallelModel: expected workers to be a positive integer, got ${describe(workers)}`);
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new ConfigError(`parallelModel: expected shardSize to be a positive integer, got ${describe(shardSize)}`);
  const backend = options.backend ?? tf.getBackend();
  if (!['cpu', 'wasm', 'tensorflow'].includes(backend)) {
    throw new ConfigError(
      `parallelModel: expected backend 'cpu', 'wasm' or 'tensorflow'${options.backend === undefined ? " (the main thread's)" : ''}, got ${describe(backend)}`,
    );
  }
  const path = resolve(source.path);
  if (source.options?.engine === 'onnxruntime') {
    throw new ConfigError(
      `parallelModel: expected engine 'tfjs' or 'auto' (each worker runs a tfjs engine; onnxruntime already uses every core), got 'onnxruntime'`,
    );
  }
  // The pool parallelises tfjs: the main thread and every worker load the model with the tfjs gradient engine.
  const loadOptions: LoadModelOptions = { ...(source.options ?? {}), engine: 'tfjs' };
  const local = await loadModel(path, loadOptions);
  if (local.kind !== 'differentiable') {
    local.dispose();
    throw new UnsupportedError(`parallelModel: expected ${path} to load as a differentiable (tfjs) model, got a query-only ${local.engine} model`);
  }
  autoEnableFastGradients();
  let started;
  try {
    started = await WorkerPool.start(
      workers,
      { path, options: loadOptions, backend, prod: tf.env().getBool('PROD'), fastGradients: fastGradientSetting(backend) },
      () => fastGradientSetting(backend),
    );
  } catch (e) {
    local.dispose();
    throw e;
  }
  const fingerprint = await local.fingerprint();
  const bad = started.ready.findIndex(
    (r) => r.fingerprint !== fingerprint || r.numClasses !== local.numClasses || r.inputShape.join(',') !== local.inputShape.join(','),
  );
  if (bad >= 0) {
    const r = started.ready[bad]!;
    started.pool.dispose();
    local.dispose();
    throw new ModelLoadError(
      `parallelModel: expected worker ${bad} to load the same model as the main thread (${fingerprint.slice(0, 12)}, ${local.numClasses} classes, [${local.inputShape.join(', ')}]), got ${r.fingerprint.slice(0, 12)}, ${r.numClasses} classes, [${r.inputShape.join(', ')}]`,
    );
  }
  return new PooledModel(
    local,
    started.pool,
    shardSize,
    backend,
    started.ready.map((r) => r.startupMs),
    true,
  );
}

/**
 * A view of `model` with another shard size, sharing its workers (its `dispose` does nothing). For tests.
 * @internal
 */
export function withShardSize(model: ParallelModel, shardSize: number): ParallelModel {
  const m = model as PooledModel;
  return new PooledModel(m.local, m.pool, shardSize, m.backend, m.workerStartupMs, false);
}

/** The pool behind a model from {@link parallelModel}. For tests. @internal */
export function poolOf(model: ParallelModel): WorkerPool {
  return (model as PooledModel).pool;
}
