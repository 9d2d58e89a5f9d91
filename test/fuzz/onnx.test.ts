// Fuzz: .onnx files and their external data. Fixed seed; `npm run fuzz -- --target onnx --cases N` runs more.
import { expect, it } from 'vitest';
import { fuzz } from './harness.js';
import { onnxTarget } from './targets/onnx.js';

it('every mutated .onnx file loads or fails with a one-line RobustestError, reading nothing outside its folder', async () => {
  const tally = await fuzz(onnxTarget, { seed: 20261203, cases: Number(process.env['ROBUSTEST_FUZZ_CASES'] ?? 200) });
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0);
  expect(Object.keys(tally.typed)).toContain('E_MODEL_LOAD');
});
