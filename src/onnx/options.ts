/**
 * Option types of the onnxruntime-backed adapters and the gradient-engine choice, in a module of their own so
 * that the query model (`runtime.ts`), the gradient engine (`ort-gradients.ts`) and the load policy
 * (`policy.ts`) share them without importing one another.
 * @module
 */
import type { OnnxModelOptions } from './import.js';

/**
 * Which engine computes input-gradients: `tfjs` (tfjs ops and their gradients, with robustest's overrides),
 * `onnxruntime` (forward and backward ONNX graphs run by onnxruntime-node; fails when it cannot), or `auto`
 * (onnxruntime when onnxruntime-node loads and every operator on the gradient path has a rule, else tfjs).
 * @example
 * ```ts
 * const engine: GradientEngine = 'auto';
 * const model = await loadModel('model.onnx', { engine });
 * ```
 */
export type GradientEngine = 'auto' | 'tfjs' | 'onnxruntime';

/**
 * Every {@link GradientEngine}, for validation and help texts.
 * @example
 * ```ts
 * GRADIENT_ENGINES.includes('auto'); // true
 * ```
 */
export const GRADIENT_ENGINES: readonly GradientEngine[] = ['auto', 'tfjs', 'onnxruntime'];

/** Options of {@link fromOnnxRuntime} and {@link loadOnnx}. */
export interface OnnxRuntimeOptions extends OnnxModelOptions {
  /** Largest number of samples sent to onnxruntime in one `run`; bigger batches are split. Default `64`. */
  batchSize?: number;
  /** Threads of onnxruntime's intra-op pool. Default: onnxruntime's choice (all cores). */
  threads?: number;
  /**
   * For {@link loadOnnx}: which engine computes input-gradients of an importable model. Default `auto`:
   * onnxruntime-node's native kernels through generated gradient graphs ({@link withOnnxRuntimeGradients}) when
   * it loads and every operator has a gradient rule, else the importer's tfjs ops.
   */
  engine?: GradientEngine;
  /**
   * For {@link loadOnnx}: load the model as a query-only model run by onnxruntime-node (logits only, no
   * gradients), as a black-box evaluation of a deployed model would see it, even when the importer could run it.
   * Default `false`.
   */
  queryOnly?: boolean;
}

/** Options of {@link withOnnxRuntimeGradients}. */
export interface OnnxGradientOptions extends OnnxModelOptions {
  /** Largest number of samples per onnxruntime run; bigger batches are split. Default `128`. */
  batchSize?: number;
  /** Threads of onnxruntime's intra-op pool. Default: onnxruntime's choice (all cores). */
  threads?: number;
}
