/**
 * The messages between the main thread and a pool worker (`worker.ts`). Everything here is structured-cloneable;
 * float and int arrays travel in the transfer list, so each crosses a thread once and is never copied by the
 * structured clone.
 * @internal
 * @module
 */
import type { LossName } from '../losses.js';
import type { LoadModelOptions } from '../load.js';

/** Which fast-gradient overrides a worker should have: `false` for none, else the kernels active on its backend. */
export type FastGradientSetting = false | { readonly kernels: readonly string[]; readonly backends: readonly string[] };

/** What a worker gets at start (`workerData`). */
export interface WorkerSetup {
  /** Absolute path of the model, for `loadModel`. */
  readonly path: string;
  /** `loadModel`'s options. */
  readonly options: LoadModelOptions;
  /** tfjs backend name for `initBackend` (`cpu`, `wasm`, `tensorflow`). */
  readonly backend: string;
  /** tfjs `PROD` flag of the main thread. */
  readonly prod: boolean;
  /** The main thread's fast-gradient setting. */
  readonly fastGradients: FastGradientSetting;
  /** Worker index, for messages. */
  readonly index: number;
}

/** A built-in loss, as data (see `describeLoss`). */
export interface WireLoss {
  readonly name: LossName;
  readonly targeted: boolean;
  readonly numClasses: number;
  /** The shard's labels or targets. */
  readonly classes: Int32Array;
}

/** One shard of work. `x` is `[n, ...inputShape]` row-major. */
export type Task =
  | { readonly op: 'valueAndGrad'; readonly x: Float32Array; readonly n: number; readonly loss: WireLoss }
  | { readonly op: 'logits'; readonly x: Float32Array; readonly n: number }
  | { readonly op: 'vjp'; readonly x: Float32Array; readonly n: number; readonly dlogits: Float32Array }
  /** Test hook: the worker exits at once with this code (simulates a crash). */
  | { readonly op: 'exit'; readonly code: number };

/** A task as sent: with its id, and the main thread's fast-gradient setting (re-applied by the worker if it changed). */
export type Request = Task & { readonly id: number; readonly fastGradients: FastGradientSetting };

/** An error as data. */
export interface WireError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

/** What a worker answers. */
export type Response =
  | {
      readonly type: 'ready';
      readonly numClasses: number;
      readonly inputShape: readonly number[];
      readonly fingerprint: string;
      /** Set by the main thread: ms from `new Worker` to this message. */ readonly startupMs: number;
    }
  | { readonly type: 'failed'; readonly error: WireError }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly value?: Float32Array;
      readonly grad?: Float32Array;
      readonly logits?: Float32Array;
      /** Worker-side ms from receiving the task to sending this. */ readonly computeMs: number;
    }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError };

/** Turns anything thrown into a {@link WireError}. */
export function toWireError(e: unknown): WireError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(e) };
}
