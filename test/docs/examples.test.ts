// Every TSDoc `@example` in src/, attacks/ and metrics/ type-checks against the public API (see doc-examples.ts for
// the prelude the examples are compiled with). Broken examples are listed as file:line with the compiler's message.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, examplesInMarkdown, examplesInText, extractExamples, typeCheckExamples, type DocExample } from './doc-examples.js';

describe('TSDoc examples', () => {
  const examples = [...extractExamples(), ...examplesInMarkdown(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'README.md')];

  it('are found in every scanned folder', () => {
    for (const dir of ['src/', 'attacks/', 'metrics/']) expect(examples.filter((e) => e.file.startsWith(dir)).length).toBeGreaterThan(3);
    expect(examples.map((e) => e.id)).toContain('README.md#Quick start (library)');
    expect(examples.map((e) => e.id)).toContain('attacks/pgd.ts#pgd');
    expect(new Set(examples.map((e) => e.id)).size).toBe(examples.length);
  });

  it('are extracted from @example tags only, with their source lines', () => {
    const text = [
      '/**',
      ' * Adds.',
      ' * ```ts',
      ' * notAnExample();',
      ' * ```',
      ' * @param a - first',
      ' * @example',
      ' * ```ts',
      ' * add(1, 2); // 3',
      ' * ```',
      ' * and',
      ' * ```ts',
      ' * add(',
      ' *   3, 4);',
      ' * ```',
      ' * @returns the sum',
      ' */',
      'export function add(a: number, b: number): number { return a + b; }',
      'export class C {',
      '  /** @example',
      '   * ```ts',
      '   * new C().m();',
      '   * ```',
      '   */',
      '  m(): void {}',
      '}',
    ].join('\n');
    expect(examplesInText(text, 'src/x.ts').map(({ id, line, code }) => ({ id, line, code }))).toEqual([
      { id: 'src/x.ts#add', line: 9, code: 'add(1, 2); // 3' },
      { id: 'src/x.ts#add#2', line: 13, code: 'add(\n  3, 4);' },
      { id: 'src/x.ts#C.m', line: 22, code: 'new C().m();' },
    ]);
  });

  it("are extracted from a README's ts blocks, except after a not-type-checked comment", () => {
    const text = [
      '# T',
      '## Use it',
      '```ts',
      'a();',
      '```',
      '```sh',
      '```ts',
      '```',
      '<!-- not type-checked: jest -->',
      '```ts',
      'b();',
      '```',
      '```ts',
      'c();',
      '```',
    ].join('\n');
    expect(examplesInMarkdown(text, 'R.md').map(({ id, line, code }) => ({ id, line, code }))).toEqual([
      { id: 'R.md#Use it', line: 4, code: 'a();' },
      { id: 'R.md#Use it#2', line: 14, code: 'c();' },
    ]);
  });

  it('type-check, every one of them', () => {
    const failures = typeCheckExamples(examples);
    const lines = failures.map((f) => `${f.example.file}:${f.example.line} (${f.example.id}) does not type-check:\n    ${f.messages.join('\n    ')}`);
    expect(lines.join('\n')).toBe('');
  });

  it('reports a broken example with its file and line', () => {
    const good: DocExample = {
      file: 'metrics/checks.ts',
      line: 10,
      owner: 'good',
      id: 'metrics/checks.ts#good',
      code: 'const r: number = report.cleanAccuracy;',
    };
    const bad: DocExample = {
      file: 'metrics/checks.ts',
      line: 20,
      owner: 'bad',
      id: 'metrics/checks.ts#bad',
      code: "import { pgd } from 'robustest';\nconst attack = pgd({ steps: 10 });\nawait attack.run(model, x, labels, { epsilons: 0.1 });",
    };
    const failures = typeCheckExamples([good, bad]);
    expect(failures.map((f) => f.example.id)).toEqual(['metrics/checks.ts#bad']);
    expect(failures[0]!.messages).toEqual([expect.stringMatching(/^metrics\/checks\.ts:22: .*number.*not assignable/)]);
  });
});
