// The HTML report in a real browser (Debian's Chromium through playwright-core), loaded from file:// with the
// network unreachable: no console error, the curve and the example grid visible, every image decoded, no horizontal
// overflow on a phone-sized screen, a non-empty PDF when printed; saves screenshots (to a temporary folder, or to
// docs/images/ with UPDATE_SCREENSHOT=1, which is how the README's pictures are made).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { browserSkipReason, launchChromium } from '../helpers/browser.js';
import { renderHtml } from '../../src/report-html.js';
import { renderExampleImages } from '../../src/report-images.js';
import { mnistReport } from './golden.js';

const skip = browserSkipReason();
const README_IMAGES = join(import.meta.dirname, '..', '..', 'docs', 'images');

describe.skipIf(skip !== undefined)(`HTML report in Chromium${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let browser: Browser;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-html-'));
    const report = mnistReport();
    file = join(dir, 'report.html');
    await writeFile(file, renderHtml(report, { images: await renderExampleImages(report), minRobustAccuracy: 0.5 }));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads from file:// without console errors or requests; the curve and the grid are visible; screenshots', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1080 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    expect(await page.locator('svg.curve').isVisible()).toBe(true);
    const box = await page.locator('svg.curve').boundingBox();
    expect(box!.width).toBeGreaterThan(500);
    expect(await page.locator('svg.curve g.series').count()).toBe(3);
    expect(await page.locator('#examples .grid').isVisible()).toBe(true);
    // Function bodies as strings: the tests compile without the DOM library.
    const images = (await page.evaluate("[...document.querySelectorAll('#examples img')].map((e) => [e.complete, e.naturalWidth])")) as [boolean, number][];
    expect(images.length).toBeGreaterThanOrEqual(12);
    expect(images.every(([complete, width]) => complete === true && width === 28)).toBe(true);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const out = process.env['UPDATE_SCREENSHOT'] === '1' ? README_IMAGES : dir;
    await page.screenshot({ path: join(out, 'report-screenshot.png') });
    await page.locator('#examples').screenshot({ path: join(out, 'report-examples.png') });
    await page.close();
  });

  it('fits a phone screen (no horizontal scrolling of the page) and prints', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 }, deviceScaleFactor: 2 });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const [scroll, client] = (await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]')) as [number, number];
    expect(scroll).toBeLessThanOrEqual(client);
    expect((await page.locator('svg.curve').boundingBox())!.width).toBeLessThanOrEqual(375);
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(20_000);
    await page.close();
  });
});
