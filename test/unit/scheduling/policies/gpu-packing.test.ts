import { describe, expect, it } from 'vitest';
import {
  gpuPackingPolicy,
  gpuPackingScore,
} from '../../../../src/scheduling/policies/gpu-packing.ts';
import { context, node, shape } from './fixture.ts';

describe('gpu-packing policy', () => {
  it('scores an idle node 33 − its GPU count', () => {
    expect(gpuPackingScore(node({ gpus: [1000, 1000, 1000, 1000] }), shape(100, 2, 1000))).toBe(29);
    expect(gpuPackingScore(node({ gpus: Array(8).fill(1000) }), shape(100, 1, 300))).toBe(25);
  });

  it('scores a used node 50 − the idle GPUs the pod must take', () => {
    // Least free first: 200, 500, 1000, 1000; two whole GPUs take the two idle ones.
    expect(gpuPackingScore(node({ gpus: [200, 1000, 1000, 500] }), shape(100, 2, 1000))).toBe(48);
    // A share that fits no used GPU takes one idle GPU.
    expect(gpuPackingScore(node({ gpus: [200, 1000, 1000, 500] }), shape(100, 1, 600))).toBe(49);
  });

  it('scores a share on a used GPU 100 − its free percent / 10', () => {
    // Least free fitting GPU for 300: the one with 500 free (50%) → 100 − 5.
    expect(gpuPackingScore(node({ gpus: [200, 1000, 1000, 500] }), shape(100, 1, 300))).toBe(95);
    // 200 free (20%) → 100 − 2.
    expect(gpuPackingScore(node({ gpus: [200, 1000, 1000, 500] }), shape(100, 1, 200))).toBe(98);
  });

  it('scores CPU-only pods 0 everywhere and refuses nodes without room', () => {
    expect(gpuPackingScore(node({ gpus: [0, 500] }), shape(100, 0, 0))).toBe(0);
    expect(gpuPackingScore(node({ gpus: [0, 500] }), shape(100, 1, 600))).toBe(undefined);
    expect(gpuPackingPolicy().score(node({ gpus: [0, 500] }), shape(100, 1, 600), context())).toBe(
      undefined,
    );
  });

  it('picks the tightest GPU for a share', () => {
    const score = gpuPackingPolicy().score(
      node({ gpus: [200, 1000, 1000, 500] }),
      shape(100, 1, 300),
      context(),
    );
    expect(score).toEqual({ score: 95, pick: { gpus: [3], milli: 300 } });
  });
});
