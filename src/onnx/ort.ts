/**
 * Loading onnxruntime-node (an optional peer dependency) and creating its sessions: the leaf that the query
 * model (`runtime.ts`) and the gradient engine (`ort-gradients.ts`) share. It imports nothing else of the ONNX
 * code, so neither of them depends on the other.
 * @internal
 * @module
 */
import { ERROR_REASONS, UnsupportedError } from '../errors.js';

/** The parts of onnxruntime-node's API that robustest uses (so that its types are not a compile-time dependency). */
/** @internal */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type?: string;
}
/** @internal */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
/** @internal */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array | string, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32' | 'bool' | 'int64', data: Float32Array | Uint8Array | BigInt64Array, dims: readonly number[]) => OrtTensor;
}

function isOrtModule(m: unknown): m is OrtModule {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  const s = r['InferenceSession'];
  return typeof r['Tensor'] === 'function' && typeof s === 'function' && typeof (s as { create?: unknown }).create === 'function';
}

/** The first line of an error's message, for one-line errors. @internal */
export function firstLine(e: unknown): string {
  return e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
}

/**
 * Imports onnxruntime-node (an optional peer).
 * @throws {@link UnsupportedError} with reason `onnxruntime-missing` when it cannot be imported or lacks its API.
 * @internal
 */
export async function loadOrt(): Promise<OrtModule> {
  const spec = 'onnxruntime-node';
  let mod: unknown;
  try {
    mod = await import(spec);
  } catch (e) {
    throw new UnsupportedError(
      `onnxruntime: expected the optional peer dependency onnxruntime-node to load (npm install onnxruntime-node), got ${firstLine(e)}`,
      ERROR_REASONS.onnxruntimeMissing,
    );
  }
  const m = mod as { default?: unknown };
  if (isOrtModule(mod)) return mod;
  if (isOrtModule(m.default)) return m.default;
  throw new UnsupportedError(
    'onnxruntime: expected onnxruntime-node to export InferenceSession and Tensor, got a module without them',
    ERROR_REASONS.onnxruntimeMissing,
  );
}

/**
 * Creates an onnxruntime session for `model` (bytes, or a file path when tensors live beside it) with full graph
 * optimisation. `spinning: false` stops idle intra-op threads from spin-waiting (for sessions that alternate).
 * @throws whatever `fail` returns for the first line of onnxruntime's error.
 * @internal
 */
export async function createSession(
  ort: OrtModule,
  model: Uint8Array | string,
  options: { threads?: number | undefined; spinning?: boolean },
  fail: (why: string) => Error,
): Promise<OrtSession> {
  const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: 'all' };
  if (options.spinning === false) sessionOptions['extra'] = { session: { intra_op: { allow_spinning: '0' } } };
  if (options.threads !== undefined) sessionOptions['intraOpNumThreads'] = options.threads;
  try {
    return await ort.InferenceSession.create(model, sessionOptions);
  } catch (e) {
    throw fail(firstLine(e));
  }
}
