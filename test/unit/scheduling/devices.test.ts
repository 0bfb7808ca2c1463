/**
 * Device requests in the ledger: partitions through shared counters, DeviceClass and claim CEL
 * selectors, matchAttribute constraints, quota keys, and the planner placing a gang of
 * partition pods, all on slices from the driver's own slice builder.
 */
import { describe, expect, it } from 'vitest';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import { SliceCompactor } from '../../../src/kube/slice-compaction.ts';
import { fitCount } from '../../../src/scheduling/gang.ts';
import { planRound } from '../../../src/scheduling/planner.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import { buildSnapshot, claimSpecs } from '../../../src/scheduling/snapshot.ts';
import {
  type ClaimSpecObject,
  claimDeviceRequests,
  type DeviceClassObject,
  type PodObject,
  podDemand,
} from '../../../src/scheduling/workload.ts';

const DRIVER = 'gpu.phalanx.dev';

function cls(name: string, ...extra: string[]): DeviceClassObject {
  const expression = [`device.driver == "${DRIVER}"`, ...extra].join(' && ');
  return { metadata: { name }, spec: { selectors: [{ cel: { expression } }] } };
}

const CLASSES: DeviceClassObject[] = [
  cls(DRIVER, `device.attributes["${DRIVER}"].type == "gpu"`),
  cls(`partition.${DRIVER}`, `device.attributes["${DRIVER}"].type == "partition"`),
  cls(
    `1g.10gb.partition.${DRIVER}`,
    `device.attributes["${DRIVER}"].type == "partition"`,
    `device.attributes["${DRIVER}"].profile == "1g.10gb"`,
  ),
  {
    metadata: { name: 'nic.example.com' },
    spec: { selectors: [{ cel: { expression: 'device.driver == "nic.example.com"' } }] },
  },
];

function slicesOf(node: string, profile: string) {
  return buildPoolSlices(new FakeGpuBackend(node, { profile }).inventory(), {
    driverName: DRIVER,
    nodeName: node,
    nodeUid: `uid-${node}`,
    layout: 'split',
    taintUnhealthy: true,
    serverMinor: 36,
  });
}

function objects(
  nodes: Record<string, string>,
  templates: Record<string, ClaimSpecObject>,
  pods: PodObject[] = [],
): ClusterObjects {
  return {
    nodes: Object.keys(nodes).map((name) => ({
      metadata: { name, labels: { 'topology.phalanx.dev/rack': 'r1' } },
      status: { allocatable: { cpu: '256', memory: '2Ti' } },
    })),
    slices: Object.entries(nodes).flatMap(([n, p]) => slicesOf(n, p)),
    claims: [],
    templates: Object.entries(templates).map(([name, spec]) => ({
      metadata: { name, namespace: 'ml' },
      spec: { spec },
    })),
    pods,
    namespaces: new Map(),
    podGroups: [],
    queues: [],
    deviceClasses: CLASSES,
  };
}

function pod(name: string, template: string, labels: Record<string, string> = {}): PodObject {
  return {
    metadata: {
      name,
      namespace: 'ml',
      uid: `uid-${name}`,
      labels,
      creationTimestamp: '2026-11-21T00:00:00Z',
    },
    spec: {
      schedulingGates:
        labels['phalanx.dev/gang'] === undefined ? [] : [{ name: 'phalanx.dev/gang-planner' }],
      containers: [{ name: 'main', resources: { requests: { cpu: '1' } } }],
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: template }],
    },
  };
}

const request = (
  deviceClassName: string,
  count = 1,
  selectors: string[] = [],
  name = 'r',
): NonNullable<NonNullable<ClaimSpecObject['devices']>['requests']>[number] => ({
  name,
  exactly: {
    deviceClassName,
    count,
    ...(selectors.length === 0
      ? {}
      : { selectors: selectors.map((expression) => ({ cel: { expression } })) }),
  },
});

const ONE_G = `1g.10gb.partition.${DRIVER}`;

function shapeOf(o: ClusterObjects, p: PodObject) {
  const demand = podDemand(p, claimSpecs(o));
  if (!('shape' in demand)) throw new Error(demand.unsupported);
  return demand.shape;
}

