/**
 * Pure ResourceSlice building and pool-sync planning for one node's pool.
 *
 * - {@link buildPoolSlices} turns a device inventory into the desired, ordered slices of the
 *   node's pool (pool name = node name), chunked so every slice stays within the API server's
 *   limits for the server version.
 * - {@link planPoolSync} compares the desired slices with the stored ones and decides the writes,
 *   following the generation rules of the upstream slice controller.
 *
 * Partitions are modelled with shared counters: each partitionable GPU has a counter set
 * `gpu-<i>-counters` with `memory`, `compute-slices` and one `memory-slice-<j>` counter (value 1)
 * per memory slice. A whole GPU consumes all of it; a partition consumes its memory, its compute
 * slices and exactly the memory slices of its placement. The allocator therefore can never give
 * out a whole GPU together with a partition on it, nor two overlapping placements.
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type {
  CounterSet,
  Device,
  DeviceAttribute,
  DeviceCapacity,
  DeviceCounterConsumption,
  DeviceTaint,
  ObjectMeta,
  ResourceSlice,
  ResourceSliceSpec,
} from '../api/resource/v1.ts';
import {
  partitionDeviceName,
  partitionPlacements,
  placementMemorySlices,
  wholeGpuDeviceName,
} from '../devices/naming.ts';
import type {
  DeviceInventory,
  GpuHealthStatus,
  GpuInfo,
  PartitionPlacement,
} from '../devices/types.ts';
import {
  formatBytes,
  isSemver,
  MAX_ATTRIBUTE_STRING,
  MAX_COUNTER_SETS_PER_SLICE,
  parseQuantity,
  sliceLimitViolations,
} from './slice-validation.ts';

export { formatBytes, parseQuantity, validateSlices } from './slice-validation.ts';

/**
 * How the pool is laid out:
 * - `combined` (1.34): counter sets live in the slice of the devices that consume them.
 * - `split` (1.35+): counter sets in their own slice(s), devices in others.
 * - `whole-gpus`: whole GPUs only, no counters — the fallback when the API server drops counter
 *   fields (feature gate DRAPartitionableDevices off).
 */
export type SliceLayout = 'combined' | 'split' | 'whole-gpus';

export const TAINT_UNHEALTHY = 'gpu.phalanx.dev/unhealthy';
export const TAINT_LOST = 'gpu.phalanx.dev/lost';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_SLICE_CONTENT = 'phalanx.dev/slice-content';
export const LABEL_LAYOUT = 'phalanx.dev/slice-layout';

/** The first Kubernetes minor whose resource.k8s.io/v1 this driver supports. */
export const MIN_SERVER_MINOR = 34;

/** Picks the slice layout an API server of version major.minor accepts. */
export function layoutForServerVersion(major: number, minor: number): SliceLayout {
  if (major < 1 || (major === 1 && minor < MIN_SERVER_MINOR)) {
    throw new Error(
      `Kubernetes ${major}.${minor} is not supported: resource.k8s.io/v1 needs 1.${MIN_SERVER_MINOR} or newer; upgrade the cluster`,
    );
  }
  return major === 1 && minor === MIN_SERVER_MINOR ? 'combined' : 'split';
}

export interface BuildPoolOptions {
  readonly driverName: string;
  readonly nodeName: string;
  readonly nodeUid: string;
  readonly layout: SliceLayout;
  readonly taintUnhealthy: boolean;
  /** API server minor version (1.<minor>); decides the per-slice limits. */
  readonly serverMinor: number;
}

// ---------------------------------------------------------------------------------------------
// Devices

const PCI_BUS_ID = 'resource.kubernetes.io/pciBusID';
const PCIE_ROOT = 'resource.kubernetes.io/pcieRoot';

function str(value: string): DeviceAttribute {
  return { string: value.slice(0, MAX_ATTRIBUTE_STRING) };
}

/** Real driver versions like `570.124.06` are not semver; strip leading zeros to make them so. */
function driverVersionAttribute(version: string): DeviceAttribute {
  const parts = version.split('.');
  while (parts.length < 3) parts.push('0');
  const normalized = parts.map((p) => (/^\d+$/.test(p) ? String(Number(p)) : p)).join('.');
  return isSemver(normalized) && normalized.length <= MAX_ATTRIBUTE_STRING
    ? { version: normalized }
    : str(version);
}

