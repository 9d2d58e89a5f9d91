// What may differ between two runs of the same evaluation (timings, the command line), left out for comparisons.
import type { Report } from '../../src/report.js';

/** The report without its timings and command line. */
export function comparable(r: Report): unknown {
  const { startedAt: _s, finishedAt: _f, seconds: _t, command: _c, ...provenance } = r.provenance;
  return { ...r, attacks: r.attacks.map(({ seconds: _x, ...e }) => e), provenance };
}
