/**
 * The enable/disable state of the gradient overrides: {@link enableFastGradients} registers the overrides of
 * `overrides.ts` (and the replacement kernels of `backprop.ts`) as tfjs gradient configs, {@link disableFastGradients}
 * puts tfjs's own back, and the queries say what is active.
 * @module
 */
import * as tf from '../tf.js';
import { ConfigError, describe } from '../errors.js';
import { installBackpropKernels, restoreBackpropKernels, restoreWasmClones, shareWasmClones } from './backprop.js';
import { FAST_GRADIENT_KERNELS, FAST_GRADIENT_TABLE, IMPLS, type FastGradientKernel } from './overrides.js';

/**
 * Options of {@link enableFastGradients}; every field is optional.
 * @example
 * ```ts
 * const options: FastGradientOptions = { backends: ['wasm'], policy: 'measured' };
 * enableFastGradients(options);
 * ```
 */
export interface FastGradientOptions {
  /**
   * The tfjs backends on which overrides may run; on any other backend tfjs's own gradients run.
   * Default: `['wasm', 'cpu']`.
   */
  backends?: readonly string[];
  /**
   * `measured` (default): each kernel's override runs only on the backends where {@link FAST_GRADIENT_TABLE} says
   * it is faster. `all`: every override runs on every backend in `backends` (for testing, or for backends not
   * measured; the gradients are the same either way).
   */
  policy?: 'measured' | 'all';
  /** Restrict the overrides to these kernels. Default: all of {@link FAST_GRADIENT_KERNELS}. */
  kernels?: readonly FastGradientKernel[];
}

/**
 * The environment variable that, set to `0`, `false`, `off` or `no`, makes {@link enableFastGradients} do nothing
 * (read at each call of it).
 * @example
 * ```ts
 * process.env[FAST_GRADIENTS_ENV] = '0';
 * enableFastGradients();
 * fastGradientsEnabled(); // false
 * ```
 */
export const FAST_GRADIENTS_ENV = 'ROBUSTEST_FAST_GRADIENTS';

interface State {
  readonly originals: Map<string, tf.GradConfig>;
  /** kernel → gradient name (`x`, `filter`, `a`, `b`) → backends where the override computes it. */
  readonly active: Map<string, ReadonlyMap<string, ReadonlySet<string>>>;
  /** Whether the wasm backend's clones share buffers (see {@link shareWasmClones}). */
  readonly wasmShared: boolean;
}

let state: State | undefined;
/** Set once a user (or the automatic default) has chosen: auto-enabling then never overrides that choice. */
let chosen = false;

function envDisabled(): boolean {
  const v = typeof process === 'undefined' ? undefined : process.env[FAST_GRADIENTS_ENV];
  return v !== undefined && ['0', 'false', 'off', 'no'].includes(v.trim().toLowerCase());
}