function commonAttributes(gpu: GpuInfo): Record<string, DeviceAttribute> {
  const attrs: Record<string, DeviceAttribute> = {
    index: { int: gpu.index },
    productName: str(gpu.productName),
    architecture: str(gpu.architecture),
    driverVersion: driverVersionAttribute(gpu.driverVersion),
    numaNode: { int: gpu.numaNode },
  };
  if (gpu.nvlinkDomain !== '') attrs.nvlinkDomain = str(gpu.nvlinkDomain);
  if (gpu.cliqueId !== '') attrs.cliqueId = str(gpu.cliqueId);
  attrs[PCIE_ROOT] = str(gpu.pcieRoot);
  attrs[PCI_BUS_ID] = str(gpu.pciBusID);
  return attrs;
}

/** Label-value form of a health message: `XID 79: fell off` → `XID-79-fell-off`, ≤63 chars. */
export function taintValue(message: string): string | undefined {
  const cleaned = message
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return cleaned === '' ? undefined : cleaned;
}

function taintsFor(status: GpuHealthStatus | undefined): DeviceTaint[] {
  if (status === undefined || status.health === 'healthy') return [];
  const value = taintValue(status.message);
  const key = status.health === 'lost' ? TAINT_LOST : TAINT_UNHEALTHY;
  const effect = status.health === 'lost' ? 'NoExecute' : 'NoSchedule';
  return [value === undefined ? { key, effect } : { key, value, effect }];
}

export function counterSetName(gpuIndex: number): string {
  return `gpu-${gpuIndex}-counters`;
}

function memorySliceCounter(j: number): string {
  return `memory-slice-${j}`;
}

/** The counter set of a partitionable GPU; undefined for GPUs without partitions. */
export function gpuCounterSet(gpu: GpuInfo): CounterSet | undefined {
  const geometry = gpu.partitions;
  if (geometry === undefined) return undefined;
  const counters: CounterSet['counters'] = {
    memory: { value: formatBytes(gpu.memoryBytes) },
    'compute-slices': { value: String(geometry.computeSlices) },
  };
  for (let j = 0; j < geometry.memorySlices; j++) counters[memorySliceCounter(j)] = { value: '1' };
  return { name: counterSetName(gpu.index), counters };
}

function partitionConsumption(placement: PartitionPlacement): DeviceCounterConsumption {
  const p = placement.profile;
  const counters: DeviceCounterConsumption['counters'] = {
    memory: { value: formatBytes(p.memoryBytes) },
    'compute-slices': { value: String(p.computeSlices) },
  };
  for (const j of placementMemorySlices(p, placement.start)) {
    counters[memorySliceCounter(j)] = { value: '1' };
  }
  return { counterSet: counterSetName(placement.gpuIndex), counters };
}

function wholeGpuDevice(gpu: GpuInfo, taints: DeviceTaint[], counters: boolean): Device {
  const capacity: Record<string, DeviceCapacity> = {
    memory: { value: formatBytes(gpu.memoryBytes) },
  };
  if (gpu.partitions !== undefined) {
    capacity.computeSlices = { value: String(gpu.partitions.computeSlices) };
  }
  const device: Device = {
    name: wholeGpuDeviceName(gpu.index),
    attributes: {
      type: str('gpu'),
      uuid: str(gpu.uuid),
      profile: str('full'),
      ...commonAttributes(gpu),
    },
    capacity,
  };
  const set = counters ? gpuCounterSet(gpu) : undefined;
  if (set !== undefined)
    device.consumesCounters = [{ counterSet: set.name, counters: set.counters }];
  if (taints.length > 0) device.taints = taints;
  return device;
}

function partitionDevice(
  gpu: GpuInfo,
  placement: PartitionPlacement,
  taints: DeviceTaint[],
): Device {
  const p = placement.profile;
  const device: Device = {
    name: partitionDeviceName(gpu.index, p.name, placement.start),
    attributes: {
      type: str('partition'),
      parentUUID: str(gpu.uuid),
      profile: str(p.name),
      ...commonAttributes(gpu),
    },
    capacity: {
      memory: { value: formatBytes(p.memoryBytes) },
      computeSlices: { value: String(p.computeSlices) },
    },
    consumesCounters: [partitionConsumption(placement)],
  };
  if (taints.length > 0) device.taints = taints;
  return device;
}

/** One GPU's devices (whole GPU first, then its partitions) and its counter set. */
interface GpuGroup {
  readonly devices: Device[];
  readonly counterSet?: CounterSet;
}

