// Extracts every TSDoc `@example` code block (```ts fences under an @example tag) from the library's sources and
// type-checks them all in one TypeScript program. Each example becomes its own module under scratch/doc-examples/
// (git-, lint- and prettier-ignored; open a file there to see what was checked) with a prelude: every export of the
// root index as a named import (and, for internal helpers, the other exports of the example's own module), `tf` (tfjs-core), a few Node helpers, and `declare const` for the free variables
// examples conventionally use (`model`, `x`, `labels`, `report`, ...). The example's own imports (and `declare
// module` augmentations) are hoisted above
// its body, which is wrapped in a block so that it may redeclare a prelude name (`const model = await loadModel(...)`).
//
// Run directly to list broken examples: `npx tsx test/docs/doc-examples.ts`.
import ts from 'typescript';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One ```ts block under an `@example` tag. */
export interface DocExample {
  /** Source file, relative to the repository root, with forward slashes. */
  file: string;
  /** 1-based line of the block's first code line in `file`. */
  line: number;
  /** What the comment documents: `fgsm`, `Report.curve`, `module`, ... */
  owner: string;
  /** Stable key for the allow-list: `file#owner`, with `#2`, `#3` ... for further blocks on the same owner. */
  id: string;
  /** The code, comment prefixes removed. */
  code: string;
}

/** A broken example and its compiler messages (`file:line: message`, lines in the source file). */
export interface ExampleFailure {
  example: DocExample;
  messages: string[];
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Folders whose `.ts` files are scanned. */
export const EXAMPLE_DIRS = ['src', 'attacks', 'defenses', 'metrics'];
/** Where the generated modules are written (ignored by git, ESLint, Prettier and tsconfig's `include`). */
export const OUT_DIR = join(ROOT, 'scratch', 'doc-examples');

/**
 * Free variables examples may use without declaring them, with their types. Type names come from the root index
 * (imported by the prelude) or `tf`.
 */
export const FREE_VARIABLES: Record<string, string> = {
  model: 'DifferentiableModel',
  x: 'tf.Tensor4D',
  xAdv: 'tf.Tensor4D',
  adv: 'tf.Tensor4D',
  clean: 'tf.Tensor4D',
  adversarial: 'tf.Tensor4D',
  candidate: 'tf.Tensor4D',
  xBatch: 'tf.Tensor4D',
  images: 'tf.Tensor4D',
  labels: 'tf.Tensor1D',
  targets: 'tf.Tensor1D',
  logits: 'tf.Tensor2D',
  grad: 'tf.Tensor4D',
  done: 'tf.Tensor1D',
  previous: 'tf.Tensor4D',
  next: 'tf.Tensor4D',
  loss: 'LossFn',
  alpha: 'number',
  attack: 'Attack',
  report: 'Report',
  state: 'EvaluationState',
  norms: 'NormStats',
  data: 'Dataset',
  ds: 'Dataset',
  warnings: 'Warning[]',
  successMask: 'boolean[]',
  value: 'unknown',
  bytes: 'Uint8Array',
  text: 'string',
  path: 'string',
};

/** Type names of {@link FREE_VARIABLES} that need no import; a variable whose type is not available is not declared. */
const BUILTIN_TYPES = new Set(['tf', 'number', 'string', 'boolean', 'unknown', 'Uint8Array']);

/** Imports besides the root index that the prelude provides (each dropped when the example imports that name). */
const EXTRA_IMPORTS: { names: string[]; from: string; namespace?: boolean }[] = [
  { names: ['tf'], from: '@tensorflow/tfjs-core', namespace: true },
  { names: ['ort'], from: 'onnxruntime-node', namespace: true },
  { names: ['readFile', 'writeFile'], from: 'node:fs/promises' },
  { names: ['join'], from: 'node:path' },
  { names: ['expect'], from: 'vitest' },
];

/** Files the examples are checked with: the vitest matcher declaration users add (see `src/testing.ts`). */
const AMBIENT_FILES = [join(ROOT, 'test', 'helpers', 'vitest-matchers.d.ts')];

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

function ownerName(node: ts.Node): string {
  const names: string[] = [];
  for (let n: ts.Node | undefined = node; n && !ts.isSourceFile(n); n = n.parent) {
    let name: ts.Node | undefined;
    if (ts.isVariableStatement(n)) name = n.declarationList.declarations[0]?.name;
    else if (ts.isVariableDeclarationList(n)) continue;
    else name = ts.getNameOfDeclaration(n as ts.Declaration);
    if (name && (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name))) {
      if (names[0] !== name.text) names.unshift(name.text);
    }
  }
  return names.length > 0 ? names.join('.') : `line ${ts.getLineAndCharacterOfPosition(node.getSourceFile(), node.getStart()).line + 1}`;
}

