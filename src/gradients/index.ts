/**
 * Fast input- and weight-gradients for the kernels that dominate image classifiers, as tfjs gradient overrides.
 *
 * tfjs computes gradients through the gradient config registered for each forward kernel
 * (`tf.registerGradient`, global to the process). On tfjs-backend-wasm the configs tfjs ships call backprop
 * kernels (`Conv2DBackpropInput`, `MaxPoolGrad`, `BatchMatMul` with transpose flags) that are 10–25× slower than
 * the forward kernels, and some (`Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackprop*`) do not exist there at
 * all. {@link enableFastGradients} replaces those configs with ones that compute the same gradients from
 * forward kernels (see `formulas.ts` for the math) or, where elementwise passes dominate, from loop kernels
 * (`kernels.ts`), on the backends where that was measured to be faster, and falls back to tfjs's original
 * gradient everywhere else. It also replaces those backends' backprop kernels, which tfjs's fused ops call
 * directly, and makes the wasm backend's clones of saved tensors share buffers. Measurements:
 * `docs/gradients.md`.
 *
 * Files: `overrides.ts` (the gradient of each kernel), `backprop.ts` (replaced backend kernels), `state.ts`
 * (enabling, disabling and what is active), `formulas.ts` and `kernels.ts` (the math and the loop kernels).
 * @module
 */
export { FAST_GRADIENT_KERNELS, FAST_GRADIENT_TABLE, type FastGradientKernel } from './overrides.js';
export {
  autoEnableFastGradients,
  disableFastGradients,
  enableFastGradients,
  fastGradientsActive,
  fastGradientsEnabled,
  FAST_GRADIENTS_ENV,
  type FastGradientOptions,
} from './state.js';
