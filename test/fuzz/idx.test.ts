// Fuzz: the idx data loader. Fixed seed; `npm run fuzz -- --target idx --cases N` runs more.
import { expect, it } from 'vitest';
import { fuzz } from './harness.js';
import { idxTarget } from './targets/data.js';

it('every mutated idx input loads or fails with a one-line RobustestError, reading nothing outside its folder', async () => {
  const tally = await fuzz(idxTarget, { seed: 20261203, cases: Number(process.env['ROBUSTEST_FUZZ_CASES'] ?? 200) });
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0);
  expect(Object.keys(tally.typed).length).toBeGreaterThan(0);
});