function gpuGroup(gpu: GpuInfo, inventory: DeviceInventory, opts: BuildPoolOptions): GpuGroup {
  const taints = opts.taintUnhealthy ? taintsFor(inventory.health.get(gpu.index)) : [];
  const withCounters = opts.layout !== 'whole-gpus';
  const devices = [wholeGpuDevice(gpu, taints, withCounters)];
  const set = withCounters ? gpuCounterSet(gpu) : undefined;
  if (set === undefined) return { devices };
  for (const placement of partitionPlacements(gpu))
    devices.push(partitionDevice(gpu, placement, taints));
  return { devices, counterSet: set };
}

// ---------------------------------------------------------------------------------------------
// Chunking

interface Chunk {
  devices: Device[];
  sharedCounters: CounterSet[];
}

function chunkSpec(chunk: Chunk, opts: BuildPoolOptions): ResourceSliceSpec {
  const spec: ResourceSliceSpec = {
    driver: opts.driverName,
    pool: { name: opts.nodeName, generation: 0, resourceSliceCount: 1 },
    nodeName: opts.nodeName,
    devices: chunk.devices,
  };
  if (chunk.sharedCounters.length > 0) spec.sharedCounters = chunk.sharedCounters;
  return spec;
}

function fits(chunk: Chunk, opts: BuildPoolOptions): boolean {
  return sliceLimitViolations(chunkSpec(chunk, opts), opts.serverMinor).length === 0;
}

/**
 * Greedy first-fit in order: each group joins the current chunk while the chunk stays within the
 * limits, otherwise it opens the next chunk. Groups may not be split when `splittable` is false
 * (1.34: devices must share a slice with the counter set they consume).
 */
function chunkGroups(
  groups: readonly Chunk[],
  opts: BuildPoolOptions,
  splittable: boolean,
): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Chunk = { devices: [], sharedCounters: [] };
  const push = (item: Chunk): void => {
    const merged = {
      devices: [...current.devices, ...item.devices],
      sharedCounters: [...current.sharedCounters, ...item.sharedCounters],
    };
    if (fits(merged, opts)) {
      current = merged;
      return;
    }
    if (current.devices.length + current.sharedCounters.length > 0) chunks.push(current);
    current = item;
    if (!fits(current, opts)) {
      throw new Error(
        `cannot fit the devices of one GPU into a ResourceSlice for Kubernetes 1.${opts.serverMinor}: ${sliceLimitViolations(chunkSpec(current, opts), opts.serverMinor).join('; ')}`,
      );
    }
  };
  for (const group of groups) {
    if (splittable && !fits(group, opts)) {
      for (const device of group.devices) push({ devices: [device], sharedCounters: [] });
    } else {
      push(group);
    }
  }
  if (current.devices.length + current.sharedCounters.length > 0) chunks.push(current);
  return chunks;
}

function counterChunks(sets: readonly CounterSet[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let i = 0; i < sets.length; i += MAX_COUNTER_SETS_PER_SLICE) {
    chunks.push({ devices: [], sharedCounters: sets.slice(i, i + MAX_COUNTER_SETS_PER_SLICE) });
  }
  return chunks;
}

function layoutChunks(groups: readonly GpuGroup[], opts: BuildPoolOptions): Chunk[] {
  const sets = groups.flatMap((g) => (g.counterSet === undefined ? [] : [g.counterSet]));
  if (opts.layout === 'combined') {
    const items = groups.map((g) => ({
      devices: g.devices,
      sharedCounters: sets.filter((s) => s === g.counterSet),
    }));
    return chunkGroups(items, opts, false);
  }
  const deviceItems = groups.map((g) => ({ devices: g.devices, sharedCounters: [] }));
  if (opts.layout === 'whole-gpus') return chunkGroups(deviceItems, opts, true);
  return [...counterChunks(sets), ...chunkGroups(deviceItems, opts, true)];
}

// ---------------------------------------------------------------------------------------------
// Slices

const INDEX_DIGITS = 5;

/**
 * `<node>-<driver>-<index>`, index zero-padded so that name order is slice order (the allocator
 * walks a pool's slices in name order, first fit). Long node names are shortened with a hash to
 * keep the name a DNS subdomain of ≤253 characters.
 */
export function sliceName(nodeName: string, driverName: string, index: number): string {
  const suffix = `-${driverName}-${String(index).padStart(INDEX_DIGITS, '0')}`;
  if (nodeName.length + suffix.length <= 253) return `${nodeName}${suffix}`;
  const hash = createHash('sha256').update(nodeName).digest('hex').slice(0, 10);
  const keep = 253 - suffix.length - hash.length - 1;
  return `${nodeName.slice(0, keep).replace(/[-.]+$/, '')}-${hash}${suffix}`;
}

