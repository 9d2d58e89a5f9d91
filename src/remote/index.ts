/**
 * Remote classifiers: query-only models behind a network API. Today one adapter, {@link fromHttpEndpoint}, for
 * endpoints speaking the TensorFlow Serving REST predict API (TF Serving, TorchServe and KServe v1, ...).
 *
 * @example
 * ```ts
 * import { fromHttpEndpoint } from 'robustest';
 * const model = await fromHttpEndpoint('http://localhost:8501/v1/models/resnet:predict', { inputShape: [224, 224, 3] });
 * ```
 * @module
 */
export { fromHttpEndpoint, type HttpModelOptions } from './http.js';
