/**
 * ResourceSlice device names and partition placements, shared by every backend and by the slice
 * builder so that a published name always resolves to the same hardware.
 *
 * - whole GPU: `gpu-<index>`                          e.g. `gpu-3`
 * - partition: `gpu-<index>-<profile>-<start>` with the profile's dots turned into dashes,
 *   e.g. `gpu-3-1g-10gb-2` (device names must be DNS labels, which have no dots).
 *
 * Pure: no I/O.
 */
import type { GpuInfo, PartitionPlacement, PartitionProfile } from './types.ts';

export function wholeGpuDeviceName(gpuIndex: number): string {
  return `gpu-${gpuIndex}`;
}

/** The DNS-label form of a profile name: `1g.10gb` → `1g-10gb`. */
export function profileSlug(profileName: string): string {
  return profileName.replaceAll('.', '-');
}

export function partitionDeviceName(gpuIndex: number, profileName: string, start: number): string {
  return `gpu-${gpuIndex}-${profileSlug(profileName)}-${start}`;
}

/** A device name taken apart; the profile is still in slug form (resolve it against a GPU). */
export type ParsedDeviceName =
  | { readonly kind: 'gpu'; readonly gpuIndex: number }
  | {
      readonly kind: 'partition';
      readonly gpuIndex: number;
      readonly profileSlug: string;
      readonly start: number;
    };

const WHOLE_RE = /^gpu-(0|[1-9]\d{0,3})$/;
const PARTITION_RE = /^gpu-(0|[1-9]\d{0,3})-([a-z0-9][a-z0-9-]*[a-z0-9])-(0|[1-9]\d{0,2})$/;

/** Parses a device name produced by this module; undefined for anything else. */
export function parseDeviceName(name: string): ParsedDeviceName | undefined {
  const whole = WHOLE_RE.exec(name);
  if (whole !== null) return { kind: 'gpu', gpuIndex: Number(whole[1]) };
  const part = PARTITION_RE.exec(name);
  if (part === null) return undefined;
  return {
    kind: 'partition',
    gpuIndex: Number(part[1]),
    profileSlug: part[2] ?? '',
    start: Number(part[3]),
  };
}

/**
 * Every placement of every profile of a partitionable GPU, in publishing (= allocation priority)
 * order: profiles in geometry order, and within a profile the highest start first. First-fit
 * allocation then fills small partitions from the top of the memory range and keeps the low
 * slices, where the large profiles must start, free for as long as possible.
 * Empty for GPUs without partitions.
 */
export function partitionPlacements(gpu: GpuInfo): PartitionPlacement[] {
  const placements: PartitionPlacement[] = [];
  for (const profile of gpu.partitions?.profiles ?? []) {
    const starts = [...profile.placements].sort((a, b) => b - a);
    for (const start of starts) placements.push({ gpuIndex: gpu.index, profile, start });
  }
  return placements;
}

/** The memory slices `[start, start + memorySlices)` a placement occupies. */
export function placementMemorySlices(profile: PartitionProfile, start: number): number[] {
  return Array.from({ length: profile.memorySlices }, (_, i) => start + i);
}

/** What a device name refers to on a given set of GPUs. */
export interface ResolvedDevice {
  readonly name: string;
  readonly gpu: GpuInfo;
  /** Set for partitions, absent for whole GPUs. */
  readonly placement?: PartitionPlacement;
}

/** Resolves a device name against a node's GPUs; undefined if the node does not publish it. */
export function resolveDeviceName(
  gpus: readonly GpuInfo[],
  name: string,
): ResolvedDevice | undefined {
  const parsed = parseDeviceName(name);
  if (parsed === undefined) return undefined;
  const gpu = gpus.find((g) => g.index === parsed.gpuIndex);
  if (gpu === undefined) return undefined;
  if (parsed.kind === 'gpu') return { name, gpu };
  const profile = gpu.partitions?.profiles.find((p) => profileSlug(p.name) === parsed.profileSlug);
  if (profile === undefined || !profile.placements.includes(parsed.start)) return undefined;
  return { name, gpu, placement: { gpuIndex: gpu.index, profile, start: parsed.start } };
}
