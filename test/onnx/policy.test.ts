// The load policy (applyEngine): cases are told apart by the errors' stable reasons (ERROR_REASONS) and the
// warnings' codes (MODEL_WARNING_CODES), never by their messages.
import { describe, expect, it, vi } from 'vitest';
import { ERROR_REASONS, UnsupportedError } from '../../src/errors.js';
import { MODEL_WARNING_CODES } from '../../src/model.js';
import { importOnnx } from '../../src/onnx/import.js';
import { withOnnxRuntimeGradients } from '../../src/onnx/ort-gradients.js';
import { applyEngine } from '../../src/onnx/policy.js';
import { buildModel } from './build.js';

const haveOrt = await import('onnxruntime-node').then(
  () => true,
  () => false,
);

/** LRN (which the importer runs, but the gradient engine cannot differentiate) then a linear head. */
function lrnModel(): Uint8Array {
  return buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 2, 2, 2] },
    output: { name: 'logits', dims: ['n', 3] },
    nodes: [
      { op: 'LRN', inputs: ['x'], outputs: ['l'], name: 'my_lrn', attrs: { size: 3 } },
      { op: 'Flatten', inputs: ['l'], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'Gemm', inputs: ['flat', 'W'], outputs: ['logits'] },
    ],
    initializers: [{ name: 'W', dims: [8, 3], values: Array.from({ length: 24 }, (_, i) => Math.sin(i)) }],
  });
}

/** Relu then a linear head: every operator has a gradient rule. */
function reluModel(): Uint8Array {
  return buildModel({
    opset: 13,
    input: { name: 'x', dims: ['n', 4] },
    output: { name: 'logits', dims: ['n', 3] },
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Gemm', inputs: ['r', 'W'], outputs: ['logits'] },
    ],
    initializers: [{ name: 'W', dims: [4, 3], values: Array.from({ length: 12 }, (_, i) => Math.cos(i)) }],
  });
}

describe('applyEngine', () => {
  it.skipIf(!haveOrt)("gives an operator without a gradient rule the reason 'no-gradient-rule'", async () => {
    const e: unknown = await withOnnxRuntimeGradients(lrnModel()).then(
      (m) => (m.dispose(), undefined),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UnsupportedError);
    expect((e as UnsupportedError).code).toBe('E_UNSUPPORTED');
    expect((e as UnsupportedError).reason).toBe(ERROR_REASONS.noGradientRule);
  });

  it.skipIf(!haveOrt)("auto: falls back to tfjs with a 'gradient-engine-fallback' warning when the engine cannot take the model", async () => {
    const bytes = lrnModel();
    const base = importOnnx(bytes);
    const m = await applyEngine(base, () => bytes, 'auto');
    expect(m).toBe(base);
    expect(m.engine).toBe('onnx-import');
    expect(m.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.gradientEngineFallback]);
    expect(m.warnings[0]!.message).toMatch(/my_lrn.*LRN/);
    m.dispose();
  });

  it.skipIf(!haveOrt)("onnxruntime: throws the engine's error with its reason", async () => {
    const bytes = lrnModel();
    await expect(applyEngine(importOnnx(bytes), () => bytes, 'onnxruntime')).rejects.toMatchObject({ reason: ERROR_REASONS.noGradientRule });
  });

  it.skipIf(!haveOrt)('tfjs: keeps the model as it is; onnxruntime: attaches the engine', async () => {
    const bytes = reluModel();
    const base = importOnnx(bytes);
    expect(await applyEngine(base, () => bytes, 'tfjs')).toBe(base);
    const ort = await applyEngine(base, () => bytes, 'onnxruntime');
    expect(ort.engine).toBe('onnxruntime');
    expect(ort.warnings).toEqual([]);
    ort.dispose();
  });

  it("auto without onnxruntime-node (reason 'onnxruntime-missing'): tfjs, and no warning", async () => {
    vi.resetModules();
    vi.doMock('onnxruntime-node', () => {
      throw new Error('native binding missing');
    });
    try {
      // A fresh module graph has its own error classes: compare by name, code and reason.
      const fresh = await import('../../src/onnx/policy.js');
      const freshImport = await import('../../src/onnx/import.js');
      const freshOrt = await import('../../src/onnx/ort-gradients.js');
      const bytes = reluModel();
      await expect(freshOrt.withOnnxRuntimeGradients(bytes)).rejects.toMatchObject({
        name: 'UnsupportedError',
        code: 'E_UNSUPPORTED',
        reason: 'onnxruntime-missing',
      });
      const base = freshImport.importOnnx(bytes);
      const m = await fresh.applyEngine(base, () => bytes, 'auto');
      expect(m).toBe(base);
      expect(m.warnings).toEqual([]);
      m.dispose();
    } finally {
      vi.doUnmock('onnxruntime-node');
      vi.resetModules();
    }
  });

  it('matches on the reason, not the message: an error that only mentions onnxruntime-node is warned about', async () => {
    vi.resetModules();
    vi.doMock('../../src/onnx/ort.js', async (importOriginal) => {
      const original = await importOriginal<typeof import('../../src/onnx/ort.js')>();
      const errors = await import('../../src/errors.js');
      return {
        ...original,
        loadOrt: () =>
          Promise.reject(
            new errors.UnsupportedError('onnxruntime: expected the optional peer dependency onnxruntime-node to load, got a message without a reason'),
          ),
      };
    });
    try {
      const fresh = await import('../../src/onnx/policy.js');
      const freshImport = await import('../../src/onnx/import.js');
      const bytes = reluModel();
      const base = freshImport.importOnnx(bytes);
      const m = await fresh.applyEngine(base, () => bytes, 'auto');
      expect(m).toBe(base);
      expect(m.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.gradientEngineFallback]);
      m.dispose();
    } finally {
      vi.doUnmock('../../src/onnx/ort.js');
      vi.resetModules();
    }
  });
});
