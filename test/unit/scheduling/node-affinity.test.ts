import { describe, expect, it } from 'vitest';
import {
  LABEL_GANG,
  LABEL_GANG_SIZE,
  SCHEDULING_GATE,
} from '../../../src/api/scheduling/labels.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import {
  type NodeSelectorTerm,
  type PodNodeConstraints,
  podSelectsNode,
} from '../../../src/scheduling/node-affinity.ts';
import { planRound } from '../../../src/scheduling/planner.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';

const gpuNode = { name: 'n1', labels: { pool: 'gpu', gen: '9', zone: 'a' } };

const required = (...terms: NodeSelectorTerm[]): PodNodeConstraints => ({
  affinity: {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  },
});

describe('podSelectsNode', () => {
  it('admits any node when the pod has no constraints', () => {
    expect(podSelectsNode(undefined, gpuNode)).toBe(true);
    expect(podSelectsNode({}, gpuNode)).toBe(true);
  });

  it('needs every nodeSelector label equal', () => {
    expect(podSelectsNode({ nodeSelector: { pool: 'gpu', zone: 'a' } }, gpuNode)).toBe(true);
    expect(podSelectsNode({ nodeSelector: { pool: 'gpu', zone: 'b' } }, gpuNode)).toBe(false);
    expect(podSelectsNode({ nodeSelector: { rack: 'r1' } }, gpuNode)).toBe(false);
  });

  it('applies each operator the way the scheduler does, absent labels included', () => {
    const holds = (key: string, operator: string, values?: string[]) =>
      podSelectsNode(
        required({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }),
        gpuNode,
      );
    expect(holds('pool', 'In', ['cpu', 'gpu'])).toBe(true);
    expect(holds('pool', 'In', ['cpu'])).toBe(false);
    expect(holds('rack', 'In', ['r1'])).toBe(false);
    expect(holds('pool', 'NotIn', ['gpu'])).toBe(false);
    expect(holds('rack', 'NotIn', ['r1'])).toBe(true);
    expect(holds('pool', 'Exists')).toBe(true);
    expect(holds('rack', 'Exists')).toBe(false);
    expect(holds('rack', 'DoesNotExist')).toBe(true);
    expect(holds('pool', 'DoesNotExist')).toBe(false);
    expect(holds('gen', 'Gt', ['8'])).toBe(true);
    expect(holds('gen', 'Gt', ['9'])).toBe(false);
    expect(holds('gen', 'Lt', ['10'])).toBe(true);
    expect(holds('pool', 'Gt', ['1'])).toBe(false);
    expect(holds('pool', 'Sideways', ['gpu'])).toBe(false);
  });

  it('ORs the terms, ANDs inside a term, matches fields on the node name, and no empty term', () => {
    const onN1 = { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] };
    const onN2 = { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] };
    const cpuPool = { matchExpressions: [{ key: 'pool', operator: 'In', values: ['cpu'] }] };
    expect(podSelectsNode(required(onN1), gpuNode)).toBe(true);
    expect(podSelectsNode(required(onN2), gpuNode)).toBe(false);
    expect(podSelectsNode(required(onN2, onN1), gpuNode)).toBe(true);
    expect(podSelectsNode(required({ ...onN1, ...cpuPool }), gpuNode)).toBe(false);
    expect(podSelectsNode(required({}), gpuNode)).toBe(false);
    // nodeSelector and affinity must both hold.
    expect(podSelectsNode({ ...required(onN1), nodeSelector: { pool: 'cpu' } }, gpuNode)).toBe(
      false,
    );
  });
});

describe('planRound with node constraints', () => {
  function cluster(pods: PodObject[]): ClusterObjects {
    const nodes = [
      { name: 'big', labels: {} },
      { name: 'picked', labels: { 'example.com/pool': 'mine' } },
    ];
    return {
      nodes: nodes.map((n) => ({
        metadata: { name: n.name, labels: n.labels },
        status: { allocatable: { cpu: '64', memory: '512Gi' } },
      })),
      slices: nodes.flatMap((n) =>
        buildPoolSlices(new FakeGpuBackend(n.name, { profile: 'sxm8-80g' }).inventory(), {
          driverName: 'gpu.phalanx.dev',
          nodeName: n.name,
          nodeUid: `uid-${n.name}`,
          layout: 'split',
          taintUnhealthy: true,
          serverMinor: 36,
        }),
      ),
      claims: [],
      templates: [
        {
          metadata: { name: 'one-gpu', namespace: 'ml' },
          spec: {
            spec: {
              devices: {
                requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev' } }],
              },
            },
          },
        },
      ],
      pods,
      namespaces: new Map([['ml', {}]]),
      podGroups: [],
      queues: [],
    };
  }

  function pod(i: number, selector: Record<string, string> | undefined): PodObject {
    return {
      metadata: {
        name: `g-${i}`,
        namespace: 'ml',
        uid: `g-uid-${i}`,
        creationTimestamp: '2026-11-21T09:00:00Z',
        labels: { [LABEL_GANG]: 'g', [LABEL_GANG_SIZE]: '4' },
      },
      spec: {
        schedulingGates: [{ name: SCHEDULING_GATE }],
        containers: [{ name: 'c' }],
        resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }],
        ...(selector === undefined ? {} : { nodeSelector: selector }),
      } as NonNullable<PodObject['spec']>,
    };
  }

  const pinned = (pods: PodObject[]) =>
    new Set(
      planRound(cluster(pods), { now: Date.parse('2026-11-21T10:00:00Z') }).writes.flatMap((w) =>
        w.pinNode === undefined ? [] : [w.pinNode],
      ),
    );

  it('plans a gang only on nodes its nodeSelector admits', () => {
    // Both nodes are empty and equal; best fit takes the first by name without the selector.
    expect(pinned([0, 1, 2, 3].map((i) => pod(i, undefined)))).toEqual(new Set(['big']));
    expect(pinned([0, 1, 2, 3].map((i) => pod(i, { 'example.com/pool': 'mine' })))).toEqual(
      new Set(['picked']),
    );
  });

  it('leaves a gang waiting when no node is admitted', () => {
    const pods = [0, 1, 2, 3].map((i) => pod(i, { 'example.com/pool': 'none' }));
    const result = planRound(cluster(pods), { now: Date.parse('2026-11-21T10:00:00Z') });
    expect(result.writes.some((w) => w.pinNode !== undefined)).toBe(false);
    expect(result.gangs.find((g) => g.key === 'ml/g')?.phase).toBe('Waiting');
  });
});
