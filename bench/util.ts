// Small helpers shared by the benchmark scripts.
import { loadavg } from 'node:os';

/** The median of a list of timings. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median time of `n` runs of `fn` after one warm-up run (kernels compiled, weights uploaded). */
export async function timeIt(fn: () => Promise<void>, n: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The 1-, 5- and 15-minute load averages, for the record: other processes on the same cores change timings. */
export function loadAverages(): string {
  return loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');
}
