/**
 * Encoding of ONNX protobuf messages: the inverse of `proto.ts` for the parts robustest writes (graphs it
 * generates: gradient graphs for onnxruntime, models exported from tfjs).
 *
 * Field numbers follow https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (compiled from `schema.ts`).
 * Tensors are written as little-endian `raw_data`. protobuf lets a reader merge a message with a later copy of
 * itself (repeated fields append), which {@link encodeGraphAddition} uses to extend an existing model's bytes
 * without re-encoding them.
 * @internal
 * @module
 */
import protobuf from 'protobufjs';
import { ConfigError, describe } from '../errors.js';
import { dataTypeCode, type Dim, type OnnxDataType } from './proto.js';
import { ONNX_PROTO } from './schema.js';

/** A tensor to write: element type, dims and values (row-major). */
export interface TensorSpec {
  readonly name?: string;
  readonly dtype: OnnxDataType;
  readonly dims: readonly number[];
  readonly data: ArrayLike<number>;
}

/** An attribute value to write; the kind decides the protobuf field. */
export type AttrSpec =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorSpec }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] };

/** A node to write. */
export interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attributes?: ReadonlyMap<string, AttrSpec> | Readonly<Record<string, AttrSpec>>;
}

/** A graph input or output to declare; `dtype` undefined leaves the type out (allowed for outputs). */
export interface ValueInfoSpec {
  readonly name: string;
  readonly dtype?: OnnxDataType;
  readonly dims?: readonly Dim[];
}

/** A graph to write. */
export interface GraphSpec {
  readonly name: string;
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly TensorSpec[];
  readonly inputs: readonly ValueInfoSpec[];
  readonly outputs: readonly ValueInfoSpec[];
}

/** A model to write. */
export interface ModelSpec {
  /** IR version; default 8 (ONNX 1.10+, read by onnxruntime ≥ 1.10). */
  readonly irVersion?: number;
  /** Operator-set versions by domain (`''` for the default domain). */
  readonly opsets: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  readonly producer?: string;
  readonly graph: GraphSpec;
}

let modelType: protobuf.Type | undefined;

function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

const ATTR_TYPES = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

function entries<T>(m: ReadonlyMap<string, T> | Readonly<Record<string, T>> | undefined): [string, T][] {
  if (!m) return [];
  return m instanceof Map ? [...(m as ReadonlyMap<string, T>).entries()] : Object.entries(m as Record<string, T>);
}

/** Little-endian raw bytes of a tensor's values in its element type. */
export function rawBytes(t: TensorSpec): Uint8Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new ConfigError(`onnx encode: expected ${n} values for tensor ${describe(t.name ?? '')} of dims [${t.dims.join(', ')}], got ${t.data.length}`);
  }
  const buf = (() => {
    switch (t.dtype) {
      case 'float32':
        return new Float32Array(n);
      case 'float64':
        return new Float64Array(n);
      case 'int32':
        return new Int32Array(n);
      case 'int16':
        return new Int16Array(n);
      case 'uint16':
        return new Uint16Array(n);
      case 'int8':
        return new Int8Array(n);
      case 'uint8':
      case 'bool':
        return new Uint8Array(n);
      case 'uint32':
        return new Uint32Array(n);
      case 'int64':
        return new BigInt64Array(n);
      case 'uint64':
        return new BigUint64Array(n);
      default:
        throw new ConfigError(`onnx encode: expected a numeric element type, got ${t.dtype}`);
    }
  })();
  if (buf instanceof BigInt64Array || buf instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) buf[i] = BigInt(Math.trunc(t.data[i]!));
  } else {
    for (let i = 0; i < n; i++) buf[i] = t.data[i]!;
  }
  // Typed arrays are little-endian on every platform Node supports.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function tensorObject(t: TensorSpec): Record<string, unknown> {
  return { dims: [...t.dims], data_type: dataTypeCode(t.dtype), name: t.name ?? '', raw_data: rawBytes(t) };
}

function attributeObject(name: string, a: AttrSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { name, type: ATTR_TYPES[a.kind] };
  switch (a.kind) {
    case 'float':
      o['f'] = a.value;
      break;
    case 'int':
      o['i'] = a.value;
      break;
    case 'string':
      o['s'] = new TextEncoder().encode(a.value);
      break;
    case 'tensor':
      o['t'] = tensorObject(a.value);
      break;
    case 'floats':
      o['floats'] = [...a.value];
      break;
    case 'ints':
      o['ints'] = [...a.value];
      break;
    case 'strings':
      o['strings'] = a.value.map((s) => new TextEncoder().encode(s));
      break;
  }
  return o;
}

function nodeObject(n: NodeSpec): Record<string, unknown> {
  return {
    input: [...n.inputs],
    output: [...n.outputs],
    name: n.name ?? '',
    op_type: n.opType,
    domain: n.domain ?? '',
    attribute: entries(n.attributes).map(([k, v]) => attributeObject(k, v)),
  };
}

function valueInfoObject(v: ValueInfoSpec): Record<string, unknown> {
  if (v.dtype === undefined) return { name: v.name };
  const tensorType: Record<string, unknown> = { elem_type: dataTypeCode(v.dtype) };
  if (v.dims) {
    tensorType['shape'] = {
      dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})),
    };
  }
  return { name: v.name, type: { tensor_type: tensorType } };
}

function graphObject(g: Partial<GraphSpec>): Record<string, unknown> {
  return {
    ...(g.name ? { name: g.name } : {}),
    node: (g.nodes ?? []).map(nodeObject),
    initializer: (g.initializers ?? []).map(tensorObject),
    input: (g.inputs ?? []).map(valueInfoObject),
    output: (g.outputs ?? []).map(valueInfoObject),
  };
}

function encode(obj: Record<string, unknown>): Uint8Array {
  const type = onnxModelType();
  const err = type.verify(obj);
  if (err) throw new ConfigError(`onnx encode: expected a valid ModelProto, got ${err}`);
  return type.encode(type.fromObject(obj)).finish();
}

/**
 * Serialises a model to the bytes of an `.onnx` file.
 * @throws {@link ConfigError} when a tensor's values do not match its dims or a field is invalid.
 */
export function encodeModel(spec: ModelSpec): Uint8Array {
  return encode({
    ir_version: spec.irVersion ?? 8,
    producer_name: spec.producer ?? 'robustest',
    graph: graphObject(spec.graph),
    opset_import: entries(spec.opsets).map(([domain, version]) => ({ domain, version })),
  });
}

/**
 * Bytes that, appended to a serialised `ModelProto`, add nodes, initializers and graph outputs to its graph
 * (protobuf merges a repeated embedded message; every existing byte stays as it was).
 */
export function encodeGraphAddition(addition: Partial<Pick<GraphSpec, 'nodes' | 'initializers' | 'outputs'>>): Uint8Array {
  return encode({ graph: graphObject(addition) });
}

/** `base` followed by `extra`: a model extended with {@link encodeGraphAddition}. */
export function concatBytes(base: Uint8Array, extra: Uint8Array): Uint8Array {
  const out = new Uint8Array(base.length + extra.length);
  out.set(base, 0);
  out.set(extra, base.length);
  return out;
}
