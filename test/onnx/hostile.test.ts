// Hostile .onnx files: external data that escapes its folder or blocks, constant folding that would materialise
// gigabytes, absurd declared dimensions, and tfjs errors on the first call; each a typed error on one line.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { ConfigError, ModelLoadError, RobustestError, ShapeError } from '../../src/errors.js';
import { importOnnx, loadOnnxModel } from '../../src/onnx/import.js';
import { loadOnnx } from '../../src/onnx/policy.js';
import { buildModel, type NodeSpec, type TensorSpec } from './build.js';

const root = mkdtempSync(join(tmpdir(), 'robustest-onnx-hostile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const W = Array.from({ length: 12 }, (_, i) => i / 12);

/** x [n, 4] · W [4, 3], W stored as external data at `location`. */
function externalModel(location: string): Uint8Array {
  return buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'z', dims: ['n', 3] },
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] }],
    initializers: [{ name: 'W', dims: [4, 3], values: [], external: { location, offset: 0, length: 48 } }],
  });
}

/** A model whose output is x + a constant computed from `nodes` (folded at load) reduced to one number. */
function foldingModel(nodes: NodeSpec[], initializers: TensorSpec[], folded: string): Uint8Array {
  return buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 2] },
    output: { name: 'y', dims: ['n', 2] },
    nodes: [...nodes, { op: 'ReduceSum', inputs: [folded], outputs: ['s'], attrs: { keepdims: 0 } }, { op: 'Add', inputs: ['x', 's'], outputs: ['y'] }],
    initializers,
  });
}

const i64 = (name: string, values: number[], dims: number[] = [values.length]): TensorSpec => ({ name, dtype: 'int64', dims, values });

function oneLineError(fn: () => unknown): RobustestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RobustestError);
    expect((e as Error).message).not.toMatch(/\n/);
    return e as RobustestError;
  }
  throw new Error('expected a throw');
}

describe('ONNX external data stays inside the model folder', () => {
  const dir = join(root, 'ext');
  const outside = join(root, 'outside.bin');
  execFileSync('mkdir', ['-p', join(dir, 'sub')]);
  writeFileSync(outside, Buffer.from(new Float32Array(W).buffer));
  writeFileSync(join(dir, 'sub', 'real.bin'), Buffer.from(new Float32Array(W).buffer));
  symlinkSync(outside, join(dir, 'escape.bin'));
  symlinkSync(join(dir, 'sub', 'real.bin'), join(dir, 'inside-link.bin'));
  symlinkSync(join(root), join(dir, 'up'));

  it('refuses a symlink that leads outside the folder, naming the location and not the target', async () => {
    writeFileSync(join(dir, 'escape.onnx'), externalModel('escape.bin'));
    const e = await loadOnnxModel(join(dir, 'escape.onnx')).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelLoadError);
    expect((e as Error).message).toMatch(/"escape\.bin".*outside the folder/);
    expect((e as Error).message).not.toMatch(/outside\.bin|48 bytes/);
    writeFileSync(join(dir, 'up.onnx'), externalModel('up/outside.bin'));
    await expect(loadOnnxModel(join(dir, 'up.onnx'))).rejects.toThrow(/outside the folder/);
    await expect(loadOnnx(join(dir, 'escape.onnx'), { engine: 'tfjs' })).rejects.toThrow(ModelLoadError);
  });

  it('still follows a symlink that stays inside the folder', async () => {
    writeFileSync(join(dir, 'inside.onnx'), externalModel('inside-link.bin'));
    const m = await loadOnnxModel(join(dir, 'inside.onnx'));
    const y = m.logits(tf.tensor2d([[1, 0, 0, 0]]));
    expect(Array.from(y.dataSync())).toEqual(W.slice(0, 3).map((v) => Math.fround(v)));
    y.dispose();
    m.dispose();
  });

  it('refuses a FIFO as external data at once instead of blocking', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo.bin')]);
    writeFileSync(join(dir, 'fifo.onnx'), externalModel('fifo.bin'));
    await expect(loadOnnxModel(join(dir, 'fifo.onnx'))).rejects.toThrow(/"fifo\.bin" to be a regular file, got a directory, pipe, socket or device/);
  });

  it('refuses absolute and parent locations, and a directory', async () => {
    for (const location of [outside, '../outside.bin', 'sub/../../outside.bin']) {
      expect(() => importOnnx(externalModel(location), { externalDataDir: dir })).toThrow(/inside the model's directory/);
    }
    expect(() => importOnnx(externalModel('sub'), { externalDataDir: dir })).toThrow(/regular file/);
  });
});

