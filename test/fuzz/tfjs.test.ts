// Fuzz: tfjs model.json + shards. Fixed seed; `npm run fuzz -- --target tfjs --cases N` runs more.
import { expect, it } from 'vitest';
import { fuzz } from './harness.js';
import { tfjsTarget } from './targets/tfjs.js';

it('every mutated tfjs model loads or fails with a one-line RobustestError, reading nothing outside its folder', async () => {
  const tally = await fuzz(tfjsTarget, { seed: 20261203, cases: Number(process.env['ROBUSTEST_FUZZ_CASES'] ?? 200) });
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0);
  expect(Object.keys(tally.typed)).toContain('E_MODEL_LOAD');
});