/** The ```ts blocks under `@example` tags in one comment; `firstLine` is the comment's 0-based first line. */
function blocksOf(comment: string, firstLine: number): { line: number; code: string }[] {
  const lines = comment.split('\n').map((l, i) => (i === 0 ? l.replace(/^\s*\/\*\*\s?/, '') : l.replace(/^\s*\*(?!\/) ?/, '')).replace(/\s*\*\/\s*$/, ''));
  const blocks: { line: number; code: string }[] = [];
  let inExample = false;
  let fence: { line: number; code: string[] } | undefined;
  lines.forEach((l, i) => {
    const t = l.trim();
    if (fence) {
      if (t.startsWith('```')) {
        blocks.push({ line: fence.line, code: fence.code.join('\n') });
        fence = undefined;
      } else fence.code.push(l);
      return;
    }
    if (/^@\w+/.test(t)) inExample = t.startsWith('@example');
    if (inExample && /^```(ts|typescript)\s*$/.test(t)) fence = { line: firstLine + i + 2, code: [] };
  });
  return blocks;
}

/** The `@example` blocks in the TSDoc comments of one source text; `file` is its path relative to the root. */
export function examplesInText(text: string, file: string): DocExample[] {
  const examples: DocExample[] = [];
  if (!text.includes('@example')) return examples;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const seen = new Set<number>();
  const perOwner = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    for (const doc of (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? []) {
      if (seen.has(doc.pos)) continue;
      seen.add(doc.pos);
      const comment = text.slice(doc.getStart(sf), doc.end);
      const owner = /@module\b/.test(comment) ? 'module' : ownerName(node);
      for (const b of blocksOf(comment, sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line)) {
        const n = (perOwner.get(owner) ?? 0) + 1;
        perOwner.set(owner, n);
        examples.push({ file, line: b.line, owner, id: n === 1 ? `${file}#${owner}` : `${file}#${owner}#${n}`, code: b.code });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return examples.sort((a, b) => a.line - b.line);
}

/**
 * The ```ts blocks of a Markdown text (a README), owned by the heading they are under. A block right after an
 * `<!-- not type-checked: why -->` comment is left out.
 */
export function examplesInMarkdown(text: string, file: string): DocExample[] {
  const examples: DocExample[] = [];
  const perOwner = new Map<string, number>();
  const lines = text.split('\n');
  let heading = 'top';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (h) heading = h[1]!.trim();
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) {
      if (/^```/.test(lines[i]!)) while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
      continue;
    }
    const skip = /^<!--\s*not type-checked\b/.test(lines[i - 1] ?? '') || /^<!--\s*not type-checked\b/.test(lines[i - 2] ?? '');
    const start = i + 1;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
    if (skip) continue;
    const n = (perOwner.get(heading) ?? 0) + 1;
    perOwner.set(heading, n);
    examples.push({
      file,
      line: start + 1,
      owner: heading,
      id: n === 1 ? `${file}#${heading}` : `${file}#${heading}#${n}`,
      code: lines.slice(start, i).join('\n'),
    });
  }
  return examples;
}

/** Every `@example` block in the `.ts` files of `dirs` (default {@link EXAMPLE_DIRS}) under `root`. */
export function extractExamples(root = ROOT, dirs = EXAMPLE_DIRS): DocExample[] {
  return dirs.flatMap((d) => listTs(join(root, d))).flatMap((file) => examplesInText(readFileSync(file, 'utf8'), relative(root, file).split(sep).join('/')));
}

/** `paths` that map `robustest` and its subpath exports onto the sources (package.json `exports`, dist → source). */
function packagePaths(root: string): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { default?: string }> };
  const paths: Record<string, string[]> = {};
  for (const [key, target] of Object.entries(pkg.exports)) {
    const js = typeof target === 'string' ? target : target.default;
    if (!js?.endsWith('.js')) continue;
    paths[key === '.' ? 'robustest' : `robustest/${key.slice(2)}`] = [join(root, js.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))];
  }
  return paths;
}

