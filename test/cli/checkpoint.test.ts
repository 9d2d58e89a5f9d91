// robustest eval --checkpoint: the CLI killed with SIGKILL at random moments (10 times), resumed each time by the same
// command, ends with the report of an uninterrupted run (except timings); a cut-short last line is tolerated, a
// corrupt header and a checkpoint of another configuration are refused with one line, --restart starts over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { createRng } from '../../src/rng.js';
import { validateReport } from '../../src/report.js';
import { cliLaunch, runCli, startCli } from '../helpers/cli-process.js';
import { comparable } from '../metrics/parts-compare.js';

const ARGS = ['eval', '--limit', '40', '--attack', 'fgsm,pgd', '--steps', '5', '--batch-size', '4', '--backend', 'cpu', '--quiet'];
const CHUNKS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function completeLines(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').length - 1;
}

describe(`eval --checkpoint under kill -9 (${cliLaunch().label})`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-kill-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes after 10 kills at random moments and writes the uninterrupted report', { timeout: 300_000 }, async () => {
    const reference = join(dir, 'reference.json');
    const ref = await runCli([...ARGS, '--json', reference]);
    expect(ref.code, ref.err).toBe(0);

    const expected = validateReport(JSON.parse(await readFile(reference, 'utf8')));
    const out = join(dir, 'resumed.json');
    /** A finished run's checkpoint holds its header and every batch once, and its report is the uninterrupted one. */
    const verify = async (cp: string): Promise<void> => {
      const lines = (await readFile(join(cp, 'checkpoint.jsonl'), 'utf8')).split('\n');
      expect(lines).toHaveLength(1 + CHUNKS + 1);
      expect(lines.slice(1, -1).map((l) => (JSON.parse(l) as { start: number }).start)).toEqual(Array.from({ length: CHUNKS }, (_, i) => 4 * i));
      const resumed = validateReport(JSON.parse(await readFile(out, 'utf8')));
      expect(comparable(resumed)).toEqual(comparable(expected));
    };
    const rng = createRng('kill-9');
    let kills = 0;
    let spawns = 0;
    let round = 0;
    let cp = join(dir, 'cp-0');
    const moments: string[] = [];
    // On a fast machine a run may finish before it has been killed 10 times: then it is checked, and a new run
    // (a fresh checkpoint) is killed until the count is reached, so the test is as strict on any machine.
    while (kills < 10) {
      const file = join(cp, 'checkpoint.jsonl');
      const before = await completeLines(file);
      const p = startCli([...ARGS, '--checkpoint', cp, '--json', out]);
      spawns++;
      const t0 = Date.now();
      // Most kills land at a random moment after the run has appended a new batch (during the next batch's work or
      // its append); every fourth at a random moment from the start (while loading, or anywhere).
      const early = kills % 4 === 3;
      const delay = Math.floor(rng.next() * (early ? 1500 : 150));
      if (early) await Promise.race([sleep(delay), p.exited]);
      else {
        while (p.child.exitCode === null && (await completeLines(file)) <= Math.max(before, 1)) await sleep(5);
        await Promise.race([sleep(delay), p.exited]);
      }
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        kills++;
      }
      const code = await p.exited;
      moments.push(`${round}:${code}@${Date.now() - t0}ms:${before}→${await completeLines(file)}`);
      expect(spawns, moments.join(' ')).toBeLessThan(40);
      if (code === 0) {
        // Finished before the kill: this run is complete; check it and start another.
        await verify(cp);
        cp = join(dir, `cp-${++round}`);
        continue;
      }
      expect(code, p.err()).toBe('SIGKILL');
      if (kills === 5) await appendFile(file, '{"kind":"robustest-part","format":1,"runId":"'); // a write cut short
    }
    const last = await runCli([...ARGS, '--checkpoint', cp, '--json', out]);
    expect(last.code, last.err).toBe(0);
    expect(kills, moments.join(' ')).toBeGreaterThanOrEqual(10);
    await verify(cp);
  });

  it('refuses a corrupt header and a checkpoint of another configuration with one line; --restart starts over', async () => {
    const cli = async (args: string[]) => {
      let err = '';
      const code = await main(args, { stdout: () => undefined, stderr: (s) => void (err += s), isTTY: false, env: {} });
      return { code, err };
    };
    const cp = join(dir, 'refuse');
    const args = ['eval', '--limit', '8', '--attack', 'fgsm', '--batch-size', '4', '--backend', 'cpu', '--quiet', '--checkpoint', cp];
    expect(await cli(args)).toEqual({ code: 0, err: '' });
    const other = await cli([...args, '--seed', '1']);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(
      /^robustest: checkpoint ".*refuse\/checkpoint\.jsonl": expected a checkpoint of this run, got one of another run \(seed 0 vs 1\); pass --restart \(restart: true\) to start over\n$/,
    );
    expect(await cli([...args, '--seed', '1', '--restart'])).toEqual({ code: 0, err: '' });
    const file = join(cp, 'checkpoint.jsonl');
    const text = await readFile(file, 'utf8');
    await writeFile(file, '{"kind":"robustest-checkpoint","form' + text.slice(40));
    expect(await cli([...args, '--seed', '1'])).toEqual({
      code: 2,
      err: `robustest: checkpoint ${JSON.stringify(file)} line 1: expected a robustest checkpoint header, got a corrupt line (pass --restart to start over)\n`,
    });
  });
});
