import { describe, expect, it } from 'vitest';
import type { CounterSet, Device, ResourceSlice } from '../../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import type { FakeBackendConfig } from '../../../src/devices/fake/config.ts';
import { placementMemorySlices, resolveDeviceName } from '../../../src/devices/naming.ts';
import type { DeviceInventory } from '../../../src/devices/types.ts';
import {
  type BuildPoolOptions,
  buildPoolSlices,
  layoutForServerVersion,
  parseQuantity,
  planPoolSync,
  type SliceLayout,
  sliceName,
  taintValue,
  validateSlices,
} from '../../../src/driver/slices.ts';

const DRIVER = 'gpu.phalanx.dev';
const PROFILES = ['sxm8-80g', 'pcie4-48g', 'nvl4-rack'] as const;
const LAYOUTS: readonly SliceLayout[] = ['combined', 'split', 'whole-gpus'];
const MINORS = [34, 35, 36, 37] as const;

function backend(config: FakeBackendConfig, node = 'node-a'): FakeGpuBackend {
  return new FakeGpuBackend(node, config, () => 1_700_000_000_000);
}

function opts(
  layout: SliceLayout,
  serverMinor: number,
  over: Partial<BuildPoolOptions> = {},
): BuildPoolOptions {
  return {
    driverName: DRIVER,
    nodeName: 'node-a',
    nodeUid: 'uid-node-a',
    layout,
    taintUnhealthy: true,
    serverMinor,
    ...over,
  };
}

/** Layouts an API server of that minor accepts. */
function validFor(layout: SliceLayout, minor: number): boolean {
  if (layout === 'combined') return minor === 34;
  if (layout === 'split') return minor >= 35;
  return true;
}

function devicesOf(slices: readonly ResourceSlice[]): Device[] {
  return slices.flatMap((s) => s.spec.devices ?? []);
}

function setsOf(slices: readonly ResourceSlice[]): CounterSet[] {
  return slices.flatMap((s) => s.spec.sharedCounters ?? []);
}

let rv = 0;
/** What the API server stores: uid, resourceVersion, taint timeAdded, canonicalised quantities. */
function stored(slices: readonly ResourceSlice[]): ResourceSlice[] {
  return slices.map((s) => {
    const copy = structuredClone(s);
    rv += 1;
    copy.metadata.uid = `uid-${copy.metadata.name}`;
    copy.metadata.resourceVersion = String(rv);
    for (const d of copy.spec.devices ?? []) {
      for (const t of d.taints ?? []) t.timeAdded = '2026-11-21T00:00:00Z';
    }
    return copy;
  });
}

describe('layoutForServerVersion', () => {
  it('maps 1.34 to combined and 1.35+ to split', () => {
    expect(layoutForServerVersion(1, 34)).toBe('combined');
    expect(layoutForServerVersion(1, 35)).toBe('split');
    expect(layoutForServerVersion(1, 37)).toBe('split');
    expect(layoutForServerVersion(2, 0)).toBe('split');
  });

  it('refuses servers older than 1.34 with a clear message', () => {
    expect(() => layoutForServerVersion(1, 33)).toThrow(
      'Kubernetes 1.33 is not supported: resource.k8s.io/v1 needs 1.34 or newer; upgrade the cluster',
    );
  });
});

interface MatrixCase {
  readonly profile: (typeof PROFILES)[number];
  readonly gpus: number | undefined;
  readonly layout: SliceLayout;
  readonly minor: number;
}

const MATRIX: MatrixCase[] = PROFILES.flatMap((profile) =>
  [undefined, 16].flatMap((gpus) =>
    LAYOUTS.flatMap((layout) => MINORS.map((minor) => ({ profile, gpus, layout, minor }))),
  ),
);

function checkMatrixCase({ profile, gpus, layout, minor }: MatrixCase): void {
  const b = backend(gpus === undefined ? { profile } : { profile, gpus });
  b.setHealth(1, 'unhealthy', 'XID 48: double-bit ECC error');
  b.setHealth(2, 'lost', 'XID 79: GPU has fallen off the bus');
  const build = () => buildPoolSlices(b.inventory(), opts(layout, minor));
  if (!validFor(layout, minor)) {
    expect(build).toThrow(
      layout === 'split'
        ? 'layout "split" needs Kubernetes 1.35 or newer; use "combined" for 1.34'
        : `layout "combined" is only for Kubernetes 1.34; use "split" for 1.${minor}`,
    );
    return;
  }
  const slices = planPoolSync([], build()).creates;
  expect(validateSlices(slices, minor)).toEqual([]);
  const count = gpus ?? (profile === 'sxm8-80g' ? 8 : 4);
  const whole = devicesOf(slices).filter((d) => d.attributes?.type?.string === 'gpu');
  expect(whole).toHaveLength(count);
  const partitionable = profile !== 'pcie4-48g' && layout !== 'whole-gpus';
  expect(devicesOf(slices)).toHaveLength(partitionable ? count * 19 : count);
  expect(setsOf(slices)).toHaveLength(partitionable ? count : 0);
}

