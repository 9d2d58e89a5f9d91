// Every fuzz target by name, for the long-run driver.
import type { FuzzTarget } from '../harness.js';
import { idxTarget, imagesTarget, npyTarget } from './data.js';
import { onnxTarget } from './onnx.js';
import { tfjsTarget } from './tfjs.js';
import { apiTarget } from './api.js';

export const TARGETS: Record<string, FuzzTarget<never>> = {
  tfjs: tfjsTarget as FuzzTarget<never>,
  onnx: onnxTarget as FuzzTarget<never>,
  idx: idxTarget as FuzzTarget<never>,
  npy: npyTarget as FuzzTarget<never>,
  images: imagesTarget as FuzzTarget<never>,
  api: apiTarget as FuzzTarget<never>,
};
