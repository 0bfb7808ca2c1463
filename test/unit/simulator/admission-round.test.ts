/**
 * The two additions the gang simulation brought to the core's admission round: a failed
 * placement search stands for later gangs that need at least as much, and the order follows
 * usage as the round admits.
 */
import { describe, expect, it } from 'vitest';
import { decodeQueue } from '../../../src/api/scheduling/v1alpha1/queue.ts';
import { admitRound, type GangCandidate } from '../../../src/scheduling/admission.ts';
import { ClusterModel } from '../../../src/scheduling/cluster.ts';
import {
  type GangPlan,
  GangPlanner,
  type GangRequest,
  type GangWait,
} from '../../../src/scheduling/gang.ts';
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

class CountingPlanner extends GangPlanner {
  calls = 0;
  override plan(gang: GangRequest): GangPlan | GangWait {
    this.calls++;
    return super.plan(gang);
  }
}

function setup(nodes: number, queues: { name: string; weight: number }[] = []) {
  const model = ClusterModel.fromNodes(
    Array.from({ length: nodes }, (_, i) => ({
      name: `n${i}`,
      cpuMilli: 64_000,
      memoryBytes: 512 * GiB,
      gpus: Array.from({ length: 8 }, () => ({ model: 'H100', shareable: false })),
    })),
  );
  const tree = new TopologyTree(model.nodes);
  const ctx = { random: () => 0.5, maxCpuMilli: 64_000, maxMemoryBytes: 512 * GiB, maxGpuCount: 8 };
  const planner = new CountingPlanner(model, tree, policyByName('best-fit'), ctx);
  const book = new QueueBook(
    queues.map((q) =>
      decodeQueue({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: q.name },
        spec: { weight: q.weight, quotas: [{ resource: 'gpu.phalanx.dev', nominal: nodes * 8 }] },
      }),
    ),
  );
  return { model, tree, planner, book };
}

function candidate(
  id: string,
  pods: number,
  gpus: number,
  extra: Partial<GangCandidate> = {},
): GangCandidate {
  return {
    id,
    queue: undefined,
    priority: 0,
    createdAt: 0,
    size: pods,
    present: pods,
    request: {
      id,
      members: Array.from({ length: pods }, (_, i) => ({ id: `${id}-${i}`, shape: shape(gpus) })),
    },
    demand: new Map([['gpu.phalanx.dev', pods * gpus]]),
    ...extra,
  };
}

describe('admitRound over many waiting gangs', () => {
  it('searches once for gangs of one shape that cannot fit, and still tries smaller ones', () => {
    const s = setup(2);
    const big = Array.from({ length: 50 }, (_, i) =>
      candidate(`big-${String(i).padStart(2, '0')}`, 3, 8, { createdAt: i }),
    );
    const small = candidate('small', 2, 8, { createdAt: 100 });
    const result = admitRound(s, [...big, small]);
    // One search for big-00 (it fails), none for the 49 others, one for the smaller gang.
    expect(s.planner.calls).toBe(2);
    const waiting = result.filter((a) => a.kind === 'waiting');
    expect(waiting).toHaveLength(50);
    expect(waiting[1]?.kind === 'waiting' && waiting[1].reason).toMatch(
      /^gang big-01: no room for its 3 pods; gang big-00, earlier in queue order with the same pods and 3 of them, does not fit either \(gang big-00: /,
    );
    expect(result.find((a) => a.gang.id === 'small')?.kind).toBe('planned');
  });

  it('searches again for gangs whose node constraints differ and carry no key', () => {
    const s = setup(2);
    const constrained = (id: string, n: number) =>
      candidate(id, 3, 8, {
        request: { ...candidate(id, 3, 8).request, allowed: (node) => node.ordinal !== n },
      });
    admitRound(s, [constrained('a', 0), constrained('b', 1)]);
    expect(s.planner.calls).toBe(2);
    const keyed = setup(2);
    admitRound(keyed, [
      { ...constrained('a', 0), constraintKey: 'same' },
      { ...constrained('b', 0), constraintKey: 'same' },
    ]);
    expect(keyed.planner.calls).toBe(1);
  });

  it('orders again as it admits, so one round serves queues by weight', () => {
    const s = setup(8, [
      { name: 'heavy', weight: 3 },
      { name: 'light', weight: 1 },
    ]);
    const gangs = ['heavy', 'light'].flatMap((queue) =>
      Array.from({ length: 8 }, (_, i) =>
        candidate(`${queue}-${i}`, 1, 8, { queue, createdAt: i }),
      ),
    );
    const admitted = admitRound(s, gangs)
      .filter((a) => a.kind === 'planned')
      .map((a) => a.gang.queue);
    expect(admitted).toHaveLength(8);
    expect(admitted.filter((q) => q === 'heavy')).toHaveLength(6);
    expect(admitted.filter((q) => q === 'light')).toHaveLength(2);
  });
});
