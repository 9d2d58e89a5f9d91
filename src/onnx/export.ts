/**
 * Export of tfjs `LayersModel`s (Sequential or functional) to an ONNX graph in memory, so that a tfjs model can
 * run on an ONNX engine (onnxruntime-node, or the importer of this package) with the same values.
 *
 * Layout: the graph input keeps the tfjs layout (`[N, H, W, C]`, float32, batch dimension named `N`). One
 * Transpose takes it to NCHW where a convolution or pool needs it (ONNX CPU kernels are NCHW); element-wise
 * layers run in whichever layout their input already has, and a Transpose back to NHWC comes before anything
 * that depends on element order (Flatten, Reshape, Dense on rank > 2, softmax over channels), so the values
 * equal those of tfjs.
 * @module
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigError, UnsupportedError, describe } from '../errors.js';
import { MODEL_WARNING_CODES, type ModelWarning } from '../model.js';
import { encodeModel, type AttrSpec, type NodeSpec, type TensorSpec } from './encode.js';
import { samePads } from './geometry.js';
import type { OnnxDataType } from './proto.js';

/** Options of {@link exportLayersModel}. */
export interface ExportOptions {
  /** ONNX operator-set version of the default domain, 13 to 22. Default `17`. */
  readonly opset?: number;
  /** Name of the ONNX graph. Default: the model's name. */
  readonly name?: string;
}

/** The result of {@link exportLayersModel}. */
export interface ExportedModel {
  /** The serialised `ModelProto` (the content of an `.onnx` file). */
  readonly bytes: Uint8Array;
  /** Name of the graph input: float32 `[N, ...inputShape]` in the tfjs layout (NHWC for images). */
  readonly inputName: string;
  /** Name of the graph output: float32 `[N, numClasses]` logits (a final softmax is left out). */
  readonly outputName: string;
  /** Shape of one input without the batch dimension, in the tfjs layout (e.g. `[28, 28, 1]`, NHWC). */
  readonly inputShape: readonly number[];
  /** Width of the logits. */
  readonly numClasses: number;
  /** Things the export changed or left out that a report should show (a final softmax dropped, ...). */
  readonly warnings: ModelWarning[];
}

/** Lowest and highest opset the exporter writes (13: Softmax over one axis; 22: the importer's newest). */
const MIN_OPSET = 13;
const MAX_OPSET = 22;
/** Name of the graph input and output. */
const INPUT_NAME = 'input';
const OUTPUT_NAME = 'logits';

type Layer = SymbolicTensor['sourceLayer'];
type Shape = readonly (number | null)[];
type Cfg = Readonly<Record<string, unknown>>;

/**
 * A value of the tfjs graph as the ONNX graph holds it: its tfjs shape (with the batch dimension) and the names
 * of its NHWC (tfjs order) and/or NCHW copies. Rank-4 values may have either or both; others only `nhwc`.
 */
interface Val {
  readonly shape: Shape;
  nhwc?: string;
  nchw?: string;
}

/** A weight's dims (tfjs order) and values. */
interface Weight {
  readonly dims: readonly number[];
  readonly data: ArrayLike<number>;
}

/** Maps an NHWC axis (0..3) to the NCHW axis holding the same dimension. */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1] as const;

/** The ONNX node and initializer lists under construction, with the transposes between layouts. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly used = new Set<string>([INPUT_NAME, OUTPUT_NAME]);
  private readonly scalars = new Map<number, string>();
  private readonly cache = new Map<string, readonly string[]>();

  /** A name not used yet, derived from `base`. */
  uniq(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: readonly string[], base: string, attributes: Record<string, AttrSpec> = {}): string {
    const out = this.uniq(base);
    this.nodes.push({ opType, inputs, outputs: [out], name: out, attributes });
    return out;
  }

  /** Adds an initializer and returns its name. */
  init(base: string, dims: readonly number[], data: ArrayLike<number>, dtype: OnnxDataType = 'float32'): string {
    const name = this.uniq(base);
    this.initializers.push({ name, dtype, dims, data });
    return name;
  }

  /** Initializers made once per key (a layer applied several times stores its weights once). */
  cachedMany<T extends readonly string[]>(key: string, make: () => T): T {
    let names = this.cache.get(key);
    if (names === undefined) {
      names = make();
      this.cache.set(key, names);
    }
    return names as T;
  }

  /** One initializer made once per key. */
  cached(key: string, make: () => string): string {
    return this.cachedMany(key, () => [make()] as const)[0];
  }

  /** A float32 scalar initializer, shared between its uses. */
  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (name === undefined) {
      name = this.init(`const_${v}`, [], [v]);
      this.scalars.set(v, name);
    }
    return name;
  }

  /** An int64 vector initializer. */
  ints(base: string, values: readonly number[]): string {
    return this.init(base, [values.length], values, 'int64');
  }

  /** The name of `v` in tfjs (NHWC) element order, transposing an NCHW copy once if needed. */
  native(v: Val): string {
    if (v.nhwc === undefined) {
      v.nhwc = this.op('Transpose', [v.nchw!], `${v.nchw!}/nhwc`, { perm: { kind: 'ints', value: [0, 2, 3, 1] } });
    }
    return v.nhwc;
  }

  /** The name of a rank-4 `v` in NCHW order, transposing the NHWC copy once if needed. */
  nchw(v: Val, where: string): string {
    if (v.shape.length !== 4) {
      throw new UnsupportedError(`${where}: expected a rank-4 [N, H, W, C] input, got shape [${fmtShape(v.shape)}]`);
    }
    if (v.nchw === undefined) {
      v.nchw = this.op('Transpose', [v.nhwc!], `${v.nhwc!}/nchw`, { perm: { kind: 'ints', value: [0, 3, 1, 2] } });
    }
    return v.nchw;
  }
}

/** A value held in one layout. */
function mk(shape: Shape, layout: 'nchw' | 'nhwc', name: string): Val {
  return layout === 'nchw' ? { shape, nchw: name } : { shape, nhwc: name };
}

function fmtShape(s: Shape): string {
  return s.map((d) => d ?? 'N').join(', ');
}

/** Everything a layer converter needs. */
interface Ctx {
  readonly g: GraphBuilder;
  readonly layer: Layer;
  readonly cls: string;
  readonly cfg: Cfg;
  readonly inputs: readonly Val[];
  readonly outShapes: readonly Shape[];
  /** `Class 'name'`, for messages. */
  readonly where: string;
  /** Opset being written. */
  readonly opset: number;
  /** Adds a warning to the export's result. */
  readonly warn: (message: string) => void;
}

