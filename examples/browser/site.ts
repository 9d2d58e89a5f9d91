// Builds and serves the browser demo: esbuild bundles main.ts (robustest's browser entry, tfjs, the wasm backend)
// into one ES module, next to index.html, the bundled MNIST model, tfjs's .wasm binaries and a few MNIST test
// images (samples.json); a small static server on 127.0.0.1 serves the folder. Used by serve.ts and the browser test.
import { createServer, type Server } from 'node:http';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import * as esbuild from 'esbuild';
import { loadData, packageAssets } from '../../src/index.js';

const here = import.meta.dirname;

/** Writes the demo into `outDir`: main.js, index.html, model/, wasm/ and samples.json. Returns the bundle's size. */
export async function buildSite(outDir: string): Promise<{ bundleBytes: number }> {
  await mkdir(join(outDir, 'model'), { recursive: true });
  await mkdir(join(outDir, 'wasm'), { recursive: true });
  const result = await esbuild.build({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    outfile: join(outDir, 'main.js'),
    logLevel: 'silent',
    metafile: true,
  });
  await copyFile(join(here, 'index.html'), join(outDir, 'index.html'));
  const modelDir = join(packageAssets(), 'mnist-cnn');
  for (const f of await readdir(modelDir)) await copyFile(join(modelDir, f), join(outDir, 'model', f));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  for (const f of (await readdir(wasmDir)).filter((n) => n.endsWith('.wasm'))) await copyFile(join(wasmDir, f), join(outDir, 'wasm', f));
  await writeFile(join(outDir, 'samples.json'), JSON.stringify(await samples()));
  return { bundleBytes: Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0) };
}

/** The first test image of each digit in the bundled 1,000-image MNIST sample, pixels in [0, 1]. */
async function samples(): Promise<{ label: number; pixels: number[] }[]> {
  const assets = packageAssets();
  const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
    labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    inputShape: [28, 28, 1],
    limit: 100,
  });
  const x = data.images;
  const labels = data.labels;
  const out: { label: number; pixels: number[] }[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const i = Array.from(labels).indexOf(digit);
    out.push({ label: digit, pixels: Array.from(x.subarray(784 * i, 784 * (i + 1)), (v) => Math.round(v * 1000) / 1000) });
  }
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
};

/** Serves `dir` on 127.0.0.1 (`port` 0: a free one). Resolves to the server and its base URL. */
export async function serveSite(dir: string, port = 0): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith(sep) ? join(path, 'index.html') : path;
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return { server, url: `http://127.0.0.1:${actual}/` };
}
