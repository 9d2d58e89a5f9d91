/**
 * Backend selection: `cpu`, `wasm`, or `tensorflow` (tfjs-node / tfjs-node-gpu, optional peers detected at run time).
 * @module
 */
import * as tf from './tf.js';
import { BackendError, ConfigError, describe } from './errors.js';

/** A backend a user can ask for; `auto` picks the fastest that loads. */
export type BackendName = 'cpu' | 'wasm' | 'tensorflow' | 'auto';

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend name now active (`cpu`, `wasm`, `tensorflow`). */
  readonly name: string;
  /** Which package provides it, e.g. `@tensorflow/tfjs-node-gpu`. */
  readonly package: string;
  /** Why this backend: `requested` or `auto`. */
  readonly reason: 'requested' | 'auto';
  /** Backends tried before it and why they failed (auto mode). */
  readonly skipped: readonly string[];
}

const BACKENDS = ['cpu', 'wasm', 'tensorflow', 'auto'] as const;

async function tryImport(spec: string): Promise<string | undefined> {
  try {
    await import(spec);
    return undefined;
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    const code = (e as { code?: string }).code;
    return code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)|Could not resolve/.test(message) ? 'not installed' : message;
  }
}

async function loadTensorflow(): Promise<{ pkg: string } | { error: string }> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const err = await tryImport(pkg);
    if (err === undefined && tf.findBackend('tensorflow')) return { pkg };
    errors.push(`${pkg}: ${err ?? 'loaded but registered no tensorflow backend'}`);
  }
  return { error: errors.join('; ') };
}

async function activate(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Chooses and initialises a tfjs backend.
 *
 * `auto` (the default) tries, in order: `tensorflow` (if `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`
 * loads), `wasm` (if `@tensorflow/tfjs-backend-wasm` is installed), then `cpu`.
 * The environment variable `ROBUSTEST_BACKEND` is read by the CLI, not here.
 *
 * @param requested - a backend name or `auto`. Default `auto`.
 * @returns what was chosen and what was skipped.
 * @throws {@link ConfigError} for an unknown name; {@link BackendError} if a requested backend cannot load.
 * @example
 * ```ts
 * const info = await initBackend('wasm');
 * console.log(info.name); // 'wasm'
 * ```
 */
export async function initBackend(requested: BackendName = 'auto'): Promise<BackendInfo> {
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new ConfigError(`backend: expected one of ${BACKENDS.join(', ')}, got ${describe(requested)}`);
  }
  const skipped: string[] = [];
  const reason = requested === 'auto' ? 'auto' : 'requested';
  if (requested === 'tensorflow' || requested === 'auto') {
    const r = await loadTensorflow();
    if ('pkg' in r && (await activate('tensorflow'))) return { name: 'tensorflow', package: r.pkg, reason, skipped };
    const why = 'error' in r ? r.error : 'the tensorflow backend failed to initialise';
    if (requested === 'tensorflow') throw new BackendError(`backend: expected @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu to load, got ${why}`);
    skipped.push(`tensorflow (${why})`);
  }
  if (requested === 'wasm' || requested === 'auto') {
    const err = tf.findBackend('wasm') ? undefined : await tryImport('@tensorflow/tfjs-backend-wasm');
    if (err === undefined && (await activate('wasm'))) return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', reason, skipped };
    const why = err ?? 'the wasm backend failed to initialise';
    if (requested === 'wasm') throw new BackendError(`backend: expected @tensorflow/tfjs-backend-wasm to load, got ${why}`);
    skipped.push(`wasm (${why})`);
  }
  if (!(await activate('cpu'))) throw new BackendError('backend: expected the cpu backend to initialise, got a failure');
  return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', reason, skipped };
}