/**
 * Replaces tfjs's gradient configs for {@link FAST_GRADIENT_KERNELS} with versions built from forward kernels.
 *
 * What changes: the input gradient (used by attacks) and the filter/weight gradients (used by training) of
 * `Conv2D` (NHWC; any strides, dilations, `same`/`valid`/explicit padding — tfjs's own rejects dilations > 1),
 * `DepthwiseConv2dNative` (any channel multiplier; wasm has no kernel for tfjs's own), `MaxPool`, `AvgPool`,
 * `BatchMatMul` (all transpose flags), `Relu`, `Relu6`, `LeakyRelu` and `Elu`. The math (transposed
 * convolutions as forward convolutions of the padded upstream gradient with the flipped filter — Dumoulin &
 * Visin 2016, §4 — in sub-pixel form for strided convolutions, as a matmul plus col2im when windows do not
 * overlap, and as a depthwise convolution plus a channel sum for one input channel; filter gradients as
 * convolutions of the input with the upstream gradient; max-pool gradients routed to each window's first
 * maximum in row-major order, as tfjs-cpu does, ties included) is documented in `src/gradients/formulas.ts`;
 * the max-pool gradient of overlapping windows, and on cpu the activation gradients, run as loop kernels
 * (`src/gradients/kernels.ts`).
 * Values equal tfjs-cpu's own gradients to float32 rounding, with two intended exceptions where tfjs's gradient
 * is not the derivative of its forward pass: `AvgPool` with padding follows the forward pass (which averages
 * in-bounds pixels only), where tfjs's gradient divides by the full window area; and `MaxPool` with `ceil`
 * rounding gives the windows that rounding adds past the input their gradient, which tfjs-cpu's drops.
 *
 * On wasm, while any override is enabled for it, the backend's `Identity` kernel shares its input's buffer
 * instead of copying it (as tfjs's cpu backend does): tfjs clones every tensor a gradient saves for the backward
 * pass, and each clone was a full copy there. {@link disableFastGradients} restores the copying kernel.
 *
 * Each override checks `tf.getBackend()` when the gradient is computed and runs tfjs's original gradient
 * function unless it is active for that backend, so enabling is safe with any backend. Calling it again replaces
 * the previous options. `NCHW` convolutions and tensors not of rank 4 always use tfjs's gradient, and so do
 * overlapping `MaxPool` windows with numeric padding or a rounding mode on backends other than wasm and cpu.
 *
 * Fused kernels: tfjs-layers' `Conv2D`/`Dense` call `tf.fused.conv2d`/`tf.fused.matMul`, which run the fused
 * kernel only when no gradient is being recorded or the activation is linear; so under `tf.grad` a layer with
 * an activation runs `Conv2D`/`BatchMatMul` + bias add + activation and gets these overrides, while a layer with
 * a linear activation runs `FusedConv2D`/`_FusedMatMul`, whose gradient is a `customGrad` inside tfjs that no
 * registered gradient can replace (on wasm its conv filter gradient fails: no `Conv2DBackpropFilter`).
 *
 * Does nothing when the environment variable `ROBUSTEST_FAST_GRADIENTS` is `0`, `false`, `off` or `no`.
 *
 * @param options - backends (default `wasm` and `cpu`), policy (default `measured`: only where faster), kernels.
 * @throws {@link ConfigError} for an unknown kernel name, an unknown policy, or a non-string backend name.
 * @example
 * ```ts
 * await initBackend('wasm');
 * enableFastGradients();                 // wasm input-gradients several times faster
 * const { grad } = await model.valueAndGrad(x, loss);
 * disableFastGradients();                // tfjs's own gradients again
 * ```
 */
export function enableFastGradients(options: FastGradientOptions = {}): void {
  chosen = true;
  const kernels = options.kernels ?? FAST_GRADIENT_KERNELS;
  for (const k of kernels) {
    if (!FAST_GRADIENT_KERNELS.includes(k)) {
      throw new ConfigError(`enableFastGradients: expected kernels from ${FAST_GRADIENT_KERNELS.join(', ')}, got ${describe(k)}`);
    }
  }
  const policy = options.policy ?? 'measured';
  if (policy !== 'measured' && policy !== 'all') {
    throw new ConfigError(`enableFastGradients: expected policy 'measured' or 'all', got ${describe(policy)}`);
  }
  const backends = options.backends ?? ['wasm', 'cpu'];
  for (const b of backends) {
    if (typeof b !== 'string' || b.length === 0) throw new ConfigError(`enableFastGradients: expected backend names, got ${describe(b)}`);
  }
  disableFastGradients();
  if (envDisabled()) return;
  const originals = new Map<string, tf.GradConfig>();
  const active = new Map<string, ReadonlyMap<string, ReadonlySet<string>>>();
  for (const kernel of kernels) {
    const original = tf.getGradient(kernel);
    if (original === undefined) continue;
    const perInput = new Map<string, ReadonlySet<string>>();
    for (const [input, measured] of Object.entries(FAST_GRADIENT_TABLE[kernel])) {
      const on = new Set(backends.filter((b) => policy === 'all' || measured.includes(b)));
      if (on.size > 0) perInput.set(input, on);
    }
    if (perInput.size === 0) continue;
    originals.set(kernel, original);
    active.set(kernel, perInput);
    const impl = IMPLS[kernel];
    const config: tf.GradConfig = {
      kernelName: kernel,
      gradFunc: (dy, saved, attrs) => {
        const here = state?.active.get(kernel);
        const backend = tf.getBackend();
        // The wasm backend may have been loaded after enableFastGradients: share clones from the next step on.
        if (backend === 'wasm' && state?.wasmShared === true) shareWasmClones();
        if (state !== undefined) installBackpropKernels(state.active);
        const mine = here !== undefined && !Array.isArray(dy) && [...here.values()].some((s) => s.has(backend)) ? impl(dy, saved, attrs) : undefined;
        if (mine === undefined) return original.gradFunc(dy, saved, attrs);
        // Per gradient: the override where it is active, else tfjs's own; where tfjs's own cannot be built
        // (it rejects dilated convolutions), the override.
        let theirs: ReturnType<tf.GradFunc> | undefined;
        const result: ReturnType<tf.GradFunc> = {};
        for (const [name, thunk] of Object.entries(mine)) {
          result[name] = here?.get(name)?.has(backend)
            ? thunk
            : () => {
                try {
                  theirs ??= original.gradFunc(dy, saved, attrs);
                } catch {
                  return thunk();
                }
                const t = theirs[name];
                return t === undefined ? thunk() : t();
              };
        }
        return result;
      },
    };
    // Save exactly what the original saves, in the same order, so that falling back to it always works.
    if (original.inputsToSave !== undefined) config.inputsToSave = original.inputsToSave;
    if (original.outputsToSave !== undefined) config.outputsToSave = original.outputsToSave;
    if (original.saveAllInputs !== undefined) config.saveAllInputs = original.saveAllInputs;
    tf.registerGradient(config);
  }
  const wasmShared = active.size > 0 && backends.includes('wasm');
  if (wasmShared) shareWasmClones();
  installBackpropKernels(active);
  state = { originals, active, wasmShared };
}

