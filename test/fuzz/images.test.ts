// Fuzz: the images data loader. Fixed seed; `npm run fuzz -- --target images --cases N` runs more.
import { expect, it } from 'vitest';
import { fuzz } from './harness.js';
import { imagesTarget } from './targets/data.js';

it('every mutated images input loads or fails with a one-line RobustestError, reading nothing outside its folder', async () => {
  const tally = await fuzz(imagesTarget, { seed: 20261203, cases: Number(process.env['ROBUSTEST_FUZZ_CASES'] ?? 200) });
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0);
  expect(Object.keys(tally.typed).length).toBeGreaterThan(0);
});