describe('buildPoolSlices limits across profiles, layouts and versions', () => {
  it.each(MATRIX)('$profile x$gpus $layout 1.$minor', checkMatrixCase);

  it('chunks a 64-GPU partitioned node within the limits of every version', () => {
    const inv = backend({ profile: 'sxm8-80g', gpus: 64 }).inventory();
    for (const [layout, minor] of [
      ['combined', 34],
      ['split', 35],
      ['split', 37],
    ] as const) {
      const slices = buildPoolSlices(inv, opts(layout, minor));
      expect(slices.length).toBeGreaterThan(8);
      expect(validateSlices(slices, minor)).toEqual([]);
      expect(devicesOf(slices)).toHaveLength(64 * 19);
      expect(setsOf(slices)).toHaveLength(64);
    }
  });

  it('chunks whole GPUs at 128 per slice, or 64 once a device carries a taint', () => {
    const base = backend({ profile: 'pcie4-48g', gpus: 64 }).inventory();
    const gpus = [0, 1, 2].flatMap((k) =>
      base.gpus.map((g) => ({ ...g, index: g.index + 64 * k })),
    );
    const healthy: DeviceInventory = { nodeName: 'node-a', gpus, health: new Map() };
    const sizes = (inv: DeviceInventory, minor: number) =>
      buildPoolSlices(inv, opts('whole-gpus', minor)).map((s) => s.spec.devices?.length);
    expect(sizes(healthy, 35)).toEqual([128, 64]);
    const health = new Map([[5, { health: 'unhealthy' as const, message: 'x', since: 0 }]]);
    const tainted: DeviceInventory = { ...healthy, health };
    expect(sizes(tainted, 35)).toEqual([64, 128]);
    expect(sizes(tainted, 34)).toEqual([128, 64]);
    for (const minor of MINORS) {
      expect(validateSlices(buildPoolSlices(tainted, opts('whole-gpus', minor)), minor)).toEqual(
        [],
      );
    }
  });

  it('keeps counter sets with their devices on 1.34 and apart on 1.35+', () => {
    const inv = backend({ profile: 'sxm8-80g' }).inventory();
    for (const s of buildPoolSlices(inv, opts('combined', 34))) {
      const names = new Set((s.spec.sharedCounters ?? []).map((c) => c.name));
      for (const d of s.spec.devices ?? []) {
        for (const c of d.consumesCounters ?? []) expect(names.has(c.counterSet)).toBe(true);
      }
    }
    const split = buildPoolSlices(inv, opts('split', 35));
    expect(split.every((s) => !(s.spec.devices?.length && s.spec.sharedCounters?.length))).toBe(
      true,
    );
    expect(split[0]?.spec.sharedCounters?.map((c) => c.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `gpu-${i}-counters`),
    );
  });

  it('publishes only whole GPUs without counters in the whole-gpus layout', () => {
    const slices = buildPoolSlices(
      backend({ profile: 'sxm8-80g' }).inventory(),
      opts('whole-gpus', 36),
    );
    expect(slices).toHaveLength(1);
    expect(setsOf(slices)).toEqual([]);
    expect(devicesOf(slices).map((d) => d.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `gpu-${i}`),
    );
    expect(devicesOf(slices).every((d) => d.consumesCounters === undefined)).toBe(true);
  });
});

/** Adds the consumption of `device` into `used`; false when that exceeds `set`. */
function consume(used: Map<string, number>, device: Device, set: CounterSet): boolean {
  for (const c of device.consumesCounters ?? []) {
    if (c.counterSet !== set.name) continue;
    for (const [name, counter] of Object.entries(c.counters)) {
      const next = (used.get(name) ?? 0) + (parseQuantity(counter.value) ?? Number.NaN);
      const cap = parseQuantity(set.counters[name]?.value ?? '') ?? Number.NaN;
      if (!(next <= cap)) return false;
      used.set(name, next);
    }
  }
  return true;
}

