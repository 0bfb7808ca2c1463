import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/scheduling/cluster.ts';
import { acceptance, worstShareGap } from '../../../src/simulator/acceptance.ts';
import { type GangRunResult, runGangSimulation } from '../../../src/simulator/gang-run.ts';
import { parsePodCsv } from '../../../src/simulator/openb.ts';
import {
  compressionFor,
  gangOverlay,
  OVERLAY_LABEL,
  PHILLY_GANG_SIZES,
  windowLoad,
} from '../../../src/simulator/overlay.ts';

const GiB = 2 ** 30;

const nodes: NodeSpec[] = Array.from({ length: 16 }, (_, i) => ({
  name: `node-${String(i).padStart(2, '0')}`,
  cpuMilli: 96_000,
  memoryBytes: 512 * GiB,
  gpus: Array.from({ length: 8 }, () => ({ model: 'G2' })),
}));

/** A small trace: mostly one-GPU pods, some shares and CPU-only pods, times spread out. */
function trace(count: number): string {
  const lines = [
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
  ];
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    const gpu = kind < 6 ? '1,1000' : kind < 8 ? '1,460' : kind < 9 ? '0,0' : '8,1000';
    const created = 1000 + i * 37;
    lines.push(
      `pod-${String(i).padStart(4, '0')},4000,8192,${gpu},,LS,Running,${created},${created + 300 + (i % 7) * 600},${created}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const pods = parsePodCsv(trace(400), 'trace.csv');

describe('the synthetic gang overlay', () => {
  it('groups whole-GPU pods into Philly-sized gangs and keeps the pod count', () => {
    const { workload, stats } = gangOverlay(nodes, pods, { seed: 7, trace: 'toy', demand: 0 });
    expect(workload.synthetic).toBe(OVERLAY_LABEL);
    expect(workload.name).toBe(`toy (${OVERLAY_LABEL})`);
    const podCount = workload.gangs.reduce((s, g) => s + g.pods, 0);
    expect(podCount).toBe(400);
    expect(stats.absorbed).toBe(400 - workload.gangs.length);
    for (const g of workload.gangs) {
      expect(PHILLY_GANG_SIZES.values).toContain(g.pods);
      if (g.pods > 1) {
        expect(g.shape.gpuMilli).toBe(1000);
        expect(g.preferred).toBe('rack');
      }
      if (g.shape.gpuMilli < 1000) expect(g.pods).toBe(1);
      expect(['team-a', 'team-b', 'team-c']).toContain(g.queue);
    }
    expect(stats.multiPodGangs).toBeGreaterThan(0);
  });

  it('is seeded: the same seed gives the same gangs, another seed others', () => {
    const a = gangOverlay(nodes, pods, { seed: 1, trace: 'toy' }).workload;
    const b = gangOverlay(nodes, pods, { seed: 1, trace: 'toy' }).workload;
    const c = gangOverlay(nodes, pods, { seed: 2, trace: 'toy' }).workload;
    expect(a.gangs).toEqual(b.gangs);
    expect(c.gangs).not.toEqual(a.gangs);
  });

  it('tunes demand up by redraws and compresses arrivals to the offered load', () => {
    const { workload, stats } = gangOverlay(nodes, pods, {
      seed: 3,
      trace: 'toy',
      load: 0.9,
      demand: 2,
    });
    const gpus = workload.gangs.reduce(
      (s, g) => s + (g.shape.gpuMilli * g.shape.gpuCount * g.pods) / 1000,
      0,
    );
    // Shares count their fraction; the tuned trace asks for about twice the 128 GPUs.
    expect(gpus).toBeGreaterThan(1.5 * 128);
    const load = windowLoad(
      workload.gangs.map((g) => ({
        gpus: (g.shape.gpuMilli * (g.shape.gpuCount || 0) * g.pods) / 1000,
        runtime: g.runtime,
      })),
      128,
      stats.windowS,
    );
    expect(load).toBeCloseTo(0.9, 3);
    const last = workload.gangs.at(-1)?.arrival ?? 0;
    expect(last).toBeCloseTo(stats.windowS, 0);
    expect(workload.gangs[0]?.arrival).toBe(0);
  });

  it('finds no compression when the trace already offers the load', () => {
    const gangs = [{ gpus: 8, runtime: 1000 }];
    expect(compressionFor(gangs, 100, 4, 1)).toBe(1);
    expect(compressionFor(gangs, 10_000, 8, 0.5)).toBeCloseTo(10_000 / 2000, 3);
  });

  it('groups the openb nodes into racks of eight and blocks of eight racks', () => {
    const { workload } = gangOverlay(nodes, pods, { seed: 1, trace: 'toy' });
    expect(workload.nodes[7]?.labels?.['topology.phalanx.dev/rack']).toBe('rack-0000');
    expect(workload.nodes[8]?.labels?.['topology.phalanx.dev/rack']).toBe('rack-0001');
    expect(workload.queues.map((q) => q.spec.weight)).toEqual([3, 2, 1]);
  });

  it('needs creation and deletion times', () => {
    const short = parsePodCsv(
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,1000\n',
      's.csv',
    );
    expect(() => gangOverlay(nodes, short, { seed: 1, trace: 's' })).toThrow(
      /creation_time and deletion_time/,
    );
  });
});

describe('acceptance figures', () => {
  it('judges a phalanx run against the baseline on the same overlay', () => {
    const { workload } = gangOverlay(nodes, pods, { seed: 5, trace: 'toy', load: 1.2 });
    const phalanx: GangRunResult = runGangSimulation(workload, { scheduler: 'phalanx', seed: 5 });
    const fifo = runGangSimulation(workload, { scheduler: 'fifo-first-fit', seed: 5 });
    const a = acceptance(phalanx, fifo);
    expect(a.checks).toHaveLength(5);
    expect(a.figures.partialGangs).toBe(0);
    expect(a.checks[0]?.pass).toBe(true);
    expect(a.figures.delayReduction).toBeCloseTo(
      1 - phalanx.metrics.delay.meanS / fifo.metrics.delay.meanS,
      9,
    );
    expect(a.figures.makespanRatio).toBeCloseTo(
      phalanx.metrics.makespanS / fifo.metrics.makespanS,
      9,
    );
    expect(a.pass).toBe(a.checks.every((c) => c.pass));
    const gap = worstShareGap(phalanx);
    expect(Number.isNaN(gap) || gap >= 0).toBe(true);
  });
});
