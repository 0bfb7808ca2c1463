import { describe, expect, it } from 'vitest';
import { ClusterModel } from '../../../../src/scheduling/cluster.ts';
import {
  gpuUse,
  labelGrouping,
  type NodeOccupancy,
  nodeOccupancy,
  type OccupancySource,
  occupancyGroups,
} from '../../../../src/simulator/html/occupancy.ts';

function source(
  name: string,
  free: readonly number[],
  model = 'T4',
  labels: Record<string, string> = {},
): OccupancySource {
  return {
    name,
    gpuCount: free.length,
    gpuFreeMilli: (i) => free[i] ?? 0,
    gpuModel: () => model,
    labels,
  };
}

describe('nodeOccupancy', () => {
  it('sums the milli-GPU in use per node and keeps labels only when present', () => {
    const occ = nodeOccupancy([
      source('a', [1000, 250, 0, 1000]),
      source('b', [], 'T4', { 'topology.phalanx.dev/rack': 'r1' }),
    ]);
    expect(occ).toEqual([
      { name: 'a', model: 'T4', gpus: 4, gpuMilliUsed: 1750 },
      {
        name: 'b',
        model: '',
        gpus: 0,
        gpuMilliUsed: 0,
        labels: { 'topology.phalanx.dev/rack': 'r1' },
      },
    ]);
    expect(gpuUse(occ[0] as NodeOccupancy)).toBeCloseTo(0.4375);
    expect(gpuUse(occ[1] as NodeOccupancy)).toBeUndefined();
  });

  it('reads an idle model through its node views', () => {
    const model = ClusterModel.fromNodes([
      {
        name: 'n0',
        cpuMilli: 8000,
        memoryBytes: 2 ** 34,
        gpus: [{ model: 'V100' }, { model: 'V100' }],
      },
    ]);
    expect(nodeOccupancy(model.nodes)).toEqual([
      { name: 'n0', model: 'V100', gpus: 2, gpuMilliUsed: 0 },
    ]);
  });
});

describe('occupancyGroups', () => {
  const nodes = nodeOccupancy([
    source('n10', [0, 0, 0, 0, 0, 0, 0, 0], 'G2'),
    source('n2', [1000, 1000], 'T4'),
    source('n9', [500, 1000, 1000, 1000, 1000, 1000, 1000, 1000], 'G2'),
    source('n1', [0], 'T4'),
  ]);

  it('groups by GPU model without topology labels, largest nodes first then by name', () => {
    const groups = occupancyGroups(nodes);
    expect(groups.map((g) => g.label)).toEqual([
      'G2 · 2 nodes · 16 GPUs · 53.1% in use',
      'T4 · 2 nodes · 3 GPUs · 33.3% in use',
    ]);
    expect(groups[0]?.cells.map((c) => c.id)).toEqual(['n9', 'n10']);
    expect(groups[1]?.cells.map((c) => c.id)).toEqual(['n2', 'n1']);
    expect(groups[0]?.cells[1]).toEqual({
      id: 'n10',
      value: 1,
      detail: '8.00 of 8 GPUs in use (G2)',
    });
  });

  it('groups by block and rack labels when nodes carry them', () => {
    const labelled = nodeOccupancy([
      source('x', [0], 'T4', {
        'topology.phalanx.dev/block': 'b2',
        'topology.phalanx.dev/rack': 'r1',
      }),
      source('y', [1000], 'T4', {
        'topology.phalanx.dev/block': 'b1',
        'topology.phalanx.dev/rack': 'r10',
      }),
      source('z', [1000], 'T4', {
        'topology.phalanx.dev/block': 'b1',
        'topology.phalanx.dev/rack': 'r9',
      }),
      source('w', [1000], 'T4'),
    ]);
    const groups = occupancyGroups(labelled);
    expect(groups.map((g) => g.label.split(' · ')[0])).toEqual([
      '(unlabelled)',
      'b1/r9',
      'b1/r10',
      'b2/r1',
    ]);
  });

  it('takes a grouping of the caller', () => {
    const groups = occupancyGroups(nodes, (n) => (n.gpus > 4 ? 'big' : 'small'));
    expect(groups.map((g) => g.cells.length)).toEqual([2, 2]);
    expect(
      labelGrouping(['k'])({ name: 'a', model: '', gpus: 0, gpuMilliUsed: 0 }),
    ).toBeUndefined();
  });
});
