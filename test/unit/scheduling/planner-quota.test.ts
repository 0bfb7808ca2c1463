import { describe, expect, it } from 'vitest';
import type { ResourceClaim } from '../../../src/api/resource/v1.ts';
import {
  ANNOTATION_PLAN,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  SCHEDULING_GATE,
} from '../../../src/api/scheduling/labels.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import { planRound } from '../../../src/scheduling/planner.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import {
  type ClaimSpecs,
  encodePlan,
  type PodObject,
  podGpuRequest,
} from '../../../src/scheduling/workload.ts';

const NOW = Date.parse('2026-11-21T10:00:00Z');
const FOUR_GPUS = {
  devices: {
    requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.phalanx.dev', count: 4 } }],
  },
};

function pod(gang: string, i: number, size: number, queue: string): PodObject {
  return {
    metadata: {
      name: `${gang}-${i}`,
      namespace: 'ml',
      uid: `${gang}-uid-${i}`,
      creationTimestamp: '2026-11-21T09:00:00Z',
      labels: { [LABEL_GANG]: gang, [LABEL_GANG_SIZE]: String(size), [LABEL_QUEUE]: queue },
    },
    spec: {
      schedulingGates: [{ name: SCHEDULING_GATE }],
      containers: [{ name: 'c' }],
      resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: 'four-gpus' }],
    },
  };
}

/** A member as it looks once planned, bound and its generated claim allocated on `node`. */
function running(
  p: PodObject,
  node: string,
  firstGpu: number,
): { pod: PodObject; claim: ResourceClaim } {
  const claimName = `${p.metadata.name}-gpus-x`;
  const plan = encodePlan({
    gang: `ml/${p.metadata.labels?.[LABEL_GANG]}`,
    plan: 'p1',
    node,
    level: 'node',
    domain: node,
    expires: new Date(NOW + 300_000).toISOString(),
  });
  return {
    pod: {
      metadata: { ...p.metadata, annotations: { [ANNOTATION_PLAN]: plan } },
      spec: { ...p.spec, schedulingGates: [], nodeName: node },
      status: {
        phase: 'Pending',
        resourceClaimStatuses: [{ name: 'gpus', resourceClaimName: claimName }],
      },
    },
    claim: {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: claimName, namespace: 'ml', uid: `${claimName}-uid` },
      spec: FOUR_GPUS,
      status: {
        allocation: {
          devices: {
            results: [0, 1, 2, 3].map((k) => ({
              request: 'gpus',
              driver: 'gpu.phalanx.dev',
              pool: node,
              device: `gpu-${firstGpu + k}`,
            })),
          },
        },
      },
    } as ResourceClaim,
  };
}

function cluster(pods: PodObject[], claims: ResourceClaim[], queues: unknown[]): ClusterObjects {
  const names = ['n1', 'n2'];
  return {
    nodes: names.map((name) => ({
      metadata: { name, labels: {} },
      status: { allocatable: { cpu: '64', memory: '512Gi' } },
    })),
    slices: names.flatMap((name) =>
      buildPoolSlices(new FakeGpuBackend(name, { profile: 'sxm8-80g' }).inventory(), {
        driverName: 'gpu.phalanx.dev',
        nodeName: name,
        nodeUid: `uid-${name}`,
        layout: 'split',
        taintUnhealthy: true,
        serverMinor: 36,
      }),
    ),
    claims,
    templates: [{ metadata: { name: 'four-gpus', namespace: 'ml' }, spec: { spec: FOUR_GPUS } }],
    pods,
    namespaces: new Map([['ml', {}]]),
    podGroups: [],
    queues,
  };
}

const queue = (name: string, nominal: number, cohort?: string) => ({
  apiVersion: 'scheduling.phalanx.dev/v1alpha1',
  kind: 'Queue',
  metadata: { name },
  spec: {
    ...(cohort === undefined ? {} : { cohort }),
    quotas: [{ resource: 'gpu.phalanx.dev', nominal }],
  },
});

