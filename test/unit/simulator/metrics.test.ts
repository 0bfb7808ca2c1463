import { describe, expect, it } from 'vitest';
import { ClusterModel } from '../../../src/scheduling/cluster.ts';
import type { PodShape } from '../../../src/scheduling/node-view.ts';
import { pointAt, ReplayMetrics, roundHalfEven } from '../../../src/simulator/metrics.ts';

const whole: PodShape = { cpuMilli: 0, memoryBytes: 0, gpuCount: 1, gpuMilli: 1000, gpuModels: [] };
const half: PodShape = { ...whole, gpuMilli: 500 };

function cluster() {
  return ClusterModel.fromNodes([
    {
      name: 'n',
      cpuMilli: 64_000,
      memoryBytes: 2 ** 38,
      gpus: Array.from({ length: 10 }, () => ({ model: 'T4' })),
    },
  ]);
}

describe('replay metrics', () => {
  it('rounds half to even', () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6, 3].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3, 3]);
  });

  it('averages the records of each 1% step, filling a gap from its neighbours', () => {
    const model = cluster();
    const metrics = new ReplayMetrics(model, { shapes: [{ shape: whole, weight: 1 }] });
    const n = model.nodes[0];
    if (n === undefined) throw new Error('no node');
    metrics.record(1000); // 10% arrived, 0 allocated
    model.allocate(n, whole, { gpus: [0], milli: 1000 }, 'a');
    metrics.nodeChanged(0);
    metrics.record(1040); // 10.4% → step 10, 10% allocated
    model.allocate(n, half, { gpus: [1], milli: 500 }, 'b');
    metrics.nodeChanged(0);
    metrics.record(1200); // step 12, 15% allocated; GPU 1 half used: 500 fragmented = 5%
    const series = metrics.series();
    expect(pointAt(series, 10)).toEqual({
      arrivedPct: 10,
      allocationPct: 5,
      fragmentationPct: 0,
      records: 2,
    });
    expect(pointAt(series, 12)).toEqual({
      arrivedPct: 12,
      allocationPct: 15,
      fragmentationPct: 5,
      records: 1,
    });
    // Step 11 has no record: the mean of steps 10–12 stands in.
    expect(pointAt(series, 11)?.allocationPct).toBeCloseTo(25 / 3, 12);
    expect(pointAt(series, 11)?.records).toBe(0);
    expect(pointAt(series, 0)).toBe(undefined);
    expect(metrics.fragmentedMilli).toBe(500);
  });
});