interface Generated {
  example: DocExample;
  path: string;
  text: string;
  /** Source line (1-based) for each 0-based line of `text`. */
  lineMap: number[];
}

function generate(example: DocExample, index: number, rootExports: readonly string[], ownExports: readonly string[], root: string, outDir: string): Generated {
  const sf = ts.createSourceFile('example.ts', example.code, ts.ScriptTarget.ES2022, true);
  const bodyLines = example.code.split('\n');
  const imports: { text: string; line: number }[] = [];
  const bound = new Set<string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) && !ts.isModuleDeclaration(st)) continue;
    const start = sf.getLineAndCharacterOfPosition(st.getStart(sf)).line;
    const end = sf.getLineAndCharacterOfPosition(st.end).line;
    imports.push({ text: st.getText(sf).replace(/\n/g, ' '), line: example.line + start });
    for (let l = start; l <= end; l++) bodyLines[l] = '';
    if (!ts.isImportDeclaration(st)) continue;
    const clause = st.importClause;
    if (clause?.name) bound.add(clause.name.text);
    const nb = clause?.namedBindings;
    if (nb && ts.isNamespaceImport(nb)) bound.add(nb.name.text);
    if (nb && ts.isNamedImports(nb)) for (const el of nb.elements) bound.add(el.name.text);
  }
  const header: { text: string; line: number }[] = [];
  const pre = (text: string): number => header.push({ text, line: example.line });
  pre(`// ${example.file}:${example.line} (${example.id})`);
  const fromRoot = rootExports.filter((n) => !bound.has(n));
  if (fromRoot.length > 0) pre(`import { ${fromRoot.join(', ')} } from 'robustest';`);
  const fromOwn = ownExports.filter((n) => !bound.has(n));
  if (fromOwn.length > 0) {
    const spec = relative(outDir, join(root, example.file)).split(sep).join('/').replace(/\.ts$/, '.js');
    pre(`import { ${fromOwn.join(', ')} } from '${spec}';`);
  }
  for (const extra of EXTRA_IMPORTS) {
    const names = extra.names.filter((n) => !bound.has(n) && !rootExports.includes(n) && !ownExports.includes(n));
    if (names.length === 0) continue;
    pre(extra.namespace ? `import * as ${names[0]!} from '${extra.from}';` : `import { ${names.join(', ')} } from '${extra.from}';`);
  }
  header.push(...imports);
  for (const [name, type] of Object.entries(FREE_VARIABLES)) {
    const head = /^\w+/.exec(type)?.[0] ?? '';
    const typeKnown = BUILTIN_TYPES.has(head) || rootExports.includes(head) || ownExports.includes(head);
    if (typeKnown && !bound.has(name) && !rootExports.includes(name) && !ownExports.includes(name)) pre(`declare const ${name}: ${type};`);
  }
  pre('{');
  const lines = [...header.map((h) => h.text), ...bodyLines, '}', 'export {};'];
  const lineMap = [...header.map((h) => h.line), ...bodyLines.map((_, i) => example.line + i), example.line, example.line];
  const name = `${String(index).padStart(3, '0')}-${example.file.replace(/[/.]/g, '_')}-${example.owner.replace(/[^\w]/g, '_')}.ts`;
  return { example, path: join(outDir, name), text: lines.join('\n') + '\n', lineMap };
}

