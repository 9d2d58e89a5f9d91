/**
 * A real, throwaway `redis-server` for the queue tests: started on 127.0.0.1 on a free port, in a temporary folder,
 * without persistence (`--save '' --appendonly no`), and stopped after. Debian's `redis-server` package (installed
 * by `.ci/run`) provides it. Outside CI a missing server skips the tests with a visible reason; in CI (`CI=true`) it
 * is an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Candidate executables, in order; `ROBUSTEST_REDIS_SERVER` overrides. */
const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

/** The redis-server executable, or undefined when none is installed. */
export function redisServerPath(): string | undefined {
  const fromEnv = process.env['ROBUSTEST_REDIS_SERVER'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return CANDIDATES.find((p) => existsSync(p));
}

/** Why the Redis tests skip here (undefined when they run). Throws in CI, where redis-server must exist. */
export function redisSkipReason(): string | undefined {
  if (redisServerPath() !== undefined) return undefined;
  const reason = `no redis-server at ${CANDIDATES.join(', ')} (apt-get install redis-server, or set ROBUSTEST_REDIS_SERVER)`;
  if (process.env['CI'] === 'true') throw new Error(`queue tests: expected redis-server in CI, got ${reason}`);
  return reason;
}

/** A running server: its address and how to stop it. */
export interface RedisServer {
  /** 127.0.0.1. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server process (to kill it in a test). */
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its folder. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis server answers PING on the port. */
async function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Starts redis-server on 127.0.0.1 on a free port and waits until it answers PING (at most 10 s).
 * @throws Error when no redis-server is installed or it does not come up.
 */
export async function startRedis(): Promise<RedisServer> {
  const executable = redisServerPath();
  if (executable === undefined) throw new Error(`startRedis: expected redis-server, got ${redisSkipReason() ?? 'none'}`);
  const dir = await mkdtemp(join(tmpdir(), 'robustest-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      executable,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout?.on('data', (d: Buffer) => void (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (log += d.toString()));
    let exited = false;
    child.once('exit', () => void (exited = true));
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline && !(await pings(port))) await new Promise((r) => setTimeout(r, 50));
    if (!exited && (await pings(port))) {
      const stop = async (): Promise<void> => {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      };
      return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, process: child, stop };
    }
    child.kill('SIGKILL');
    // The port may have been taken between freePort and the server's bind: try another, a few times.
    if (attempt >= 3) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`startRedis: expected redis-server to answer PING on 127.0.0.1:${port}, got ${log.trim().split('\n').slice(-3).join(' | ')}`);
    }
  }
}
