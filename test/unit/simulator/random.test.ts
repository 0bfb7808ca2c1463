import { describe, expect, it } from 'vitest';
import {
  seededRandom,
  shuffle,
  splitMix64Sequence,
  xoshiro128ss,
} from '../../../src/simulator/random.ts';

describe('seeded random numbers', () => {
  it('runs xoshiro128** as the reference algorithm does', () => {
    // From state (1, 2, 3, 4): the first output is rotl(2 × 5, 7) × 9 = 1280 × 9 = 11520; the
    // update then sets s1 = 2 ^ (3 ^ 1) = 0, so the second output is 0.
    const next = xoshiro128ss([1, 2, 3, 4]);
    expect([next(), next(), next(), next()]).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('seeds with SplitMix64 (first output for seed 0 is 0xe220a8397b1dcdaf)', () => {
    expect(splitMix64Sequence(0n, 1)[0]).toBe(0xe220a8397b1dcdafn);
  });

  it('is deterministic per seed and different across seeds', () => {
    const draw = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('draws in [0, 1) and integers in [0, n) with roughly even frequencies', () => {
    const r = seededRandom(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      counts[r.int(10)]++;
    }
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  it('shuffles into a permutation, differently per seed', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = [...items];
    shuffle(a, seededRandom(5));
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(a).not.toEqual(items);
    const b = [...items];
    shuffle(b, seededRandom(6));
    expect(b).not.toEqual(a);
  });

  it('refuses a seed that is not a whole number', () => {
    expect(() => seededRandom(1.5)).toThrow('seed 1.5 is not a whole number');
  });
});