describe('queue usage of running gangs', () => {
  it('keeps counting a bound gang whose claims are allocated against its quota', () => {
    const first = [0, 1].map((i) => running(pod('one', i, 2, 'solo'), 'n1', 4 * i));
    const second = [0, 1].map((i) => pod('two', i, 2, 'solo'));
    const result = planRound(
      cluster(
        [...first.map((r) => r.pod), ...second],
        first.map((r) => r.claim),
        [queue('solo', 8)],
      ),
      { now: NOW },
    );
    expect(result.writes.some((w) => w.pinNode !== undefined)).toBe(false);
    const waiting = result.gangs.find((g) => g.key === 'ml/two');
    expect(waiting?.reason).toBe(
      'queue solo: gpu.phalanx.dev quota 8, in use 8, gang needs 8; it is in no cohort, so it cannot borrow',
    );
    expect(result.gangs.find((g) => g.key === 'ml/one')).toMatchObject({
      phase: 'Running',
      gpus: 8,
    });
    const status = result.queues.find((q) => q.name === 'solo')?.status as {
      usage: unknown[];
      admittedGangs: number;
      pendingGangs: number;
    };
    expect(status.usage).toEqual([{ resource: 'gpu.phalanx.dev', admitted: 8, borrowed: 0 }]);
    expect(status.admittedGangs).toBe(1);
    expect(status.pendingGangs).toBe(1);
  });

  it('reclaims lent quota from a running borrower whose claims are allocated', () => {
    // borrow (nominal 4) runs 12 GPUs, 8 of them lent by the idle queue lend.
    const borrower = [0, 1, 2].map((i) =>
      running(pod('b', i, 3, 'borrow'), i < 2 ? 'n1' : 'n2', i < 2 ? 4 * i : 0),
    );
    const lender = [0, 1].map((i) => pod('l', i, 2, 'lend'));
    const result = planRound(
      cluster(
        [...borrower.map((r) => r.pod), ...lender],
        borrower.map((r) => r.claim),
        [queue('lend', 8, 'c'), queue('borrow', 4, 'c')],
      ),
      { now: NOW },
    );
    expect(result.deletions.map((d) => d.name).sort()).toEqual(['b-0', 'b-1', 'b-2']);
    expect(result.writes.some((w) => w.pinNode !== undefined)).toBe(false);
  });
});

describe('podGpuRequest', () => {
  const specs: ClaimSpecs = {
    template: (_ns, name) => (name === 'four-gpus' ? FOUR_GPUS : undefined),
    claim: (_ns, name) => (name === 'shared' ? { spec: FOUR_GPUS, allocated: true } : undefined),
  };

  it('counts template claims per pod and a shared claim once', () => {
    const seen = new Set<string>();
    const p = pod('g', 0, 2, 'q');
    expect(podGpuRequest(p, specs, seen)).toBe(4);
    expect(podGpuRequest(pod('g', 1, 2, 'q'), specs, seen)).toBe(4);
    const sharing = (i: number): PodObject => ({
      metadata: { name: `s-${i}`, namespace: 'ml' },
      spec: { resourceClaims: [{ name: 'gpus', resourceClaimName: 'shared' }] },
    });
    expect(podGpuRequest(sharing(0), specs, seen)).toBe(4);
    expect(podGpuRequest(sharing(1), specs, seen)).toBe(0);
  });
});

describe('preemption within a queue', () => {
  const urgent = (i: number): PodObject => {
    const p = pod('urgent', i, 2, 'solo');
    return { ...p, spec: { ...p.spec, priority: 1000 } };
  };

  it('preempts a running lower-priority gang of the same queue whole for a higher-priority gang', () => {
    const low = [0, 1].map((i) => running(pod('low', i, 2, 'solo'), 'n1', 4 * i));
    const result = planRound(
      cluster(
        [...low.map((r) => r.pod), urgent(0), urgent(1)],
        low.map((r) => r.claim),
        [queue('solo', 8)],
      ),
      { now: NOW },
    );
    expect(result.deletions.map((d) => d.name).sort()).toEqual(['low-0', 'low-1']);
    expect(result.deletions[0]?.reason).toBe(
      'gang ml/urgent: priority 1000 outranks running gangs of queue solo; preempting whole gang ml/low (queue solo)',
    );
    expect(result.events.filter((e) => e.reason === 'GangPreempted')).toHaveLength(2);
  });

  it('never preempts for an equal priority, nor when the queue says withinQueue: Never', () => {
    const low = [0, 1].map((i) => running(pod('low', i, 2, 'solo'), 'n1', 4 * i));
    const peers = [0, 1].map((i) => pod('peer', i, 2, 'solo'));
    const equal = planRound(
      cluster(
        [...low.map((r) => r.pod), ...peers],
        low.map((r) => r.claim),
        [queue('solo', 8)],
      ),
      { now: NOW },
    );
    expect(equal.deletions).toEqual([]);
    const never = {
      ...queue('solo', 8),
      spec: { ...queue('solo', 8).spec, preemption: { withinQueue: 'Never' } },
    };
    const r = planRound(
      cluster(
        [...low.map((x) => x.pod), urgent(0), urgent(1)],
        low.map((x) => x.claim),
        [never],
      ),
      { now: NOW },
    );
    expect(r.deletions).toEqual([]);
    expect(r.gangs.find((g) => g.key === 'ml/urgent')?.reason).toMatch(
      /^queue solo: gpu.phalanx.dev quota 8, in use 8/,
    );
  });
});