// ---------------------------------------------------------------------------------------------------------------
// Config and weight readers

function cfgNum(ctx: Ctx, key: string, dflt?: number): number {
  const v = ctx.cfg[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    return v;
  }
  throw new ConfigError(`${ctx.where}: expected config '${key}' to be a finite number, got ${describe(v)}`);
}

function cfgPair(ctx: Ctx, key: string, dflt?: readonly [number, number]): [number, number] {
  const v = ctx.cfg[key];
  if ((v === undefined || v === null) && dflt) return [dflt[0], dflt[1]];
  if (typeof v === 'number' && Number.isInteger(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isInteger(x))) return [v[0] as number, v[1] as number];
  throw new ConfigError(`${ctx.where}: expected config '${key}' to be an integer or a pair of integers, got ${describe(v)}`);
}

/** `[[top, bottom], [left, right]]` of ZeroPadding2D/Cropping2D (also given as one integer or `[h, w]`). */
function cfgPads(ctx: Ctx, key: string): [number, number, number, number] {
  const v = ctx.cfg[key];
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (isInt(v)) return [v, v, v, v];
  if (Array.isArray(v) && v.length === 2) {
    const [h, w] = v as unknown[];
    if (isInt(h) && isInt(w)) return [h, h, w, w];
    if (Array.isArray(h) && Array.isArray(w) && h.length === 2 && w.length === 2 && [...h, ...w].every(isInt)) {
      return [h[0] as number, h[1] as number, w[0] as number, w[1] as number];
    }
  }
  throw new ConfigError(`${ctx.where}: expected config '${key}' as n, [h, w] or [[top, bottom], [left, right]] of non-negative integers, got ${describe(v)}`);
}

function cfgStr(ctx: Ctx, key: string, dflt: string): string {
  const v = ctx.cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string') return v;
  throw new ConfigError(`${ctx.where}: expected config '${key}' to be a string, got ${describe(v)}`);
}

function requireChannelsLast(ctx: Ctx): void {
  const f = cfgStr(ctx, 'dataFormat', 'channelsLast');
  if (f !== 'channelsLast') throw new UnsupportedError(`${ctx.where}: expected dataFormat 'channelsLast', got ${describe(f)}`);
}

/** Reads the weight whose name ends in `/key` (tfjs names weights `layer/kernel`, `layer/bias`, ...). */
function weight(ctx: Ctx, key: string, rank: number): Weight {
  const re = new RegExp(`(^|/)${key}(_\\d+)?$`);
  const w = ctx.layer.weights.find((v) => re.test(v.originalName)) ?? ctx.layer.weights.find((v) => re.test(v.name));
  if (!w) {
    throw new ConfigError(`${ctx.where}: expected a weight named '${key}', got ${describe(ctx.layer.weights.map((v) => v.originalName))}`);
  }
  const t = w.read();
  if (t.rank !== rank) throw new ConfigError(`${ctx.where}: expected weight '${key}' of rank ${rank}, got shape [${t.shape.join(', ')}]`);
  // dataSync of a variable copies nothing and creates no tensor; the values are only read.
  return { dims: t.shape, data: t.dataSync<'float32'>() };
}

