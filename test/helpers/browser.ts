/**
 * Headless Chromium for the browser tests, through playwright-core and the system's Chromium (Debian's
 * `chromium` package, installed by `.ci/run`). Outside CI a missing browser skips the tests with a visible reason;
 * in CI (`CI=true`) it is an error.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Candidate Chromium executables, in order; `ROBUSTEST_CHROMIUM` overrides. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium executable, or undefined when none is installed. */
export function chromiumPath(): string | undefined {
  const fromEnv = process.env['ROBUSTEST_CHROMIUM'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return CANDIDATES.find((p) => existsSync(p));
}

/** Why the browser tests skip here (undefined when they run). Throws in CI, where a browser must exist. */
export function browserSkipReason(): string | undefined {
  if (chromiumPath() !== undefined) return undefined;
  const reason = `no Chromium at ${CANDIDATES.join(', ')} (apt-get install chromium, or set ROBUSTEST_CHROMIUM)`;
  if (process.env['CI'] === 'true') throw new Error(`browser tests: expected Chromium in CI, got ${reason}`);
  return reason;
}

/**
 * Launches headless Chromium with the flags this machine needs (no sandbox as root, no background networking: the
 * network is closed), with a fresh temporary profile (playwright makes one per launch).
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error(`launchChromium: expected Chromium, got ${browserSkipReason() ?? 'none'}`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
