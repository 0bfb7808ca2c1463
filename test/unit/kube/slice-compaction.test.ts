/**
 * ResourceSlice compaction: the snapshot built from compacted slices is the one built from the
 * slices as published (devices, counters, GPU models, taints, availability after claims), parts
 * are shared between nodes of one profile, the intern table stays within its bounds, and the
 * caches still follow adds, updates and deletes (through ClusterInformers and a paged list).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResourceClaim, ResourceSlice } from '../../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import {
  ApiListWatch,
  ClusterInformers,
  type KubeObject,
  type ListPage,
  type ListWatchSource,
  RESOURCES,
  type ResourceType,
} from '../../../src/kube/informer.ts';
import { KubeClient } from '../../../src/kube/rest.ts';
import {
  BLANKED_ATTRIBUTES,
  InternTable,
  SliceCompactor,
} from '../../../src/kube/slice-compaction.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { ClusterObjects, NodeObject } from '../../../src/scheduling/round-types.ts';
import { buildSnapshot, DRIVER, type Snapshot } from '../../../src/scheduling/snapshot.ts';

interface NodeFixture {
  readonly name: string;
  readonly profile: string;
  readonly unhealthy?: readonly number[];
  readonly serverMinor?: number;
}

function slicesOf(f: NodeFixture): ResourceSlice[] {
  const backend = new FakeGpuBackend(f.name, { profile: f.profile });
  for (const gpu of f.unhealthy ?? []) backend.setHealth(gpu, 'unhealthy', 'XID 79');
  const minor = f.serverMinor ?? 36;
  const slices = buildPoolSlices(backend.inventory(), {
    driverName: DRIVER,
    nodeName: f.name,
    nodeUid: `uid-${f.name}`,
    layout: minor >= 35 ? 'split' : 'combined',
    taintUnhealthy: true,
    serverMinor: minor,
  });
  // As listed: parsed from JSON, with server-set metadata.
  return (JSON.parse(JSON.stringify(slices)) as ResourceSlice[]).map((s, i) => ({
    ...s,
    metadata: {
      ...s.metadata,
      uid: `slice-${f.name}-${i}`,
      resourceVersion: '7',
      managedFields: [{ manager: 'phalanx' }],
    } as ResourceSlice['metadata'],
  }));
}

function nodeOf(name: string): NodeObject {
  return {
    metadata: { name, labels: { 'topology.phalanx.dev/rack': 'r1' } },
    status: { allocatable: { cpu: '64', memory: '512Gi' } },
  };
}

function objects(
  nodes: readonly NodeObject[],
  slices: readonly ResourceSlice[],
  claims: readonly ResourceClaim[] = [],
): ClusterObjects {
  return {
    nodes,
    slices,
    claims,
    templates: [],
    pods: [],
    namespaces: new Map(),
    podGroups: [],
    queues: [],
  };
}

function claim(name: string, pool: string, devices: readonly string[]): ResourceClaim {
  return {
    metadata: { name, namespace: 'team', uid: `uid-${name}` },
    status: {
      allocation: {
        devices: {
          results: devices.map((device) => ({ request: 'gpus', driver: DRIVER, pool, device })),
        },
      },
    },
  };
}

/** Everything the planner reads of the model, per node. */
function modelView(snapshot: Snapshot) {
  return snapshot.model.nodes.map((n) => ({
    name: n.name,
    gpuCount: n.gpuCount,
    gpusWholeFree: n.gpusWholeFree,
    models: Array.from({ length: n.gpuCount }, (_, g) => n.gpuModel(g)),
    gpuFree: Array.from({ length: n.gpuCount }, (_, g) => n.gpuFreeMilli(g)),
    devices: n.devices.map((d, i) => ({ ...d, available: n.deviceAvailable(i) })),
  }));
}

const FIXTURES: readonly NodeFixture[] = [
  { name: 'node-a', profile: 'sxm8-80g' },
  { name: 'node-b', profile: 'sxm8-80g' },
  { name: 'node-c', profile: 'sxm8-80g', unhealthy: [3] },
  { name: 'node-d', profile: 'pcie4-48g' },
  { name: 'node-e', profile: 'nvl4-rack' },
  { name: 'node-f', profile: 'sxm8-80g', serverMinor: 34 },
];

