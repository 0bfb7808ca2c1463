/**
 * The arithmetic of the end-to-end scheduling throughput benchmark (bench/throughput.ts). Pure: no
 * I/O, no clock; every time is a millisecond timestamp handed in by the caller.
 *
 *   - which variant each round runs (alternating, so drift on a shared machine hits both);
 *   - one round's pods/s (pods over first create → last bound) and per-pod bind latency
 *     (create → bound);
 *   - a variant's mean over its rounds and the ratio between two variants;
 *   - a Prometheus histogram read from /metrics text, the difference of two readings, and a
 *     quantile estimated from its buckets (the extender's own latency during the rounds).
 */
import { ratePerSecond, type Summary, summarize } from './stats.ts';

/** `a`: the stock kube-scheduler alone; `b`: kube-scheduler with the Phalanx extender. */
export type Variant = 'a' | 'b';

export interface PlannedRound {
  /** 1-based over the whole run. */
  readonly index: number;
  readonly variant: Variant;
  /** 1-based among the rounds of the same variant. */
  readonly ofVariant: number;
}

/** `rounds` rounds of each variant, alternating a, b, a, b, …; a run starts with `first`. */
export function roundPlan(rounds: number, first: Variant = 'a'): PlannedRound[] {
  if (!Number.isSafeInteger(rounds) || rounds < 1)
    throw new Error(`rounds ${rounds} must be a whole number of at least 1`);
  const second: Variant = first === 'a' ? 'b' : 'a';
  const out: PlannedRound[] = [];
  for (let r = 1; r <= rounds; r++) {
    out.push({ index: out.length + 1, variant: first, ofVariant: r });
    out.push({ index: out.length + 1, variant: second, ofVariant: r });
  }
  return out;
}

/** What one measured round yields. Times in milliseconds. */
export interface RoundMeasurement {
  readonly pods: number;
  /** First create request sent → last create answered. */
  readonly createMs: number;
  /** First create request sent → last pod seen bound. */
  readonly elapsedMs: number;
  readonly podsPerSecond: number;
  /** Create request sent → pod seen bound, one per pod, in the order of `created`. */
  readonly latenciesMs: readonly number[];
}

/**
 * Measures a round from per-pod timestamps: when each create request was sent, when its answer
 * came, and when the pod was first seen with spec.nodeName. Every created pod must be bound.
 */
export function measureRound(
  created: ReadonlyMap<string, { readonly sentMs: number; readonly answeredMs: number }>,
  bound: ReadonlyMap<string, number>,
): RoundMeasurement {
  if (created.size === 0) throw new Error('a round with no pods cannot be measured');
  let first = Number.POSITIVE_INFINITY;
  let lastAnswer = Number.NEGATIVE_INFINITY;
  let lastBound = Number.NEGATIVE_INFINITY;
  const latenciesMs: number[] = [];
  for (const [name, times] of created) {
    const at = bound.get(name);
    if (at === undefined)
      throw new Error(`pod ${name} was never seen bound; the round is not over`);
    first = Math.min(first, times.sentMs);
    lastAnswer = Math.max(lastAnswer, times.answeredMs);
    lastBound = Math.max(lastBound, at);
    latenciesMs.push(at - times.sentMs);
  }
  const elapsedMs = lastBound - first;
  return {
    pods: created.size,
    createMs: lastAnswer - first,
    elapsedMs,
    podsPerSecond: ratePerSecond(created.size, elapsedMs),
    latenciesMs,
  };
}

export interface VariantResult {
  /** pods/s of each round, in run order. */
  readonly podsPerSecond: readonly number[];
  /** Mean of the rounds' pods/s. */
  readonly meanPodsPerSecond: number;
  /** Bind latency over every pod of every round. */
  readonly latency: Summary;
}

export function variantResult(rounds: readonly RoundMeasurement[]): VariantResult {
  if (rounds.length === 0) throw new Error('a variant with no rounds has no result');
  const podsPerSecond = rounds.map((r) => r.podsPerSecond);
  return {
    podsPerSecond,
    meanPodsPerSecond: podsPerSecond.reduce((s, x) => s + x, 0) / podsPerSecond.length,
    latency: summarize(rounds.flatMap((r) => r.latenciesMs)),
  };
}

/** `b / a` of mean pods/s: 1 means the extender costs nothing; the issue asks for ≥ 0.9. */
export function throughputRatio(a: VariantResult, b: VariantResult): number {
  if (!(a.meanPodsPerSecond > 0)) throw new Error('the baseline scheduled no pods per second');
  return b.meanPodsPerSecond / a.meanPodsPerSecond;
}

/** Ratios b/a of the rounds run side by side (round k of b against round k of a). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => (b[i] ?? Number.NaN) / (a[i] ?? Number.NaN));
}

// ---- Prometheus histograms ---------------------------------------------------------------------

export interface HistogramReading {
  /** Cumulative counts by upper bound, ascending; the last bound is +Inf. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly sum: number;
  readonly count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;

function labelsOf(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of (text ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
    out.set(m[1] ?? '', m[2] ?? '');
  return out;
}

const matches = (labels: Map<string, string>, want: Readonly<Record<string, string>>): boolean =>
  Object.entries(want).every(([k, v]) => labels.get(k) === v);

const parseValue = (v: string): number =>
  v === '+Inf' ? Number.POSITIVE_INFINITY : v === '-Inf' ? Number.NEGATIVE_INFINITY : Number(v);

/**
 * The histogram `name` with the given labels from Prometheus text exposition, or undefined when
 * it has no samples there.
 */
export function parseHistogram(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): HistogramReading | undefined {
  const buckets: { le: number; count: number }[] = [];
  let sum: number | undefined;
  let count: number | undefined;
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const sampleLabels = labelsOf(m[2]);
    if (!matches(sampleLabels, labels)) continue;
    const value = parseValue(m[3] ?? '');
    if (m[1] === `${name}_bucket`)
      buckets.push({ le: parseValue(sampleLabels.get('le') ?? ''), count: value });
    else if (m[1] === `${name}_sum`) sum = value;
    else if (m[1] === `${name}_count`) count = value;
  }
  if (buckets.length === 0 || sum === undefined || count === undefined) return undefined;
  buckets.sort((x, y) => x.le - y.le);
  return { buckets, sum, count };
}

/** `after − before`: what was observed between two readings of the same histogram. */
export function histogramDelta(
  after: HistogramReading,
  before: HistogramReading | undefined,
): HistogramReading {
  if (before === undefined) return after;
  return {
    buckets: after.buckets.map((b) => ({
      le: b.le,
      count: b.count - (before.buckets.find((x) => x.le === b.le)?.count ?? 0),
    })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/**
 * The q-quantile (0 < q ≤ 1) estimated from the buckets, interpolating linearly inside the
 * bucket that holds the rank (as Prometheus's histogram_quantile does). A rank in the +Inf bucket
 * returns the largest finite bound. NaN when nothing was observed.
 */
export function histogramQuantile(h: HistogramReading, q: number): number {
  if (!(q > 0 && q <= 1)) throw new Error(`quantile ${q} is out of range; use 0 < q <= 1`);
  if (h.count <= 0) return Number.NaN;
  const rank = q * h.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lowerBound;
      const inBucket = b.count - lowerCount;
      if (inBucket <= 0) return b.le;
      return lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}