function weightKey(ctx: Ctx, what: string): string {
  return `${ctx.layer.id}/${what}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes and padding

function staticDim(ctx: Ctx, s: Shape, axis: number): number {
  const d = s[axis];
  if (typeof d !== 'number') throw new UnsupportedError(`${ctx.where}: expected a static dimension ${axis} of the input, got shape [${fmtShape(s)}]`);
  return d;
}

/** ONNX `pads` `[top, left, bottom, right]` of TF's 'valid'/'same' padding (SAME puts the odd pixel at the end). */
function tfPads(
  ctx: Ctx,
  padding: string,
  inShape: Shape,
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new UnsupportedError(`${ctx.where}: expected padding 'valid' or 'same', got ${describe(padding)}`);
  const sizes = [staticDim(ctx, inShape, 1), staticDim(ctx, inShape, 2)];
  const { begin, end } = samePads(sizes, kernel, strides, dilations, 'upper');
  return [...begin, ...end];
}

// ---------------------------------------------------------------------------------------------------------------
// Activations

/** Computes tfjs activation `name` of `x` (element-wise); `x` is an ONNX value name. `native` is for softmax. */
function activation(g: GraphBuilder, name: string, v: Val, base: string, where: string): Val {
  const [x, layout] = v.nchw !== undefined ? [v.nchw, 'nchw' as const] : [v.nhwc!, 'nhwc' as const];
  const un = (op: string, attrs: Record<string, AttrSpec> = {}): Val => mk(v.shape, layout, g.op(op, [x], `${base}/${op.toLowerCase()}`, attrs));
  const f = (value: number): AttrSpec => ({ kind: 'float', value });
  switch (name) {
    case 'linear':
      return v;
    case 'relu':
      return un('Relu');
    case 'relu6':
      return mk(v.shape, layout, g.op('Clip', [x, g.scalar(0), g.scalar(6)], `${base}/relu6`));
    case 'elu':
      return un('Elu', { alpha: f(1) });
    case 'selu':
      // tfjs: scale * (x > 0 ? x : alpha * (exp(x) - 1)) with Keras' constants.
      return un('Selu', { alpha: f(1.6732632423543772), gamma: f(1.0507009873554805) });
    case 'sigmoid':
      return un('Sigmoid');
    case 'hardSigmoid':
    case 'hard_sigmoid':
      // tfjs: clip(0.2 * x + 0.5, 0, 1), which is ONNX HardSigmoid with these alpha and beta.
      return un('HardSigmoid', { alpha: f(0.2), beta: f(0.5) });
    case 'softplus':
      return un('Softplus');
    case 'softsign':
      return un('Softsign');
    case 'tanh':
      return un('Tanh');
    case 'swish':
    case 'silu': {
      const s = g.op('Sigmoid', [x], `${base}/sigmoid`);
      return mk(v.shape, layout, g.op('Mul', [x, s], `${base}/swish`));
    }
    case 'mish': {
      const sp = g.op('Softplus', [x], `${base}/softplus`);
      const t = g.op('Tanh', [sp], `${base}/tanh`);
      return mk(v.shape, layout, g.op('Mul', [x, t], `${base}/mish`));
    }
    case 'gelu': {
      // tfjs: x * 0.5 * (1 + erf(x / sqrt(2))).
      const d = g.op('Div', [x, g.scalar(Math.SQRT2)], `${base}/div`);
      const e = g.op('Erf', [d], `${base}/erf`);
      const a = g.op('Add', [e, g.scalar(1)], `${base}/add`);
      const h = g.op('Mul', [a, g.scalar(0.5)], `${base}/half`);
      return mk(v.shape, layout, g.op('Mul', [x, h], `${base}/gelu`));
    }
    case 'gelu_new': {
      // tfjs: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
      const x2 = g.op('Mul', [x, x], `${base}/x2`);
      const x3 = g.op('Mul', [x2, x], `${base}/x3`);
      const c = g.op('Mul', [x3, g.scalar(0.044715)], `${base}/cubic`);
      const s = g.op('Add', [x, c], `${base}/inner`);
      const k = g.op('Mul', [s, g.scalar(Math.sqrt(2 / Math.PI))], `${base}/scaled`);
      const t = g.op('Tanh', [k], `${base}/tanh`);
      const a = g.op('Add', [t, g.scalar(1)], `${base}/add`);
      const m = g.op('Mul', [x, a], `${base}/mul`);
      return mk(v.shape, layout, g.op('Mul', [m, g.scalar(0.5)], `${base}/gelu_new`));
    }
    case 'softmax':
    case 'logSoftmax':
    case 'log_softmax':
      // Over the last tfjs axis: the channels, so in tfjs element order.
      return {
        shape: v.shape,
        nhwc: g.op(name === 'softmax' ? 'Softmax' : 'LogSoftmax', [g.native(v)], `${base}/${name}`, { axis: { kind: 'int', value: -1 } }),
      };
    default:
      throw new UnsupportedError(
        `${where}: expected a supported activation (linear, relu, relu6, elu, selu, sigmoid, hardSigmoid, softplus, softsign, tanh, swish, mish, gelu, gelu_new, softmax, logSoftmax), got ${describe(name)}`,
      );
  }
}

function layerActivation(ctx: Ctx, v: Val): Val {
  const a = ctx.cfg['activation'];
  if (a === undefined || a === null) return v;
  if (typeof a !== 'string') throw new UnsupportedError(`${ctx.where}: expected the activation to be a built-in name, got ${describe(a)}`);
  return activation(ctx.g, a, v, ctx.layer.name, ctx.where);
}

// ---------------------------------------------------------------------------------------------------------------
// Layer converters

function one(ctx: Ctx): Val {
  if (ctx.inputs.length !== 1) throw new ConfigError(`${ctx.where}: expected one input, got ${ctx.inputs.length}`);
  return ctx.inputs[0]!;
}

function outShape(ctx: Ctx): Shape {
  return ctx.outShapes[0]!;
}

/** OIHW weights of a tfjs HWIO kernel. */
function hwioToOihw(k: Weight): { dims: number[]; data: Float32Array } {
  const [kh, kw, ci, co] = k.dims as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++) {
          out[((o * ci + c) * kh + i) * kw + j] = k.data[((i * kw + j) * ci + c) * co + o]!;
        }
  return { dims: [co, ci, kh, kw], data: out };
}

/** ONNX grouped-conv weights `[C * mult, 1, kh, kw]` of a tfjs depthwise kernel `[kh, kw, C, mult]`. */
function depthwiseToOihw(k: Weight): { dims: number[]; data: Float32Array } {
  const [kh, kw, ci, mult] = k.dims as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < ci; c++)
        for (let m = 0; m < mult; m++) {
          out[((c * mult + m) * kh + i) * kw + j] = k.data[((i * kw + j) * ci + c) * mult + m]!;
        }
  return { dims: [ci * mult, 1, kh, kw], data: out };
}

function bias(ctx: Ctx): string | undefined {
  if (ctx.cfg['useBias'] === false) return undefined;
  return ctx.g.cached(weightKey(ctx, 'bias'), () => {
    const b = weight(ctx, 'bias', 1);
    return ctx.g.init(`${ctx.layer.name}/bias`, b.dims, b.data);
  });
}

function convAttrs(ctx: Ctx, x: Val, kernel: readonly [number, number], group: number, useDilation = true): Record<string, AttrSpec> {
  const strides = cfgPair(ctx, 'strides', [1, 1]);
  const dilations = useDilation ? cfgPair(ctx, 'dilationRate', [1, 1]) : ([1, 1] as [number, number]);
  const pads = tfPads(ctx, cfgStr(ctx, 'padding', 'valid'), x.shape, kernel, strides, dilations);
  return {
    kernel_shape: { kind: 'ints', value: kernel },
    strides: { kind: 'ints', value: strides },
    dilations: { kind: 'ints', value: dilations },
    pads: { kind: 'ints', value: pads },
    group: { kind: 'int', value: group },
  };
}

function conv2d(ctx: Ctx): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const k = weight(ctx, 'kernel', 4);
  const w = ctx.g.cached(weightKey(ctx, 'kernel'), () => {
    const t = hwioToOihw(k);
    return ctx.g.init(`${ctx.layer.name}/kernel`, t.dims, t.data);
  });
  const b = bias(ctx);
  const kernel: [number, number] = [k.dims[0]!, k.dims[1]!];
  const y = ctx.g.op('Conv', [ctx.g.nchw(x, ctx.where), w, ...(b ? [b] : [])], `${ctx.layer.name}/conv`, convAttrs(ctx, x, kernel, 1));
  return layerActivation(ctx, { shape: outShape(ctx), nchw: y });
}

function depthwiseConv2d(ctx: Ctx, withPointwise: boolean): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const k = weight(ctx, 'depthwise_kernel', 4);
  const channels = k.dims[2]!;
  const w = ctx.g.cached(weightKey(ctx, 'depthwise_kernel'), () => {
    const t = depthwiseToOihw(k);
    return ctx.g.init(`${ctx.layer.name}/depthwise_kernel`, t.dims, t.data);
  });
  const b = bias(ctx);
  const kernel: [number, number] = [k.dims[0]!, k.dims[1]!];
  // tfjs-layers 4.x's DepthwiseConv2D ignores dilationRate (in call and in computeOutputShape); so does the export.
  const dilated = cfgPair(ctx, 'dilationRate', [1, 1]).some((d) => d !== 1);
  if (dilated && !withPointwise) {
    ctx.warn(`${ctx.where}: dilationRate ${describe(ctx.cfg['dilationRate'])} is ignored, as tfjs-layers ignores it for DepthwiseConv2D`);
  }
  const attrs = convAttrs(ctx, x, kernel, channels, withPointwise);
  let y: string;
  if (!withPointwise) {
    y = ctx.g.op('Conv', [ctx.g.nchw(x, ctx.where), w, ...(b ? [b] : [])], `${ctx.layer.name}/depthwise`, attrs);
  } else {
    const d = ctx.g.op('Conv', [ctx.g.nchw(x, ctx.where), w], `${ctx.layer.name}/depthwise`, attrs);
    const pk = weight(ctx, 'pointwise_kernel', 4);
    const pw = ctx.g.cached(weightKey(ctx, 'pointwise_kernel'), () => {
      const t = hwioToOihw(pk);
      return ctx.g.init(`${ctx.layer.name}/pointwise_kernel`, t.dims, t.data);
    });
    y = ctx.g.op('Conv', [d, pw, ...(b ? [b] : [])], `${ctx.layer.name}/pointwise`, {
      kernel_shape: { kind: 'ints', value: [pk.dims[0]!, pk.dims[1]!] },
      strides: { kind: 'ints', value: [1, 1] },
      pads: { kind: 'ints', value: [0, 0, 0, 0] },
    });
  }
  return layerActivation(ctx, { shape: outShape(ctx), nchw: y });
}

function dense(ctx: Ctx): Val {
  const x = one(ctx);
  const k = weight(ctx, 'kernel', 2);
  const w = ctx.g.cached(weightKey(ctx, 'kernel'), () => ctx.g.init(`${ctx.layer.name}/kernel`, k.dims, k.data));
  const b = bias(ctx);
  let y: string;
  if (x.shape.length === 2) {
    y = ctx.g.op('Gemm', [x.nhwc!, w, ...(b ? [b] : [])], `${ctx.layer.name}/gemm`);
  } else {
    y = ctx.g.op('MatMul', [ctx.g.native(x), w], `${ctx.layer.name}/matmul`);
    if (b) y = ctx.g.op('Add', [y, b], `${ctx.layer.name}/add`);
  }
  return layerActivation(ctx, { shape: outShape(ctx), nhwc: y });
}

function pool2d(ctx: Ctx, op: 'MaxPool' | 'AveragePool'): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const kernel = cfgPair(ctx, 'poolSize', [2, 2]);
  const strides = cfgPair(ctx, 'strides', kernel);
  const pads = tfPads(ctx, cfgStr(ctx, 'padding', 'valid'), x.shape, kernel, strides, [1, 1]);
  const attrs: Record<string, AttrSpec> = {
    kernel_shape: { kind: 'ints', value: kernel },
    strides: { kind: 'ints', value: strides },
    pads: { kind: 'ints', value: pads },
  };
  // TF's average over a 'same' window counts only the pixels inside the image.
  if (op === 'AveragePool') attrs['count_include_pad'] = { kind: 'int', value: 0 };
  return { shape: outShape(ctx), nchw: ctx.g.op(op, [ctx.g.nchw(x, ctx.where)], `${ctx.layer.name}/${op === 'MaxPool' ? 'maxpool' : 'avgpool'}`, attrs) };
}

function globalPool2d(ctx: Ctx, op: 'GlobalAveragePool' | 'GlobalMaxPool'): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const p = ctx.g.op(op, [ctx.g.nchw(x, ctx.where)], `${ctx.layer.name}/${op === 'GlobalMaxPool' ? 'globalmaxpool' : 'globalavgpool'}`);
  const out = outShape(ctx);
  // keepDims: [N, 1, 1, C] in tfjs, [N, C, 1, 1] here.
  if (out.length === 4) return { shape: out, nchw: p };
  return { shape: out, nhwc: ctx.g.op('Flatten', [p], `${ctx.layer.name}/flatten`, { axis: { kind: 'int', value: 1 } }) };
}

function flatten(ctx: Ctx): Val {
  const x = one(ctx);
  if (x.shape.length === 2) return x;
  return { shape: outShape(ctx), nhwc: ctx.g.op('Flatten', [ctx.g.native(x)], `${ctx.layer.name}/flatten`, { axis: { kind: 'int', value: 1 } }) };
}

function reshape(ctx: Ctx): Val {
  const x = one(ctx);
  const target = ctx.cfg['targetShape'];
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number' && Number.isInteger(d) && (d > 0 || d === -1))) {
    throw new ConfigError(`${ctx.where}: expected targetShape to be a list of positive integers (one may be -1), got ${describe(target)}`);
  }
  const shape = ctx.g.ints(`${ctx.layer.name}/shape`, [0, ...(target as number[])]);
  return { shape: outShape(ctx), nhwc: ctx.g.op('Reshape', [ctx.g.native(x), shape], `${ctx.layer.name}/reshape`) };
}

function permute(ctx: Ctx): Val {
  const x = one(ctx);
  const dims = ctx.cfg['dims'];
  if (!Array.isArray(dims) || !dims.every((d) => typeof d === 'number' && Number.isInteger(d))) {
    throw new ConfigError(`${ctx.where}: expected dims to be a list of integers, got ${describe(dims)}`);
  }
  return {
    shape: outShape(ctx),
    nhwc: ctx.g.op('Transpose', [ctx.g.native(x)], `${ctx.layer.name}/transpose`, { perm: { kind: 'ints', value: [0, ...(dims as number[])] } }),
  };
}

/** `v` in its preferred layout (NCHW if it has that copy): the name and a field setter for the result. */
function preferred(v: Val): { x: string; layout: 'nchw' | 'nhwc' } {
  return v.nchw !== undefined ? { x: v.nchw, layout: 'nchw' } : { x: v.nhwc!, layout: 'nhwc' };
}

/** Broadcastable dims `[..]` (without batch) of a per-axis parameter of length `n` at tfjs axis `axis`. */
function paramDims(rank: number, axis: number, n: number, layout: 'nchw' | 'nhwc'): number[] {
  const a = layout === 'nchw' ? NHWC_TO_NCHW_AXIS[axis as 0 | 1 | 2 | 3] : axis;
  const dims = new Array<number>(rank - a).fill(1);
  dims[0] = n;
  return dims;
}

function batchNorm(ctx: Ctx): Val {
  const x = one(ctx);
  const rank = x.shape.length;
  const axisCfg = ctx.cfg['axis'];
  const axisRaw = typeof axisCfg === 'number' ? axisCfg : Array.isArray(axisCfg) && axisCfg.length === 1 && typeof axisCfg[0] === 'number' ? axisCfg[0] : -1;
  const axis = axisRaw < 0 ? axisRaw + rank : axisRaw;
  if (!Number.isInteger(axis) || axis < 1 || axis >= rank) {
    throw new UnsupportedError(`${ctx.where}: expected one normalised axis in 1..${rank - 1}, got ${describe(axisCfg)}`);
  }
  const eps = cfgNum(ctx, 'epsilon', 1e-3);
  const mean = weight(ctx, 'moving_mean', 1);
  const variance = weight(ctx, 'moving_variance', 1);
  const n = mean.dims[0]!;
  const gamma = ctx.cfg['scale'] === false ? undefined : weight(ctx, 'gamma', 1);
  const beta = ctx.cfg['center'] === false ? undefined : weight(ctx, 'beta', 1);
  const { x: xin, layout } = rank === 4 ? preferred(x) : { x: ctx.g.native(x), layout: 'nhwc' as const };
  const dims = paramDims(rank, axis, n, layout);
  const [scaleName, shiftName] = ctx.g.cachedMany(weightKey(ctx, `bn/${layout}`), () => {
    const scale = new Float32Array(n);
    const shift = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // tfjs: (x - mean) * rsqrt(var + eps) * gamma + beta.
      const s = (gamma ? gamma.data[i]! : 1) / Math.sqrt(variance.data[i]! + eps);
      scale[i] = s;
      shift[i] = (beta ? beta.data[i]! : 0) - mean.data[i]! * s;
    }
    return [ctx.g.init(`${ctx.layer.name}/scale`, dims, scale), ctx.g.init(`${ctx.layer.name}/shift`, dims, shift)] as const;
  });
  const m = ctx.g.op('Mul', [xin, scaleName], `${ctx.layer.name}/mul`);
  return mk(outShape(ctx), layout, ctx.g.op('Add', [m, shiftName], `${ctx.layer.name}/add`));
}

/** ReduceMean over `axes` keeping them (axes are an attribute before opset 18, an input from 18). */
function reduceMean(ctx: Ctx, x: string, axes: readonly number[], base: string): string {
  const keep: AttrSpec = { kind: 'int', value: 1 };
  if (ctx.opset < 18) return ctx.g.op('ReduceMean', [x], base, { axes: { kind: 'ints', value: axes }, keepdims: keep });
  return ctx.g.op('ReduceMean', [x, ctx.g.ints(`${base}/axes`, axes)], base, { keepdims: keep });
}

function layerNorm(ctx: Ctx): Val {
  const x = one(ctx);
  const rank = x.shape.length;
  const a = ctx.cfg['axis'];
  const list = typeof a === 'number' ? [a] : Array.isArray(a) && a.every((d) => typeof d === 'number') ? (a as number[]) : undefined;
  const axes = list?.map((d) => (d < 0 ? d + rank : d));
  if (!axes || axes.length === 0 || axes.some((d) => !Number.isInteger(d) || d < 1 || d >= rank) || new Set(axes).size !== axes.length) {
    throw new UnsupportedError(`${ctx.where}: expected distinct normalised axes in 1..${rank - 1}, got ${describe(a)}`);
  }
  const sorted = [...axes].sort((p, q) => p - q);
  // One axis of a rank-4 value: stay in its layout; several: tfjs order (the parameters are laid out in it).
  const { x: xin, layout } = rank === 4 && sorted.length === 1 ? preferred(x) : { x: ctx.g.native(x), layout: 'nhwc' as const };
  const onnxAxes = sorted.map((d) => (layout === 'nchw' ? NHWC_TO_NCHW_AXIS[d as 1 | 2 | 3] : d));
  const eps = cfgNum(ctx, 'epsilon', 1e-3);
  const n = ctx.layer.name;
  const mean = reduceMean(ctx, xin, onnxAxes, `${n}/mean`);
  const d = ctx.g.op('Sub', [xin, mean], `${n}/centered`);
  const sq = ctx.g.op('Mul', [d, d], `${n}/square`);
  const variance = reduceMean(ctx, sq, onnxAxes, `${n}/variance`);
  const std = ctx.g.op('Sqrt', [ctx.g.op('Add', [variance, ctx.g.scalar(eps)], `${n}/var_eps`)], `${n}/std`);
  let y = ctx.g.op('Div', [d, std], `${n}/normalized`);
  // Parameters broadcast as [1, .., size at each normalised axis, ..] without the batch dimension.
  const dims = (layout === 'nchw' ? [1, 2, 3] : Array.from({ length: rank - 1 }, (_, i) => i + 1)).map((i) => {
    const tfAxis = layout === 'nchw' ? [0, 3, 1, 2][i]! : i;
    return sorted.includes(tfAxis) ? staticDim(ctx, x.shape, tfAxis) : 1;
  });
  for (const [key, op] of [
    ['gamma', 'Mul'],
    ['beta', 'Add'],
  ] as const) {
    if (ctx.cfg[key === 'gamma' ? 'scale' : 'center'] === false) continue;
    const w = weight(ctx, key, sorted.length);
    const name = ctx.g.cached(weightKey(ctx, `${key}/${layout}`), () => ctx.g.init(`${n}/${key}`, dims, w.data));
    y = ctx.g.op(op, [y, name], `${n}/${op.toLowerCase()}`);
  }
  return mk(outShape(ctx), layout, y);
}

function prelu(ctx: Ctx): Val {
  const x = one(ctx);
  const w = ctx.layer.weights.find((v) => /(^|\/)alpha(_\d+)?$/.test(v.originalName));
  if (!w) throw new ConfigError(`${ctx.where}: expected a weight named 'alpha', got ${describe(ctx.layer.weights.map((v) => v.originalName))}`);
  const t = w.read();
  const data = t.dataSync() as Float32Array;
  const { x: xin, layout } = x.shape.length === 4 ? preferred(x) : { x: ctx.g.native(x), layout: 'nhwc' as const };
  const slope = ctx.g.cached(weightKey(ctx, `alpha/${layout}`), () => {
    if (layout === 'nhwc') return ctx.g.init(`${ctx.layer.name}/alpha`, t.shape, data);
    const [h, wd, c] = t.shape as [number, number, number];
    const out = new Float32Array(data.length);
    for (let i = 0; i < h; i++) for (let j = 0; j < wd; j++) for (let k = 0; k < c; k++) out[(k * h + i) * wd + j] = data[(i * wd + j) * c + k]!;
    return ctx.g.init(`${ctx.layer.name}/alpha`, [c, h, wd], out);
  });
  return mk(outShape(ctx), layout, ctx.g.op('PRelu', [xin, slope], `${ctx.layer.name}/prelu`));
}

function elementwise(ctx: Ctx, op: string, attrs: Record<string, AttrSpec> = {}): Val {
  const { x, layout } = preferred(one(ctx));
  return mk(outShape(ctx), layout, ctx.g.op(op, [x], `${ctx.layer.name}/${op.toLowerCase()}`, attrs));
}

function reluLayer(ctx: Ctx): Val {
  const max = ctx.cfg['maxValue'];
  if (max === undefined || max === null) return elementwise(ctx, 'Relu');
  const m = cfgNum(ctx, 'maxValue');
  const { x, layout } = preferred(one(ctx));
  return mk(outShape(ctx), layout, ctx.g.op('Clip', [x, ctx.g.scalar(0), ctx.g.scalar(m)], `${ctx.layer.name}/clip`));
}

function softmaxLayer(ctx: Ctx): Val {
  const x = one(ctx);
  const rank = x.shape.length;
  const a = ctx.cfg['axis'];
  const axis = typeof a === 'number' ? a : Array.isArray(a) && a.length === 1 && typeof a[0] === 'number' ? a[0] : -1;
  return {
    shape: outShape(ctx),
    nhwc: ctx.g.op('Softmax', [ctx.g.native(x)], `${ctx.layer.name}/softmax`, { axis: { kind: 'int', value: axis < 0 ? axis + rank : axis } }),
  };
}

function rescaling(ctx: Ctx): Val {
  const scale = cfgNum(ctx, 'scale');
  const offset = cfgNum(ctx, 'offset', 0);
  const { x, layout } = preferred(one(ctx));
  let y = ctx.g.op('Mul', [x, ctx.g.scalar(scale)], `${ctx.layer.name}/mul`);
  if (offset !== 0) y = ctx.g.op('Add', [y, ctx.g.scalar(offset)], `${ctx.layer.name}/add`);
  return mk(outShape(ctx), layout, y);
}

/** The inputs of a merge layer in one layout: NCHW when all are rank 4 and one of them is already NCHW. */
function mergeInputs(ctx: Ctx): { names: string[]; layout: 'nchw' | 'nhwc' } {
  if (ctx.inputs.length < 2) throw new ConfigError(`${ctx.where}: expected at least two inputs, got ${ctx.inputs.length}`);
  const rank = ctx.inputs[0]!.shape.length;
  if (ctx.inputs.some((v) => v.shape.length !== rank)) {
    throw new UnsupportedError(`${ctx.where}: expected inputs of one rank, got shapes ${ctx.inputs.map((v) => `[${fmtShape(v.shape)}]`).join(', ')}`);
  }
  const nchw = rank === 4 && ctx.inputs.some((v) => v.nchw !== undefined);
  return nchw ? { names: ctx.inputs.map((v) => ctx.g.nchw(v, ctx.where)), layout: 'nchw' } : { names: ctx.inputs.map((v) => ctx.g.native(v)), layout: 'nhwc' };
}

function merge(ctx: Ctx, op: 'Add' | 'Sub' | 'Mul' | 'Max' | 'Min' | 'Average'): Val {
  const { names, layout } = mergeInputs(ctx);
  const base = `${ctx.layer.name}/${op.toLowerCase()}`;
  let y: string;
  if (op === 'Max' || op === 'Min') {
    y = ctx.g.op(op, names, base);
  } else if (op === 'Sub') {
    if (names.length !== 2) throw new ConfigError(`${ctx.where}: expected exactly two inputs, got ${names.length}`);
    y = ctx.g.op('Sub', names, base);
  } else {
    const pairwise = op === 'Average' ? 'Add' : op;
    y = names[0]!;
    for (let i = 1; i < names.length; i++) y = ctx.g.op(pairwise, [y, names[i]!], base);
    if (op === 'Average') y = ctx.g.op('Mul', [y, ctx.g.scalar(1 / names.length)], `${ctx.layer.name}/mean`);
  }
  return mk(outShape(ctx), layout, y);
}

function concatenate(ctx: Ctx): Val {
  const { names, layout } = mergeInputs(ctx);
  const rank = ctx.inputs[0]!.shape.length;
  const a = cfgNum(ctx, 'axis', -1);
  const axis = a < 0 ? a + rank : a;
  if (!Number.isInteger(axis) || axis < 1 || axis >= rank) throw new ConfigError(`${ctx.where}: expected axis in 1..${rank - 1} or negative, got ${a}`);
  const onnxAxis = layout === 'nchw' ? NHWC_TO_NCHW_AXIS[axis as 1 | 2 | 3] : axis;
  return mk(outShape(ctx), layout, ctx.g.op('Concat', names, `${ctx.layer.name}/concat`, { axis: { kind: 'int', value: onnxAxis } }));
}

function zeroPadding(ctx: Ctx): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const [t, b, l, r] = cfgPads(ctx, 'padding');
  const pads = ctx.g.ints(`${ctx.layer.name}/pads`, [0, 0, t, l, 0, 0, b, r]);
  return {
    shape: outShape(ctx),
    nchw: ctx.g.op('Pad', [ctx.g.nchw(x, ctx.where), pads], `${ctx.layer.name}/pad`, { mode: { kind: 'string', value: 'constant' } }),
  };
}

function cropping(ctx: Ctx): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const [t, b, l, r] = cfgPads(ctx, 'cropping');
  const h = staticDim(ctx, x.shape, 1);
  const w = staticDim(ctx, x.shape, 2);
  const starts = ctx.g.ints(`${ctx.layer.name}/starts`, [t, l]);
  const ends = ctx.g.ints(`${ctx.layer.name}/ends`, [h - b, w - r]);
  const axes = ctx.g.ints(`${ctx.layer.name}/axes`, [2, 3]);
  return { shape: outShape(ctx), nchw: ctx.g.op('Slice', [ctx.g.nchw(x, ctx.where), starts, ends, axes], `${ctx.layer.name}/slice`) };
}

function upSampling(ctx: Ctx): Val {
  requireChannelsLast(ctx);
  const x = one(ctx);
  const [sh, sw] = cfgPair(ctx, 'size', [2, 2]);
  const interpolation = cfgStr(ctx, 'interpolation', 'nearest');
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
    throw new UnsupportedError(`${ctx.where}: expected interpolation 'nearest' or 'bilinear', got ${describe(interpolation)}`);
  }
  const scales = ctx.g.init(`${ctx.layer.name}/scales`, [4], [1, 1, sh, sw]);
  // tfjs resizes with alignCorners = false and halfPixelCenters = false: ONNX's 'asymmetric' coordinates.
  const attrs: Record<string, AttrSpec> = {
    mode: { kind: 'string', value: interpolation === 'nearest' ? 'nearest' : 'linear' },
    coordinate_transformation_mode: { kind: 'string', value: 'asymmetric' },
  };
  if (interpolation === 'nearest') attrs['nearest_mode'] = { kind: 'string', value: 'floor' };
  return { shape: outShape(ctx), nchw: ctx.g.op('Resize', [ctx.g.nchw(x, ctx.where), '', scales], `${ctx.layer.name}/resize`, attrs) };
}

/** Layers that are the identity at inference. */
const IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

const CONVERTERS: Readonly<Record<string, (ctx: Ctx) => Val>> = {
  Conv2D: conv2d,
  DepthwiseConv2D: (ctx) => depthwiseConv2d(ctx, false),
  SeparableConv2D: (ctx) => depthwiseConv2d(ctx, true),
  Dense: dense,
  MaxPooling2D: (ctx) => pool2d(ctx, 'MaxPool'),
  AveragePooling2D: (ctx) => pool2d(ctx, 'AveragePool'),
  GlobalAveragePooling2D: (ctx) => globalPool2d(ctx, 'GlobalAveragePool'),
  GlobalMaxPooling2D: (ctx) => globalPool2d(ctx, 'GlobalMaxPool'),
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  Activation: (ctx) => layerActivation(ctx, one(ctx)),
  ReLU: reluLayer,
  LeakyReLU: (ctx) => elementwise(ctx, 'LeakyRelu', { alpha: { kind: 'float', value: cfgNum(ctx, 'alpha', 0.3) } }),
  ELU: (ctx) => elementwise(ctx, 'Elu', { alpha: { kind: 'float', value: cfgNum(ctx, 'alpha', 1) } }),
  ThresholdedReLU: (ctx) => elementwise(ctx, 'ThresholdedRelu', { alpha: { kind: 'float', value: cfgNum(ctx, 'theta', 1) } }),
  PReLU: prelu,
  Softmax: softmaxLayer,
  Rescaling: rescaling,
  Add: (ctx) => merge(ctx, 'Add'),
  Subtract: (ctx) => merge(ctx, 'Sub'),
  Multiply: (ctx) => merge(ctx, 'Mul'),
  Average: (ctx) => merge(ctx, 'Average'),
  Maximum: (ctx) => merge(ctx, 'Max'),
  Minimum: (ctx) => merge(ctx, 'Min'),
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding,
  Cropping2D: cropping,
  UpSampling2D: upSampling,
};

/**
 * The tfjs layer classes {@link exportLayersModel} converts, sorted by name (besides `InputLayer` and nested
 * Sequential/functional models, which are inlined).
 * @example
 * ```ts
 * if (!listExportableLayers().includes('LSTM')) console.log('recurrent layers stay on tfjs');
 * ```
 */
export function listExportableLayers(): string[] {
  return [...Object.keys(CONVERTERS), ...IDENTITY].sort();
}

// ---------------------------------------------------------------------------------------------------------------
// Graph traversal

interface Container {
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  readonly layers: readonly Layer[];
}

function isContainer(layer: Layer): layer is Layer & Container {
  const l = layer as unknown as Partial<Container>;
  return Array.isArray(l.layers) && Array.isArray(l.inputs) && Array.isArray(l.outputs);
}

class Exporter {
  readonly g = new GraphBuilder();
  /** Config overrides by `layerId:nodeIndex` (the final application of a layer with a softmax activation). */
  readonly overrides = new Map<string, Cfg>();

  /** Warnings of the layer converters. */
  readonly warnings: ModelWarning[] = [];

  constructor(readonly opset: number) {}

  /** The value of `t`, converting the layers it depends on first (each once per scope). */
  value(t: SymbolicTensor, memo: Map<number, Val>): Val {
    const known = memo.get(t.id);
    if (known) return known;
    const layer = t.sourceLayer;
    const cls = layer.getClassName();
    const where = `${cls} '${layer.name}'`;
    const node = layer.inboundNodes[t.nodeIndex];
    if (cls === 'InputLayer' || !node) {
      throw new ConfigError(`${where}: expected every graph input to be the model's input, got an unconnected tensor '${t.name}'`);
    }
    const inputs = node.inputTensors.map((i) => this.value(i, memo));
    let outs: Val[];
    if (isContainer(layer)) {
      const inner = new Map<number, Val>();
      if (layer.inputs.length !== inputs.length) {
        throw new ConfigError(`${where}: expected ${layer.inputs.length} inputs to the nested model, got ${inputs.length}`);
      }
      layer.inputs.forEach((it, i) => inner.set(it.id, inputs[i]!));
      outs = layer.outputs.map((o) => this.value(o, inner));
    } else if (IDENTITY.has(cls)) {
      outs = [inputs[0]!];
    } else {
      const convert = CONVERTERS[cls];
      if (!convert) {
        throw new UnsupportedError(`${where}: expected a layer class the ONNX exporter supports (see listExportableLayers()), got ${cls}`);
      }
      const cfg = { ...(layer.getConfig() as Cfg), ...(this.overrides.get(`${layer.id}:${t.nodeIndex}`) ?? {}) };
      outs = [
        convert({
          g: this.g,
          layer,
          cls,
          cfg,
          inputs,
          outShapes: node.outputTensors.map((o) => o.shape),
          where,
          opset: this.opset,
          warn: (m) => this.warnings.push({ code: MODEL_WARNING_CODES.exportApproximation, message: m }),
        }),
      ];
    }
    if (outs.length !== node.outputTensors.length) {
      throw new UnsupportedError(`${where}: expected a layer with ${outs.length} output(s), got ${node.outputTensors.length}`);
    }
    node.outputTensors.forEach((o, i) => memo.set(o.id, outs[i]!));
    return memo.get(t.id)!;
  }
}

