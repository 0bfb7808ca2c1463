import { describe, expect, it } from 'vitest';
import type { PodShape } from '../../../src/scheduling/node-view.ts';
import { workloadMix } from '../../../src/simulator/mix.ts';

const pod = (
  cpuMilli: number,
  gpuCount: number,
  gpuMilli: number,
  memoryBytes = 1,
): { shape: PodShape } => ({
  shape: { cpuMilli, memoryBytes, gpuCount, gpuMilli, gpuModels: [] },
});

// 5 × A, 3 × B, 1 × C (2 cores), 1 × D (1 core).
const PODS = [
  ...Array.from({ length: 5 }, () => pod(4000, 1, 500)),
  ...Array.from({ length: 3 }, () => pod(8000, 1, 1000)),
  pod(2000, 0, 0),
  pod(1000, 2, 1000),
];

const weights = (coverage: number) =>
  workloadMix(PODS, coverage).shapes.map((s) => [s.shape.cpuMilli, s.weight]);

describe('workload shape mix', () => {
  it('keeps the most frequent classes until they cover the share of pods, renormalised', () => {
    // 95% of 10 pods = 9.5: A (5), B (8), C (9), D (10) are all needed.
    expect(weights(95)).toEqual([
      [4000, 0.5],
      [8000, 0.3],
      [2000, 0.1],
      [1000, 0.1],
    ]);
    // 80% = 8: A and B cover it exactly.
    expect(weights(80)).toEqual([
      [4000, 5 / 8],
      [8000, 3 / 8],
    ]);
  });

  it('orders equally frequent classes by the class (more CPU first)', () => {
    // 85% = 8.5: after A and B (8) the next is C (2 cores) before D (1 core).
    expect(weights(85)).toEqual([
      [4000, 5 / 9],
      [8000, 3 / 9],
      [2000, 1 / 9],
    ]);
  });

  it('does not tell classes apart by memory', () => {
    const mix = workloadMix([pod(1000, 1, 500, 10), pod(1000, 1, 500, 20)]);
    expect(mix.shapes).toHaveLength(1);
    expect(mix.shapes[0]?.weight).toBe(1);
  });
});