function fitsCounters(devices: readonly Device[], set: CounterSet): boolean {
  const used = new Map<string, number>();
  return devices.every((d) => consume(used, d, set));
}

/** All subsets (as sorted name lists) of `items` that satisfy `ok`, which must be subset-closed. */
function feasibleSets<T>(
  items: readonly T[],
  ok: (chosen: T[]) => boolean,
  key: (t: T) => string,
): Set<string> {
  const out = new Set<string>();
  const walk = (from: number, chosen: T[]): void => {
    out.add(chosen.map(key).sort().join(','));
    for (let i = from; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) continue;
      const next = [...chosen, item];
      if (ok(next)) walk(i + 1, next);
    }
  };
  walk(0, []);
  return out;
}

describe('counters prevent overcommit', () => {
  for (const profile of ['sxm8-80g', 'nvl4-rack'] as const) {
    for (const [layout, minor] of [
      ['combined', 34],
      ['split', 35],
    ] as const) {
      it(`${profile} ${layout}: allocatable sets are exactly the non-overlapping placements`, () => {
        const b = backend({ profile, gpus: 2 });
        const inv = b.inventory();
        const slices = buildPoolSlices(inv, opts(layout, minor));
        for (const set of setsOf(slices)) {
          const devices = devicesOf(slices).filter((d) =>
            d.consumesCounters?.some((c) => c.counterSet === set.name),
          );
          expect(devices).toHaveLength(19);
          const whole = devices.find((d) => d.attributes?.type?.string === 'gpu');
          const parts = devices.filter((d) => d.attributes?.type?.string === 'partition');
          if (whole === undefined) throw new Error('no whole GPU device');
          // The whole GPU fits alone, but never together with any partition of the same GPU.
          expect(fitsCounters([whole], set)).toBe(true);
          for (const p of parts) expect(fitsCounters([whole, p], set)).toBe(false);
          // Sets of partitions the counters admit == sets whose memory slices are disjoint.
          const slicesOf = (d: Device): number[] => {
            const r = resolveDeviceName(inv.gpus, d.name);
            if (r?.placement === undefined) throw new Error(`not a partition: ${d.name}`);
            return placementMemorySlices(r.placement.profile, r.placement.start);
          };
          const disjoint = (chosen: Device[]): boolean => {
            const all = chosen.flatMap(slicesOf);
            return new Set(all).size === all.length;
          };
          const byCounters = feasibleSets(
            parts,
            (c) => fitsCounters(c, set),
            (d) => d.name,
          );
          const byHardware = feasibleSets(parts, disjoint, (d) => d.name);
          expect(byCounters).toEqual(byHardware);
          expect(byCounters.size).toBeGreaterThan(100);
        }
      });
    }
  }
});

