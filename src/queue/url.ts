/**
 * Queue addresses: `redis://[USER:PASSWORD@]HOST[:PORT]/NAME[?db=N]` (or `rediss://` for TLS) names a Redis server
 * and, as the URL's path, the queue on it.
 * @module
 */
import { ConfigError } from '../errors.js';

/** A parsed queue address. */
export interface QueueAddress {
  /** Redis host. */
  readonly host: string;
  /** Redis port (default 6379). */
  readonly port: number;
  /** ACL user name, if any. */
  readonly username?: string;
  /** Password, if any. */
  readonly password?: string;
  /** Redis logical database (`?db=N`; default 0). */
  readonly db: number;
  /** Whether to connect over TLS (`rediss://`). */
  readonly tls: boolean;
  /** The queue's name (the URL's path without its leading slash). */
  readonly name: string;
  /** The address without its password, for messages. */
  readonly display: string;
}

/** Queue names: letters, digits, `.`, `_` and `-` (BullMQ keys use `:` as separator). */
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * Parses a queue address.
 *
 * @param url - `redis://HOST:PORT/NAME`, optionally with `USER:PASSWORD@`, `?db=N`, or `rediss://` for TLS.
 * @returns its parts; the port defaults to 6379 and the database to 0.
 * @throws {@link ConfigError} when it is not a redis URL with a queue name.
 * @example
 * ```ts
 * const a = parseQueueUrl('redis://127.0.0.1:6379/mnist');
 * console.log(a.host, a.port, a.name); // 127.0.0.1 6379 mnist
 * ```
 */
export function parseQueueUrl(url: string): QueueAddress {
  const expected = 'expected --queue redis://HOST:PORT/NAME (NAME of letters, digits, ".", "_", "-")';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`queue: ${expected}, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`queue: ${expected}, got the protocol ${JSON.stringify(u.protocol)}`);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!NAME.test(name)) throw new ConfigError(`queue: ${expected}, got the name ${JSON.stringify(name)} in ${JSON.stringify(redact(u))}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new ConfigError(`queue: ${expected}, got no host in ${JSON.stringify(redact(u))}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.searchParams.get('db');
  const db = dbText === null ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`queue: expected ?db= a non-negative integer, got ${JSON.stringify(dbText)}`);
  const extra = [...u.searchParams.keys()].find((k) => k !== 'db');
  if (extra !== undefined) throw new ConfigError(`queue: expected no URL parameter but db, got ${JSON.stringify(extra)}`);
  return {
    host,
    port,
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    db,
    tls: u.protocol === 'rediss:',
    name,
    display: redact(u),
  };
}

function redact(u: URL): string {
  const copy = new URL(u.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href;
}
