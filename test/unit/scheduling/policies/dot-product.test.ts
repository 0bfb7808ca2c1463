import { describe, expect, it } from 'vitest';
import {
  dotProductPolicy,
  dotProductScore,
} from '../../../../src/scheduling/policies/dot-product.ts';
import { context, node, shape } from './fixture.ts';

describe('dot-product policy', () => {
  it('scores 100 × (1 − (free · request) / 2) with both vectors over the largest node', () => {
    // (64000/128000)(8000/128000) + (2000/8000)(1000/8000) = 0.03125 + 0.03125 = 0.0625
    // 100 × (1 − 0.0625/2) = 96.875 → 96
    const n = node({ cpuFree: 64_000, gpus: [1000, 1000] });
    expect(dotProductScore(n, shape(8000, 1, 1000), context())).toBe(96);
    // A node with less free scores higher for the same pod (less aligned with the request).
    const fuller = node({ cpuFree: 16_000, gpus: [0, 1000] });
    // (16000/128000)(8000/128000) + (1000/8000)(1000/8000) = 0.0078125 + 0.015625 → 98.828 → 98
    expect(dotProductScore(fuller, shape(8000, 1, 1000), context())).toBe(98);
  });

  it('takes the first idle GPU for a whole GPU and the tightest for a share', () => {
    const n = node({ gpus: [400, 1000, 700] });
    const policy = dotProductPolicy();
    expect(policy.score(n, shape(1000, 1, 1000), context())?.pick.gpus).toEqual([1]);
    expect(policy.score(n, shape(1000, 1, 500), context())?.pick.gpus).toEqual([2]);
  });
});
