/**
 * ONNX classifiers: a white-box importer that runs the graph as tfjs ops (exact input-gradients), a native
 * gradient engine that runs generated forward/backward graphs in onnxruntime-node
 * ({@link withOnnxRuntimeGradients}), a query-only fallback over onnxruntime-node, {@link loadOnnx}, which picks
 * between them, {@link exportLayersModel}, which turns tfjs LayersModels into ONNX graphs in memory (so they can
 * use the native engine too). Remote classifiers behind an HTTP API are in `src/remote/`.
 *
 * Specification: https://onnx.ai/onnx/ (IR: https://github.com/onnx/onnx/blob/main/docs/IR.md, operators:
 * https://onnx.ai/onnx/operators/).
 *
 * @example
 * ```ts
 * import { crossEntropy, loadOnnxModel } from 'robustest';
 * const model = await loadOnnxModel('resnet.onnx', { bounds: [0, 1] });
 * const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, model.numClasses));
 * ```
 * @module
 */
export { importOnnx, loadOnnxModel, listSupportedOps, type OnnxModelOptions } from './import.js';
export { fromOnnxRuntime, type OnnxRuntimeOptions } from './runtime.js';
export { loadOnnx } from './policy.js';
export { withOnnxRuntimeGradients, listGradientOps, type OnnxGradientOptions } from './ort-gradients.js';
export { GRADIENT_ENGINES, type GradientEngine } from './options.js';
export { exportLayersModel, listExportableLayers, type ExportOptions, type ExportedModel } from './export.js';
