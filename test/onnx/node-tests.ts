/**
 * Runner for the ONNX backend node tests (`onnx/backend/test/data/node/<test>/`): loads a test's model and
 * data sets with the importer's own decoder and compares outputs. Used by the conformance suite and by the
 * script that writes docs/onnx-conformance.md.
 * @internal
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { GraphExecutor, findUnsupported } from '../../src/onnx/graph.js';
import { decodeModel, decodeTensor, type HostTensor } from '../../src/onnx/proto.js';
import { deviceValue, hostValue, isFloat, toDevice, toHost, type Value } from '../../src/onnx/value.js';

/** Result of one node test. */
export interface NodeTestResult {
  readonly name: string;
  /** Operators of the test's graph. */
  readonly ops: readonly string[];
  /** `pass`, `fail` (wrong values or an error), or `unsupported` (an operator is not implemented). */
  readonly status: 'pass' | 'fail' | 'unsupported';
  readonly message?: string;
  /** Largest absolute error over all outputs. */
  readonly maxAbsError?: number;
}

/** Operators of a test's graph. */
export function testOps(dir: string): string[] {
  const m = decodeModel(readFileSync(join(dir, 'model.onnx')), dir);
  return [...new Set(m.graph.nodes.map((n) => (n.domain ? `${n.domain}.` : '') + n.opType))];
}

function compare(name: string, got: HostTensor, want: HostTensor, rtol: number, atol: number): { ok: boolean; message?: string; maxAbs: number } {
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return { ok: false, message: `${name}: expected shape [${want.shape.join(', ')}], got [${got.shape.join(', ')}]`, maxAbs: Infinity };
  }
  let maxAbs = 0;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i]!;
    const b = want.data[i]!;
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (a === b) continue;
    const err = Math.abs(a - b);
    maxAbs = Math.max(maxAbs, Number.isNaN(err) ? Infinity : err);
    if (!(err <= atol + rtol * Math.abs(b))) {
      return { ok: false, message: `${name}[${i}]: expected ${b}, got ${a}`, maxAbs: Math.max(maxAbs, err) };
    }
  }
  return { ok: true, maxAbs };
}

/**
 * Runs one node test directory.
 * @param dir - a directory holding model.onnx and test_data_set_N/{input,output}_K.pb.
 */
export function runNodeTest(dir: string, rtol = 1e-4, atol = 1e-5): NodeTestResult {
  const name = dir.split('/').pop() ?? dir;
  let ops: string[] = [];
  let exec: GraphExecutor | undefined;
  try {
    const model = decodeModel(readFileSync(join(dir, 'model.onnx')), name);
    ops = [...new Set(model.graph.nodes.map((n) => (n.domain ? `${n.domain}.` : '') + n.opType))];
    if (findUnsupported(model).length > 0) return { name, ops, status: 'unsupported' };
    exec = new GraphExecutor(model, name);
    const outputs = model.graph.outputs.map((o) => o.name);
    let maxAbs = 0;
    const sets = readdirSync(dir)
      .filter((d) => d.startsWith('test_data_set_'))
      .sort();
    for (const set of sets) {
      const sdir = join(dir, set);
      const feeds = new Map<string, HostTensor>();
      model.graph.inputs.forEach((inp, i) => {
        const f = join(sdir, `input_${i}.pb`);
        if (existsSync(f)) feeds.set(inp.name, decodeTensor(readFileSync(f), f));
      });
      const wants = outputs.map((_, i) => decodeTensor(readFileSync(join(sdir, `output_${i}.pb`)), `${set}/output_${i}`));
      let gots: HostTensor[] = [];
      tf.tidy(() => {
        const fed = new Map<string, Value>();
        for (const [k, h] of feeds) fed.set(k, isFloat(h.dtype) ? deviceValue(toDevice(hostValue(h), k), h.dtype) : hostValue(h));
        gots = exec!.run(fed, outputs).map((v) => toHost(v));
      });
      for (let i = 0; i < wants.length; i++) {
        const c = compare(`${set}/output_${i}`, gots[i]!, wants[i]!, rtol, atol);
        maxAbs = Math.max(maxAbs, c.maxAbs);
        if (!c.ok) return { name, ops, status: 'fail', message: c.message ?? 'mismatch', maxAbsError: c.maxAbs };
      }
    }
    return { name, ops, status: 'pass', maxAbsError: maxAbs };
  } catch (e) {
    return { name, ops, status: 'fail', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  } finally {
    exec?.dispose();
  }
}
