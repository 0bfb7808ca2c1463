/**
 * An in-memory cluster for the kubectl plugin's tests, built with the driver's own slice builder:
 *
 * - node-a, node-b: 8-GPU sxm8-80g nodes in zone-1, rack r1; node-c: a 4-GPU pcie4-48g node in
 *   zone-2 (no rack label).
 * - gang ml/train (labels, 2 pods, queue team-a): bound on node-a under one plan, GPUs gpu-0 and
 *   gpu-1 allocated.
 * - gang ml/big (labels, 3 pods of 8 GPUs, rack required, queue team-a): gated, with the
 *   planner's waiting reason written; rack r1 has 14 GPUs free, so it cannot be planned.
 * - gang ml/next (1 pod, queue team-a): planned on node-b and ungated, not bound (a reservation);
 *   kube-scheduler reported a FailedScheduling event for it.
 * - pod ml/tiny: no gang or queue, bound on node-b with one 1g.10gb partition allocated.
 * - Queues team-a (8 GPUs) and broken (invalid weight).
 */
import type { ResourceClaim } from '../../../src/api/resource/v1.ts';
import {
  ANNOTATION_PLAN,
  ANNOTATION_TOPOLOGY_REQUIRED,
  ANNOTATION_WAITING_REASON,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  SCHEDULING_GATE,
} from '../../../src/api/scheduling/labels.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import { run } from '../../../src/kubectl/main.ts';
import type { ClusterSource, EventObject } from '../../../src/kubectl/source.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import { encodePlan, type PodObject } from '../../../src/scheduling/workload.ts';

export const NOW = Date.parse('2025-06-01T12:00:00Z');
const CREATED = '2025-06-01T11:00:00Z';
export const BIG_REASON =
  'gang ml/big: no rack can hold all 3 pods (24 GPUs); the best, rack r1, has 14 free';

const NODES = [
  {
    name: 'node-a',
    profile: 'sxm8-80g',
    labels: { 'topology.kubernetes.io/zone': 'zone-1', 'topology.phalanx.dev/rack': 'r1' },
  },
  {
    name: 'node-b',
    profile: 'sxm8-80g',
    labels: { 'topology.kubernetes.io/zone': 'zone-1', 'topology.phalanx.dev/rack': 'r1' },
  },
  { name: 'node-c', profile: 'pcie4-48g', labels: { 'topology.kubernetes.io/zone': 'zone-2' } },
] as const;

function template(name: string, count: number) {
  return {
    metadata: { name, namespace: 'ml' },
    spec: {
      spec: {
        devices: {
          requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev', count } }],
        },
      },
    },
  };
}

function claim(
  name: string,
  node: string,
  devices: readonly string[],
  deviceClassName = 'gpu.phalanx.dev',
): ResourceClaim {
  return {
    metadata: { name, namespace: 'ml', uid: `uid-${name}` },
    spec: {
      devices: { requests: [{ name: 'gpu', exactly: { deviceClassName, count: devices.length } }] },
    },
    status: {
      allocation: {
        devices: {
          results: devices.map((device) => ({
            request: 'gpu',
            driver: 'gpu.phalanx.dev',
            pool: node,
            device,
          })),
        },
      },
    },
  };
}

interface PodOptions {
  readonly gang?: { name: string; size: number };
  readonly queue?: string;
  readonly node?: string;
  readonly gated?: boolean;
  readonly annotations?: Record<string, string>;
  readonly template?: string;
  readonly claim?: string;
}

function pod(name: string, o: PodOptions): PodObject {
  const labels: Record<string, string> = {};
  if (o.gang !== undefined) {
    labels[LABEL_GANG] = o.gang.name;
    labels[LABEL_GANG_SIZE] = String(o.gang.size);
  }
  if (o.queue !== undefined) labels[LABEL_QUEUE] = o.queue;
  const claimRef =
    o.template !== undefined
      ? { name: 'gpu', resourceClaimTemplateName: o.template }
      : o.claim === undefined
        ? undefined
        : { name: 'gpu', resourceClaimName: o.claim };
  return {
    metadata: {
      name,
      namespace: 'ml',
      uid: `uid-${name}`,
      creationTimestamp: CREATED,
      labels,
      annotations: o.annotations ?? {},
    },
    spec: {
      ...(o.node === undefined ? {} : { nodeName: o.node }),
      ...(o.gated === true ? { schedulingGates: [{ name: SCHEDULING_GATE }] } : {}),
      containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '1Gi' } } }],
      resourceClaims: claimRef === undefined ? [] : [claimRef],
    },
    status: {
      phase: o.node === undefined ? 'Pending' : 'Running',
      ...(o.claim === undefined
        ? {}
        : { resourceClaimStatuses: [{ name: 'gpu', resourceClaimName: o.claim }] }),
    },
  };
}