describe('device requests in the ledger', () => {
  it('counts MIG-like partitions through the shared counters: 7 of 1g.10gb per GPU, then no whole GPU', () => {
    const o = objects(
      { a: 'sxm8-80g' },
      {
        small: { devices: { requests: [request(ONE_G)] } },
        whole: { devices: { requests: [request(DRIVER)] } },
      },
    );
    const snap = buildSnapshot(o, { now: 0 });
    const node = snap.model.node('a');
    if (node === undefined) throw new Error('node a missing');
    const small = shapeOf(o, pod('p', 'small'));
    expect(small.gpuCount).toBe(0);
    expect(small.devices?.[0]?.requests[0]?.deviceClass).toBe(ONE_G);
    // 8 GPUs × 7 compute slices: 56 partitions of 1g.10gb.
    expect(fitCount(node, small)).toBe(56);
    // One partition is placed on the first GPU; the best fit keeps the other seven whole.
    snap.model.allocate(node, small, { gpus: [], milli: 0 }, 'p0');
    const whole = shapeOf(o, pod('w', 'whole'));
    expect(whole.gpuCount).toBe(1);
    expect(fitCount(node, whole)).toBe(7);
    // A second partition goes to the same GPU, not to a whole one.
    snap.model.allocate(node, small, { gpus: [], milli: 0 }, 'p1');
    expect(fitCount(node, whole)).toBe(7);
    expect(node.gpuFreeMilli(0)).toBeLessThan(1000);
    expect(node.gpusWholeFree).toBe(7);
  });

  it('evaluates DeviceClass and claim selectors with CEL (product, memory capacity)', () => {
    const o = objects(
      { sxm: 'sxm8-80g', pcie: 'pcie4-48g' },
      {
        big: {
          devices: {
            requests: [
              request(DRIVER, 2, [
                `device.capacity["${DRIVER}"].memory.compareTo(quantity("64Gi")) >= 0`,
              ]),
            ],
          },
        },
        pcieOnly: {
          devices: {
            requests: [
              request(DRIVER, 1, [`device.attributes["${DRIVER}"].productName.contains("L40S")`]),
            ],
          },
        },
      },
    );
    const snap = buildSnapshot(o, { now: 0 });
    const [sxm, pcie] = [snap.model.node('sxm'), snap.model.node('pcie')];
    if (sxm === undefined || pcie === undefined) throw new Error('nodes missing');
    const big = shapeOf(o, pod('b', 'big'));
    expect(sxm.canHold(big)).toBe(true);
    expect(pcie.canHold(big)).toBe(false);
    const pcieOnly = shapeOf(o, pod('c', 'pcieOnly'));
    expect(pcie.canHold(pcieOnly)).toBe(true);
    expect(sxm.canHold(pcieOnly)).toBe(false);
  });

  it('keeps matchAttribute groups together: two GPUs on one PCIe root', () => {
    const pcieRoot = 'resource.kubernetes.io/pcieRoot';
    const o = objects(
      { n: 'pcie4-48g' },
      {
        one: { devices: { requests: [request(DRIVER, 1, ['true'])] } },
        pair: {
          devices: {
            requests: [request(DRIVER, 2, [], 'g')],
            constraints: [{ requests: ['g'], matchAttribute: pcieRoot }],
          },
        },
        loosePair: { devices: { requests: [request(DRIVER, 2, [`true`], 'g')] } },
      },
    );
    const snap = buildSnapshot(o, { now: 0 });
    const node = snap.model.node('n');
    if (node === undefined) throw new Error('node missing');
    const pair = shapeOf(o, pod('p', 'pair'));
    expect(fitCount(node, pair)).toBe(2);
    const id = snap.model.allocate(node, pair, { gpus: [], milli: 0 }, 'pair');
    const devices = snap.model.allocation(id)?.devices ?? [];
    const roots = devices.map((i) => node.devices[i]?.cel?.attributes[pcieRoot]?.string);
    expect(roots).toHaveLength(2);
    expect(roots[0]).toBe(roots[1]);
    snap.model.release(id);
    // One GPU taken on each island: two GPUs are free, but never on one root.
    const one = shapeOf(o, pod('o', 'one'));
    const islands = new Map<string, number>();
    for (const [i, d] of node.devices.entries()) {
      const root = d.cel?.attributes[pcieRoot]?.string ?? '';
      if (!islands.has(root)) islands.set(root, i);
    }
    expect(islands.size).toBe(2);
    for (const i of islands.values()) {
      snap.model.allocate(node, one, { gpus: [], milli: 0, devices: [i] }, `one-${i}`);
    }
    expect(node.canHold(pair)).toBe(false);
    expect(node.canHold(shapeOf(o, pod('l', 'loosePair')))).toBe(true);
  });

  it('keeps matchAttribute on identity attributes exact although the cache blanks their values', () => {
    const nvlink = {
      devices: {
        requests: [request(DRIVER, 4, [], 'g')],
        constraints: [{ requests: ['g'], matchAttribute: `${DRIVER}/nvlinkDomain` }],
      },
    };
    const sameGpu = {
      devices: {
        requests: [request(`partition.${DRIVER}`, 2, [], 'p')],
        constraints: [{ matchAttribute: `${DRIVER}/parentUUID` }],
      },
    };
    const raw = objects({ sxm: 'sxm8-80g', pcie: 'pcie4-48g' }, { nvlink, sameGpu });
    const compactor = new SliceCompactor();
    for (const o of [raw, { ...raw, slices: raw.slices.map((x) => compactor.compact(x)) }]) {
      const snap = buildSnapshot(o, { now: 0 });
      const [sxm, pcie] = [snap.model.node('sxm'), snap.model.node('pcie')];
      if (sxm === undefined || pcie === undefined) throw new Error('nodes missing');
      const four = shapeOf(o, pod('n', 'nvlink'));
      // One NVLink domain per SXM node: two such claims fit; PCIe GPUs have no NVLink domain.
      expect(fitCount(sxm, four)).toBe(2);
      expect(pcie.canHold(four)).toBe(false);
      // Two partitions of one parent GPU: both on the same GPU.
      const pair = shapeOf(o, pod('s', 'sameGpu'));
      const id = snap.model.allocate(sxm, pair, { gpus: [], milli: 0 }, 'pair');
      const gpus = (snap.model.allocation(id)?.devices ?? []).map((i) => sxm.devices[i]?.gpu);
      expect(gpus).toHaveLength(2);
      expect(gpus[0]).toBe(gpus[1]);
    }
  });

  it('refuses device picks that are not free and never overcommits a counter', () => {
    const o = objects({ a: 'sxm8-80g' }, { small: { devices: { requests: [request(ONE_G)] } } });
    const snap = buildSnapshot(o, { now: 0 });
    const node = snap.model.node('a');
    if (node === undefined) throw new Error('node missing');
    const small = shapeOf(o, pod('p', 'small'));
    const id = snap.model.allocate(node, small, { gpus: [], milli: 0 }, 'first');
    const taken = snap.model.allocation(id)?.devices ?? [];
    expect(() =>
      snap.model.allocate(node, small, { gpus: [], milli: 0, devices: taken }, 'second'),
    ).toThrow(/is not free/);
    // The whole GPU device of the partitioned GPU shares its counters: not free either.
    const gpu = node.devices[taken[0] ?? -1]?.gpu;
    const wholeOfGpu = node.devices.findIndex((d) => d.whole && d.gpu === gpu);
    expect(node.deviceAvailable(wholeOfGpu)).toBe(false);
  });

  it('counts requests against the class and the pinned partition profile for quotas', () => {
    const o = objects({ a: 'sxm8-80g' }, {});
    const specs = claimSpecs(o);
    expect(claimDeviceRequests({ devices: { requests: [request(ONE_G, 3)] } }, specs)).toEqual([
      { deviceClass: ONE_G, profile: '1g.10gb', count: 3 },
    ]);
    expect(
      claimDeviceRequests(
        {
          devices: {
            requests: [
              request(`partition.${DRIVER}`, 2, [
                `device.attributes["${DRIVER}"].profile == "3g.40gb"`,
              ]),
              request(DRIVER, 1),
              request('nic.example.com', 4),
            ],
          },
        },
        specs,
      ),
    ).toEqual([
      { deviceClass: `partition.${DRIVER}`, profile: '3g.40gb', count: 2 },
      { deviceClass: DRIVER, count: 1 },
    ]);
  });

  it('reports selectors that do not compile as the pod being unplannable, with the CEL message', () => {
    const o = objects(
      { a: 'sxm8-80g' },
      { bad: { devices: { requests: [request(DRIVER, 1, ['device.attributes['])] } } },
    );
    const demand = podDemand(pod('x', 'bad'), claimSpecs(o));
    expect(demand).toEqual({
      unsupported: expect.stringMatching(/^claim gpu: CEL selector .* is invalid/),
    });
  });

  it('treats selectors on attributes the scheduler cache drops as matching, and ignores other drivers', () => {
    const o = objects(
      { a: 'sxm8-80g' },
      {
        byUuid: {
          devices: {
            requests: [request(DRIVER, 1, [`device.attributes["${DRIVER}"].uuid == "GPU-x"`])],
          },
        },
        nic: { devices: { requests: [request('nic.example.com', 1)] } },
      },
    );
    const snap = buildSnapshot(o, { now: 0 });
    const node = snap.model.node('a');
    if (node === undefined) throw new Error('node missing');
    expect(node.canHold(shapeOf(o, pod('u', 'byUuid')))).toBe(true);
    const nic = shapeOf(o, pod('n', 'nic'));
    expect(nic.devices).toBeUndefined();
    expect(nic.gpuCount).toBe(0);
  });

  it('plans a gang of partition pods whole and records the partitions against the queue', () => {
    const gang = { 'phalanx.dev/gang': 'tiny', 'phalanx.dev/gang-size': '4' };
    const o = objects(
      { a: 'sxm8-80g', b: 'sxm8-80g' },
      { small: { devices: { requests: [request(ONE_G)] } } },
      [0, 1, 2, 3].map((i) => pod(`tiny-${i}`, 'small', gang)),
    );
    const result = planRound(o, { now: Date.parse('2026-11-21T00:01:00Z') });
    const pins = result.writes.filter((w) => w.pinNode !== undefined);
    expect(pins).toHaveLength(4);
    // Best fit: every partition on one node.
    expect(new Set(pins.map((w) => w.pinNode)).size).toBe(1);
    const report = result.gangs.find((g) => g.key === 'ml/tiny');
    expect(report?.phase).toBe('Planned');
  });
});
