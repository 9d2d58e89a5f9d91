// Every entry of package.json `exports` resolves: its target maps to a source file that exists, and (when dist/ is a
// build of the current sources) `import('robustest/...')` succeeds in a fresh Node process, as it would for a user.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './doc-examples.js';

interface PackageJson {
  name: string;
  exports: Record<string, string | { types?: string; default?: string }>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const entries = Object.entries(pkg.exports).map(([key, target]) => ({
  specifier: key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`,
  targets: typeof target === 'string' ? [target] : [target.types, target.default].filter((t): t is string => t !== undefined),
}));

/** The source a dist target is built from: `./dist/attacks/index.js` → `attacks/index.ts`; other targets as they are. */
function sourceOf(target: string): string {
  return target.startsWith('./dist/') ? target.slice('./dist/'.length).replace(/\.d\.ts$|\.js$/, '.ts') : target.slice(2);
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** dist/ is a build of the current sources (`npm run build` makes it): every source has an output at least as new. */
function distIsCurrent(): boolean {
  return ['src', 'attacks', 'defenses', 'metrics'].every((d) =>
    listTs(join(ROOT, d)).every((src) => {
      const out = join(ROOT, 'dist', src.slice(ROOT.length + 1).replace(/\.ts$/, '.js'));
      return existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
    }),
  );
}

describe('package.json exports', () => {
  it('name only entry points whose sources exist', () => {
    const missing = entries.flatMap((e) => e.targets.filter((t) => !existsSync(join(ROOT, sourceOf(t)))).map((t) => `${e.specifier} → ${t}`));
    expect(missing).toEqual([]);
    expect(entries.map((e) => e.specifier)).toEqual(
      expect.arrayContaining(['robustest', 'robustest/attacks', 'robustest/metrics', 'robustest/defenses', 'robustest/testing']),
    );
  });

  it.skipIf(!distIsCurrent())('import from the built package in a fresh Node process', async () => {
    const specifiers = entries.map((e) => e.specifier);
    const script = `
      const out = {};
      for (const s of ${JSON.stringify(specifiers)}) {
        try {
          const m = s.endsWith('.json') ? await import(s, { with: { type: 'json' } }) : await import(s);
          out[s] = Object.keys(m).length;
        } catch (e) {
          out[s] = String(e.code ?? e.message);
        }
      }
      console.log(JSON.stringify(out));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
    const loaded = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number | string>;
    const failed = Object.entries(loaded).filter(([, v]) => typeof v !== 'number' || v === 0);
    expect(failed).toEqual([]);
    expect(Object.keys(loaded)).toEqual(specifiers);
  });
});
