import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPORT_VERSION, ReportError, reportSchema, validateReport, type Report } from '../../src/report.js';
import { RobustestError } from '../../src/errors.js';
import { wilsonInterval } from '../../metrics/accuracy.js';
import { perturbationNorms, summarizeNorms } from '../../metrics/perturbation.js';
import { warning } from '../../metrics/checks.js';
import * as tf from '../../src/tf.js';
import { fixtureReport } from './fixture.js';

function errorOf(value: unknown): ReportError {
  try {
    validateReport(value);
  } catch (e) {
    if (e instanceof ReportError) return e;
    throw e;
  }
  throw new Error('expected validateReport to throw');
}

describe('report schema', () => {
  it('is the shipped schema file, draft 2020-12', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../../schema/report.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(reportSchema()).toEqual(onDisk);
    expect(reportSchema()['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(REPORT_VERSION).toBe('1.2.0');
  });

  it('reads a 1.0 report (one curve, no norms) as a 1.1 one with its points in linf, without modifying it', () => {
    const r = JSON.parse(JSON.stringify(fixtureReport())) as Report;
    r.version = '1.0.0';
    for (const p of r.curve) delete (p as Partial<typeof p>).norm;
    for (const c of r.perClass) for (const e of c.robust) delete (e as Partial<typeof e>).norm;
    const before = JSON.stringify(r);
    const read = validateReport(r);
    expect(read.curve.map((p) => p.norm)).toEqual(['linf', 'linf', 'linf']);
    expect(read.perClass[0]!.robust.map((e) => e.norm)).toEqual(['linf', 'linf', 'linf']);
    expect(JSON.stringify(r)).toBe(before);
  });

  it('requires a norm on every curve point from 1.1 on, and one point per norm and epsilon', () => {
    const r = fixtureReport();
    delete (r.curve[1] as Partial<(typeof r.curve)[number]>).norm;
    expect(errorOf(r).violations).toContain("/curve/1: must have required property 'norm' (report version 1.2.0)");
    const dup = fixtureReport();
    dup.curve[2] = { ...dup.curve[1]! };
    expect(errorOf(dup).violations.join('\n')).toMatch(/\/curve\/2: duplicate point for norm linf at epsilon 0\.03/);
    const mixed = fixtureReport();
    mixed.curve[2] = { ...mixed.curve[1]!, norm: 'l2' };
    expect(validateReport(mixed).curve.map((p) => p.norm)).toEqual(['linf', 'linf', 'l2']);
  });

  it('accepts the fixture report and returns it unchanged', () => {
    const r = fixtureReport();
    expect(validateReport(r)).toBe(r);
  });

  it('accepts a report that went through JSON, optional fields left out, and extra fields', () => {
    const r = fixtureReport() as Report & { extra?: unknown };
    delete r.provenance.command;
    delete r.provenance.model.preprocessing;
    delete r.perClass[0]?.name;
    r.extra = { addedIn: '1.1.0' };
    r.version = '1.3.0';
    r.provenance.model.sha256 = 'unknown: remote model';
    expect(() => validateReport(JSON.parse(JSON.stringify(r)))).not.toThrow();
  });

  it('accepts intervals produced by wilsonInterval', () => {
    const r = fixtureReport();
    r.cleanCi = wilsonInterval(98, 100);
    expect(() => validateReport(r)).not.toThrow();
  });

  it('accepts entries assembled from the metric functions', async () => {
    const clean = tf.zeros([3, 2, 2, 1]);
    const adv = tf.fill([3, 2, 2, 1], 0.1);
    const norms = await perturbationNorms(clean, adv);
    tf.dispose([clean, adv]);
    const r = fixtureReport();
    const stats = summarizeNorms(norms, [1, 0, 1]);
    r.attacks[0] = { ...r.attacks[0]!, norms: stats, meanL2: stats.l2.mean, meanLinf: stats.linf.mean, ci: wilsonInterval(70, 100, 0.9) };
    r.curve[0]!.ci = wilsonInterval(98, 100);
    r.warnings.push(warning('zero-gradients', 'net: 50.0% of samples have an all-zero input gradient'));
    expect(stats.l2.mean).toBeCloseTo(0.2, 6);
    expect(() => validateReport(JSON.parse(JSON.stringify(r)))).not.toThrow();
  });

  it('rejects a missing required field, naming it', () => {
    const r = fixtureReport() as Partial<Report>;
    delete r.cleanAccuracy;
    const e = errorOf(r);
    expect(e).toBeInstanceOf(RobustestError);
    expect(e.code).toBe('E_REPORT');
    expect(e.message).toContain('validateReport: expected a valid robustest report, got ');
    expect(e.message).toContain('/: missing required property "cleanAccuracy"');
  });

  it('rejects an accuracy above 1 with its path', () => {
    const r = fixtureReport();
    (r.curve[1] as { robustAccuracy: number }).robustAccuracy = 62;
    expect(errorOf(r).message).toContain('/curve/1/robustAccuracy: must be <= 1');
  });

  it('rejects wrong types, enums, constants and nested missing fields', () => {
    const r = fixtureReport() as unknown as Record<string, unknown> & Report;
    (r as { kind: string }).kind = 'other';
    (r.attacks[0] as { norm: string }).norm = 'l1';
    (r.provenance as { seed: unknown }).seed = '42';
    delete (r.provenance.data as Partial<Report['provenance']['data']>).sha256;
    const e = errorOf(r);
    expect(e.violations).toContain('/kind: must be "robustest-report"');
    expect(e.violations).toContain('/attacks/0/norm: must be one of ["linf","l2"]');
    expect(e.violations).toContain('/provenance/seed: must be number');
    expect(e.violations).toContain('/provenance/data: missing required property "sha256"');
  });

  it('rejects non-integer counts, bad hashes, bad dates and another major version', () => {
    const r = fixtureReport();
    r.count = 99.5;
    r.provenance.model.sha256 = 'abc';
    r.provenance.startedAt = 'yesterday';
    r.version = '2.0.0';
    const e = errorOf(r);
    expect(e.violations).toContain('/count: must be integer');
    expect(e.violations.some((v) => v.startsWith('/provenance/model/sha256: must match pattern'))).toBe(true);
    expect(e.violations.some((v) => v.startsWith('/provenance/startedAt: must match pattern'))).toBe(true);
    expect(e.violations.some((v) => v.startsWith('/version: must match pattern'))).toBe(true);
  });

  it('lists at most five violations in the message, all of them in violations', () => {
    const r = fixtureReport();
    r.curve.forEach((p) => (p.robustAccuracy = 2));
    r.attacks.forEach((a) => (a.successRate = -1));
    const e = errorOf(r);
    expect(e.violations.length).toBe(6);
    expect(e.message).toContain('(and 1 more)');
  });

  it('checks cross-field rules the schema cannot express', () => {
    const r = fixtureReport();
    r.cleanCi = { lower: 0.9, upper: 0.8, level: 0.95 };
    (r.attacks[1] as { succeeded: number }).succeeded = 71;
    r.provenance.model.bounds = [1, 0];
    const e = errorOf(r);
    expect(e.violations).toEqual([
      '/cleanCi: lower (0.9) must not exceed upper (0.8)',
      '/attacks/1/succeeded: must not exceed attacked (70), got 71',
      '/provenance/model/bounds: lower must be below upper, got [1, 0]',
    ]);
    const tooMany = fixtureReport();
    (tooMany.curve[0] as { robustCount: number }).robustCount = 101;
    expect(errorOf(tooMany).message).toContain('/curve/0/robustCount: must not exceed count (100), got 101');
  });

  it('rejects values that are not objects', () => {
    expect(errorOf(null).message).toContain('got null: /: must be object');
    expect(errorOf([]).message).toContain('got []');
    expect(() => validateReport('report')).toThrow(ReportError);
  });
});
