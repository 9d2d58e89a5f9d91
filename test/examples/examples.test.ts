// Examples are type-checked by `npm run typecheck`; this runs one end to end as a smoke test.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ATTACKS } from '../../attacks/registry.js';

const root = join(import.meta.dirname, '..', '..');

describe('examples', () => {
  it('compare-attacks.ts runs every registered attack in each of its norms and prints a curve per attack', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples', 'compare-attacks.ts'), '--limit', '10', '--backend', 'wasm', '--steps', '2', '--queries', '20'],
      { cwd: root, timeout: 120_000 },
    );
    expect(stdout).toMatch(/backend wasm, 10 images, clean accuracy \d+\.\d%/);
    const section = (norm: string): string => stdout.split(`\n${norm}\n`)[1]!.split('\n\n')[0]!;
    for (const norm of ['linf', 'l2'] as const) {
      const width = norm === 'linf' ? 4 : 5;
      const names = [
        ...Object.values(ATTACKS)
          .filter((e) => e.norms.includes(norm))
          .map((e) => e.name),
        'worst',
      ];
      for (const name of names) expect(section(norm)).toMatch(new RegExp(`^${name}\\s+(\\d+\\.\\d%\\s+){${width}}`, 'm'));
    }
  });
});
