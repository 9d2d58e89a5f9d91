// The browser demo (examples/browser) in headless Chromium: the page is bundled by esbuild from robustest's browser
// entry, served on 127.0.0.1 with the bundled model and tfjs's .wasm files, and driven with playwright-core. PGD must
// flip a digit the model gets right; FGSM at a tiny radius must not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { HtmlValidate } from 'html-validate';
import { browserSkipReason, launchChromium } from '../helpers/browser.js';
import { buildSite, serveSite } from '../../examples/browser/site.js';

const skip = browserSkipReason();

it('the demo page is valid HTML (html-validate recommended; void elements written as Prettier writes them)', async () => {
  const page = await readFile(join(import.meta.dirname, '..', '..', 'examples', 'browser', 'index.html'), 'utf8');
  const validator = new HtmlValidate({ extends: ['html-validate:recommended'], rules: { 'void-style': 'off', 'doctype-style': 'off' } });
  const result = await validator.validateString(page);
  expect(result.results.flatMap((r) => r.messages.map((m) => `${m.line}: ${m.ruleId} ${m.message}`))).toEqual([]);
});

describe.skipIf(skip !== undefined)(`browser demo in Chromium${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let dir: string;
  let server: Server;
  let url: string;
  let browser: Browser;
  let bundleBytes: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-browser-test-'));
    ({ bundleBytes } = await buildSite(dir));
    ({ server, url } = await serveSite(dir));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (server !== undefined) await new Promise((ok) => server.close(ok));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A page-side expression (a string: this project's types have no DOM) true once #status starts with one of `words`. */
  const statusIs = (words: string): string => `/^(${words})/.test(document.getElementById('status')?.textContent ?? '')`;

  /** Opens the page and waits until the model is loaded; page errors fail the test. */
  async function open(backend: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${url}?backend=${backend}`);
    await page.waitForFunction(statusIs('ready|error'), null, { timeout: 60_000 });
    return { page, errors };
  }

  async function attack(page: Page, name: string, eps: number): Promise<{ clean: string; adversarial: string; status: string }> {
    await page.selectOption('#attack', name);
    await page.evaluate(`(() => { const el = document.getElementById('eps'); el.value = '${eps}'; el.dispatchEvent(new Event('input')); })()`);
    await page.click('#run');
    await page.waitForFunction(statusIs('done|error'), null, { timeout: 60_000 });
    return page.evaluate<{ clean: string; adversarial: string; status: string }>(
      `(() => { const r = document.getElementById('result'); return { clean: r.dataset.clean ?? '', adversarial: r.dataset.adversarial ?? '', status: document.getElementById('status').textContent }; })()`,
    );
  }

  it('PGD flips a digit on the wasm backend, and shows the adversarial, the perturbation and the predictions', async () => {
    expect(bundleBytes).toBeGreaterThan(100_000);
    const { page, errors } = await open('wasm');
    expect(await page.textContent('#status')).toBe('ready (backend wasm): pick or draw a digit');
    await page.click('#digits button[data-sample="3"]');
    await page.waitForFunction(`(document.getElementById('result')?.dataset.clean ?? '') !== ''`);
    const r = await attack(page, 'pgd', 0.2);
    expect(r.status).toMatch(/^done: pgd in \d+\.\d\d s$/);
    expect(r.clean).toBe('3');
    expect(r.adversarial).not.toBe('');
    expect(r.adversarial).not.toBe('3');
    expect(await page.textContent('#result')).toMatch(/^label 3 → \d: fooled \(L∞ 0\.\d{3}, L2 \d+\.\d{3}\)$/);
    expect(await page.getAttribute('#adv-preds li:first-child', 'data-class')).toBe(r.adversarial);
    // The perturbation is drawn (not a flat gray image) and stays inside the ball: |δ| ≤ 0.2 per pixel.
    const spread = await page.evaluate<number>(
      `(() => { const d = document.getElementById('perturbation').getContext('2d').getImageData(0, 0, 28, 28).data; let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); } return hi - lo; })()`,
    );
    expect(spread).toBeGreaterThan(100);
    const linf = Number(/L∞ (\d\.\d+)/.exec((await page.textContent('#result')) ?? '')?.[1]);
    expect(linf).toBeLessThanOrEqual(0.2 + 1e-6);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('FGSM at ε = 0.01 does not flip it, on the cpu backend too', async () => {
    const { page, errors } = await open('cpu');
    expect(await page.getAttribute('body', 'data-backend')).toBe('cpu');
    await page.click('#digits button[data-sample="7"]');
    await page.waitForFunction(`(document.getElementById('result')?.dataset.clean ?? '') !== ''`);
    const r = await attack(page, 'fgsm', 0.01);
    expect(r.clean).toBe('7');
    expect(r.adversarial).toBe('7');
    expect(await page.textContent('#result')).toMatch(/^label 7 → 7: not fooled/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
