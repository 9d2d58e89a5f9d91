// Fuzz target: .onnx files (small built graphs covering dense, conv, shape arithmetic and external data, and the
// bundled MNIST CNN), mutated structurally (protobuf fields set to hostile numbers and strings, repeated fields
// dropped or doubled) and as bytes, with hostile external-data locations and file-system entries.
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ONNX_PROTO } from '../../../src/onnx/schema.js';
import { loadOnnxModel } from '../../../src/onnx/import.js';
import { loadModel } from '../../../src/load.js';
import { buildModel } from '../../onnx/build.js';
import type { FuzzTarget } from '../harness.js';
import { HOSTILE_NUMBERS, HOSTILE_REFS, applyBytes, byteEdit, fsHostility, writeHostile, type ByteEdit, type FsHostility } from '../mutate.js';
import { exercise } from './common.js';

const here = new URL('../../../', import.meta.url).pathname;
const ModelProto = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');

const i64 = (name: string, values: number[], dims = [values.length]) => ({ name, dtype: 'int64' as const, dims, values });
const W = Array.from({ length: 12 }, (_, i) => i / 12 - 0.3);

const SEEDS: Uint8Array[] = [
  buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'p', dims: ['n', 3] },
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['z0'] },
      { op: 'Add', inputs: ['z0', 'b'], outputs: ['z'] },
      { op: 'Softmax', inputs: ['z'], outputs: ['p'], attrs: { axis: -1 } },
    ],
    initializers: [
      { name: 'W', dims: [4, 3], values: W },
      { name: 'b', dims: [3], values: [0.1, -0.2, 0.3] },
    ],
  }),
  buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 1, 6, 6] },
    output: { name: 'y', dims: ['n', 3] },
    nodes: [
      { op: 'Conv', inputs: ['x', 'K', 'kb'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['m'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Flatten', inputs: ['m'], outputs: ['f'], attrs: { axis: 1 } },
      { op: 'Gemm', inputs: ['f', 'G', 'gb'], outputs: ['y'], attrs: { transB: 1 } },
    ],
    initializers: [
      { name: 'K', dims: [2, 1, 3, 3], values: Array.from({ length: 18 }, (_, i) => (i % 5) / 5 - 0.4) },
      { name: 'kb', dims: [2], values: [0.01, -0.01] },
      { name: 'G', dims: [3, 18], values: Array.from({ length: 54 }, (_, i) => (i % 7) / 7 - 0.5) },
      { name: 'gb', dims: [3], values: [0, 0.1, 0.2] },
    ],
  }),
  buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'out', dims: ['n', 3] },
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] },
      { op: 'Range', inputs: ['r0', 'r1', 'r2'], outputs: ['r'] },
      { op: 'Cast', inputs: ['r'], outputs: ['rf'], attrs: { to: 1 } },
      { op: 'ConstantOfShape', inputs: ['s3'], outputs: ['c'], attrs: { value: { tensor: { dims: [1], values: [0.5] } } } },
      { op: 'Expand', inputs: ['c', 's13'], outputs: ['e'] },
      { op: 'Tile', inputs: ['e', 'reps'], outputs: ['t'] },
      { op: 'Add', inputs: ['y', 'rf'], outputs: ['y2'] },
      { op: 'Add', inputs: ['y2', 't'], outputs: ['y3'] },
      { op: 'Shape', inputs: ['x'], outputs: ['sx'] },
      { op: 'Gather', inputs: ['sx', 'zero'], outputs: ['n0'] },
      { op: 'Unsqueeze', inputs: ['n0', 'ax0'], outputs: ['u'] },
      { op: 'Concat', inputs: ['u', 'three'], outputs: ['shape'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['y3', 'shape'], outputs: ['out'] },
    ],
    initializers: [
      { name: 'W', dims: [4, 3], values: W },
      i64('r0', [0], []),
      i64('r1', [3], []),
      i64('r2', [1], []),
      i64('s3', [3]),
      i64('s13', [1, 3]),
      i64('reps', [1, 1]),
      i64('zero', [0], []),
      i64('ax0', [0]),
      i64('three', [3]),
    ],
  }),
  buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'z', dims: ['n', 3] },
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] }],
    initializers: [{ name: 'W', dims: [4, 3], values: [], external: { location: 'weights.bin', offset: 16, length: 48 } }],
  }),
  new Uint8Array(readFileSync(join(here, 'assets/mnist-cnn.onnx'))),
];
const EXTERNAL = new Uint8Array([...new Uint8Array(16).fill(9), ...new Uint8Array(new Float32Array(W).buffer)]);

