import { describe, expect, it } from 'vitest';
import { admitRound, type GangCandidate } from '../../../src/scheduling/admission.ts';
import { ClusterModel } from '../../../src/scheduling/cluster.ts';
import { type GangPlan, GangPlanner } from '../../../src/scheduling/gang.ts';
import type { PodShape } from '../../../src/scheduling/node-view.ts';
import { policyByName } from '../../../src/scheduling/policies/index.ts';
import { QueueBook } from '../../../src/scheduling/queues.ts';
import { TopologyTree } from '../../../src/scheduling/topology.ts';

const GiB = 2 ** 30;
const shape = (gpus: number): PodShape => ({
  cpuMilli: 1000,
  memoryBytes: GiB,
  gpuCount: gpus,
  gpuMilli: 1000,
  gpuModels: [],
});

function setup() {
  const model = ClusterModel.fromNodes(
    Array.from({ length: 4 }, (_, i) => ({
      name: `n${i}`,
      labels: { 'topology.phalanx.dev/rack': i < 2 ? 'r0' : 'r1' },
      cpuMilli: 64_000,
      memoryBytes: 512 * GiB,
      gpus: Array.from({ length: 8 }, () => ({ model: 'H100', shareable: false })),
    })),
  );
  const tree = new TopologyTree(model.nodes);
  const ctx = { random: () => 0.5, maxCpuMilli: 64_000, maxMemoryBytes: 512 * GiB, maxGpuCount: 8 };
  const planner = new GangPlanner(model, tree, policyByName('best-fit'), ctx);
  return { model, tree, planner, book: new QueueBook() };
}

function candidate(id: string, pods: number, gpus: number, createdAt: number): GangCandidate {
  return {
    id,
    queue: undefined,
    priority: 0,
    createdAt,
    size: pods,
    present: pods,
    request: {
      id,
      members: Array.from({ length: pods }, (_, i) => ({ id: `${id}-${i}`, shape: shape(gpus) })),
      required: 'rack',
    },
    demand: new Map([['gpu.phalanx.dev', pods * gpus]]),
  };
}

describe('admitRound', () => {
  it('explains an incomplete gang and plans nothing for it', () => {
    const s = setup();
    const c = { ...candidate('g', 4, 1, 0), present: 3 };
    const [a] = admitRound(s, [c]);
    expect(a?.kind === 'waiting' && a.reason).toBe('gang g: 3/4 pods present; waiting for 1');
    expect(s.model.gpuMilliAllocated()).toBe(0);
  });

  it('admits a large gang within a bounded time while small gangs keep arriving', () => {
    const s = setup();
    // Every node starts 6/8 busy with gangs that end at ticks 2..5, so no rack has 16 GPUs free.
    const running: { plan: GangPlan; ends: number }[] = [];
    const warm = s.model.nodes.map((node, i) => {
      const c = candidate(`warm-${i}`, 1, 6, 0);
      return {
        ...c,
        request: { ...c.request, allowed: (n: { ordinal: number }) => n.ordinal === node.ordinal },
      };
    });
    for (const a of admitRound(s, warm)) {
      if (a.kind === 'planned')
        running.push({ plan: a.plan, ends: 2 + Number(a.gang.id.split('-')[1]) });
    }
    expect(running).toHaveLength(4);
    // The big gang needs a whole rack (2 nodes x 8 GPUs); seven 1-GPU gangs arrive every tick.
    const admittedAt = runTicks(s, running, candidate('big', 2, 8, 1), 40);
    // Without the reservation the arriving 1-GPU gangs take every GPU freed in either rack and the
    // big gang never gets a rack; with it, the rack it waits for takes no new gangs and frees up
    // when the work already there ends (tick 5 at the latest).
    expect(admittedAt).toBeDefined();
    expect(admittedAt).toBeLessThanOrEqual(6);
  });
});

type Setup = ReturnType<typeof setup>;

/** Ticks until `big` is admitted (undefined: not within `ticks`); small gangs run 4 ticks. */
function runTicks(
  s: Setup,
  running: { plan: GangPlan; ends: number }[],
  big: GangCandidate,
  ticks: number,
): number | undefined {
  const pending: GangCandidate[] = [big];
  for (let t = 1; t <= ticks; t++) {
    for (const r of running.filter((x) => x.ends <= t)) s.planner.release(r.plan);
    running.splice(0, running.length, ...running.filter((x) => x.ends > t));
    for (let k = 0; k < 7; k++) pending.push(candidate(`small-${t}-${k}`, 1, 1, t + 1));
    for (const a of admitRound(s, pending)) {
      if (a.kind !== 'planned') continue;
      if (a.gang.id === big.id) return t;
      pending.splice(pending.indexOf(a.gang), 1);
      running.push({ plan: a.plan, ends: t + 4 });
    }
  }
  return undefined;
}