describe('SliceCompactor keeps what the snapshot reads', () => {
  const full = FIXTURES.flatMap(slicesOf);
  const nodes = FIXTURES.map((f) => nodeOf(f.name));

  it('builds the same model from compacted slices, before and after claims hold devices', () => {
    const compactor = new SliceCompactor();
    const compacted = full.map((s) => compactor.compact(s));
    const claims = [
      claim('whole', 'node-a', ['gpu-0', 'gpu-1']),
      claim('part', 'node-b', ['gpu-2-1g-10gb-0', 'gpu-2-3g-40gb-4']),
      claim('mixed', 'node-f', ['gpu-5', 'gpu-6-7g-80gb-0']),
      claim('pcie', 'node-d', ['gpu-1']),
    ];
    const settings = { now: 0 };
    const before = buildSnapshot(objects(nodes, full), settings);
    const after = buildSnapshot(objects(nodes, compacted), settings);
    expect(before.model.nodes.reduce((n, x) => n + x.gpuCount, 0)).toBeGreaterThan(20);
    expect(modelView(after)).toEqual(modelView(before));
    const heldFull = buildSnapshot(objects(nodes, full, claims), settings);
    const heldCompact = buildSnapshot(objects(nodes, compacted, claims), settings);
    expect(heldFull.problems).toEqual([]);
    expect(heldCompact.problems).toEqual(heldFull.problems);
    expect(modelView(heldCompact)).toEqual(modelView(heldFull));
    // The claims did take capacity, so the comparison covers counters and whole-GPU state.
    expect(heldFull.model.node('node-a')?.gpusWholeFree).toBe(6);
    expect(heldFull.model.node('node-b')?.gpuFreeMilli(2)).toBeLessThan(1000);
    // The unhealthy GPU's devices are tainted in both.
    expect(heldCompact.model.node('node-c')?.devices.some((d) => d.tainted)).toBe(true);
  });

  it('reports an incomplete pool the same way', () => {
    const compactor = new SliceCompactor();
    const partial = full.filter((s) => s.metadata.name !== full[1]?.metadata.name);
    const a = buildSnapshot(objects(nodes, partial), { now: 0 });
    const b = buildSnapshot(
      objects(
        nodes,
        partial.map((s) => compactor.compact(s)),
      ),
      { now: 0 },
    );
    expect(a.problems).toHaveLength(1);
    expect(b.problems).toEqual(a.problems);
  });

  it('drops what nothing reads', () => {
    const compactor = new SliceCompactor();
    const withDevices = full.find((s) => (s.spec.devices?.length ?? 0) > 0);
    expect(withDevices?.spec.devices?.[0]?.attributes?.uuid).toBeDefined();
    const s = compactor.compact(withDevices as ResourceSlice);
    expect(Object.keys(s)).toEqual(['metadata', 'spec']);
    expect(s.metadata).toEqual({
      name: withDevices?.metadata.name,
      uid: withDevices?.metadata.uid,
      resourceVersion: '7',
    });
    expect(Object.keys(s.spec).sort()).toEqual(['devices', 'driver', 'pool']);
    for (const d of s.spec.devices ?? []) {
      // Identity attributes keep only their presence; what selectors read (product, profile,
      // memory...) stays.
      for (const k of BLANKED_ATTRIBUTES) {
        if (d.attributes?.[k] !== undefined) expect(d.attributes[k]).toEqual({ string: '' });
      }
      expect(d.attributes?.uuid ?? d.attributes?.parentUUID).toEqual({ string: '' });
      expect(d.attributes?.productName).toBeDefined();
      expect(d.capacity?.memory?.value).toMatch(/^\d+Gi$/);
    }
    const tainted = full
      .filter((x) => x.spec.pool.name === 'node-c')
      .flatMap((x) => compactor.compact(x).spec.devices ?? [])
      .filter((d) => d.taints !== undefined);
    expect(tainted.length).toBeGreaterThan(0);
    expect(tainted[0]?.taints?.[0]).toEqual({ key: expect.any(String), effect: 'NoSchedule' });
  });

  it('reduces slices of other drivers to metadata, driver and pool', () => {
    const compactor = new SliceCompactor();
    const other: ResourceSlice = {
      metadata: { name: 'nic-1', resourceVersion: '3', labels: { a: 'b' } },
      spec: {
        driver: 'nic.example.com',
        pool: { name: 'node-a', generation: 2, resourceSliceCount: 1 },
        nodeName: 'node-a',
        devices: [{ name: 'eth0', attributes: { index: { int: 0 } } }],
      },
    };
    expect(compactor.compact(other)).toEqual({
      metadata: { name: 'nic-1', resourceVersion: '3' },
      spec: {
        driver: 'nic.example.com',
        pool: { name: 'node-a', generation: 2, resourceSliceCount: 1 },
      },
    });
  });
});

