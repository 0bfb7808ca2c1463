/**
 * Named fake node profiles: deterministic GPU inventories that look like real machines.
 *
 * Everything here is a pure function of (profile, node name, options): the same node always gets
 * the same UUIDs, PCI addresses and topology, and different nodes get different UUIDs.
 *
 * Profiles:
 * - `sxm8-80g`  — 8 Hopper-like SXM GPUs (80 GiB) behind one node-local NVSwitch fabric, two NUMA
 *                 nodes / PCIe roots (4 + 4), MIG-like partitions (table below).
 * - `pcie4-48g` — 4 Ada-like PCIe GPUs (48 GiB), two PCIe/NUMA islands (0,1 | 2,3), no NVLink, no
 *                 partitions.
 * - `nvl4-rack` — 4 Blackwell-like GPUs (186 GiB) per node of a multi-node NVLink rack: the NVLink
 *                 domain and clique id are shared by every node of the rack. Partitions are enabled
 *                 (GB200-like MIG table below) so rack nodes also exercise partitioned publishing.
 */
import { createHash } from 'node:crypto';
import type { GpuInfo, PartitionGeometry, PartitionProfile } from '../types.ts';

const GiB = 1024 ** 3;

/** Largest GPU count a fake node may be configured with (keeps PCI addresses realistic). */
export const MAX_FAKE_GPUS = 64;

/** How a profile's GPUs are joined by NVLink. */
export type NvlinkScope = 'none' | 'node' | 'rack';

export interface FakeNodeProfile {
  readonly name: string;
  readonly description: string;
  readonly defaultGpus: number;
  readonly productName: string;
  readonly architecture: string;
  readonly driverVersion: string;
  readonly memoryBytes: number;
  readonly nvlink: NvlinkScope;
  /** NUMA nodes (each with its own PCIe root); GPUs are split evenly in index order. */
  readonly numaNodes: number;
  readonly partitions?: PartitionGeometry;
}

function profile(
  name: string,
  computeSlices: number,
  memorySlices: number,
  sliceBytes: number,
  placements: readonly number[],
): PartitionProfile {
  return { name, computeSlices, memorySlices, memoryBytes: memorySlices * sliceBytes, placements };
}

/**
 * Hopper-like MIG geometry: 7 compute slices, 8 memory slices of 10 GiB.
 *
 * | profile  | compute | memory slices | start slices |
 * |----------|---------|---------------|--------------|
 * | 1g.10gb  | 1       | 1             | 0,1,2,3,4,5,6 |
 * | 1g.20gb  | 1       | 2             | 0,2,4,6      |
 * | 2g.20gb  | 2       | 2             | 0,2,4        |
 * | 3g.40gb  | 3       | 4             | 0,4          |
 * | 4g.40gb  | 4       | 4             | 0            |
 * | 7g.80gb  | 7       | 8             | 0            |
 *
 * A partition's memory is exactly its memory slices (10 GiB each), so the per-GPU counters add up.
 */
export const HOPPER_80G_GEOMETRY: PartitionGeometry = {
  computeSlices: 7,
  memorySlices: 8,
  profiles: [
    profile('1g.10gb', 1, 1, 10 * GiB, [0, 1, 2, 3, 4, 5, 6]),
    profile('1g.20gb', 1, 2, 10 * GiB, [0, 2, 4, 6]),
    profile('2g.20gb', 2, 2, 10 * GiB, [0, 2, 4]),
    profile('3g.40gb', 3, 4, 10 * GiB, [0, 4]),
    profile('4g.40gb', 4, 4, 10 * GiB, [0]),
    profile('7g.80gb', 7, 8, 10 * GiB, [0]),
  ],
};

/**
 * Blackwell-like (GB200) MIG geometry: 7 compute slices, 8 memory slices of 23.25 GiB
 * (186 GiB / 8). Same placement rules as the Hopper table, larger memory per slice.
 */
export const BLACKWELL_186G_GEOMETRY: PartitionGeometry = {
  computeSlices: 7,
  memorySlices: 8,
  profiles: [
    profile('1g.23gb', 1, 1, (186 * GiB) / 8, [0, 1, 2, 3, 4, 5, 6]),
    profile('1g.47gb', 1, 2, (186 * GiB) / 8, [0, 2, 4, 6]),
    profile('2g.47gb', 2, 2, (186 * GiB) / 8, [0, 2, 4]),
    profile('3g.93gb', 3, 4, (186 * GiB) / 8, [0, 4]),
    profile('4g.93gb', 4, 4, (186 * GiB) / 8, [0]),
    profile('7g.186gb', 7, 8, (186 * GiB) / 8, [0]),
  ],
};

export const FAKE_PROFILES: Readonly<Record<string, FakeNodeProfile>> = {
  'sxm8-80g': {
    name: 'sxm8-80g',
    description: '8 x Hopper-like SXM 80 GiB, one NVSwitch domain, MIG-like partitions',
    defaultGpus: 8,
    productName: 'Phalanx Fake H100 SXM 80GB',
    architecture: 'Hopper',
    driverVersion: '570.124.6',
    memoryBytes: 80 * GiB,
    nvlink: 'node',
    numaNodes: 2,
    partitions: HOPPER_80G_GEOMETRY,
  },
  'pcie4-48g': {
    name: 'pcie4-48g',
    description: '4 x Ada-like PCIe 48 GiB, two PCIe/NUMA islands, no NVLink, no partitions',
    defaultGpus: 4,
    productName: 'Phalanx Fake L40S 48GB',
    architecture: 'Ada Lovelace',
    driverVersion: '570.124.6',
    memoryBytes: 48 * GiB,
    nvlink: 'none',
    numaNodes: 2,
  },
  'nvl4-rack': {
    name: 'nvl4-rack',
    description: '4 x Blackwell-like 186 GiB per node of a multi-node NVLink rack',
    defaultGpus: 4,
    productName: 'Phalanx Fake GB200 186GB',
    architecture: 'Blackwell',
    driverVersion: '580.65.6',
    memoryBytes: 186 * GiB,
    nvlink: 'rack',
    numaNodes: 2,
    partitions: BLACKWELL_186G_GEOMETRY,
  },
};

