/**
 * Decoding of ONNX protobuf messages (`ModelProto`, `TensorProto`) into plain, validated TypeScript values.
 *
 * See the ONNX IR specification: https://github.com/onnx/onnx/blob/main/docs/IR.md
 * @internal
 * @module
 */
import { oneLine, quote } from '../files.js';
import protobuf from 'protobufjs';
import { ModelLoadError, UnsupportedError, describe } from '../errors.js';
import { ONNX_PROTO } from './schema.js';

/** ONNX element types by their `TensorProto.DataType` number. */
const DATA_TYPES: Record<number, OnnxDataType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

/** An ONNX element type, named after its storage. */
export type OnnxDataType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16';

/** The `TensorProto.DataType` number of an element type (the inverse of the table above). */
export function dataTypeCode(t: OnnxDataType): number {
  for (const [k, v] of Object.entries(DATA_TYPES)) if (v === t) return Number(k);
  return 0;
}

/** The element type of a `TensorProto.DataType` number, or undefined when unknown. */
export function dataTypeName(code: number): OnnxDataType | undefined {
  return DATA_TYPES[code];
}

/**
 * A tensor held on the host. Numeric data of every element type is stored as float64 (exact for float32,
 * every 32-bit integer, and 64-bit integers up to 2^53), which keeps host arithmetic uniform.
 */
export interface HostTensor {
  readonly dtype: OnnxDataType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** A dimension of a declared shape: a size, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

/** A graph input or output as declared: name, element type, and shape when known. */
export interface ValueInfo {
  readonly name: string;
  readonly dtype?: OnnxDataType;
  /** Declared dimensions; undefined when the rank is unknown. */
  readonly dims?: readonly Dim[];
  /** Whether the value is a tensor (not a sequence, map or optional). */
  readonly isTensor: boolean;
}

/** One attribute of a node. */
export type Attribute =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: HostTensor }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  | { readonly kind: 'other'; readonly value: string };

/** A node of the graph. */
export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  /** Operator domain; `''` and `ai.onnx` are the default domain. */
  readonly domain: string;
  /** Input value names; `''` marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, Attribute>;
}

/** A decoded graph. */
export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: ReadonlyMap<string, HostTensor>;
  /** Declared inputs that are not initializers (the values a caller feeds). */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

/** A decoded model. */
export interface OnnxModel {
  readonly irVersion: number;
  readonly producer: string;
  /** Imported operator-set versions by domain (`''` for the default domain). */
  readonly opsets: ReadonlyMap<string, number>;
  /** Whether some initializer is stored outside the .onnx file. */
  readonly hasExternalData: boolean;
  readonly graph: OnnxGraph;
}

let root: protobuf.Root | undefined;

function messageType(name: string): protobuf.Type {
  root ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
  return root.lookupType(`onnx.${name}`);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function num(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v === undefined || v === null) return 0;
  throw new ModelLoadError(`${where}: expected a number, got ${describe(v)}`);
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return '';
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function bytes(v: unknown): Uint8Array | undefined {
  return v instanceof Uint8Array && v.length > 0 ? v : undefined;
}

/** Decodes one protobuf message of the ONNX schema into a plain object (int64 as numbers). */
function decodeMessage(name: string, data: Uint8Array, where: string): Obj {
  try {
    const type = messageType(name);
    const msg = type.decode(data);
    return type.toObject(msg, { longs: Number, arrays: true, defaults: false }) as Obj;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ModelLoadError(`${where}: expected a valid ONNX ${name} (protobuf), got a file that fails to decode (${why})`);
  }
}

function float16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function bfloat16ToNumber(h: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, h << 16, true);
  return b.getFloat32(0, true);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per element of raw_data for each numeric type. */
const RAW_SIZE: Partial<Record<OnnxDataType, number>> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
  uint32: 4,
  uint64: 8,
  bfloat16: 2,
};

