/**
 * The operator registry of the importer.
 * @internal
 * @module
 */
import type { OpDef } from '../op.js';
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { extraOps } from './extra.js';
import { nnOps } from './nn.js';
import { poolOps } from './pool.js';
import { resizeOps } from './resize.js';
import { tensorOps } from './tensor.js';

/** Every supported operator of the default ONNX domain, by op_type. */
export const OPS: Readonly<Record<string, OpDef>> = { ...elementwiseOps, ...convOps, ...poolOps, ...nnOps, ...tensorOps, ...resizeOps, ...extraOps };