describe('SliceCompactor shares identical parts', () => {
  it('gives nodes of one profile the same devices and counters, and keeps a tainted GPU apart', () => {
    const compactor = new SliceCompactor();
    const [a, b, c] = ['node-a', 'node-b', 'node-c'].map((name) =>
      slicesOf({ name, profile: 'sxm8-80g', unhealthy: name === 'node-c' ? [3] : [] }).map((s) =>
        compactor.compact(s),
      ),
    );
    expect(a?.length).toBe(b?.length);
    a?.forEach((slice, i) => {
      const twin = b?.[i];
      expect(twin).not.toBe(slice);
      expect(twin?.spec.devices).toBe(slice.spec.devices);
      expect(twin?.spec.sharedCounters).toBe(slice.spec.sharedCounters);
    });
    const devicesA = a?.flatMap((s) => s.spec.devices ?? []) ?? [];
    const devicesC = c?.flatMap((s) => s.spec.devices ?? []) ?? [];
    expect(devicesC.length).toBe(devicesA.length);
    devicesC.forEach((d, i) => {
      const twin = devicesA[i];
      if (d.taints === undefined) expect(d).toBe(twin);
      else {
        expect(d).not.toBe(twin);
        expect(d.consumesCounters).toBe(twin?.consumesCounters);
        expect(d.attributes).toBe(twin?.attributes);
      }
    });
  });

  it('freezes shared parts and returns its own output unchanged', () => {
    const compactor = new SliceCompactor();
    const [slice] = slicesOf({ name: 'node-a', profile: 'pcie4-48g' });
    const s = compactor.compact(slice as ResourceSlice);
    expect(compactor.compact(s)).toBe(s);
    expect(Object.isFrozen(s.spec.devices)).toBe(true);
    expect(Object.isFrozen(s.spec.devices?.[0])).toBe(true);
    expect(() => s.spec.devices?.push({ name: 'x' })).toThrow(TypeError);
  });
});

describe('InternTable', () => {
  it('returns the stored value for an equal key and builds only on a miss', () => {
    const t = new InternTable();
    let built = 0;
    const make = () => {
      built++;
      return { v: 1 };
    };
    const first = t.get('k', make);
    expect(t.get('k', make)).toBe(first);
    expect(built).toBe(1);
    expect(t.stats()).toMatchObject({ entries: 1, keyChars: 1, hits: 1, misses: 1 });
  });

  it('evicts the least recently used entries beyond its entry and key-size bounds', () => {
    const t = new InternTable({ maxEntries: 2, maxKeyChars: 10 });
    const a = t.get('a', () => ({ a: 1 }));
    t.get('b', () => ({ b: 1 }));
    t.get('a', () => ({ a: 2 })); // a is now the most recent
    t.get('c', () => ({ c: 1 })); // b goes
    expect(t.get('a', () => ({ a: 3 }))).toBe(a);
    expect(t.get('b', () => ({ b: 2 }))).toEqual({ b: 2 });
    expect(t.stats().entries).toBe(2);
    t.get('0123456789', () => ({ long: 1 })); // fills the key budget: the others go
    expect(t.stats()).toMatchObject({ entries: 1, keyChars: 10 });
    const big = t.get('01234567890', () => ({ tooLong: 1 }));
    expect(t.get('01234567890', () => ({ tooLong: 2 }))).not.toBe(big);
    expect(t.stats().entries).toBe(1);
  });
});

// ---- through the caches ---------------------------------------------------------------------

type Event = [string, unknown];

/** Lists `items` once, then plays `events` on the first watch and hangs until aborted. */
class Scripted<T> implements ListWatchSource<T> {
  readonly description = 'resourceslices (scripted)';
  readonly #items: readonly unknown[];
  readonly events: Event[] = [];
  #emit: ((type: string, object: unknown) => void) | undefined;

  constructor(items: readonly unknown[]) {
    this.#items = items;
  }