function decodeRaw(dtype: OnnxDataType, raw: Uint8Array, count: number, where: string): Float64Array {
  const size = RAW_SIZE[dtype];
  if (size === undefined) throw new UnsupportedError(`${where}: expected a numeric tensor, got element type ${dtype}`);
  if (raw.length !== size * count) {
    throw new ModelLoadError(`${where}: expected ${size * count} bytes of raw_data for ${count} ${dtype} values, got ${raw.length}`);
  }
  if (dtype === 'float32' && LITTLE_ENDIAN) {
    // Fast path for the bulk of a model's bytes: copy to an aligned buffer and widen.
    // (a copy into a fresh buffer: a Node Buffer's slice() shares memory and may be unaligned)
    const aligned = new Uint8Array(raw.length);
    aligned.set(raw);
    return Float64Array.from(new Float32Array(aligned.buffer, 0, count));
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (dtype) {
      case 'float32':
        out[i] = view.getFloat32(o, true);
        break;
      case 'float64':
        out[i] = view.getFloat64(o, true);
        break;
      case 'uint8':
      case 'bool':
        out[i] = view.getUint8(o);
        break;
      case 'int8':
        out[i] = view.getInt8(o);
        break;
      case 'uint16':
        out[i] = view.getUint16(o, true);
        break;
      case 'int16':
        out[i] = view.getInt16(o, true);
        break;
      case 'int32':
        out[i] = view.getInt32(o, true);
        break;
      case 'uint32':
        out[i] = view.getUint32(o, true);
        break;
      case 'int64':
        out[i] = Number(view.getBigInt64(o, true));
        break;
      case 'uint64':
        out[i] = Number(view.getBigUint64(o, true));
        break;
      case 'float16':
        out[i] = float16ToNumber(view.getUint16(o, true));
        break;
      case 'bfloat16':
        out[i] = bfloat16ToNumber(view.getUint16(o, true));
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * Reads the bytes of an externally stored tensor (`location` as written in the model, relative to the model's
 * directory; `length` undefined means "to the end of the file").
 */
export type ExternalDataReader = (location: string, offset: number, length: number | undefined, where: string) => Uint8Array;

/** How {@link decodeModel} treats tensors stored outside the .onnx file. */
export type ExternalData = ExternalDataReader | 'reject' | 'skip';

/** Converts a decoded TensorProto object into a {@link HostTensor}. */
function tensorFromObject(t: Obj, where: string, external: ExternalData = 'reject'): HostTensor {
  const name = str(t['name']);
  const w = name ? `${where} ${quote(name)}` : where;
  const code = num(t['data_type'], w);
  const dtype = dataTypeName(code);
  if (!dtype) throw new UnsupportedError(`${w}: expected a known ONNX element type, got data_type ${code}`);
  let externalRaw: Uint8Array | undefined;
  if (num(t['data_location'], w) === 1 || arr(t['external_data']).length > 0) {
    if (external === 'reject') {
      throw new UnsupportedError(
        `${w}: expected tensor data stored inside the .onnx file, got external data (load the model from its file with loadOnnxModel, or pass externalDataDir)`,
      );
    }
    const entries = new Map(
      arr(t['external_data'])
        .filter(isObj)
        .map((e) => [str(e['key']), str(e['value'])] as const),
    );
    const location = entries.get('location');
    if (!location) throw new ModelLoadError(`${w}: expected external_data with a location, got ${describe([...entries.keys()])}`);
    const shape = arr(t['dims']).map((d) => num(d, w));
    if (external === 'skip') return { dtype, shape, data: new Float64Array(0) };
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : undefined;
    if (!Number.isInteger(offset) || offset < 0 || (length !== undefined && (!Number.isInteger(length) || length < 0))) {
      throw new ModelLoadError(
        `${w}: expected non-negative integer offset and length, got ${describe(entries.get('offset'))} and ${describe(entries.get('length'))}`,
      );
    }
    externalRaw = external(location, offset, length, w);
  }
  if (t['segment'] !== undefined) throw new UnsupportedError(`${w}: expected an unsegmented tensor, got a segment`);
  const shape = arr(t['dims']).map((d) => num(d, w));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ModelLoadError(`${w}: expected non-negative integer dims, got [${shape.join(', ')}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'string' || dtype === 'complex64' || dtype === 'complex128') {
    throw new UnsupportedError(`${w}: expected a numeric or boolean tensor, got element type ${dtype}`);
  }
  const raw = externalRaw ?? bytes(t['raw_data']);
  let data: Float64Array;
  if (raw) {
    data = decodeRaw(dtype, raw, count, w);
  } else {
    let src: unknown[];
    switch (dtype) {
      case 'float32':
        src = arr(t['float_data']);
        break;
      case 'float64':
        src = arr(t['double_data']);
        break;
      case 'int64':
        src = arr(t['int64_data']);
        break;
      case 'uint32':
      case 'uint64':
        src = arr(t['uint64_data']);
        break;
      default:
        src = arr(t['int32_data']);
        break;
    }
    if (src.length !== count) {
      throw new ModelLoadError(`${w}: expected ${count} values for dims [${shape.join(', ')}], got ${src.length}`);
    }
    data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const v = num(src[i], w);
      data[i] = dtype === 'float16' ? float16ToNumber(v) : dtype === 'bfloat16' ? bfloat16ToNumber(v) : v;
    }
  }
  return { dtype, shape, data };
}

/**
 * Decodes a serialized `TensorProto` (the `.pb` files of the ONNX test data).
 * @throws {@link ModelLoadError} when the bytes are not a valid TensorProto; {@link UnsupportedError} for string,
 * complex or externally stored tensors.
 */
export function decodeTensor(data: Uint8Array, where = 'onnx tensor'): HostTensor {
  return tensorFromObject(decodeMessage('TensorProto', data, where), where);
}

function valueInfo(v: Obj, where: string): ValueInfo {
  const name = str(v['name']);
  const type = isObj(v['type']) ? v['type'] : undefined;
  const tt = type && isObj(type['tensor_type']) ? type['tensor_type'] : undefined;
  if (!tt) return { name, isTensor: type === undefined };
  const dtype = dataTypeName(num(tt['elem_type'], where));
  const shape = isObj(tt['shape']) ? tt['shape'] : undefined;
  const dims = shape
    ? arr(shape['dim']).map((d): Dim => {
        if (!isObj(d)) return null;
        if (d['dim_value'] !== undefined) return num(d['dim_value'], where);
        if (typeof d['dim_param'] === 'string' && d['dim_param'] !== '') return d['dim_param'];
        return null;
      })
    : undefined;
  return { name, isTensor: true, ...(dtype ? { dtype } : {}), ...(dims ? { dims } : {}) };
}

function attribute(a: Obj, where: string): [string, Attribute] {
  const name = str(a['name']);
  const w = `${where} attribute ${quote(name)}`;
  let type = num(a['type'], w);
  if (type === 0) {
    // IR < 3 files may omit the type: infer it from the field that is present.
    if (a['f'] !== undefined) type = 1;
    else if (a['i'] !== undefined) type = 2;
    else if (a['s'] !== undefined) type = 3;
    else if (a['t'] !== undefined) type = 4;
    else if (arr(a['floats']).length) type = 6;
    else if (arr(a['ints']).length) type = 7;
    else if (arr(a['strings']).length) type = 8;
  }
  switch (type) {
    case 1:
      return [name, { kind: 'float', value: num(a['f'], w) }];
    case 2:
      return [name, { kind: 'int', value: num(a['i'], w) }];
    case 3:
      return [name, { kind: 'string', value: str(a['s']) }];
    case 4: {
      const t = a['t'];
      if (!isObj(t)) throw new ModelLoadError(`${w}: expected a tensor value, got none`);
      return [name, { kind: 'tensor', value: tensorFromObject(t, w) }];
    }
    case 6:
      return [name, { kind: 'floats', value: arr(a['floats']).map((x) => num(x, w)) }];
    case 7:
      return [name, { kind: 'ints', value: arr(a['ints']).map((x) => num(x, w)) }];
    case 8:
      return [name, { kind: 'strings', value: arr(a['strings']).map(str) }];
    default:
      return [name, { kind: 'other', value: `type ${type}` }];
  }
}

/**
 * Decodes and validates a serialized `ModelProto`.
 *
 * Checks what the executor relies on: a graph is present, every node input is produced before it is used
 * (topological order, as the spec requires), tensor data sizes match their dims.
 * @param external - how to get initializers stored outside the file: a reader, `reject` (default), or `skip`
 *   (empty placeholders, for callers that only need the graph's structure).
 * @throws {@link ModelLoadError} for bytes that are not an ONNX model or an inconsistent graph;
 * {@link UnsupportedError} for external tensor data when `external` is `reject`.
 */
export function decodeModel(data: Uint8Array, where = 'onnx', external: ExternalData = 'reject'): OnnxModel {
  if (!(data instanceof Uint8Array) || data.length === 0) {
    throw new ModelLoadError(`${where}: expected the bytes of an .onnx file, got ${data instanceof Uint8Array ? 'an empty buffer' : describe(data)}`);
  }
  const m = decodeMessage('ModelProto', data, where);
  const g = m['graph'];
  if (!isObj(g)) throw new ModelLoadError(`${where}: expected a ModelProto with a graph, got none (not an ONNX model, or a truncated file)`);
  const opsets = new Map<string, number>();
  for (const o of arr(m['opset_import'])) {
    if (!isObj(o)) continue;
    const domain = str(o['domain']);
    opsets.set(domain === 'ai.onnx' ? '' : domain, num(o['version'], where));
  }
  if (opsets.size === 0) opsets.set('', 1);
  const initializers = new Map<string, HostTensor>();
  let hasExternalData = false;
  for (const t of arr(g['initializer'])) {
    if (!isObj(t)) continue;
    const tensor = tensorFromObject(t, `${where}: initializer`, external);
    initializers.set(str(t['name']), tensor);
    if (num(t['data_location'], where) === 1 || arr(t['external_data']).length > 0) hasExternalData = true;
  }
  const inputs = arr(g['input'])
    .filter(isObj)
    .map((v) => valueInfo(v, where))
    .filter((v) => !initializers.has(v.name));
  const outputs = arr(g['output'])
    .filter(isObj)
    .map((v) => valueInfo(v, where));
  const nodes: OnnxNode[] = [];
  const known = new Set<string>([...initializers.keys(), ...inputs.map((i) => i.name)]);
  arr(g['node']).forEach((n, index) => {
    if (!isObj(n)) return;
    const opType = str(n['op_type']);
    const name = str(n['name']) || `${opType}_${index}`;
    const w = `${where}: node ${quote(name)} (${oneLine(opType)})`;
    const nodeInputs = arr(n['input']).map(str);
    const nodeOutputs = arr(n['output']).map(str);
    if (!opType) throw new ModelLoadError(`${where}: expected node ${index} to have an op_type, got none`);
    for (const i of nodeInputs) {
      if (i !== '' && !known.has(i))
        throw new ModelLoadError(`${w}: expected input ${quote(i)} to be a graph input, an initializer or an earlier node's output, got an undefined name`);
    }
    const attributes = new Map<string, Attribute>();
    for (const a of arr(n['attribute'])) if (isObj(a)) attributes.set(...attribute(a, w));
    for (const o of nodeOutputs) if (o !== '') known.add(o);
    const domain = str(n['domain']);
    nodes.push({ name, opType, domain: domain === 'ai.onnx' ? '' : domain, inputs: nodeInputs, outputs: nodeOutputs, attributes });
  });
  for (const o of outputs) {
    if (!known.has(o.name)) throw new ModelLoadError(`${where}: expected graph output ${quote(o.name)} to be produced by a node, got an undefined name`);
  }
  if (outputs.length === 0) throw new ModelLoadError(`${where}: expected a graph with at least one output, got none`);
  return {
    irVersion: num(m['ir_version'], where),
    producer: `${str(m['producer_name'])} ${str(m['producer_version'])}`.trim(),
    hasExternalData,
    opsets,
    graph: { name: str(g['name']), nodes, initializers, inputs, outputs },
  };
}