/** IR version matching an opset (onnxruntime refuses neither; the ONNX checker wants them consistent). */
function irVersionFor(opset: number): number {
  if (opset <= 17) return 8;
  if (opset <= 20) return 9;
  if (opset === 21) return 10;
  return 11;
}

/**
 * Exports a tfjs `LayersModel` (Sequential or functional, nested models inlined) to an ONNX model in memory.
 *
 * The graph takes the model's input as float32 `[N, ...inputShape]` in the tfjs layout (NHWC for images,
 * batch dimension `N` dynamic) and returns `[N, numClasses]` float32 logits: a final softmax (a `Softmax` or
 * `Activation('softmax')` layer, or a softmax activation of the last layer) is left out with a warning, as
 * `fromLayersModel` does, so the output equals `fromLayersModel(model).logits(x)`. Convolutions and pools run in
 * NCHW behind one Transpose; order-dependent layers (Flatten, Reshape, Dense on rank > 2) see tfjs order.
 * Inference semantics: dropout and noise layers are the identity, BatchNormalization uses its moving statistics
 * (folded into one Mul and one Add). Weights are read synchronously (`dataSync`); no tensor is left behind.
 *
 * Supported layers: see {@link listExportableLayers} (Conv2D, DepthwiseConv2D, SeparableConv2D, Dense,
 * Max/AveragePooling2D, GlobalAverage/GlobalMaxPooling2D, Flatten, Reshape, Permute, BatchNormalization,
 * LayerNormalization, Activation, ReLU, LeakyReLU, ELU, ThresholdedReLU, PReLU, Softmax, Rescaling, Add, Multiply,
 * Average, Maximum, Minimum, Concatenate, ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear), dropout and
 * noise layers), channels-last only; activations linear, relu, relu6, elu, selu, sigmoid, hardSigmoid, softplus,
 * softsign, tanh, swish, mish, gelu, gelu_new, softmax, logSoftmax. DepthwiseConv2D ignores `dilationRate`, as
 * tfjs-layers does (with a warning).
 *
 * The graph uses these ONNX operators (for engines that differentiate it): Transpose, Conv (grouped for
 * depthwise), MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Gemm, MatMul, Add, Sub, Mul, Div, Max, Min,
 * Sqrt, ReduceMean, Relu, Clip, LeakyRelu, PRelu, Elu, Selu, ThresholdedRelu, Sigmoid, HardSigmoid, Softplus,
 * Softsign, Tanh, Erf, Softmax, LogSoftmax, Flatten, Reshape, Concat, Pad, Slice, Resize and Identity. Weights are
 * float32 initializers; shapes, pads and axes int64 initializers; node names equal their output names.
 *
 * @param model - the model; read only, never modified or disposed.
 * @param options - `opset` (default `17`, 13 to 22), `name` of the graph (default: the model's name).
 * @returns the `.onnx` bytes, the names of the graph input (`input`) and output (`logits`), the input shape
 *   (without batch) and class count, and warnings.
 * @throws {@link UnsupportedError} naming the class and name of a layer (or activation, padding mode, data format)
 *   the exporter cannot convert.
 * @throws {@link ConfigError} for a model with several inputs or outputs, an invalid opset, or a layer config or
 *   weight that is not as tfjs writes it.
 * @example
 * ```ts
 * import { loadLayersModel } from '@tensorflow/tfjs-layers';
 * const net = await loadLayersModel('file://model/model.json');
 * const { bytes, inputName, outputName } = exportLayersModel(net);
 * const session = await ort.InferenceSession.create(bytes);
 * const input = new ort.Tensor('float32', new Float32Array(28 * 28), [1, 28, 28, 1]);
 * const { [outputName]: logits } = await session.run({ [inputName]: input });
 * ```
 */