export const FAKE_PROFILE_NAMES: readonly string[] = Object.keys(FAKE_PROFILES);

export function fakeProfile(name: string): FakeNodeProfile | undefined {
  return Object.hasOwn(FAKE_PROFILES, name) ? FAKE_PROFILES[name] : undefined;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Formats the first 32 hex digits of a hash as `8-4-4-4-12`. */
function uuidFromHash(hex: string): string {
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20, 32),
  ].join('-');
}

/** `GPU-<uuid>` derived from sha256(`<node>/<index>`). */
export function fakeGpuUuid(nodeName: string, index: number): string {
  return `GPU-${uuidFromHash(sha256Hex(`${nodeName}/${index}`))}`;
}

/** `MIG-<uuid>` derived from sha256(`<gpu uuid>/<profile>/<start>`). */
export function fakePartitionUuid(gpuUuid: string, profileName: string, start: number): string {
  return `MIG-${uuidFromHash(sha256Hex(`${gpuUuid}/${profileName}/${start}`))}`;
}

/** Options that place a node inside a multi-node NVLink rack (profile `nvl4-rack`). */
export interface RackOptions {
  readonly rackDomain?: string | undefined;
  readonly cliqueId?: string | undefined;
}

/** Attribute strings are limited to 64 characters; longer names are shortened with a hash. */
const MAX_ATTRIBUTE_STRING = 64;

function fitAttribute(value: string, suffix: string): string {
  const full = `${value}${suffix}`;
  if (full.length <= MAX_ATTRIBUTE_STRING) return full;
  const hash = sha256Hex(value).slice(0, 12);
  const keep = MAX_ATTRIBUTE_STRING - suffix.length - hash.length - 1;
  return `${value.slice(0, keep)}-${hash}${suffix}`;
}

/**
 * Default rack of a node: its name without a trailing index (`gb-r1-07` → `gb-r1`), so nodes
 * named `<rack>-<n>` share a rack without configuration.
 */
export function defaultRackDomain(nodeName: string): string {
  const base = nodeName.replace(/[-_.]?\d+$/, '');
  return fitAttribute(base === '' ? nodeName : base, '-nvl');
}

/** Default clique id: `<uuid from the rack domain>.0`. */
export function defaultCliqueId(rackDomain: string): string {
  return `${uuidFromHash(sha256Hex(`clique/${rackDomain}`))}.0`;
}

function nvlinkTopology(
  p: FakeNodeProfile,
  nodeName: string,
  rack: RackOptions,
): { nvlinkDomain: string; cliqueId: string } {
  if (p.nvlink === 'none') return { nvlinkDomain: '', cliqueId: '' };
  if (p.nvlink === 'node') return { nvlinkDomain: fitAttribute(nodeName, '-nvl'), cliqueId: '' };
  const nvlinkDomain = rack.rackDomain ?? defaultRackDomain(nodeName);
  return { nvlinkDomain, cliqueId: rack.cliqueId ?? defaultCliqueId(nvlinkDomain) };
}

/** Root bus of each NUMA node's PCIe root complex (two-socket server layout). */
const ROOT_BUSES = [0x10, 0x90] as const;

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** PCI placement of GPU `index` of `count` on `numaNodes` sockets. */
export function pciPlacement(
  index: number,
  count: number,
  numaNodes: number,
): { numaNode: number; pcieRoot: string; pciBusID: string } {
  const perNuma = Math.ceil(count / numaNodes);
  const numaNode = Math.floor(index / perNuma);
  const slot = index - numaNode * perNuma;
  const rootBus = ROOT_BUSES[numaNode % ROOT_BUSES.length] ?? 0x10;
  const domain = Math.floor(numaNode / ROOT_BUSES.length);
  const dom = domain.toString(16).padStart(4, '0');
  // Each GPU sits behind its own switch port: root bus + 1 + 3 * slot (≤ 32 GPUs per root).
  return {
    numaNode,
    pcieRoot: `pci${dom}:${hex2(rootBus)}`,
    pciBusID: `${dom}:${hex2(rootBus + 1 + 3 * slot)}:00.0`,
  };
}

/** Builds the GPUs of `nodeName` for a profile. `count` defaults to the profile's GPU count. */
export function buildFakeGpus(
  p: FakeNodeProfile,
  nodeName: string,
  count: number = p.defaultGpus,
  rack: RackOptions = {},
): GpuInfo[] {
  const { nvlinkDomain, cliqueId } = nvlinkTopology(p, nodeName, rack);
  const gpus: GpuInfo[] = [];
  for (let index = 0; index < count; index++) {
    const gpu: GpuInfo = {
      index,
      uuid: fakeGpuUuid(nodeName, index),
      productName: p.productName,
      architecture: p.architecture,
      driverVersion: p.driverVersion,
      memoryBytes: p.memoryBytes,
      ...pciPlacement(index, count, p.numaNodes),
      nvlinkDomain,
      cliqueId,
      ...(p.partitions === undefined ? {} : { partitions: p.partitions }),
    };
    gpus.push(gpu);
  }
  return gpus;
}
