import { describe, expect, it } from 'vitest';
import type { ResourceClaim } from '../../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import { buildSnapshot } from '../../../src/scheduling/snapshot.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';

function cluster(
  minor: number,
  claims: ResourceClaim[] = [],
  pods: PodObject[] = [],
): ClusterObjects {
  const slices = ['n1', 'n2'].flatMap((name) =>
    buildPoolSlices(new FakeGpuBackend(name, { profile: 'sxm8-80g' }).inventory(), {
      driverName: 'gpu.phalanx.dev',
      nodeName: name,
      nodeUid: `uid-${name}`,
      layout: minor >= 35 ? 'split' : 'combined',
      taintUnhealthy: true,
      serverMinor: minor,
    }),
  );
  return {
    nodes: ['n1', 'n2'].map((name) => ({
      metadata: { name },
      status: { allocatable: { cpu: '32', memory: '256Gi' } },
    })),
    slices,
    claims,
    templates: [
      {
        metadata: { name: 'one-gpu', namespace: 'ml' },
        spec: {
          spec: {
            devices: { requests: [{ name: 'g', exactly: { deviceClassName: 'gpu.phalanx.dev' } }] },
          },
        },
      },
    ],
    pods,
    namespaces: new Map(),
    podGroups: [],
    queues: [],
  };
}

function claim(name: string, node: string, devices: string[]): ResourceClaim {
  return {
    metadata: { name, namespace: 'ml', uid: `uid-${name}` },
    spec: { devices: { requests: [] } },
    status: {
      allocation: {
        devices: {
          results: devices.map((device) => ({
            request: 'g',
            driver: 'gpu.phalanx.dev',
            pool: node,
            device,
          })),
        },
      },
    },
  };
}

describe('buildSnapshot', () => {
  it.each([34, 36])(
    'reads 8 GPUs and their partitions per node from the %s slice layout',
    (minor) => {
      const snap = buildSnapshot(cluster(minor), { now: 0 });
      const n1 = snap.model.node('n1');
      expect(n1?.gpuCount).toBe(8);
      expect(n1?.gpusWholeFree).toBe(8);
      expect(n1?.cpuMilliTotal).toBe(32_000);
      expect(snap.problems).toEqual([]);
      // The two nodes share one device table.
      expect(snap.model.node('n2')?.devices).toBe(n1?.devices);
    },
  );

  it('holds devices of allocated claims; a partition takes its whole GPU out of whole-GPU use', () => {
    const snap = buildSnapshot(
      cluster(36, [claim('a', 'n1', ['gpu-0']), claim('b', 'n1', ['gpu-1-1g-10gb-0'])]),
      { now: 0 },
    );
    const n1 = snap.model.node('n1');
    expect(n1?.gpusWholeFree).toBe(6);
    expect(n1?.gpuFreeMilli(0)).toBe(0);
    expect(n1?.gpuFreeMilli(1)).toBeGreaterThan(800);
    expect(n1?.gpuFreeMilli(1)).toBeLessThan(1000);
  });

  it('reports devices held twice instead of counting them twice', () => {
    const snap = buildSnapshot(
      cluster(36, [claim('a', 'n1', ['gpu-0']), claim('b', 'n1', ['gpu-0'])]),
      {
        now: 0,
      },
    );
    expect(snap.problems).toEqual(['claim ml/b: devices gpu-0 on n1 are unknown or already held']);
    expect(snap.model.node('n1')?.gpusWholeFree).toBe(7);
  });

  it('counts a bound pod once: by its allocated generated claim, not again by its template', () => {
    const pod: PodObject = {
      metadata: { name: 'p', namespace: 'ml', uid: 'p' },
      spec: {
        nodeName: 'n1',
        containers: [{ resources: { requests: { cpu: '2', memory: '4Gi' } } }],
        resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }],
      },
      status: {
        phase: 'Running',
        resourceClaimStatuses: [{ name: 'gpu', resourceClaimName: 'p-gpu-x' }],
      },
    };
    const snap = buildSnapshot(cluster(36, [claim('p-gpu-x', 'n1', ['gpu-3'])], [pod]), { now: 0 });
    const n1 = snap.model.node('n1');
    expect(n1?.gpusWholeFree).toBe(7);
    expect(n1?.cpuMilliFree).toBe(30_000);
    // Before the claim shows up allocated, the bound pod still holds one GPU (the claim update may trail).
    const early = buildSnapshot(cluster(36, [], [pod]), { now: 0 });
    expect(early.model.node('n1')?.gpusWholeFree).toBe(7);
  });

  it('skips pools that are missing slices, with a reason', () => {
    const objs = cluster(36);
    const n1Slices = objs.slices.filter((s) => s.spec.pool.name === 'n1');
    const partial = {
      ...objs,
      slices: [...objs.slices.filter((s) => s.spec.pool.name !== 'n1'), ...n1Slices.slice(1)],
    };
    if (n1Slices.length < 2) return;
    const snap = buildSnapshot(partial, { now: 0 });
    expect(snap.problems[0]).toMatch(/^pool n1: \d+ of \d+ slices present/);
    expect(snap.model.node('n1')?.gpuCount).toBe(0);
  });
});