  list(): Promise<ListPage<T>> {
    return Promise.resolve({ items: this.#items as T[], resourceVersion: '1' });
  }

  watch(_rv: string, onEvent: (t: string, o: unknown) => void, signal: AbortSignal) {
    this.#emit = onEvent;
    return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  }

  send(type: string, object: unknown): void {
    this.#emit?.(type, object);
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('compacted caches follow changes', () => {
  it('adds, updates and deletes slices through ClusterInformers', async () => {
    const initial = [...slicesOf({ name: 'node-a', profile: 'pcie4-48g' })];
    let sliceSource: Scripted<unknown> | undefined;
    const source = <T extends KubeObject>(r: ResourceType): ListWatchSource<T> => {
      if (r.plural === RESOURCES.resourceSlices.plural) {
        sliceSource = new Scripted<T>(initial) as Scripted<unknown>;
        return sliceSource as ListWatchSource<T>;
      }
      const nodes = r.plural === 'nodes' ? [nodeOf('node-a'), nodeOf('node-b')] : [];
      return new Scripted<T>(
        nodes.map((n) => ({ ...n, metadata: { ...n.metadata, resourceVersion: '1' } })),
      );
    };
    const ci = new ClusterInformers(undefined, { logger: silentLogger(), source });
    ci.start();
    await ci.waitForSync(2000);
    const gpus = () =>
      buildSnapshot(ci.snapshot(), { now: 0 }).model.nodes.map((n) => `${n.name}:${n.gpuCount}`);
    expect(gpus()).toEqual(['node-a:4', 'node-b:0']);
    expect(ci.slices.list()[0]?.metadata).not.toHaveProperty('managedFields');

    const added = slicesOf({ name: 'node-b', profile: 'pcie4-48g' });
    for (const s of added) sliceSource?.send('ADDED', s);
    await until(() => gpus().join() === 'node-a:4,node-b:4', 'node-b added');
    expect(ci.slices.get(added[0]?.metadata.name ?? '')?.spec.devices).toBe(
      ci.slices.get(initial[0]?.metadata.name ?? '')?.spec.devices,
    );

    // node-a republishes with a new generation: one GPU fewer.
    const backend = new FakeGpuBackend('node-a', { profile: 'pcie4-48g', gpus: 3 });
    const next = buildPoolSlices(backend.inventory(), {
      driverName: DRIVER,
      nodeName: 'node-a',
      nodeUid: 'uid-node-a',
      layout: 'split',
      taintUnhealthy: true,
      serverMinor: 36,
    }).map((s) => ({
      ...s,
      metadata: { ...s.metadata, resourceVersion: '9' },
      spec: { ...s.spec, pool: { ...s.spec.pool, generation: 1 } },
    }));
    for (const s of next) sliceSource?.send('MODIFIED', s);
    await until(() => gpus().join() === 'node-a:3,node-b:4', 'node-a updated');

    for (const s of added) sliceSource?.send('DELETED', s);
    await until(() => gpus().join() === 'node-a:3,node-b:0', 'node-b deleted');
    expect(ci.sliceInternStats().hits).toBeGreaterThan(0);
    await ci.stop();
  });

  it('keeps slices as received when compaction is off', async () => {
    const initial = slicesOf({ name: 'node-a', profile: 'pcie4-48g' });
    const source = <T extends KubeObject>(r: ResourceType): ListWatchSource<T> =>
      new Scripted<T>(r.plural === 'resourceslices' ? initial : []);
    const ci = new ClusterInformers(undefined, { logger: silentLogger(), source, compact: false });
    ci.start();
    await ci.waitForSync(2000);
    const s = ci.slices.list().find((x) => (x.spec.devices?.length ?? 0) > 0);
    expect(s?.spec.devices?.[0]?.attributes?.uuid).toBeDefined();
    expect(s?.metadata).not.toHaveProperty('managedFields');
    await ci.stop();
  });
});

describe('ApiListWatch with a transform', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
    server = undefined;
  });

  it('compacts each page as it arrives', async () => {
    const all = [
      ...slicesOf({ name: 'node-a', profile: 'pcie4-48g' }),
      ...slicesOf({ name: 'node-b', profile: 'pcie4-48g' }),
    ];
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const from = Number(url.searchParams.get('continue') ?? '0');
      const limit = Number(url.searchParams.get('limit'));
      const next = from + limit;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          items: all.slice(from, next),
          metadata: {
            resourceVersion: '5',
            ...(next < all.length ? { continue: String(next) } : {}),
          },
        }),
      );
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    const compactor = new SliceCompactor();
    let calls = 0;
    const source = new ApiListWatch<ResourceSlice>(new KubeClient(kc), RESOURCES.resourceSlices, {
      pageSize: 1,
      transform: (s) => {
        calls++;
        return compactor.compact(s);
      },
    });
    const page = await source.list(new AbortController().signal);
    expect(calls).toBe(all.length);
    expect(page.items.map((s) => s.metadata.name)).toEqual(all.map((s) => s.metadata.name));
    expect(page.items.every((s) => compactor.compact(s) === s)).toBe(true);
    // The second node's slices share the first node's devices.
    const half = all.length / 2;
    expect(page.items[half]?.spec.devices).toBeDefined();
    expect(page.items[half]?.spec.devices).toBe(page.items[0]?.spec.devices);
  });
});
