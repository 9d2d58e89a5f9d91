// eval keeps large data lazy (a DataSource read chunk by chunk) and holds small data whole; both give one report.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Report } from '../../src/report.js';

async function evalReport(env: Record<string, string>, json: string): Promise<{ code: number; err: string; report: Report }> {
  let err = '';
  const code = await main(['eval', '--limit', '30', '--attack', 'fgsm,pgd', '--steps', '3', '--eps', '0.1', '--batch-size', '8', '--json', json], {
    stdout: () => undefined,
    stderr: (s) => void (err += s),
    isTTY: false,
    env,
  });
  return { code, err, report: JSON.parse(await readFile(json, 'utf8')) as Report };
}

/** The report without what differs between runs by design (timings, the output path in the command). */
function comparable(r: Report): unknown {
  const { startedAt: _s, finishedAt: _f, seconds: _t, command: _c, ...provenance } = r.provenance;
  return { ...r, attacks: r.attacks.map(({ seconds: _a, ...rest }) => rest), provenance };
}

describe('eval streams large data', () => {
  it('a streamed run (ROBUSTEST_STREAM_ABOVE_BYTES=0) reports what the in-memory run reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'robustest-stream-'));
    const whole = await evalReport({}, join(dir, 'whole.json'));
    const streamed = await evalReport({ ROBUSTEST_STREAM_ABOVE_BYTES: '0' }, join(dir, 'streamed.json'));
    expect([whole.code, streamed.code]).toEqual([0, 0]);
    expect(streamed.report.count).toBe(30);
    expect(comparable(streamed.report)).toEqual(comparable(whole.report));
  });

  it('refuses a bad threshold in one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'robustest-stream-'));
    let err = '';
    const code = await main(['eval', '--limit', '5', '--json', join(dir, 'r.json')], {
      stdout: () => undefined,
      stderr: (s) => void (err += s),
      isTTY: false,
      env: { ROBUSTEST_STREAM_ABOVE_BYTES: 'lots' },
    });
    expect(code).toBe(2);
    expect(err).toBe('robustest: eval: expected ROBUSTEST_STREAM_ABOVE_BYTES to be a number of bytes >= 0, got "lots"\n');
  });
});
