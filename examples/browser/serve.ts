// The browser demo in one command: `npx tsx examples/browser/serve.ts [--port 8080]`, then open the printed URL.
// It bundles the page with esbuild into a temporary folder and serves it on 127.0.0.1 until you stop it (Ctrl-C).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSite, serveSite } from './site.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } });
const dir = await mkdtemp(join(tmpdir(), 'robustest-browser-'));
const { bundleBytes } = await buildSite(dir);
const { url } = await serveSite(dir, Number(values.port));
console.log(`robustest browser demo (bundle ${(bundleBytes / 1e6).toFixed(1)} MB, built in ${dir}): ${url}`);
console.log(`add ?backend=cpu to the URL for tfjs's JavaScript backend; the default is wasm`);
