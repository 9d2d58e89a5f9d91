// The browser core: src/browser.ts bundles for the browser without any Node built-in, the package's `exports`
// send browser bundlers there, and the pieces moved for it (tensor hashing, version constants) agree with Node's.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import * as tf from '../../src/tf.js';
import { sha256Js, sha256Tensors } from '../../src/digest.js';
import { LIBRARY_VERSION, REPORT_VERSION } from '../../src/version.js';
import { REPORT_VERSION as REPORT_VERSION_NODE } from '../../src/report.js';
import { libraryVersion } from '../../src/package-info.js';
import { evaluate } from '../../metrics/evaluate.js';
import { fgsm } from '../../attacks/index.js';
import { prototypeProblem } from '../helpers/models.js';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, Record<string, unknown>>;
};

/** Maps the package's built files (dist/...js) back to their sources, so bundling needs no prior `npm run build`. */
const distToSource: esbuild.Plugin = {
  name: 'dist-to-source',
  setup(build) {
    build.onResolve({ filter: /^robustest$/ }, () => {
      const target = (pkg.exports['.']!['browser'] as { default: string }).default;
      return { path: join(root, target.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')) };
    });
  },
};

describe('browser core', () => {
  it('bundles for the browser with no Node built-in and none of the Node-only modules', async () => {
    const result = await esbuild.build({
      entryPoints: [join(root, 'src', 'browser.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const ours = inputs.filter((p) => !p.includes('node_modules/'));
    expect(ours).toContain('src/runner.ts');
    expect(ours).toContain('metrics/evaluate.ts');
    expect(ours).toContain('attacks/pgd.ts');
    expect(ours).toContain('src/report-markdown.ts');
    expect(ours).toContain('src/report-html.ts');
    expect(ours).toContain('src/compare.ts');
    for (const nodeOnly of [
      'src/load.ts',
      'src/files.ts',
      'src/hash.ts',
      'src/package-info.ts',
      'src/report.ts',
      'src/write.ts',
      'src/backend.ts',
      'metrics/checkpoint.ts',
    ]) {
      expect(ours).not.toContain(nodeOnly);
    }
    expect(ours.filter((p) => /^src\/(data|onnx|parallel|remote|cli)\//.test(p))).toEqual([]);
    expect(inputs.filter((p) => p.startsWith('node:') || /node_modules\/(sharp|onnxruntime-node)\//.test(p))).toEqual([]);
  });

  it("is what `import 'robustest'` resolves to under the browser condition", async () => {
    expect(Object.keys(pkg.exports['.']!)).toEqual(['browser', 'types', 'default']);
    expect(pkg.exports['.']!['browser']).toEqual({ types: './dist/src/browser.d.ts', default: './dist/src/browser.js' });
    const result = await esbuild.build({
      stdin: { contents: "export { fromLayersModel, pgd, evaluate } from 'robustest';", resolveDir: root },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [distToSource],
    });
    expect(Object.keys(result.metafile.inputs)).toContain('src/browser.ts');
  });

  it('hashes tensors as Node did (dtype, shape and bytes), with Web Crypto and with the plain-JavaScript fallback', async () => {
    const a = tf.tensor2d([
      [1, 2.5],
      [-3, 0],
    ]);
    const b = tf.tensor1d([7, 8, 9], 'int32');
    const h = createHash('sha256');
    for (const t of [a, b]) {
      h.update(`${t.dtype}[${t.shape.join(',')}]`);
      const d = t.dataSync();
      h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    expect(await sha256Tensors([a, b])).toBe(h.digest('hex'));
    a.dispose();
    b.dispose();
    // Lengths around the padding boundaries (55/56/64 bytes) and several blocks.
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
      expect(sha256Js(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(sha256Js(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('keeps the version constants equal to package.json and to the report module', () => {
    expect(LIBRARY_VERSION).toBe(pkg.version);
    expect(LIBRARY_VERSION).toBe(libraryVersion());
    expect(REPORT_VERSION).toBe(REPORT_VERSION_NODE);
  });

  it("still opens evaluate's Node-only checkpoint module, whose import bundlers cannot see", async () => {
    const p = prototypeProblem({ n: 8 });
    const dir = await mkdtemp(join(tmpdir(), 'robustest-core-'));
    try {
      const run = () => evaluate(p.model, { x: p.x, labels: p.labels }, { attacks: [fgsm()], epsilons: [0.01], checkpoint: dir });
      const first = await run();
      expect(await readdir(dir)).toContain('checkpoint.jsonl');
      expect((await run()).curve).toEqual(first.curve);
    } finally {
      p.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
