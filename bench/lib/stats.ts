/**
 * Latency statistics for benchmarks. Pure: no I/O.
 *
 * Percentiles use the nearest-rank method: the p-th percentile of n sorted samples is the sample
 * at rank ceil(p/100 × n) (1-based). It always returns a value that was observed, and with
 * n = 1,000 the p99 is the 990th fastest call, so the 10 slowest calls are above it.
 */

/** Summary of a set of samples (all in the samples' unit, usually milliseconds). */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The p-th percentile (0 < p ≤ 100) of samples sorted ascending, by nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no samples; measure at least one call');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is out of range; use 0 < p <= 100`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Sorted copy (numeric order; `Array.prototype.sort` alone sorts as strings). */
export function sortedCopy(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = sortedCopy(samples);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined)
    throw new Error('summary of no samples; measure at least one call');
  let sum = 0;
  for (const s of sorted) sum += s;
  return {
    n: sorted.length,
    min: first,
    mean: sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: last,
  };
}

/** Operations per second for `count` operations that took `elapsedMs` in total. */
export function ratePerSecond(count: number, elapsedMs: number): number {
  if (elapsedMs <= 0) throw new Error(`elapsed time ${elapsedMs} ms must be positive`);
  return (count * 1000) / elapsedMs;
}

/** Rounds for reports: 3 decimals below 10, 2 below 1,000, whole numbers above. */
export function roundForReport(value: number): number {
  const digits = Math.abs(value) < 10 ? 3 : Math.abs(value) < 1000 ? 2 : 0;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A summary with every field rounded by {@link roundForReport}. */
export function roundSummary(summary: Summary): Summary {
  return {
    n: summary.n,
    min: roundForReport(summary.min),
    mean: roundForReport(summary.mean),
    p50: roundForReport(summary.p50),
    p90: roundForReport(summary.p90),
    p99: roundForReport(summary.p99),
    max: roundForReport(summary.max),
  };
}