function compilerOptions(root: string): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    declaration: false,
    sourceMap: false,
    paths: packagePaths(root),
  };
}

/** The names a module exports (values and types). */
function exportNames(program: ts.Program, file: string): string[] {
  const sf = program.getSourceFile(file);
  const checker = program.getTypeChecker();
  const symbol = sf && checker.getSymbolAtLocation(sf);
  if (!symbol) return [];
  return checker
    .getExportsOfModule(symbol)
    .map((s) => s.name)
    .filter((n) => n !== 'default')
    .sort();
}

/**
 * Type-checks `examples` in one program and returns the broken ones with their messages. Writes the generated
 * modules to `outDir` (replacing what a previous run left there).
 */
export function typeCheckExamples(examples: readonly DocExample[], root = ROOT, outDir = OUT_DIR): ExampleFailure[] {
  const options = compilerOptions(root);
  const host = ts.createCompilerHost(options, true);
  const cache = new Map<string, ts.SourceFile | undefined>();
  const virtual = new Map<string, string>();
  const baseGet = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const v = virtual.get(resolve(fileName));
    if (v !== undefined) return ts.createSourceFile(fileName, v, languageVersion, true);
    if (!cache.has(fileName)) cache.set(fileName, baseGet(fileName, languageVersion, onError, shouldCreate));
    return cache.get(fileName);
  };
  const baseExists = host.fileExists.bind(host);
  const baseRead = host.readFile.bind(host);
  host.fileExists = (f) => virtual.has(resolve(f)) || baseExists(f);
  host.readFile = (f) => virtual.get(resolve(f)) ?? baseRead(f);

  const index = join(root, 'src', 'index.ts');
  const sources = [...new Set(examples.map((e) => join(root, e.file)))].filter((f) => existsSync(f));
  const indexProgram = ts.createProgram({ rootNames: [index, ...sources], options, host });
  const rootExports = exportNames(indexProgram, index);
  if (rootExports.length === 0) throw new Error('doc examples: expected src/index.ts to export names, got none');
  const ownExports = new Map(sources.map((f) => [f, exportNames(indexProgram, f).filter((n) => !rootExports.includes(n))]));
  const generated = examples.map((e, i) => generate(e, i, rootExports, ownExports.get(join(root, e.file)) ?? [], root, outDir));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const g of generated) {
    virtual.set(resolve(g.path), g.text);
    writeFileSync(g.path, g.text);
  }
  const program = ts.createProgram({ rootNames: [...generated.map((g) => g.path), ...AMBIENT_FILES], options, host, oldProgram: indexProgram });
  const failures: ExampleFailure[] = [];
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  if (global.length > 0) throw new Error(`doc examples: compiler setup failed: ${ts.flattenDiagnosticMessageText(global[0]!.messageText, ' ')}`);
  for (const g of generated) {
    const sf = program.getSourceFile(g.path)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    if (diagnostics.length === 0) continue;
    const messages = diagnostics.map((d) => {
      const genLine = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
      return `${g.example.file}:${g.lineMap[genLine] ?? g.example.line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
    failures.push({ example: g.example, messages });
  }
  return failures;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const examples = extractExamples();
  const failures = typeCheckExamples(examples);
  for (const f of failures) console.log(`${f.example.id} (${f.example.file}:${f.example.line})\n  ${f.messages.join('\n  ')}`);
  console.log(`${examples.length} examples, ${failures.length} broken; generated modules in ${relative(ROOT, OUT_DIR)}/`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}