export function exportLayersModel(model: LayersModel, options: ExportOptions = {}): ExportedModel {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ConfigError(`exportLayersModel: expected an integer opset from ${MIN_OPSET} to ${MAX_OPSET}, got ${describe(opset)}`);
  }
  const name = options.name ?? model.name ?? 'model';
  if (model.inputs.length !== 1) throw new ConfigError(`${name}: expected a model with one input, got ${model.inputs.length}`);
  if (model.outputs.length !== 1) throw new ConfigError(`${name}: expected a model with one output, got ${model.outputs.length}`);
  const input = model.inputs[0]!;
  if (input.shape.slice(1).some((d) => typeof d !== 'number')) {
    throw new ConfigError(`${name}: expected an input of shape [N, ...] with static dimensions, got [${fmtShape(input.shape)}]`);
  }
  const ex = new Exporter(opset);
  const g = ex.g;
  const warnings: ModelWarning[] = [];
  const memo = new Map<number, Val>([[input.id, { shape: input.shape, nhwc: INPUT_NAME }]]);

  // A final softmax is left out, as fromLayersModel does (see stripSoftmax in model.ts).
  let out = model.outputs[0]!;
  const last = out.sourceLayer;
  if (!isContainer(last)) {
    const cls = last.getClassName();
    const cfg = last.getConfig() as Cfg;
    if (cls === 'Softmax' || (cls === 'Activation' && cfg['activation'] === 'softmax')) {
      const node = last.inboundNodes[out.nodeIndex];
      if (node && node.inputTensors.length === 1) {
        out = node.inputTensors[0]!;
        warnings.push({
          code: MODEL_WARNING_CODES.softmaxRemoved,
          message: `${name}: the last layer '${last.name}' is a softmax; the exported graph outputs its input (the pre-softmax logits)`,
        });
      }
    } else if (cfg['activation'] === 'softmax') {
      ex.overrides.set(`${last.id}:${out.nodeIndex}`, { activation: 'linear' });
      warnings.push({
        code: MODEL_WARNING_CODES.softmaxRemoved,
        message: `${name}: the last layer '${last.name}' has a softmax activation; the exported graph outputs the pre-softmax logits`,
      });
    }
  }
  const result = ex.value(out, memo);
  warnings.push(...ex.warnings);
  let y = g.native(result);
  if (result.shape.length > 2) y = g.op('Flatten', [y], 'logits/flatten', { axis: { kind: 'int', value: 1 } });
  const numClasses = result.shape.slice(1).reduce<number | null>((a, d) => (a === null || d === null ? null : a * d), 1);
  if (numClasses === null) {
    throw new ConfigError(`${name}: expected an output of static shape [N, numClasses], got [${fmtShape(result.shape)}]`);
  }
  // Name the output: rename the producing node's output, or add an Identity when the output is the input.
  const producer = g.nodes.find((n) => n.outputs.includes(y));
  if (producer) {
    const rename = (s: string): string => (s === y ? OUTPUT_NAME : s);
    g.nodes.forEach((n, i) => {
      g.nodes[i] = { ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) };
    });
  } else {
    g.nodes.push({ opType: 'Identity', inputs: [y], outputs: [OUTPUT_NAME], name: OUTPUT_NAME });
  }
  const bytes = encodeModel({
    irVersion: irVersionFor(opset),
    opsets: { '': opset },
    producer: 'robustest',
    graph: {
      name,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: INPUT_NAME, dtype: 'float32', dims: ['N', ...(input.shape.slice(1) as number[])] }],
      outputs: [{ name: OUTPUT_NAME, dtype: 'float32', dims: ['N', numClasses] }],
    },
  });
  return { bytes, inputName: INPUT_NAME, outputName: OUTPUT_NAME, inputShape: input.shape.slice(1) as number[], numClasses, warnings };
}