/**
 * Restores tfjs's original gradient configs replaced by {@link enableFastGradients}. Does nothing when none are
 * enabled.
 * @example
 * ```ts
 * enableFastGradients();
 * // ...
 * disableFastGradients();
 * ```
 */
export function disableFastGradients(): void {
  chosen = true;
  if (state === undefined) return;
  for (const original of state.originals.values()) tf.registerGradient(original);
  restoreWasmClones();
  restoreBackpropKernels();
  state = undefined;
}

/**
 * Whether {@link enableFastGradients} has overrides in place. Defaults to `false` (nothing enabled).
 * @param kernel - when given, whether an override of that kernel's gradient is active...
 * @param backend - ...on this backend (default: the current one, `tf.getBackend()`).
 * @returns `true` if any override (or one of the given kernel's gradients, on the given backend) is active.
 * @example
 * ```ts
 * enableFastGradients({ backends: ['wasm'] });
 * fastGradientsEnabled();                  // true
 * fastGradientsEnabled('MaxPool', 'cpu');  // false
 * ```
 */
export function fastGradientsEnabled(kernel?: FastGradientKernel, backend?: string): boolean {
  if (state === undefined) return false;
  if (kernel === undefined) return state.active.size > 0;
  const b = backend ?? tf.getBackend();
  return [...(state.active.get(kernel)?.values() ?? [])].some((s) => s.has(b));
}

/**
 * Whether the fast-gradient overrides are active on a backend right now: at least one kernel's gradient is
 * computed by robustest's override there, not by tfjs's own. This is the answer for a report's provenance ("were
 * the overrides on for this run?"); {@link fastGradientsEnabled} without arguments says only whether any override
 * is registered, for any backend. `false` before the first gradient when the user has not chosen (the overrides
 * are switched on by default at the first model gradient), after {@link disableFastGradients}, when
 * `ROBUSTEST_FAST_GRADIENTS` turns them off, and on backends without overrides (e.g. `tensorflow`, `webgl`).
 * @param backend - the tfjs backend to ask about. Default: the current one, `tf.getBackend()`.
 * @returns `true` if at least one override is active on `backend`.
 * @example
 * ```ts
 * await initBackend('wasm');
 * enableFastGradients();
 * fastGradientsActive();               // true
 * fastGradientsActive('tensorflow');   // false: no override runs there
 * disableFastGradients();
 * fastGradientsActive();               // false
 * ```
 */
export function fastGradientsActive(backend?: string): boolean {
  if (state === undefined) return false;
  const b = backend ?? tf.getBackend();
  return [...state.active.values()].some((perInput) => [...perInput.values()].some((s) => s.has(b)));
}

/**
 * Enables the overrides with their defaults the first time robustest computes a gradient, unless the user has
 * already called {@link enableFastGradients} or {@link disableFastGradients} (their choice stands), or the
 * environment variable `ROBUSTEST_FAST_GRADIENTS` turns them off. Called by the tfjs model adapters: on wasm,
 * tfjs 4.22's own MaxPool gradient is wrong, so the overrides are a correctness fix as well as a speed-up.
 * @internal
 */
export function autoEnableFastGradients(): void {
  if (chosen) return;
  enableFastGradients();
}