/** A structural edit of the decoded ModelProto: walk `path`, then change what is there. */
interface ProtoEdit {
  path: number[];
  num: number;
  str: string;
}

const protoEdit: fc.Arbitrary<ProtoEdit> = fc.record({
  path: fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 }),
  num: fc.constantFrom(...HOSTILE_NUMBERS),
  str: fc.constantFrom<string>(...HOSTILE_REFS, 'x', 'W', 'Softmax', 'Loop', 'com.microsoft', 'z'),
});

function applyProto(doc: Record<string, unknown>, e: ProtoEdit, canary: string): void {
  let parent: Record<string, unknown> | unknown[] = doc;
  let key: string | number | undefined;
  let node: unknown = doc;
  for (const step of e.path) {
    if (node === null || typeof node !== 'object' || node instanceof Uint8Array) break;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    parent = node as Record<string, unknown> | unknown[];
    key = keys[step % keys.length]!;
    node = (parent as Record<string | number, unknown>)[key];
  }
  if (key === undefined) return;
  const set = (v: unknown): void => {
    (parent as Record<string | number, unknown>)[key!] = v;
  };
  if (typeof node === 'number') set(e.num);
  else if (typeof node === 'string') set(e.str === '$CANARY' ? canary : e.str);
  else if (node instanceof Uint8Array) set(node.subarray(0, node.length >> 1));
  else if (Array.isArray(parent)) {
    if (e.num % 2 === 0) parent.splice(key as number, 1);
    else parent.push(structuredClone(node));
  } else delete (parent as Record<string, unknown>)[key as string];
}

export interface OnnxCase {
  seed: number;
  proto: ProtoEdit[];
  bytes: ByteEdit[];
  external: ByteEdit[];
  externalFs: FsHostility | undefined;
  loader: 'importer' | 'loadModel';
}

export const onnxTarget: FuzzTarget<OnnxCase> = {
  name: 'onnx',
  arbitrary: fc.record({
    seed: fc.constantFrom(0, 1, 2, 2, 3, 3, 4),
    proto: fc.array(protoEdit, { maxLength: 3 }),
    bytes: fc.oneof({ weight: 4, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 3 }) }),
    external: fc.oneof({ weight: 4, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
    externalFs: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fsHostility }),
    loader: fc.constantFrom('importer' as const, 'importer' as const, 'importer' as const, 'loadModel' as const),
  }),
  prepare(c, ctx) {
    let bytes = SEEDS[c.seed]!;
    if (c.proto.length > 0) {
      const doc = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true }) as Record<string, unknown>;
      for (const e of c.proto) applyProto(doc, e, ctx.canary);
      bytes = ModelProto.encode(ModelProto.fromObject(doc)).finish();
    }
    writeHostile(join(ctx.dir, 'model.onnx'), applyBytes(bytes, c.bytes), undefined, ctx.canary);
    writeHostile(join(ctx.dir, 'weights.bin'), applyBytes(EXTERNAL, c.external), c.externalFs, ctx.canary);
  },
  async run(c, ctx) {
    const path = join(ctx.dir, 'model.onnx');
    await exercise(c.loader === 'importer' ? await loadOnnxModel(path) : await loadModel(path));
  },
  describe: (c) => JSON.stringify(c),
};
