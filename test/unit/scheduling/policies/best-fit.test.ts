import { describe, expect, it } from 'vitest';
import { ClusterModel } from '../../../../src/scheduling/cluster.ts';
import { placeOne } from '../../../../src/scheduling/place.ts';
import { bestFitPolicy, bestFitScore } from '../../../../src/scheduling/policies/best-fit.ts';
import { context, node, shape } from './fixture.ts';

describe('best-fit policy', () => {
  it('scores 100 × (1 − half the CPU leftover − half the GPU leftover), truncated', () => {
    // leftover = (64000−8000)/128000 × 0.5 + (2000−500)/8000 × 0.5 = 0.21875 + 0.09375 = 0.3125
    const idle = node({ cpuFree: 64_000, gpus: [1000, 1000] });
    expect(bestFitScore(idle, shape(8000, 1, 500), context())).toBe(68);
    // leftover = 0.21875 + (1300−200)/8000 × 0.5 = 0.2875 → 71.25
    const used = node({ cpuFree: 64_000, gpus: [300, 1000] });
    expect(bestFitScore(used, shape(8000, 1, 200), context())).toBe(71);
  });

  it('puts a share on the tightest fitting GPU and whole GPUs on the first idle ones', () => {
    const policy = bestFitPolicy();
    const n = node({ gpus: [1000, 300, 600, 1000] });
    expect(policy.score(n, shape(1000, 1, 250), context())?.pick).toEqual({
      gpus: [1],
      milli: 250,
    });
    expect(policy.score(n, shape(1000, 1, 400), context())?.pick).toEqual({
      gpus: [2],
      milli: 400,
    });
    expect(policy.score(n, shape(1000, 2, 1000), context())?.pick).toEqual({
      gpus: [0, 3],
      milli: 1000,
    });
    expect(policy.score(n, shape(1000, 0, 0), context())?.pick).toEqual({ gpus: [], milli: 0 });
  });

  it('refuses a node where no GPU fits the share', () => {
    expect(bestFitPolicy().score(node({ gpus: [100, 200] }), shape(1, 1, 300), context())).toBe(
      undefined,
    );
  });

  it('through placeOne: the fuller node wins, and equal scores go to the lower ordinal', () => {
    const model = ClusterModel.fromNodes([
      {
        name: 'a',
        cpuMilli: 64_000,
        memoryBytes: 2 ** 38,
        gpus: [{ model: 'T4' }, { model: 'T4' }],
      },
      {
        name: 'b',
        cpuMilli: 64_000,
        memoryBytes: 2 ** 38,
        gpus: [{ model: 'T4' }, { model: 'T4' }],
      },
    ]);
    const ctx = { ...context(), maxCpuMilli: 64_000, maxGpuCount: 2 };
    const policy = bestFitPolicy();
    const first = placeOne(model, shape(4000, 1, 500), policy, ctx, 'p1');
    expect('node' in first && first.node.name).toBe('a');
    // b is idle, a has 500 milli and 4 cores less free: a is the tighter fit again.
    const second = placeOne(model, shape(4000, 1, 500), policy, ctx, 'p2');
    expect('node' in second && second.node.name).toBe('a');
    expect('pick' in second && second.pick.gpus).toEqual([0]);
  });
});
