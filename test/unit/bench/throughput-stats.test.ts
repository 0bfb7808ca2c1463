import { describe, expect, it } from 'vitest';
import {
  histogramDelta,
  histogramQuantile,
  measureRound,
  pairedRatios,
  parseHistogram,
  roundPlan,
  throughputRatio,
  variantResult,
} from '../../../bench/lib/throughput-stats.ts';

const created = (entries: [string, number, number][]) =>
  new Map(entries.map(([name, sentMs, answeredMs]) => [name, { sentMs, answeredMs }]));

describe('roundPlan', () => {
  it('alternates a and b, numbering rounds overall and per variant', () => {
    expect(roundPlan(3)).toEqual([
      { index: 1, variant: 'a', ofVariant: 1 },
      { index: 2, variant: 'b', ofVariant: 1 },
      { index: 3, variant: 'a', ofVariant: 2 },
      { index: 4, variant: 'b', ofVariant: 2 },
      { index: 5, variant: 'a', ofVariant: 3 },
      { index: 6, variant: 'b', ofVariant: 3 },
    ]);
  });

  it('can start with b and never runs a variant twice in a row', () => {
    const plan = roundPlan(4, 'b');
    expect(plan[0]?.variant).toBe('b');
    for (let i = 1; i < plan.length; i++) expect(plan[i]?.variant).not.toBe(plan[i - 1]?.variant);
  });

  it('refuses zero or fractional rounds', () => {
    expect(() => roundPlan(0)).toThrow(/at least 1/);
    expect(() => roundPlan(1.5)).toThrow(/whole number/);
  });
});

describe('measureRound', () => {
  it('takes pods/s over first create sent to last pod bound, latency per pod', () => {
    const m = measureRound(
      created([
        ['p0', 1000, 1010],
        ['p1', 1005, 1020],
        ['p2', 1010, 1030],
        ['p3', 1015, 1050],
      ]),
      new Map([
        ['p0', 1100],
        ['p1', 1300],
        ['p2', 1500],
        ['p3', 3000],
        ['other-round', 9000],
      ]),
    );
    expect(m.pods).toBe(4);
    expect(m.elapsedMs).toBe(2000);
    expect(m.podsPerSecond).toBe(2);
    expect(m.createMs).toBe(50);
    expect(m.latenciesMs).toEqual([100, 295, 490, 1985]);
  });

  it('fails while a pod of the round is not bound yet', () => {
    expect(() =>
      measureRound(
        created([
          ['p0', 0, 1],
          ['p1', 0, 1],
        ]),
        new Map([['p0', 10]]),
      ),
    ).toThrow(/pod p1 was never seen bound/);
  });

  it('refuses an empty round', () => {
    expect(() => measureRound(new Map(), new Map())).toThrow(/no pods/);
  });
});

describe('variant results and ratio', () => {
  const round = (podsPerSecond: number, latenciesMs: number[]) => ({
    pods: latenciesMs.length,
    createMs: 1,
    elapsedMs: (1000 * latenciesMs.length) / podsPerSecond,
    podsPerSecond,
    latenciesMs,
  });

  it('means the rounds and pools the latencies of every pod', () => {
    const v = variantResult([round(100, [10, 20]), round(50, [30, 40])]);
    expect(v.podsPerSecond).toEqual([100, 50]);
    expect(v.meanPodsPerSecond).toBe(75);
    expect(v.latency.n).toBe(4);
    expect(v.latency.p50).toBe(20);
    expect(v.latency.max).toBe(40);
  });

  it('divides b by a, overall and round by round', () => {
    const a = variantResult([round(100, [1]), round(80, [1])]);
    const b = variantResult([round(90, [1]), round(80, [1])]);
    expect(throughputRatio(a, b)).toBeCloseTo(170 / 180, 12);
    expect(pairedRatios(a.podsPerSecond, b.podsPerSecond)).toEqual([0.9, 1]);
    expect(pairedRatios([100, 50], [50])).toEqual([0.5]);
  });

  it('refuses a variant without rounds', () => {
    expect(() => variantResult([])).toThrow(/no rounds/);
  });
});

describe('Prometheus histograms', () => {
  const text = (filter: [number, number, number, number], sum: number) =>
    [
      '# HELP phalanx_extender_request_duration_seconds Time from request arrival to reply sent.',
      '# TYPE phalanx_extender_request_duration_seconds histogram',
      `phalanx_extender_request_duration_seconds_bucket{le="0.001",verb="filter"} ${filter[0]}`,
      `phalanx_extender_request_duration_seconds_bucket{le="0.005",verb="filter"} ${filter[1]}`,
      `phalanx_extender_request_duration_seconds_bucket{le="0.01",verb="filter"} ${filter[2]}`,
      `phalanx_extender_request_duration_seconds_bucket{le="+Inf",verb="filter"} ${filter[3]}`,
      `phalanx_extender_request_duration_seconds_sum{verb="filter"} ${sum}`,
      `phalanx_extender_request_duration_seconds_count{verb="filter"} ${filter[3]}`,
      'phalanx_extender_request_duration_seconds_bucket{le="+Inf",verb="prioritize"} 7',
      'phalanx_extender_request_duration_seconds_sum{verb="prioritize"} 0.5',
      'phalanx_extender_request_duration_seconds_count{verb="prioritize"} 7',
    ].join('\n');
  const name = 'phalanx_extender_request_duration_seconds';

  it('reads one labelled histogram, buckets ascending with +Inf last', () => {
    const h = parseHistogram(text([5, 8, 9, 10], 0.04), name, { verb: 'filter' });
    expect(h).toEqual({
      buckets: [
        { le: 0.001, count: 5 },
        { le: 0.005, count: 8 },
        { le: 0.01, count: 9 },
        { le: Number.POSITIVE_INFINITY, count: 10 },
      ],
      sum: 0.04,
      count: 10,
    });
    expect(parseHistogram(text([0, 0, 0, 0], 0), name, { verb: 'preempt' })).toBeUndefined();
  });

  it('subtracts an earlier reading', () => {
    const before = parseHistogram(text([5, 8, 9, 10], 0.04), name, { verb: 'filter' });
    const after = parseHistogram(text([15, 28, 29, 40], 0.24), name, { verb: 'filter' });
    if (after === undefined) throw new Error('no histogram parsed');
    const d = histogramDelta(after, before);
    expect(d.buckets.map((b) => b.count)).toEqual([10, 20, 20, 30]);
    expect(d.count).toBe(30);
    expect(d.sum).toBeCloseTo(0.2, 12);
    expect(histogramDelta(after, undefined)).toBe(after);
  });

  it('interpolates quantiles inside the bucket holding the rank', () => {
    const h = {
      buckets: [
        { le: 1, count: 50 },
        { le: 3, count: 90 },
        { le: Number.POSITIVE_INFINITY, count: 100 },
      ],
      sum: 0,
      count: 100,
    };
    expect(histogramQuantile(h, 0.5)).toBe(1);
    expect(histogramQuantile(h, 0.25)).toBe(0.5);
    expect(histogramQuantile(h, 0.7)).toBe(2);
    // In the +Inf bucket the largest finite bound is the best estimate.
    expect(histogramQuantile(h, 0.99)).toBe(3);
    expect(histogramQuantile({ ...h, count: 0 }, 0.5)).toBeNaN();
    expect(() => histogramQuantile(h, 0)).toThrow(/out of range/);
  });
});
