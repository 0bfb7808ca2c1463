import { describe, expect, it } from 'vitest';
import {
  percentile,
  ratePerSecond,
  roundForReport,
  roundSummary,
  sortedCopy,
  summarize,
} from '../../../bench/lib/stats.ts';

/** 1, 2, ..., n */
const ramp = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile (nearest rank)', () => {
  it('takes the sample at rank ceil(p/100 × n)', () => {
    const samples = ramp(1000);
    expect(percentile(samples, 50)).toBe(500);
    expect(percentile(samples, 90)).toBe(900);
    expect(percentile(samples, 99)).toBe(990);
    expect(percentile(samples, 100)).toBe(1000);
  });

  it('rounds the rank up, so a small set never reports below its p-th share', () => {
    // n = 10: p99 → rank ceil(9.9) = 10, p50 → rank 5, p1 → rank ceil(0.1) = 1.
    const samples = ramp(10).map((x) => x * 10);
    expect(percentile(samples, 99)).toBe(100);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 1)).toBe(10);
  });

  it('returns the only sample of a one-sample set for every p', () => {
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
  });

  it('rejects an empty set and out-of-range p with a sentence', () => {
    expect(() => percentile([], 50)).toThrow('percentile of no samples');
    expect(() => percentile([1], 0)).toThrow('out of range');
    expect(() => percentile([1], 101)).toThrow('out of range');
    expect(() => percentile([1], Number.NaN)).toThrow('out of range');
  });
});

describe('summarize', () => {
  it('sorts numerically, not as strings', () => {
    expect(sortedCopy([10, 9, 100, 1])).toEqual([1, 9, 10, 100]);
  });

  it('does not reorder the caller’s array', () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('reports n, min, mean, percentiles and max of unsorted samples', () => {
    const samples = ramp(100).reverse();
    expect(summarize(samples)).toEqual({
      n: 100,
      min: 1,
      mean: 50.5,
      p50: 50,
      p90: 90,
      p99: 99,
      max: 100,
    });
  });

  it('keeps one outlier out of p99 of 1,000 samples but shows it as max', () => {
    const samples = [...Array.from({ length: 999 }, () => 1), 250];
    const s = summarize(samples);
    expect(s.p99).toBe(1);
    expect(s.max).toBe(250);
    expect(s.mean).toBeCloseTo(1.249, 6);
  });

  it('rejects an empty set', () => {
    expect(() => summarize([])).toThrow('summary of no samples');
  });
});

describe('ratePerSecond', () => {
  it('turns a count and elapsed milliseconds into a per-second rate', () => {
    expect(ratePerSecond(1000, 500)).toBe(2000);
    expect(ratePerSecond(32, 16)).toBe(2000);
  });

  it('rejects a zero or negative elapsed time', () => {
    expect(() => ratePerSecond(1, 0)).toThrow('must be positive');
    expect(() => ratePerSecond(1, -1)).toThrow('must be positive');
  });
});

describe('rounding for reports', () => {
  it('keeps 3 decimals below 10, 2 below 1,000 and none above', () => {
    expect(roundForReport(1.23456)).toBe(1.235);
    expect(roundForReport(123.456)).toBe(123.46);
    expect(roundForReport(12345.6)).toBe(12346);
  });

  it('rounds every field of a summary but keeps n', () => {
    expect(
      roundSummary({
        n: 3,
        min: 0.12345,
        mean: 1.11111,
        p50: 2.22222,
        p90: 3.33333,
        p99: 44.4444,
        max: 5555.55,
      }),
    ).toEqual({ n: 3, min: 0.123, mean: 1.111, p50: 2.222, p90: 3.333, p99: 44.44, max: 5556 });
  });
});