describe('buildPoolSlices content', () => {
  it('is deterministic and ordered by slice name', () => {
    const inv = backend({ profile: 'sxm8-80g', gpus: 16 }).inventory();
    for (const [layout, minor] of [
      ['combined', 34],
      ['split', 36],
    ] as const) {
      const a = buildPoolSlices(inv, opts(layout, minor));
      const b = buildPoolSlices(
        backend({ profile: 'sxm8-80g', gpus: 16 }).inventory(),
        opts(layout, minor),
      );
      expect(b).toEqual(a);
      const names = a.map((s) => s.metadata.name ?? '');
      expect([...names].sort()).toEqual(names);
      expect(names[0]).toBe('node-a-gpu.phalanx.dev-00000');
      const indexes = devicesOf(a)
        .filter((d) => d.attributes?.type?.string === 'gpu')
        .map((d) => d.attributes?.index?.int);
      expect(indexes).toEqual(Array.from({ length: 16 }, (_, i) => i));
    }
  });

  it('fills metadata: owner Node, labels, pool and count', () => {
    const slices = buildPoolSlices(backend({ profile: 'sxm8-80g' }).inventory(), opts('split', 35));
    for (const s of slices) {
      expect(s.apiVersion).toBe('resource.k8s.io/v1');
      expect(s.kind).toBe('ResourceSlice');
      expect(s.metadata.ownerReferences).toEqual([
        { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'uid-node-a', controller: true },
      ]);
      expect(s.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('phalanx');
      expect(s.spec).toMatchObject({
        driver: DRIVER,
        nodeName: 'node-a',
        pool: { name: 'node-a', generation: 0, resourceSliceCount: slices.length },
      });
    }
    expect(slices[0]?.metadata.labels?.['phalanx.dev/slice-content']).toBe('counters');
    expect(slices[1]?.metadata.labels?.['phalanx.dev/slice-content']).toBe('devices');
  });

  it('publishes an empty pool as one slice without devices', () => {
    const inv: DeviceInventory = { nodeName: 'node-a', gpus: [], health: new Map() };
    const slices = buildPoolSlices(inv, opts('split', 35));
    expect(slices).toHaveLength(1);
    expect(slices[0]?.spec.devices ?? []).toEqual([]);
    expect(slices[0]?.spec.pool.resourceSliceCount).toBe(1);
    expect(validateSlices(slices, 35)).toEqual([]);
  });

  it('keeps slice names within 253 characters for long node names', () => {
    const node = `${'n'.repeat(60)}.${'o'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}`;
    const name = sliceName(node, DRIVER, 3);
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name.endsWith('-gpu.phalanx.dev-00003')).toBe(true);
    expect(sliceName(node, DRIVER, 3)).toBe(name);
    const slices = buildPoolSlices(
      backend({ profile: 'pcie4-48g' }, node).inventory(),
      opts('split', 35, { nodeName: node }),
    );
    expect(validateSlices(slices, 35)).toEqual([]);
  });

  it('describes whole GPUs and partitions with attributes and capacity', () => {
    const inv = backend({ profile: 'sxm8-80g' }).inventory();
    const devices = devicesOf(buildPoolSlices(inv, opts('split', 35)));
    const gpu0 = inv.gpus[0];
    const whole = devices.find((d) => d.name === 'gpu-0');
    expect(whole?.attributes).toEqual({
      type: { string: 'gpu' },
      uuid: { string: gpu0?.uuid },
      profile: { string: 'full' },
      index: { int: 0 },
      productName: { string: 'Phalanx Fake H100 SXM 80GB' },
      architecture: { string: 'Hopper' },
      driverVersion: { version: '570.124.6' },
      numaNode: { int: 0 },
      nvlinkDomain: { string: 'node-a-nvl' },
      'resource.kubernetes.io/pcieRoot': { string: gpu0?.pcieRoot },
      'resource.kubernetes.io/pciBusID': { string: gpu0?.pciBusID },
    });
    expect(whole?.capacity).toEqual({ memory: { value: '80Gi' }, computeSlices: { value: '7' } });
    const part = devices.find((d) => d.name === 'gpu-0-3g-40gb-4');
    expect(part?.attributes?.type).toEqual({ string: 'partition' });
    expect(part?.attributes?.parentUUID).toEqual({ string: gpu0?.uuid });
    expect(part?.attributes?.profile).toEqual({ string: '3g.40gb' });
    expect(part?.attributes?.uuid).toBeUndefined();
    expect(part?.capacity).toEqual({ memory: { value: '40Gi' }, computeSlices: { value: '3' } });
    expect(part?.consumesCounters).toEqual([
      {
        counterSet: 'gpu-0-counters',
        counters: {
          memory: { value: '40Gi' },
          'compute-slices': { value: '3' },
          'memory-slice-4': { value: '1' },
          'memory-slice-5': { value: '1' },
          'memory-slice-6': { value: '1' },
          'memory-slice-7': { value: '1' },
        },
      },
    ]);
  });

  it('omits NVLink attributes for PCIe GPUs and adds the clique for rack GPUs', () => {
    const pcie = devicesOf(
      buildPoolSlices(backend({ profile: 'pcie4-48g' }).inventory(), opts('split', 35)),
    );
    expect(pcie.every((d) => d.attributes?.nvlinkDomain === undefined)).toBe(true);
    expect(pcie.every((d) => d.capacity?.computeSlices === undefined)).toBe(true);
    const rack = devicesOf(
      buildPoolSlices(
        backend({ profile: 'nvl4-rack', rackDomain: 'rack-a', cliqueId: 'c.2' }).inventory(),
        opts('split', 35),
      ),
    );
    expect(rack.every((d) => d.attributes?.cliqueId?.string === 'c.2')).toBe(true);
    expect(rack.every((d) => d.attributes?.nvlinkDomain?.string === 'rack-a')).toBe(true);
  });

  it('taints unhealthy and lost GPUs and their partitions', () => {
    const b = backend({ profile: 'sxm8-80g' });
    b.setHealth(1, 'unhealthy', 'XID 48: double-bit ECC error!');
    b.setHealth(2, 'lost', '');
    const devices = devicesOf(buildPoolSlices(b.inventory(), opts('split', 35)));
    const on = (gpu: number) => devices.filter((d) => d.attributes?.index?.int === gpu);
    expect(on(1)).toHaveLength(19);
    for (const d of on(1)) {
      expect(d.taints).toEqual([
        {
          key: 'gpu.phalanx.dev/unhealthy',
          value: 'XID-48-double-bit-ECC-error',
          effect: 'NoSchedule',
        },
      ]);
    }
    for (const d of on(2))
      expect(d.taints).toEqual([{ key: 'gpu.phalanx.dev/lost', effect: 'NoExecute' }]);
    expect(on(0).every((d) => d.taints === undefined)).toBe(true);
    const off = devicesOf(
      buildPoolSlices(b.inventory(), opts('split', 35, { taintUnhealthy: false })),
    );
    expect(off.every((d) => d.taints === undefined)).toBe(true);
  });

  it('sanitises taint values to label values', () => {
    expect(taintValue('  ')).toBeUndefined();
    expect(taintValue('--XID 79: fell off the bus--')).toBe('XID-79-fell-off-the-bus');
    const long = taintValue(`${'a'.repeat(62)}: b`);
    expect(long).toBe('a'.repeat(62));
    expect(taintValue('x'.repeat(100))?.length).toBe(63);
  });
});