function contentLabel(chunk: Chunk): string {
  const devices = chunk.devices.length > 0;
  const counters = chunk.sharedCounters.length > 0;
  if (devices && counters) return 'devices-and-counters';
  if (counters) return 'counters';
  return devices ? 'devices' : 'empty';
}

function sliceMetadata(chunk: Chunk, index: number, opts: BuildPoolOptions): ObjectMeta {
  return {
    name: sliceName(opts.nodeName, opts.driverName, index),
    labels: {
      [LABEL_MANAGED_BY]: 'phalanx',
      [LABEL_SLICE_CONTENT]: contentLabel(chunk),
      [LABEL_LAYOUT]: opts.layout,
    },
    ownerReferences: [
      { apiVersion: 'v1', kind: 'Node', name: opts.nodeName, uid: opts.nodeUid, controller: true },
    ],
  };
}

/**
 * The desired slices of the node's pool, in allocation-priority order. Every slice carries
 * `pool.generation: 0` as a placeholder — {@link planPoolSync} assigns the real generation.
 * An inventory without GPUs yields one empty slice ("empty pool", not "no pool").
 */
export function buildPoolSlices(
  inventory: DeviceInventory,
  opts: BuildPoolOptions,
): ResourceSlice[] {
  if (opts.layout === 'split' && opts.serverMinor < 35) {
    throw new Error(
      `layout "split" needs Kubernetes 1.35 or newer; use "combined" for 1.${opts.serverMinor}`,
    );
  }
  if (opts.layout === 'combined' && opts.serverMinor >= 35) {
    throw new Error(
      `layout "combined" is only for Kubernetes 1.34; use "split" for 1.${opts.serverMinor}`,
    );
  }
  const gpus = [...inventory.gpus].sort((a, b) => a.index - b.index);
  const groups = gpus.map((gpu) => gpuGroup(gpu, inventory, opts));
  const chunks = layoutChunks(groups, opts);
  if (chunks.length === 0) chunks.push({ devices: [], sharedCounters: [] });
  return chunks.map((chunk, index) => {
    const spec = chunkSpec(chunk, opts);
    spec.pool.resourceSliceCount = chunks.length;
    if (chunk.devices.length === 0 && chunk.sharedCounters.length > 0) delete spec.devices;
    return {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceSlice',
      metadata: sliceMetadata(chunk, index, opts),
      spec,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Pool sync

export interface PoolSyncPlan {
  /** The generation every slice of the pool carries after the plan is applied. */
  readonly generation: number;
  /** Obsolete slices, to delete FIRST (they keep uid and resourceVersion for preconditions). */
  readonly deletes: ResourceSlice[];
  /** Desired slices that replace stored ones (stored name, uid and resourceVersion kept). */
  readonly updates: ResourceSlice[];
  readonly creates: ResourceSlice[];
  /** Stored slices that already match. */
  readonly unchanged: number;
}

/** Quantity-bearing maps compare by value: `1024Mi` equals `1Gi`. */
function normalizeQuantities(map: Record<string, { value: string }> | undefined): unknown {
  if (map === undefined) return undefined;
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(map)) out[k] = parseQuantity(v.value) ?? v.value;
  return out;
}

function normalizeDevice(d: Device): unknown {
  return {
    ...d,
    capacity: normalizeQuantities(d.capacity),
    consumesCounters: d.consumesCounters?.map((c) => ({
      ...c,
      counters: normalizeQuantities(c.counters),
    })),
    // The API server stamps timeAdded on taints that arrive without it.
    taints: d.taints?.map(({ timeAdded: _ignored, ...rest }) => rest),
  };
}

/** Canonical JSON with sorted keys; undefined, null, empty arrays and empty objects left out. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (isEmpty(v)) continue;
      parts.push(`${JSON.stringify(key)}:${canonical(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Spec equality as the API server would see it (defaults and canonical forms ignored). */
export function specsEqual(a: ResourceSliceSpec, b: ResourceSliceSpec): boolean {
  const norm = (s: ResourceSliceSpec): string =>
    canonical({
      ...s,
      devices: s.devices?.map(normalizeDevice),
      sharedCounters: s.sharedCounters?.map((c) => ({
        ...c,
        counters: normalizeQuantities(c.counters),
      })),
    });
  return norm(a) === norm(b);
}

function withGeneration(slice: ResourceSlice, generation: number): ResourceSlice {
  return { ...slice, spec: { ...slice.spec, pool: { ...slice.spec.pool, generation } } };
}

type TaintTimes = ReadonlyMap<string, readonly DeviceTaint[]>;

/** The stored taints of every device of the pool, by device name. */
function storedTaints(existing: readonly ResourceSlice[]): TaintTimes {
  const out = new Map<string, readonly DeviceTaint[]>();
  for (const slice of existing) {
    for (const d of slice.spec.devices ?? []) if (d.taints !== undefined) out.set(d.name, d.taints);
  }
  return out;
}

/**
 * Keeps the stored timeAdded of taints that did not change (wherever the device was stored
 * before), so rewriting a slice does not make an old taint look new.
 */
function keepTaintTimes(slice: ResourceSlice, times: TaintTimes): ResourceSlice {
  const devices = slice.spec.devices?.map((d) => {
    const old = times.get(d.name) ?? [];
    if (d.taints === undefined || old.length === 0) return d;
    const taints = d.taints.map((t) => {
      const same = old.find((o) => o.key === t.key && o.value === t.value && o.effect === t.effect);
      return same?.timeAdded === undefined || t.timeAdded !== undefined
        ? t
        : { ...t, timeAdded: same.timeAdded };
    });
    return { ...d, taints };
  });
  return devices === undefined ? slice : { ...slice, spec: { ...slice.spec, devices } };
}

function asUpdate(desired: ResourceSlice, stored: ResourceSlice, times: TaintTimes): ResourceSlice {
  const metadata: ObjectMeta = { ...desired.metadata };
  if (stored.metadata.name !== undefined) metadata.name = stored.metadata.name;
  if (stored.metadata.uid !== undefined) metadata.uid = stored.metadata.uid;
  if (stored.metadata.resourceVersion !== undefined) {
    metadata.resourceVersion = stored.metadata.resourceVersion;
  }
  return keepTaintTimes({ ...desired, metadata }, times);
}

/**
 * Decides the writes that turn the stored slices of one pool into the desired ones.
 *
 * Rules (as the upstream slice controller applies them):
 * - Slices are matched by name; only `spec` is compared.
 * - Consumers (scheduler, autoscaler) use only the slices with the pool's HIGHEST generation and
 *   treat the pool as incomplete until they see `resourceSliceCount` of them. So every slice of
 *   the pool must carry the same generation and count.
 * - If at most one slice changes and none is added or removed, that slice is updated in place
 *   and the generation stays: consumers never see a mix of old and new.
 * - Otherwise the generation becomes max(stored) + 1 and every slice is rewritten. Obsolete
 *   slices are listed for deletion and must be deleted FIRST, so consumers never see two
 *   generations' device names side by side.
 * - A pool with no stored slices starts at generation 1 (0 is the builder's placeholder).
 *
 * `existing` must hold exactly the stored slices of this driver's pool.
 */
export function planPoolSync(
  existing: readonly ResourceSlice[],
  desired: readonly ResourceSlice[],
): PoolSyncPlan {
  if (existing.length === 0) {
    return {
      generation: 1,
      deletes: [],
      updates: [],
      creates: desired.map((d) => withGeneration(d, 1)),
      unchanged: 0,
    };
  }
  const current = Math.max(...existing.map((s) => s.spec.pool.generation));
  const stored = new Map(existing.map((s) => [s.metadata.name ?? '', s]));
  const desiredNames = new Set(desired.map((d) => d.metadata.name ?? ''));
  const obsolete = existing.filter((s) => !desiredNames.has(s.metadata.name ?? ''));
  const added = desired.filter((d) => !stored.has(d.metadata.name ?? ''));
  const changed = desired.filter((d) => {
    const old = stored.get(d.metadata.name ?? '');
    return old !== undefined && !specsEqual(old.spec, withGeneration(d, current).spec);
  });
  const times = storedTaints(existing);
  if (obsolete.length === 0 && added.length === 0 && changed.length <= 1) {
    const updates = changed.map((d) =>
      asUpdate(withGeneration(d, current), stored.get(d.metadata.name ?? '') ?? d, times),
    );
    return {
      generation: current,
      deletes: [],
      updates,
      creates: [],
      unchanged: desired.length - updates.length,
    };
  }
  const generation = current + 1;
  const updates: ResourceSlice[] = [];
  const creates: ResourceSlice[] = [];
  for (const d of desired) {
    const old = stored.get(d.metadata.name ?? '');
    const next = withGeneration(d, generation);
    if (old === undefined) creates.push(keepTaintTimes(next, times));
    else updates.push(asUpdate(next, old, times));
  }
  return { generation, deletes: obsolete, updates, creates, unchanged: 0 };
}
