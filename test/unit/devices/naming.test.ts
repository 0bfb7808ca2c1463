import { describe, expect, it } from 'vitest';
import { buildFakeGpus, FAKE_PROFILES } from '../../../src/devices/fake/profiles.ts';
import {
  parseDeviceName,
  partitionDeviceName,
  partitionPlacements,
  placementMemorySlices,
  resolveDeviceName,
  wholeGpuDeviceName,
} from '../../../src/devices/naming.ts';

const sxm = FAKE_PROFILES['sxm8-80g'];
const pcie = FAKE_PROFILES['pcie4-48g'];
if (sxm === undefined || pcie === undefined) throw new Error('profiles missing');
const gpus = buildFakeGpus(sxm, 'node-a');

describe('device naming', () => {
  it('formats whole GPUs and partitions as DNS labels', () => {
    expect(wholeGpuDeviceName(3)).toBe('gpu-3');
    expect(partitionDeviceName(3, '1g.10gb', 2)).toBe('gpu-3-1g-10gb-2');
  });

  it('parses what it formats and nothing else', () => {
    expect(parseDeviceName('gpu-12')).toEqual({ kind: 'gpu', gpuIndex: 12 });
    expect(parseDeviceName('gpu-3-1g-10gb-2')).toEqual({
      kind: 'partition',
      gpuIndex: 3,
      profileSlug: '1g-10gb',
      start: 2,
    });
    for (const bad of [
      'gpu-',
      'gpu-01',
      'GPU-1',
      'gpu-1-',
      'gpu-1-x',
      'nic-0',
      'gpu-1-1g-10gb-02',
    ]) {
      expect(parseDeviceName(bad)).toBeUndefined();
    }
  });

  it('enumerates every placement, largest start first within a profile', () => {
    const gpu = gpus[0];
    if (gpu === undefined) throw new Error('no gpu');
    const placements = partitionPlacements(gpu);
    expect(placements).toHaveLength(7 + 4 + 3 + 2 + 1 + 1);
    expect(placements.slice(0, 7).map((p) => p.start)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    expect(placements.filter((p) => p.profile.name === '3g.40gb').map((p) => p.start)).toEqual([
      4, 0,
    ]);
    const names = placements.map((p) => partitionDeviceName(0, p.profile.name, p.start));
    expect(new Set(names).size).toBe(names.length);
    expect(partitionPlacements(buildFakeGpus(pcie, 'n')[0] ?? gpu)).toEqual([]);
  });

  it('resolves every published name back to its GPU and placement', () => {
    for (const gpu of gpus) {
      expect(resolveDeviceName(gpus, wholeGpuDeviceName(gpu.index))?.gpu).toBe(gpu);
      for (const p of partitionPlacements(gpu)) {
        const r = resolveDeviceName(gpus, partitionDeviceName(gpu.index, p.profile.name, p.start));
        expect(r?.gpu).toBe(gpu);
        expect(r?.placement).toEqual(p);
      }
    }
    expect(resolveDeviceName(gpus, 'gpu-8')).toBeUndefined();
    expect(resolveDeviceName(gpus, 'gpu-0-4g-40gb-4')).toBeUndefined();
  });

  it('lists the memory slices of a placement', () => {
    const profile = sxm.partitions?.profiles.find((p) => p.name === '3g.40gb');
    if (profile === undefined) throw new Error('no profile');
    expect(placementMemorySlices(profile, 4)).toEqual([4, 5, 6, 7]);
  });
});
