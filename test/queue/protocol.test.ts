// The work queue's protocol as plain data: queue URLs, ranges, job ids, manifests and the checks collect runs
// before merging (no foreign run, no overlap, no gap). No Redis needed.
import { describe, expect, it } from 'vitest';
import { ConfigError, ERROR_REASONS, QueueError } from '../../src/errors.js';
import { checkParts, chunkRanges, jobId, parseManifest, parseQueueUrl, type RunManifest, type StoredPart } from '../../src/queue/index.js';

const manifest: RunManifest = {
  version: 1,
  runId: 'a'.repeat(64),
  total: 25,
  chunk: 10,
  model: { path: 'm.json', sha256: 'b'.repeat(64) },
  data: { path: 'd.npy', sha256: 'c'.repeat(64) },
  config: { eps: [0.1] },
  createdAt: '2026-12-03T10:00:00.000Z',
  library: '0.1.0',
};

function part(start: number, end: number, runId = manifest.runId): [string, string] {
  const p: StoredPart = { runId, start, end, worker: 'w:1', seconds: 0.5, part: { n: end - start } };
  return [`${start}-${end}`, JSON.stringify(p)];
}

describe('queue URLs', () => {
  it('reads host, port, name, credentials, db and TLS', () => {
    expect(parseQueueUrl('redis://127.0.0.1:6380/mnist')).toEqual({
      host: '127.0.0.1',
      port: 6380,
      db: 0,
      tls: false,
      name: 'mnist',
      display: 'redis://127.0.0.1:6380/mnist',
    });
    const a = parseQueueUrl('rediss://user:s3cret@redis.example:7000/run-1.a_b?db=2');
    expect(a).toMatchObject({ host: 'redis.example', port: 7000, username: 'user', password: 's3cret', db: 2, tls: true, name: 'run-1.a_b' });
    expect(a.display).not.toContain('s3cret');
    expect(parseQueueUrl('redis://localhost/q').port).toBe(6379);
  });

  it('refuses what is not a redis URL with a queue name, in one line', () => {
    for (const [url, message] of [
      ['localhost:6379/q', /expected --queue redis:\/\/HOST:PORT\/NAME/],
      ['http://localhost:6379/q', /got the protocol "http:"/],
      ['redis://localhost:6379', /got the name ""/],
      ['redis://localhost:6379/a:b', /got the name "a:b"/],
      ['redis://localhost:6379/q?db=x', /expected \?db= a non-negative integer, got "x"/],
      ['redis://localhost:6379/q?foo=1', /expected no URL parameter but db, got "foo"/],
    ] as const) {
      expect(() => parseQueueUrl(url)).toThrow(ConfigError);
      expect(() => parseQueueUrl(url)).toThrow(message);
    }
    expect(() => parseQueueUrl('redis://u:pw@h:1/a:b')).toThrow(/redis:\/\/u:\*\*\*@h:1/);
  });
});

describe('ranges and job ids', () => {
  it('tiles [0, total) in chunks, the last one shorter', () => {
    expect(chunkRanges(25, 10)).toEqual([
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 20, end: 25 },
    ]);
    expect(chunkRanges(10, 10)).toEqual([{ start: 0, end: 10 }]);
    expect(() => chunkRanges(0, 10)).toThrow(QueueError);
    expect(() => chunkRanges(10, 1.5)).toThrow(/positive integer sample count and chunk size, got 10 and 1.5/);
  });

  it('derives the job id from the run and the range only', () => {
    expect(jobId('r1', { start: 10, end: 20 })).toBe('r1-10-20');
    expect(jobId('r1', { start: 10, end: 20 })).toBe(jobId('r1', { start: 10, end: 20 }));
    expect(jobId('r2', { start: 10, end: 20 })).not.toBe(jobId('r1', { start: 10, end: 20 }));
  });
});

describe('manifests', () => {
  it('round-trips through JSON and refuses anything else', () => {
    expect(parseManifest(JSON.stringify(manifest), 'worker')).toEqual(manifest);
    expect(() => parseManifest('{"version":2}', 'worker')).toThrow(/worker: expected a robustest run manifest \(version 1\)/);
    expect(() => parseManifest('not json', 'worker')).toThrow(QueueError);
  });
});

describe('checkParts', () => {
  it('returns the parts in index order when they tile the run', () => {
    const parts = checkParts(manifest, Object.fromEntries([part(20, 25), part(0, 10), part(10, 20)]));
    expect(parts.map((p) => [p.start, p.end])).toEqual([
      [0, 10],
      [10, 20],
      [20, 25],
    ]);
    expect(parts[2]!.part).toEqual({ n: 5 });
  });

  it('refuses overlaps, gaps, misfiled parts and parts of another run', () => {
    expect(() => checkParts(manifest, Object.fromEntries([part(0, 10), part(5, 15), part(10, 20), part(20, 25)]))).toThrow(
      /expected disjoint ranges, got 5-15 overlapping the range before it \(ending at 10\)/,
    );
    expect(() => checkParts(manifest, Object.fromEntries([part(0, 10), part(20, 25)]))).toThrow(/got a gap \[10, 20\)/);
    expect(() => checkParts(manifest, Object.fromEntries([part(0, 10), part(10, 20)]))).toThrow(/cover \[0, 25\), got \[0, 20\)/);
    const [, text] = part(0, 10);
    expect(() => checkParts(manifest, { '0-5': text })).toThrow(/stored under 0-5 to hold that range, got 0-10/);
    let error: unknown;
    try {
      checkParts(manifest, Object.fromEntries([part(0, 10), part(10, 20, 'f'.repeat(64)), part(20, 25)]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).reason).toBe(ERROR_REASONS.otherRun);
    expect((error as QueueError).message).toMatch(/expected parts of run aaaaaaaaaaaa…, got the part 10-20 of run ffffffffffff…/);
  });
});
