/**
 * The gang simulation: phalanx through the core's admission step, the fifo-first-fit baseline's
 * hold-and-wait (and deadlock), the invariants checked at every step, and the metrics.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeQueue } from '../../../src/api/scheduling/v1alpha1/queue.ts';
import { ClusterModel } from '../../../src/scheduling/cluster.ts';
import { MILLI_PER_GPU, type PodShape } from '../../../src/scheduling/node-view.ts';
import { buildGroups } from '../../../src/simulator/cluster-spec.ts';
import { delayStats, percentile } from '../../../src/simulator/gang-metrics.ts';
import { type GangRunResult, runGangSimulation } from '../../../src/simulator/gang-run.ts';
import type { GangWorkload, SimGang } from '../../../src/simulator/gang-workload.ts';
import { checkLedger, InvariantError } from '../../../src/simulator/invariants.ts';

const GiB = 2 ** 30;

function cluster(nodes: number, gpus = 8, perRack = nodes): GangWorkload['nodes'] {
  return buildGroups([
    {
      name: 'c',
      zone: undefined,
      blocks: Math.ceil(nodes / perRack),
      racksPerBlock: 1,
      nodesPerRack: perRack,
      node: {
        cpuMilli: 64_000,
        memoryBytes: 512 * GiB,
        gpus,
        model: 'H',
        shareable: true,
        nvlink: 'node',
      },
    },
  ]).slice(0, nodes);
}

const shape = (gpus: number, milli = MILLI_PER_GPU): PodShape => ({
  cpuMilli: 1000,
  memoryBytes: GiB,
  gpuCount: gpus,
  gpuMilli: gpus === 0 ? 0 : milli,
  gpuModels: [],
});

function gang(
  id: string,
  arrival: number,
  runtime: number,
  pods: number,
  gpus: number,
  extra: Partial<SimGang> = {},
): SimGang {
  return {
    id,
    queue: undefined,
    priority: 0,
    arrival,
    runtime,
    pods,
    shape: shape(gpus),
    required: undefined,
    preferred: undefined,
    ...extra,
  };
}

function workload(
  nodes: GangWorkload['nodes'],
  gangs: SimGang[],
  queues: GangWorkload['queues'] = [],
): GangWorkload {
  return {
    name: 'test',
    description: '',
    synthetic: undefined,
    seed: 1,
    nodes,
    queues,
    gangs: [...gangs].sort((a, b) => a.arrival - b.arrival),
  };
}

const run = (w: GangWorkload, scheduler: 'phalanx' | 'fifo-first-fit'): GangRunResult =>
  runGangSimulation(w, { scheduler, seed: 1, now: () => 0 });

const recordOf = (r: GangRunResult, id: string) => r.metrics.records.find((x) => x.id === id);

describe('fifo-first-fit', () => {
  it('holds placed pods while the rest of the gang waits (hold-and-wait)', () => {
    // Two 8-GPU nodes. X takes one until t=100; A (2 pods) arrives at 1 and can place one pod;
    // B (1 pod) arrives at 2 and would fit in the node A's first pod holds.
    const w = workload(cluster(2), [
      gang('x', 0, 100, 1, 8),
      gang('a', 1, 50, 2, 8),
      gang('b', 2, 10, 1, 8),
    ]);
    const fifo = run(w, 'fifo-first-fit');
    expect(fifo.metrics.partialGangsSeen).toBe(1);
    expect(fifo.metrics.maxPartialAtOnce).toBe(1);
    // A's first pod held 8 GPUs idle from t=1 until X finished at t=100.
    expect(fifo.metrics.partialHeldGpuSeconds).toBe(8 * 99);
    expect(recordOf(fifo, 'a')).toMatchObject({ start: 100, end: 150 });
    // B waits behind A's pods in arrival order: it starts when A finishes.
    expect(recordOf(fifo, 'b')).toMatchObject({ start: 150 });

    const phalanx = run(w, 'phalanx');
    expect(phalanx.metrics.partialGangsSeen).toBe(0);
    expect(phalanx.metrics.partialHeldGpuSeconds).toBe(0);
    // Phalanx holds nothing for A; A is first in line and blocked only by capacity, so the rack
    // that will hold it is reserved for it, and B does not jump ahead (no starvation of A).
    expect(recordOf(phalanx, 'a')).toMatchObject({ start: 100, end: 150 });
    expect(recordOf(phalanx, 'b')).toMatchObject({ start: 150 });
  });

  it('knows no topology: a gang lands on the first free nodes, across racks', () => {
    // Three racks of two nodes; three single-node gangs run until t=100 when A (2 x 8 GPUs,
    // preferring one rack) arrives. Phalanx packed the three into racks 0 and 1 and puts A in
    // rack 2; first fit gives A the free node of rack 1 and one of rack 2.
    const w = workload(cluster(6, 8, 2), [
      gang('x', 0, 100, 1, 8),
      gang('y', 0, 100, 1, 8),
      gang('z', 0, 100, 1, 8),
      gang('a', 1, 50, 2, 8, { preferred: 'rack' }),
    ]);
    const phalanx = run(w, 'phalanx');
    expect(recordOf(phalanx, 'a')).toMatchObject({ start: 1, nodes: 2, level: 'rack' });
    const fifo = run(w, 'fifo-first-fit');
    expect(recordOf(fifo, 'a')).toMatchObject({ start: 1, nodes: 2 });
    expect(recordOf(fifo, 'a')?.level).not.toBe('rack');
    expect(fifo.metrics.locality).toMatchObject({ multiNodeGangs: 1, withinRack: 0, rackRoom: 1 });
  });

  it('deadlocks when two gangs each hold what the other needs; phalanx runs both', () => {
    // X holds 4 GPUs of node 0 until t=50. A (2 x 8 GPUs) gets node 1 for its first pod; B
    // (3 x 4 GPUs) takes the other half of node 0, then, when X is done, the rest of it.
    const w = workload(cluster(2), [
      { ...gang('x', 0, 50, 1, 4) },
      gang('a', 1, 10, 2, 8),
      gang('b', 2, 10, 3, 4),
    ]);
    const fifo = run(w, 'fifo-first-fit');
    expect(fifo.metrics.neverStarted).toBe(2);
    expect(fifo.metrics.partialGangsSeen).toBe(2);
    expect(recordOf(fifo, 'a')?.start).toBeUndefined();
    expect(recordOf(fifo, 'b')?.start).toBeUndefined();

    const phalanx = run(w, 'phalanx');
    expect(phalanx.metrics.neverStarted).toBe(0);
    expect(phalanx.metrics.partialGangsSeen).toBe(0);
  });

  it('places each pod on the first node that fits', () => {
    const w = workload(cluster(3, 8), [gang('a', 0, 10, 3, 2)]);
    const fifo = run(w, 'fifo-first-fit');
    // Three 2-GPU pods all fit on node 0.
    expect(recordOf(fifo, 'a')).toMatchObject({ nodes: 1, level: 'node' });
  });
});

describe('phalanx in the gang simulation', () => {
  it('serves queues by weight while both wait, and keeps gangs in one rack', () => {
    const queues = ['a', 'b'].map((name, i) =>
      decodeQueue({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name },
        spec: { weight: i === 0 ? 3 : 1, quotas: [{ resource: 'gpu.phalanx.dev', nominal: 32 }] },
      }),
    );
    const gangs: SimGang[] = [];
    for (let i = 0; i < 40; i++) {
      gangs.push(gang(`a${i}`, 0, 100, 1, 8, { queue: 'a' }));
      gangs.push(gang(`b${i}`, 0, 100, 1, 8, { queue: 'b' }));
    }
    const result = run(workload(cluster(4), gangs, queues), 'phalanx');
    const [qa, qb] = result.metrics.queues;
    expect(qa?.weightShare).toBe(0.75);
    expect(qa?.contendedShare).toBeCloseTo(0.75, 1);
    expect(qb?.contendedShare).toBeCloseTo(0.25, 1);
    expect(result.metrics.contendedS).toBeGreaterThan(0);
  });

  it('places a multi-node gang in one rack when a rack has room', () => {
    const nodes = cluster(8, 8, 4); // two racks of four nodes
    const w = workload(nodes, [
      gang('small', 0, 1000, 1, 8),
      gang('wide', 1, 10, 3, 8, { preferred: 'rack' }),
    ]);
    const result = run(w, 'phalanx');
    expect(recordOf(result, 'wide')).toMatchObject({ nodes: 3, level: 'rack' });
    expect(result.metrics.locality).toMatchObject({
      multiNodeGangs: 1,
      withinRack: 1,
      rackRoom: 1,
      rackRoomWithinRack: 1,
    });
  });

  it('never starts a gang larger than any domain it may use, and says so in the counts', () => {
    const w = workload(cluster(2), [gang('huge', 0, 10, 3, 8), gang('ok', 0, 10, 1, 8)]);
    const result = run(w, 'phalanx');
    expect(result.metrics.neverStarted).toBe(1);
    expect(recordOf(result, 'ok')?.start).toBe(0);
  });
});

const gangArb = fc.record({
  arrival: fc.integer({ min: 0, max: 50 }),
  runtime: fc.integer({ min: 1, max: 40 }),
  pods: fc.integer({ min: 1, max: 4 }),
  gpus: fc.constantFrom(0, 1, 2, 4, 8),
  share: fc.option(fc.constantFrom(250, 500, 750), { nil: undefined }),
  queue: fc.constantFrom('a', 'b', undefined),
  preferred: fc.constantFrom('rack', undefined),
});

describe('invariants on random small workloads', () => {
  it('hold at every step for both schedulers; phalanx never leaves a partial gang', () => {
    const queues = ['a', 'b'].map((name) =>
      decodeQueue({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name },
        spec: { cohort: 'c', quotas: [{ resource: 'gpu.phalanx.dev', nominal: 12 }] },
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(gangArb, { minLength: 1, maxLength: 25 }),
        (nodeCount, specs) => {
          const gangs = specs.map((s, i) => {
            const g = gang(`g${i}`, s.arrival, s.runtime, s.pods, s.gpus, {
              queue: s.queue,
              preferred: s.preferred,
            });
            return s.share !== undefined && s.gpus === 1 ? { ...g, shape: shape(1, s.share) } : g;
          });
          const w = workload(cluster(nodeCount, 4, 2), gangs, queues);
          const phalanx = run(w, 'phalanx');
          const fifo = run(w, 'fifo-first-fit');
          expect(phalanx.metrics.partialGangsSeen).toBe(0);
          expect(phalanx.invariantChecks).toBeGreaterThan(0);
          expect(fifo.invariantChecks).toBeGreaterThan(0);
          // Every gang that fits the empty cluster eventually runs under phalanx.
          for (const r of phalanx.metrics.records) {
            if (r.start !== undefined)
              expect(r.end).toBe((r.start ?? 0) + (gangs.find((g) => g.id === r.id)?.runtime ?? 0));
          }
          expect(phalanx.metrics.started + phalanx.metrics.neverStarted).toBe(gangs.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('catch a ledger that does not match its allocations', () => {
    const model = ClusterModel.fromNodes(cluster(1, 2));
    const node = model.nodes[0];
    if (node === undefined) throw new Error('no node');
    const id = model.allocate(node, shape(1), { gpus: [0], milli: MILLI_PER_GPU }, 'g#0');
    expect(() => checkLedger(model, new Map([['g', [id]]]), 'test')).not.toThrow();
    // An allocation nobody claims: a gang holds what it should not.
    expect(() => checkLedger(model, new Map(), 'test')).toThrow(InvariantError);
    // Claimed by the wrong gang.
    expect(() => checkLedger(model, new Map([['h', [id]]]), 'test')).toThrow(
      /gang h should hold allocation/,
    );
    // The node's numbers drift from the allocations.
    node.cpuMilliFree -= 1;
    expect(() => checkLedger(model, new Map([['g', [id]]]), 'at t')).toThrow(
      /at t: node c-b0-r0-n0 shows/,
    );
  });
});

describe('metrics', () => {
  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 95)).toBe(4);
    expect(percentile([], 50)).toBe(0);
    expect(delayStats([0, 10, 20])).toEqual({ gangs: 3, meanS: 10, p50S: 10, p95S: 20 });
  });

  it('measures makespan, utilisation and a series over the run', () => {
    const w = workload(cluster(1, 8), [gang('a', 0, 100, 1, 8), gang('b', 100, 100, 1, 4)]);
    const m = run(w, 'phalanx').metrics;
    expect(m.makespanS).toBe(200);
    // 8 GPUs for 100 s, then 4 for 100 s, of 8 GPUs over 200 s.
    expect(m.meanUtilisationPct).toBeCloseTo(75, 6);
    expect(m.utilisation[0]?.pct).toBeCloseTo(100, 6);
    expect(m.utilisation.at(-1)?.pct).toBeCloseTo(50, 6);
    expect(m.peak.pct).toBe(100);
    expect(m.peak.nodes[0]).toMatchObject({ gpus: 8, gpuMilliUsed: 8000 });
  });
});
