// Examples are type-checked by `npm run typecheck`; this runs one end to end as a smoke test.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

describe('examples', () => {
  it('compare-attacks.ts runs and prints a curve per attack', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples', 'compare-attacks.ts'), '--limit', '20', '--backend', 'wasm'],
      { cwd: root, timeout: 120_000 },
    );
    expect(stdout).toMatch(/backend wasm, 20 images, clean accuracy \d+\.\d%/);
    for (const name of ['fgsm', 'bim', 'pgd', 'worst']) expect(stdout).toMatch(new RegExp(`^${name}\\s+(\\d+\\.\\d%\\s+){4}$`, 'm'));
  });
});
