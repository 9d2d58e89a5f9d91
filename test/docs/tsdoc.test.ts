// TSDoc names only parameters that exist: every `@param` tag, and every "`name` when absent" default, of every
// function and method in src/, attacks/ and metrics/ (overloads count together).
import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, EXAMPLE_DIRS } from './doc-examples.js';
import { readdirSync } from 'node:fs';

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

const LITERALS = new Set(['undefined', 'null', 'true', 'false']);

/** `file:line: message` for each parameter the TSDoc of a function in `text` names but the function lacks. */
function phantomParameters(text: string, file: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const groups = new Map<string, ts.SignatureDeclaration[]>();
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isMethodSignature(node) || ts.isConstructorDeclaration(node)) {
      const name = ts.isConstructorDeclaration(node) ? 'constructor' : (node.name?.getText(sf) ?? '');
      const key = `${node.parent.pos}:${name}`;
      groups.set(key, [...(groups.get(key) ?? []), node]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const problems: string[] = [];
  for (const decls of groups.values()) {
    const params = new Set(decls.flatMap((d) => d.parameters.map((p) => p.name.getText(sf))));
    for (const d of decls) {
      for (const doc of (d as { jsDoc?: ts.JSDoc[] }).jsDoc ?? []) {
        const comment = text.slice(doc.getStart(sf), doc.end);
        const named = [
          ...[...comment.matchAll(/@param\s+(\w+)/g)].map((m) => m[1]!),
          ...[...comment.matchAll(/`(\w+)` when absent/g)].map((m) => m[1]!),
        ].filter((n) => !LITERALS.has(n));
        const line = sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1;
        for (const n of named) if (!params.has(n)) problems.push(`${file}:${line}: documents a parameter \`${n}\` that ${d.name?.getText(sf) ?? 'it'} lacks`);
      }
    }
  }
  return problems;
}

describe('TSDoc parameters', () => {
  it('exist on the functions that document them', () => {
    const problems = EXAMPLE_DIRS.flatMap((d) => listTs(join(ROOT, d))).flatMap((f) => phantomParameters(readFileSync(f, 'utf8'), f.slice(ROOT.length + 1)));
    expect(problems).toEqual([]);
  });

  it('are flagged when a doc names a parameter the function lacks', () => {
    const text = [
      'class A {',
      '  /** A list, or `def` when absent. */',
      '  ints(name: string): number[] | undefined;',
      '  ints(name: string, def: number[]): number[];',
      '  ints(name: string, def?: number[]): number[] | undefined { return def ?? [name.length]; }',
      '  /** A list, or `def` when absent. */',
      '  floats(name: string): number[] | undefined { return [name.length]; }',
      '}',
      '/** @param a - one\n * @param b - two */',
      'export function f(a: number): number { return a; }',
    ].join('\n');
    expect(phantomParameters(text, 'x.ts')).toEqual([
      'x.ts:6: documents a parameter `def` that floats lacks',
      'x.ts:9: documents a parameter `b` that f lacks',
    ]);
  });
});
