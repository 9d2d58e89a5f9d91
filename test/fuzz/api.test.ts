// Fuzz: the numeric API (attack.run through createAttack, and evaluate) with hostile options and inputs.
// Fixed seed; `npm run fuzz -- --target api --cases N` runs more.
import { expect, it } from 'vitest';
import { fuzz } from './harness.js';
import { apiTarget } from './targets/api.js';

it('every hostile attack.run and evaluate call succeeds or fails with a one-line RobustestError', async () => {
  const tally = await fuzz(apiTarget, { seed: 20261203, cases: Number(process.env['ROBUSTEST_FUZZ_CASES'] ?? 150), timeoutMs: 20_000 });
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0);
  expect(tally.typed['E_CONFIG']).toBeGreaterThan(0);
});
