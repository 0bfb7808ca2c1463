/**
 * Node compaction: keeps what the snapshot and the informer read, drops the rest, shares
 * allocatable and taints between nodes that have the same ones, and builds the same model.
 */
import { describe, expect, it } from 'vitest';
import { NodeCompactor, type NodeLike } from '../../../src/kube/node-compaction.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import { buildSnapshot } from '../../../src/scheduling/snapshot.ts';

function kubeletNode(name: string, rack: string, extra: Partial<NodeLike['spec']> = {}) {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: '42',
      creationTimestamp: '2026-11-02T17:38:12Z',
      labels: {
        'kubernetes.io/hostname': name,
        'topology.phalanx.dev/rack': rack,
        'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      managedFields: [{ manager: 'kubelet' }],
    },
    spec: {
      podCIDR: '10.0.0.0/24',
      taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      ...extra,
    },
    status: {
      allocatable: { cpu: '96', memory: '1Ti', pods: '110' },
      capacity: { cpu: '96', memory: '1Ti', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
      images: [{ names: ['registry.k8s.io/pause:3.10'], sizeBytes: 320_000 }],
      nodeInfo: { kubeletVersion: 'v1.36.0' },
    },
  };
}

const parsed = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function objects(nodes: ClusterObjects['nodes']): ClusterObjects {
  return {
    nodes,
    slices: [],
    claims: [],
    templates: [],
    pods: [],
    namespaces: new Map(),
    podGroups: [],
    queues: [],
  };
}

describe('NodeCompactor', () => {
  it('keeps name, uid, resourceVersion, labels, taints, cordon and allocatable only', () => {
    const c = new NodeCompactor();
    const n = c.compact(parsed(kubeletNode('node-a', 'r1', { unschedulable: true })));
    expect(n).toEqual({
      metadata: {
        name: 'node-a',
        uid: 'uid-node-a',
        resourceVersion: '42',
        labels: {
          'kubernetes.io/hostname': 'node-a',
          'topology.phalanx.dev/rack': 'r1',
          'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
        },
      },
      spec: {
        unschedulable: true,
        taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      },
      status: { allocatable: { cpu: '96', memory: '1Ti', pods: '110' } },
    });
    expect(c.compact(n)).toBe(n);
    expect(c.compact({ metadata: { name: 'bare' } })).toEqual({ metadata: { name: 'bare' } });
  });

  it('shares allocatable and taints between nodes that have the same ones', () => {
    const c = new NodeCompactor();
    const a = c.compact(parsed(kubeletNode('node-a', 'r1')));
    const b = c.compact(parsed(kubeletNode('node-b', 'r2')));
    const other = parsed(kubeletNode('node-c', 'r2'));
    other.status.allocatable.cpu = '48';
    const d = c.compact(other);
    expect(b.status?.allocatable).toBe(a.status?.allocatable);
    expect(b.spec?.taints).toBe(a.spec?.taints);
    expect(d.status?.allocatable).not.toBe(a.status?.allocatable);
    expect(d.status?.allocatable?.cpu).toBe('48');
    expect(Object.isFrozen(a.status?.allocatable)).toBe(true);
    // Values seen on three nodes are held once; node names and racks are values too.
    expect(c.labelValues).toBe(6);
  });

  it('builds the same model as the nodes as received', () => {
    const c = new NodeCompactor();
    const full = ['node-a', 'node-b', 'node-c'].map((name, i) =>
      parsed(kubeletNode(name, `r${i % 2}`, i === 2 ? { unschedulable: true } : {})),
    );
    const view = (o: ClusterObjects) => {
      const s = buildSnapshot(o, { now: 0 });
      return {
        nodes: s.model.nodes.map((n) => ({
          name: n.name,
          labels: n.labels,
          cpu: n.cpuMilliTotal,
          memory: n.memoryBytesTotal,
          taints: n.taints,
          unschedulable: n.unschedulable,
        })),
        domains: s.tree
          .levelNames()
          .flatMap((_, depth) => s.tree.domainsAt(depth).map((d) => [d.key, [...d.nodes]])),
      };
    };
    expect(view(objects(full.map((n) => c.compact(parsed(n)))))).toEqual(view(objects(full)));
  });
});
