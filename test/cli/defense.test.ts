// `robustest eval --defense` and `robustest certify` on the bundled MNIST demo (small slices).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateReport, type Report } from '../../src/report.js';
import type { CertificationReport } from '../../src/cli/certify.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const cli = (args: string[]): Promise<CliRun> => runMain(args);

describe('robustest eval --defense', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-defense-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('attacks adaptively by default (BPDA), non-adaptively with --no-adaptive (and warns), and records the defense', async () => {
    const common = ['eval', '--defense', 'bits:4', '--limit', '40', '--attack', 'pgd', '--steps', '10', '--eps', '0.3'];
    const adaptive = await cli([...common, '--json', join(dir, 'a.json')]);
    expect(adaptive.code, adaptive.err).toBe(0);
    expect(adaptive.err).toMatch(/defense bits:4 \(BPDA through the non-differentiable transforms\)/);
    const a = validateReport(JSON.parse(await readFile(join(dir, 'a.json'), 'utf8'))) as Report;
    expect(a.provenance.model.defense).toMatchObject({ transforms: ['bits:4'], gradient: 'bpda', adaptive: true });
    expect(a.provenance.model.name).toMatch(/\+bits:4$/);
    const plain = await cli([...common, '--no-adaptive', '--json', join(dir, 'p.json')]);
    expect(plain.code, plain.err).toBe(0);
    expect(plain.err).toMatch(/NON-ADAPTIVE/);
    const p = validateReport(JSON.parse(await readFile(join(dir, 'p.json'), 'utf8'))) as Report;
    expect(p.warnings.map((w) => w.code)).toContain('non-adaptive-defense');
    expect(p.curve[0]!.robustAccuracy).toBeGreaterThan(a.curve[0]!.robustAccuracy + 0.5);
  });

  it('refuses bad defense flags with one line naming the option', async () => {
    const bad = await cli(['eval', '--defense', 'jpeg:0', '--limit', '5']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/jpeg: expected quality to be an integer in \[1, 100\], got 0/);
    const unknown = await cli(['eval', '--defense', 'blur:3', '--limit', '5']);
    expect(unknown.err).toMatch(/--defense: expected one of jpeg, bits/);
    const eot = await cli(['eval', '--eot', '5', '--limit', '5']);
    expect(eot.err).toMatch(/--eot: expected --defense/);
    const zero = await cli(['eval', '--defense', 'noise:0.1', '--eot', '0', '--limit', '5']);
    expect(zero.code).not.toBe(0);
    expect(zero.err).toMatch(/--eot/);
    const queued = await cli(['eval', '--defense', 'bits:4', '--queue', 'redis://127.0.0.1:1/x', '--limit', '5']);
    expect(queued.code).not.toBe(0);
    expect(queued.err).toMatch(/--defense: expected a local run .*got --queue/);
  });
});

describe('robustest certify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-certify-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prints certified accuracy at the radii and writes the certificates', async () => {
    const r = await cli(['certify', '--sigma', '0.25', '--n0', '50', '--n', '200', '--limit', '6', '--radii', '0,0.25', '--json', join(dir, 'c.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/robustest certify: mnist-cnn/);
    expect(r.out).toMatch(/σ = 0\.25 · n0 = 50 · n = 200/);
    const report = JSON.parse(await readFile(join(dir, 'c.json'), 'utf8')) as CertificationReport;
    expect(report.kind).toBe('robustest-certification');
    expect(report.certificates).toHaveLength(6);
    expect(report.certifiedAccuracy.map((c) => c.radius)).toEqual([0, 0.25]);
    const right = report.certificates.filter((c) => c.prediction === c.label);
    expect(report.certifiedAccuracy[0]!.count).toBe(right.length);
    expect(report.certifiedAccuracy[1]!.count).toBe(right.filter((c) => c.radius >= 0.25).length);
    for (const c of report.certificates) expect(c.radius).toBeLessThanOrEqual(0.25 * 3.1); // pA ≤ 1 − tiny with n = 200
    expect(report.provenance.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses sigma <= 0, n0 > n and alpha outside (0, 1) naming the option', async () => {
    expect((await cli(['certify', '--sigma', '0', '--limit', '2'])).err).toMatch(/--sigma/);
    expect((await cli(['certify', '--sigma', '0.5', '--n0', '300', '--n', '200', '--limit', '2'])).err).toMatch(/n0 <= n, got n0 = 300 > n = 200/);
    expect((await cli(['certify', '--sigma', '0.5', '--alpha', '1', '--limit', '2'])).err).toMatch(/alpha to be in \(0, 1\), got 1/);
  });
});
