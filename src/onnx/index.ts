/**
 * ONNX classifiers: a white-box importer that runs the graph as tfjs ops (exact input-gradients), a query-only
 * fallback over onnxruntime-node, {@link loadOnnx}, which picks between them, and {@link fromHttpEndpoint} for
 * remote classifiers behind a TensorFlow Serving REST predict API.
 *
 * Specification: https://onnx.ai/onnx/ (IR: https://github.com/onnx/onnx/blob/main/docs/IR.md, operators:
 * https://onnx.ai/onnx/operators/).
 *
 * @example
 * ```ts
 * import { loadOnnxModel, listSupportedOps } from 'robustest';
 * const model = await loadOnnxModel('resnet.onnx', { bounds: [0, 1] });
 * const { value, grad } = await model.valueAndGrad(x, (logits) => crossEntropy(logits, labels));
 * ```
 * @module
 */
export { importOnnx, loadOnnxModel, listSupportedOps, type OnnxModelOptions } from './import.js';
export { fromOnnxRuntime, loadOnnx, type OnnxRuntimeOptions } from './runtime.js';
export { fromHttpEndpoint, type HttpModelOptions } from './http.js';
