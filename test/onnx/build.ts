// Builds small ONNX models in tests, encoded with the importer's own schema.
import protobuf from 'protobufjs';
import { ONNX_PROTO } from '../../src/onnx/schema.js';

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

export type AttrValue = number | number[] | string | { floats: number[] } | { tensor: TensorSpec };
export interface TensorSpec {
  name?: string;
  dtype?: 'float32' | 'int64';
  dims: number[];
  values: number[];
  /** Store the values outside the model (ONNX external data): the caller writes them to `location`. */
  external?: { location: string; offset?: number; length?: number };
}
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

function tensor(t: TensorSpec): Record<string, unknown> {
  const dtype = t.dtype ?? 'float32';
  if (t.external) {
    const entries = [{ key: 'location', value: t.external.location }];
    if (t.external.offset !== undefined) entries.push({ key: 'offset', value: String(t.external.offset) });
    if (t.external.length !== undefined) entries.push({ key: 'length', value: String(t.external.length) });
    return { name: t.name ?? '', dims: t.dims, data_type: 1, data_location: 1, external_data: entries };
  }
  return {
    name: t.name ?? '',
    dims: t.dims,
    data_type: dtype === 'float32' ? 1 : 7,
    ...(dtype === 'float32' ? { float_data: t.values } : { int64_data: t.values }),
  };
}

function attr(name: string, v: AttrValue): Record<string, unknown> {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('floats' in v) return { name, type: 6, floats: v.floats };
  return { name, type: 4, t: tensor(v.tensor) };
}

function valueInfo(name: string, dims: (number | string)[], elem = 1): Record<string, unknown> {
  return {
    name,
    type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

/** Encodes a one-input, one-output model. */
export function buildModel(spec: {
  opset: number;
  input: { name: string; dims: (number | string)[] };
  output: { name: string; dims: (number | string)[] };
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
  extraInputs?: { name: string; dims: (number | string)[]; elem?: number }[];
}): Uint8Array {
  const msg = ModelProto.fromObject({
    ir_version: 7,
    producer_name: 'robustest-test',
    opset_import: [{ domain: '', version: spec.opset }],
    graph: {
      name: 'test_graph',
      node: spec.nodes.map((n, i) => ({
        op_type: n.op,
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        input: n.inputs,
        output: n.outputs,
        domain: n.domain ?? '',
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(k, v)),
      })),
      initializer: (spec.initializers ?? []).map(tensor),
      input: [valueInfo(spec.input.name, spec.input.dims), ...(spec.extraInputs ?? []).map((e) => valueInfo(e.name, e.dims, e.elem ?? 1))],
      output: [valueInfo(spec.output.name, spec.output.dims)],
    },
  });
  return ModelProto.encode(msg).finish();
}

/** Encodes a float32 TensorProto with raw_data. */
export function encodeRawTensor(dims: number[], values: number[]): Uint8Array {
  const TensorProto = root.lookupType('onnx.TensorProto');
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return TensorProto.encode(TensorProto.fromObject({ dims, data_type: 1, raw_data: raw })).finish();
}
