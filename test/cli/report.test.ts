// `robustest report` and `robustest eval --html/--junit/--examples`, through the CLI's main().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { HtmlValidate } from 'html-validate';
import { validateReport } from '../../src/report.js';
import { cli } from './report-helpers.js';

const FIXTURE = join(import.meta.dirname, '..', 'report', 'fixtures', 'mnist-report.json');
const GOLDEN = join(import.meta.dirname, '..', 'report', 'golden');

describe('robustest report', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-report-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders each format to stdout or --out, the same as the library', async () => {
    const md = await cli(['report', FIXTURE, '--format', 'md']);
    expect([md.code, md.err]).toEqual([0, '']);
    expect(md.out).toBe(await readFile(join(GOLDEN, 'mnist-report.md'), 'utf8'));
    const text = await cli(['report', FIXTURE]);
    expect(text.out).toBe(await readFile(join(GOLDEN, 'mnist-report.txt'), 'utf8'));
    const junit = await cli(['report', FIXTURE, '--format', 'junit', '--min-robust-accuracy', '0.5', '--out', join(dir, 'r.xml')]);
    expect([junit.code, junit.out, junit.err]).toEqual([0, '', '']);
    expect(await readFile(join(dir, 'r.xml'), 'utf8')).toBe(await readFile(join(GOLDEN, 'mnist-report.junit.xml'), 'utf8'));
    const html = await cli(['report', FIXTURE, '--format', 'html', '--out', join(dir, 'r.html')]);
    expect(html.code).toBe(0);
    const page = await readFile(join(dir, 'r.html'), 'utf8');
    expect(page.match(/<img src="data:image\/png;base64,/g)!.length).toBeGreaterThanOrEqual(12);
  });

  it('JUnit with --allow-warnings: severe warnings pass', async () => {
    const r = await cli(['report', FIXTURE, '--format', 'junit', '--allow-warnings']);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(r.out) as { testsuites: { failures: string } };
    expect(doc.testsuites.failures).toBe('0');
  });

  it('refuses bad input with one line and exit 2, checking --out before reading', async () => {
    const missing = await cli(['report', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^robustest: report: expected a readable report file '.*nope\.json', got ENOENT\n$/);
    await writeFile(join(dir, 'bad.json'), '{"version": ');
    const bad = await cli(['report', join(dir, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^robustest: report: expected JSON in '.*bad\.json', got .+\n$/);
    await writeFile(join(dir, 'invalid.json'), '{"version": "1.1.0"}');
    const invalid = await cli(['report', join(dir, 'invalid.json')]);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/^robustest: validateReport: expected a valid robustest report, got \/: missing required property "kind"/);
    const out = await cli(['report', join(dir, 'nope.json'), '--out', dir]);
    expect(out.err).toBe(`robustest: --out: expected a file, got the directory ${JSON.stringify(dir)}\n`);
    const format = await cli(['report', FIXTURE, '--format', 'pdf']);
    expect(format.code).toBe(2);
    expect(format.err.split('\n')).toHaveLength(2);
  });
});

describe('robustest eval --html --junit --examples', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-eval-report-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a valid HTML page with the example grid, JUnit with the right failures, and the examples in the JSON', async () => {
    const [json, html, junit] = ['r.json', 'r.html', 'r.xml'].map((f) => join(dir, f));
    const r = await cli([
      'eval',
      '--limit',
      '40',
      '--attack',
      'fgsm',
      '--eps',
      '0.1,0.3',
      '--examples',
      '8',
      '--json',
      json!,
      '--html',
      html!,
      '--junit',
      junit!,
      '--min-robust-accuracy',
      '0.5',
      '--allow-warnings',
    ]);
    const report = validateReport(JSON.parse(await readFile(json!, 'utf8')));
    // Exit 1 exactly when a curve point is below the threshold.
    expect(r.code).toBe(report.curve.some((p) => p.robustAccuracy < 0.5) ? 1 : 0);
    expect(r.out).toContain(`HTML report: ${html}\n`);
    const ex = report.examples!;
    expect(ex.shape).toEqual([28, 28, 1]);
    expect(ex.items.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The examples agree with the evaluation: a point fooled at the smallest radius by fgsm is one the report counts as fooled there.
    for (const e of ex.items.filter((x) => x.adversarial !== undefined)) {
      expect(e.attack).toBe('fgsm');
      expect(e.adversarialPrediction).not.toBe(e.label);
    }
    const page = await readFile(html!, 'utf8');
    const result = await new HtmlValidate({ extends: ['html-validate:recommended'] }).validateString(page);
    expect(result.valid).toBe(true);
    expect(page.match(/<figure class="example/g)).toHaveLength(8);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(await readFile(junit!, 'utf8')) as {
      testsuites: { failures: string };
    };
    const below = report.curve.filter((p) => p.robustAccuracy < 0.5).length + report.attacks.filter((a) => a.robustAccuracy < 0.5).length;
    expect(Number(doc.testsuites.failures)).toBe(below); // severe warnings allowed
  });

  it('renders a complete partial report (eval --shard 0/1) as its merged report', async () => {
    const part = join(dir, 'p.json');
    expect((await cli(['eval', '--limit', '20', '--attack', 'fgsm', '--eps', '0.1', '--shard', '0/1', '--json', part, '--quiet'])).code).toBe(0);
    const full = join(dir, 'full.json');
    expect((await cli(['eval', '--limit', '20', '--attack', 'fgsm', '--eps', '0.1', '--json', full, '--quiet'])).code).toBe(0);
    const [a, b] = [await cli(['report', part, '--format', 'junit']), await cli(['report', full, '--format', 'junit'])];
    expect(a.code).toBe(0);
    // The same records: the same cases and failures (times aside).
    const strip = (x: string): string => x.replace(/ time="[^"]*"/g, '');
    expect(strip(a.out)).toBe(strip(b.out));
  });

  it('checks --html and --junit before evaluating', async () => {
    const r = await cli(['eval', '--limit', '10', '--html', dir]);
    expect([r.code, r.err]).toEqual([2, `robustest: --html: expected a file, got the directory ${JSON.stringify(dir)}\n`]);
    await writeFile(join(dir, 'file'), 'x');
    const j = await cli(['eval', '--limit', '10', '--junit', join(dir, 'file', 'x.xml')]);
    expect([j.code, j.err]).toEqual([2, `robustest: --junit: expected ${JSON.stringify(join(dir, 'file'))} to be a folder, got a file\n`]);
    expect(j.out).toBe('');
    expect(existsSync(join(dir, 'file', 'x.xml'))).toBe(false);
  });
});