function plan(gang: string, node: string, level: string, domain: string): string {
  return encodePlan({
    gang,
    plan: `${gang.split('/')[1]}-p1`,
    node,
    level,
    domain,
    expires: '2025-06-01T12:05:00Z',
  });
}

export function fixtureObjects(): ClusterObjects {
  const slices = NODES.flatMap((n) =>
    buildPoolSlices(new FakeGpuBackend(n.name, { profile: n.profile }).inventory(), {
      driverName: 'gpu.phalanx.dev',
      nodeName: n.name,
      nodeUid: `uid-${n.name}`,
      layout: 'split',
      taintUnhealthy: true,
      serverMinor: 36,
    }),
  );
  const trainPlan = plan('ml/train', 'node-a', 'node', 'node-a');
  const big = { name: 'big', size: 3 };
  const bigNotes = {
    [ANNOTATION_TOPOLOGY_REQUIRED]: 'rack',
    [ANNOTATION_WAITING_REASON]: BIG_REASON,
  };
  return {
    nodes: NODES.map((n) => ({
      metadata: { name: n.name, labels: { ...n.labels } },
      status: { allocatable: { cpu: '64', memory: '512Gi' } },
    })),
    slices,
    claims: [
      claim('train-0-gpu', 'node-a', ['gpu-0']),
      claim('train-1-gpu', 'node-a', ['gpu-1']),
      claim('tiny-gpu', 'node-b', ['gpu-7-1g-10gb-0'], 'partition.gpu.phalanx.dev'),
    ],
    templates: [template('one-gpu', 1), template('eight-gpu', 8)],
    pods: [
      ...[0, 1].map((i) =>
        pod(`train-${i}`, {
          gang: { name: 'train', size: 2 },
          queue: 'team-a',
          node: 'node-a',
          template: 'one-gpu',
          claim: `train-${i}-gpu`,
          annotations: { [ANNOTATION_PLAN]: trainPlan },
        }),
      ),
      ...[0, 1, 2].map((i) =>
        pod(`big-${i}`, {
          gang: big,
          queue: 'team-a',
          gated: true,
          template: 'eight-gpu',
          annotations: bigNotes,
        }),
      ),
      pod('next-0', {
        gang: { name: 'next', size: 1 },
        queue: 'team-a',
        template: 'one-gpu',
        annotations: { [ANNOTATION_PLAN]: plan('ml/next', 'node-b', 'node', 'node-b') },
      }),
      pod('tiny', { node: 'node-b', claim: 'tiny-gpu' }),
    ],
    namespaces: new Map([['ml', {}]]),
    podGroups: [],
    queues: [
      {
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: 'team-a' },
        spec: { weight: 2, quotas: [{ resource: 'gpu.phalanx.dev', nominal: 8 }] },
      },
      {
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: 'broken' },
        spec: { weight: 0 },
      },
    ],
  };
}

export const NEXT_EVENT: EventObject = {
  type: 'Warning',
  reason: 'FailedScheduling',
  message:
    '0/3 nodes are available: 1 Insufficient cpu, 2 phalanx: gang ml/next planned this pod on node-b.',
  count: 2,
  lastTimestamp: '2025-06-01T11:59:00Z',
};

/** A ClusterSource over the fixture; `objects` may be replaced per test. */
export function fixtureSource(objects: ClusterObjects = fixtureObjects()): ClusterSource {
  return {
    defaultNamespace: 'ml',
    objects: async () => objects,
    events: async (_namespace, name, uid) =>
      name === 'next-0' && uid === 'uid-next-0' ? [NEXT_EVENT] : [],
  };
}

export interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI on a source (the fixture by default) and returns what it printed. */
export async function cli(
  argv: readonly string[],
  source: ClusterSource = fixtureSource(),
): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    now: () => NOW,
    connect: () => source,
  });
  return { code, stdout, stderr };
}

/** The rows of a printed table as cells (split on runs of 3+ spaces), header first. */
export function tableRows(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {3,}/));
}