describe('planPoolSync', () => {
  const build = (b: FakeGpuBackend, layout: SliceLayout = 'split', minor = 35) =>
    buildPoolSlices(b.inventory(), opts(layout, minor));

  it('creates a fresh pool at generation 1', () => {
    const desired = build(backend({ profile: 'sxm8-80g' }));
    const plan = planPoolSync([], desired);
    expect(plan.generation).toBe(1);
    expect(plan.creates).toHaveLength(desired.length);
    expect(plan.creates.every((s) => s.spec.pool.generation === 1)).toBe(true);
    expect(plan.updates).toEqual([]);
    expect(plan.deletes).toEqual([]);
  });

  for (const [layout, minor] of [
    ['combined', 34],
    ['split', 35],
  ] as const) {
    it(`${layout}: unchanged devices need no writes, even after server defaulting`, () => {
      const b = backend({ profile: 'sxm8-80g', faults: [{ gpu: 5, kind: 'lost' }] });
      const existing = stored(planPoolSync([], build(b, layout, minor)).creates);
      const plan = planPoolSync(existing, build(b, layout, minor));
      expect(plan).toEqual({
        generation: 1,
        deletes: [],
        updates: [],
        creates: [],
        unchanged: existing.length,
      });
    });

    it(`${layout}: one GPU health change updates one slice and keeps the generation`, () => {
      const b = backend({ profile: 'sxm8-80g' });
      const existing = stored(planPoolSync([], build(b, layout, minor)).creates);
      b.setHealth(4, 'unhealthy', 'XID 94');
      const plan = planPoolSync(existing, build(b, layout, minor));
      expect(plan.generation).toBe(1);
      expect(plan.creates).toEqual([]);
      expect(plan.deletes).toEqual([]);
      expect(plan.updates).toHaveLength(1);
      expect(plan.unchanged).toBe(existing.length - 1);
      const update = plan.updates[0];
      const before = existing.find((s) => s.metadata.name === update?.metadata.name);
      expect(update?.metadata.uid).toBe(before?.metadata.uid);
      expect(update?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
      expect(update?.spec.pool.generation).toBe(1);
      const tainted = (update?.spec.devices ?? []).filter((d) => d.taints !== undefined);
      expect(tainted).toHaveLength(19);
      expect(
        validateSlices([...existing.filter((s) => s !== before), ...plan.updates], minor),
      ).toEqual([]);
    });

    it(`${layout}: adding GPUs that need a new slice bumps the generation and rewrites all`, () => {
      const existing = stored(
        planPoolSync([], build(backend({ profile: 'sxm8-80g' }), layout, minor)).creates,
      );
      const desired = build(backend({ profile: 'sxm8-80g', gpus: 10 }), layout, minor);
      const plan = planPoolSync(existing, desired);
      expect(plan.generation).toBe(2);
      expect(plan.deletes).toEqual([]);
      expect(plan.updates).toHaveLength(existing.length);
      expect(plan.creates).toHaveLength(desired.length - existing.length);
      expect(plan.creates.length).toBeGreaterThan(0);
      expect(plan.unchanged).toBe(0);
      const result = [...plan.updates, ...plan.creates];
      expect(result.every((s) => s.spec.pool.generation === 2)).toBe(true);
      expect(result.every((s) => s.spec.pool.resourceSliceCount === desired.length)).toBe(true);
      expect(validateSlices(result, minor)).toEqual([]);
    });

    it(`${layout}: removing GPUs lists obsolete slices for deletion`, () => {
      const existing = stored(
        planPoolSync([], build(backend({ profile: 'sxm8-80g', gpus: 16 }), layout, minor)).creates,
      );
      const desired = build(backend({ profile: 'sxm8-80g', gpus: 4 }), layout, minor);
      const plan = planPoolSync(existing, desired);
      expect(plan.generation).toBe(2);
      expect(plan.deletes.length).toBe(existing.length - desired.length);
      expect(
        plan.deletes.every(
          (s) => s.metadata.uid !== undefined && s.metadata.resourceVersion !== undefined,
        ),
      ).toBe(true);
      const kept = new Set(desired.map((s) => s.metadata.name));
      expect(plan.deletes.every((s) => !kept.has(s.metadata.name))).toBe(true);
      expect(plan.updates).toHaveLength(desired.length);
      expect(plan.creates).toEqual([]);
    });
  }

  it('combined: a GPU that fits into the last slice is one in-place update', () => {
    // 8 GPUs fill slices of 3+3+2 on 1.34; a ninth joins the last slice, nothing is added.
    const inv = backend({ profile: 'sxm8-80g' }).inventory();
    const existing = stored(planPoolSync([], buildPoolSlices(inv, opts('combined', 34))).creates);
    const last = inv.gpus[7];
    if (last === undefined) throw new Error('no gpu');
    const grown: DeviceInventory = {
      ...inv,
      gpus: [...inv.gpus, { ...last, index: 8, uuid: 'GPU-00000000-0000-0000-0000-000000000008' }],
    };
    const plan = planPoolSync(existing, buildPoolSlices(grown, opts('combined', 34)));
    expect(plan.generation).toBe(1);
    expect(plan.updates.map((s) => s.metadata.name)).toEqual([existing[2]?.metadata.name]);
    expect(plan.unchanged).toBe(2);
  });

  it('rewrites everything when two slices change', () => {
    const b = backend({ profile: 'sxm8-80g' });
    const existing = stored(planPoolSync([], build(b)).creates);
    b.setHealth(0, 'lost', 'a');
    b.setHealth(7, 'lost', 'b');
    const plan = planPoolSync(existing, build(b));
    expect(plan.generation).toBe(2);
    expect(plan.updates).toHaveLength(existing.length);
  });

  it('keeps the time a taint was added when the slice is rewritten', () => {
    const b = backend({
      profile: 'sxm8-80g',
      faults: [{ gpu: 1, kind: 'unhealthy', message: 'x' }],
    });
    const existing = stored(planPoolSync([], build(b)).creates);
    const plan = planPoolSync(
      existing,
      build(
        backend({
          profile: 'sxm8-80g',
          gpus: 9,
          faults: [{ gpu: 1, kind: 'unhealthy', message: 'x' }],
        }),
      ),
    );
    const taints = devicesOf(plan.updates).flatMap((d) => d.taints ?? []);
    expect(taints.length).toBe(19);
    expect(taints.every((t) => t.timeAdded === '2026-11-21T00:00:00Z')).toBe(true);
  });

  it('treats quantities that differ only in form as equal', () => {
    const b = backend({ profile: 'sxm8-80g' });
    const existing = stored(planPoolSync([], build(b)).creates);
    for (const d of existing.flatMap((s) => s.spec.devices ?? [])) {
      if (d.capacity?.memory?.value === '80Gi') d.capacity.memory.value = '81920Mi';
    }
    expect(planPoolSync(existing, build(b)).unchanged).toBe(existing.length);
  });

  it('lifts a pool left with mixed generations onto one generation', () => {
    const b = backend({ profile: 'sxm8-80g' });
    const existing = stored(planPoolSync([], build(b)).creates);
    const first = existing[0];
    if (first === undefined) throw new Error('no slice');
    first.spec.pool.generation = 3;
    const plan = planPoolSync(existing, build(b));
    expect(plan.generation).toBe(4);
    expect(plan.updates.every((s) => s.spec.pool.generation === 4)).toBe(true);
  });
});
