import { describe, expect, it } from 'vitest';
import {
  gpuClusteringPolicy,
  gpuRequestClass,
} from '../../../../src/scheduling/policies/gpu-clustering.ts';
import { context, node, shape } from './fixture.ts';

describe('gpu-clustering policy', () => {
  it('names GPU request classes', () => {
    expect(gpuRequestClass(shape(1, 0, 0))).toBe(undefined);
    expect(gpuRequestClass(shape(1, 1, 250))).toBe('share-gpu');
    expect(gpuRequestClass(shape(1, 1, 1000))).toBe('1-gpu');
    expect(gpuRequestClass(shape(1, 4, 1000))).toBe('4-gpu');
  });

  it('ranks same-class-only, mixed, idle and other-class nodes in bands', () => {
    const policy = gpuClusteringPolicy();
    policy.prepare?.({ shapes: [] }, context());
    const ctx = context();
    // Idle 2-GPU node: 25 × (8000 − 2000) / 8000 = 18.75 → 18, plus 25.
    const n = node({ ordinal: 0, gpus: [1000, 1000] });
    const share = shape(1000, 1, 500);
    expect(policy.score(n, share, ctx)?.score).toBe(43);
    n.take(1000, [0], 500);
    policy.placed?.(n, share, { gpus: [0], milli: 500 });
    // 1500 free: 25 × 6500 / 8000 = 20.3 → 20; only share pods run here: + 75.
    expect(policy.score(n, share, ctx)?.score).toBe(95);
    // A 1-GPU pod finds only another class here: + 0.
    expect(policy.score(n, shape(1000, 1, 1000), ctx)?.score).toBe(20);
    const whole = shape(1000, 1, 1000);
    n.take(1000, [1], 1000);
    policy.placed?.(n, whole, { gpus: [1], milli: 1000 });
    // 500 free: 25 × 7500 / 8000 = 23.4 → 23; both classes run here: + 50.
    expect(policy.score(n, share, ctx)?.score).toBe(73);
    expect(policy.score(n, shape(1000, 0, 0), ctx)?.score).toBe(0);
  });

  it('forgets a class when its last pod is released', () => {
    const policy = gpuClusteringPolicy();
    const ctx = context();
    const n = node({ ordinal: 3, gpus: [1000, 1000] });
    const share = shape(1000, 1, 500);
    policy.placed?.(n, share, { gpus: [0], milli: 500 });
    expect(policy.score(n, share, ctx)?.score).toBe(18 + 75);
    policy.released?.(n, share, { gpus: [0], milli: 500 });
    expect(policy.score(n, share, ctx)?.score).toBe(18 + 25);
    // Another node with the same free capacity was never touched.
    expect(policy.score(node({ ordinal: 4, gpus: [1000, 1000] }), share, ctx)?.score).toBe(43);
  });
});