describe('constant folding is capped before it allocates', () => {
  it('Range(0, 9e8, 1) is a ShapeError naming the node (it used to abort the process out of memory)', () => {
    const bytes = foldingModel(
      [{ op: 'Range', name: 'huge_range', inputs: ['a', 'b', 'c'], outputs: ['r'] }],
      [i64('a', [0], []), i64('b', [9e8], []), i64('c', [1], [])],
      'r',
    );
    const e = oneLineError(() => importOnnx(bytes));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(
      /^onnx: node 'huge_range' \(Range, opset 13\): expected an output of at most 33554432 elements \(the maxElements limit\), got \[900000000\]/,
    );
  });

  it('Range with delta 0 is a ShapeError (it used to be an untyped RangeError)', () => {
    const bytes = foldingModel([{ op: 'Range', inputs: ['a', 'b', 'c'], outputs: ['r'] }], [i64('a', [0], []), i64('b', [5], []), i64('c', [0], [])], 'r');
    expect(oneLineError(() => importOnnx(bytes)).message).toMatch(/non-zero delta, got start 0, limit 5, delta 0/);
  });

  it('ConstantOfShape and Expand to [3e4, 3e4] are ShapeErrors (they used to take over 3.5 GB)', () => {
    const cos = foldingModel([{ op: 'ConstantOfShape', name: 'big', inputs: ['s'], outputs: ['c'] }], [i64('s', [30000, 30000])], 'c');
    expect(oneLineError(() => importOnnx(cos)).message).toMatch(/node 'big' \(ConstantOfShape.*got \[30000, 30000\] = 900000000 elements/);
    const exp = foldingModel(
      [{ op: 'Expand', name: 'wide', inputs: ['one', 's'], outputs: ['c'] }],
      [{ name: 'one', dims: [1], values: [1] }, i64('s', [30000, 30000])],
      'c',
    );
    expect(oneLineError(() => importOnnx(exp)).message).toMatch(/node 'wide' \(Expand/);
    const neg = foldingModel([{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['c'] }], [i64('s', [-3, 2])], 'c');
    expect(oneLineError(() => importOnnx(neg))).toBeInstanceOf(ShapeError);
  });

  it('the cap is configurable: maxElements raises or lowers it, and is checked', () => {
    const bytes = foldingModel([{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['c'] }], [i64('s', [300, 300])], 'c');
    importOnnx(bytes).dispose();
    expect(() => importOnnx(bytes, { maxElements: 1000 })).toThrow(/at most 1000 elements/);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => importOnnx(bytes, { maxElements: bad })).toThrow(ConfigError);
  });
});

describe('declared dimensions are checked before the class-count probe allocates', () => {
  const relu = (dims: (number | string)[], out: (number | string)[]): Uint8Array =>
    buildModel({ opset: 13, input: { name: 'x', dims }, output: { name: 'y', dims: out }, nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] });

  it('an input of [N, 3, 4000, 4000] is refused at load with the limit named', () => {
    const e = oneLineError(() => importOnnx(relu(['N', 3, 4000, 4000], ['N', 'c'])));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toMatch(/input 'x' to hold at most 33554432 elements per sample .* got \[3, 4000, 4000\] = 48000000/);
  });

  it('dims of 2^31 are a typed error, not an untyped RangeError', () => {
    expect(oneLineError(() => importOnnx(relu(['N', 2 ** 31], ['N', 'c'])))).toBeInstanceOf(ModelLoadError);
    expect(oneLineError(() => importOnnx(relu(['N', 2], ['N', 2 ** 31])))).toBeInstanceOf(ModelLoadError);
    expect(oneLineError(() => importOnnx(relu(['N', 2 ** 53], ['N', 'c'])))).toBeInstanceOf(ConfigError);
  });
});

describe('errors on the first call are typed and name the node', () => {
  it('a MatMul whose weight does not fit its input is a ShapeError, not a tfjs Error', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 4] },
      output: { name: 'z', dims: ['n', 3] },
      nodes: [{ op: 'MatMul', name: 'mm', inputs: ['x', 'W'], outputs: ['z'] }],
      initializers: [{ name: 'W', dims: [5, 3], values: Array.from({ length: 15 }, () => 0.5) }],
    });
    const m = importOnnx(bytes);
    const e = oneLineError(() => tf.tidy(() => m.logits(tf.zeros([2, 4]))));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^onnx: node 'mm' \(MatMul, opset 13\): expected inputs it can compute \(shapes \[2, 4\], \[5, 3\]\), got "/);
    m.dispose();
  });

  it('a graph output, graph name or op type with a newline stays on one line (a fuzz find)', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 2] },
      output: { name: 'a\nb.bin', dims: ['n', 2] },
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    expect(oneLineError(() => importOnnx(bytes)).message).toMatch(/graph output "a\\nb\.bin" to be produced by a node/);
    const op = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 2] },
      output: { name: 'y', dims: ['n', 2] },
      nodes: [{ op: 'Re\nlu', inputs: ['x'], outputs: ['y'] }],
    });
    expect(oneLineError(() => importOnnx(op)).message).toMatch(/unsupported "Re\\nlu"/);
  });

  it('a node name with a newline stays on one line', () => {
    const bytes = foldingModel(
      [{ op: 'Range', name: 'evil\nname', inputs: ['a', 'b', 'c'], outputs: ['r'] }],
      [i64('a', [0], []), i64('b', [1], []), i64('c', [0], [])],
      'r',
    );
    expect(oneLineError(() => importOnnx(bytes)).message).toMatch(/node "evil\\nname"/);
  });
});
