import { describe, expect, it } from 'vitest';
import type { FakeNodeProfile } from '../../../../src/devices/fake/profiles.ts';
import {
  buildFakeGpus,
  defaultCliqueId,
  defaultRackDomain,
  FAKE_PROFILE_NAMES,
  FAKE_PROFILES,
  fakeGpuUuid,
  fakePartitionUuid,
  fakeProfile,
  MAX_FAKE_GPUS,
} from '../../../../src/devices/fake/profiles.ts';

const UUID_RE = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function profileNamed(name: string): FakeNodeProfile {
  const p = fakeProfile(name);
  if (p === undefined) throw new Error(`missing profile ${name}`);
  return p;
}

describe('fake profiles', () => {
  it('offers the three documented profiles and nothing from the prototype chain', () => {
    expect(FAKE_PROFILE_NAMES).toEqual(['sxm8-80g', 'pcie4-48g', 'nvl4-rack']);
    expect(fakeProfile('toString')).toBeUndefined();
    expect(fakeProfile('nope')).toBeUndefined();
  });

  it('derives the same UUIDs for the same node and different ones for another node', () => {
    const p = profileNamed('sxm8-80g');
    const a1 = buildFakeGpus(p, 'node-a');
    const a2 = buildFakeGpus(p, 'node-a');
    const b = buildFakeGpus(p, 'node-b');
    expect(a1).toEqual(a2);
    for (const gpu of a1) expect(gpu.uuid).toMatch(UUID_RE);
    expect(new Set(a1.map((g) => g.uuid)).size).toBe(8);
    const bUuids = new Set(b.map((g) => g.uuid));
    for (const gpu of a1) expect(bUuids.has(gpu.uuid)).toBe(false);
    expect(fakeGpuUuid('node-a', 3)).toBe(a1[3]?.uuid);
  });

  it('derives partition UUIDs from GPU, profile and start', () => {
    const gpu = fakeGpuUuid('node-a', 0);
    const u = fakePartitionUuid(gpu, '1g.10gb', 2);
    expect(u).toMatch(/^MIG-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/);
    expect(fakePartitionUuid(gpu, '1g.10gb', 2)).toBe(u);
    expect(fakePartitionUuid(gpu, '1g.10gb', 3)).not.toBe(u);
    expect(fakePartitionUuid(gpu, '2g.20gb', 2)).not.toBe(u);
  });

  it('sxm8-80g: 8 x 80 GiB, one node-local NVLink domain, 4+4 NUMA/PCIe roots, partitions', () => {
    const gpus = buildFakeGpus(profileNamed('sxm8-80g'), 'node-a');
    expect(gpus).toHaveLength(8);
    expect(new Set(gpus.map((g) => g.nvlinkDomain))).toEqual(new Set(['node-a-nvl']));
    expect(gpus.every((g) => g.cliqueId === '')).toBe(true);
    expect(gpus.map((g) => g.numaNode)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(new Set(gpus.slice(0, 4).map((g) => g.pcieRoot)).size).toBe(1);
    expect(new Set(gpus.slice(4).map((g) => g.pcieRoot)).size).toBe(1);
    expect(gpus[0]?.pcieRoot).not.toBe(gpus[4]?.pcieRoot);
    expect(new Set(gpus.map((g) => g.pciBusID)).size).toBe(8);
    for (const g of gpus) {
      expect(g.memoryBytes).toBe(80 * 1024 ** 3);
      expect(g.productName).toBe('Phalanx Fake H100 SXM 80GB');
      expect(g.pciBusID).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:00\.0$/);
      expect(g.pcieRoot).toMatch(/^pci[0-9a-f]{4}:[0-9a-f]{2}$/);
      expect(g.partitions?.computeSlices).toBe(7);
      expect(g.partitions?.memorySlices).toBe(8);
    }
    expect(gpus[4]?.nvlinkDomain).toBe(
      buildFakeGpus(profileNamed('sxm8-80g'), 'node-a')[0]?.nvlinkDomain,
    );
    expect(buildFakeGpus(profileNamed('sxm8-80g'), 'node-b')[0]?.nvlinkDomain).toBe('node-b-nvl');
  });

  it('sxm8-80g: partition table keeps memory consistent and placements within the GPU', () => {
    const geometry = FAKE_PROFILES['sxm8-80g']?.partitions;
    expect(geometry?.profiles.map((p) => p.name)).toEqual([
      '1g.10gb',
      '1g.20gb',
      '2g.20gb',
      '3g.40gb',
      '4g.40gb',
      '7g.80gb',
    ]);
    for (const p of geometry?.profiles ?? []) {
      expect(p.memoryBytes).toBe(p.memorySlices * 10 * 1024 ** 3);
      for (const start of p.placements) {
        expect(start + p.memorySlices).toBeLessThanOrEqual(geometry?.memorySlices ?? 0);
      }
      expect(p.computeSlices).toBeLessThanOrEqual(geometry?.computeSlices ?? 0);
    }
  });

  it('pcie4-48g: 4 PCIe GPUs in two islands, no NVLink, no partitions', () => {
    const gpus = buildFakeGpus(profileNamed('pcie4-48g'), 'node-p');
    expect(gpus).toHaveLength(4);
    expect(gpus.map((g) => g.numaNode)).toEqual([0, 0, 1, 1]);
    expect(gpus[0]?.pcieRoot).toBe(gpus[1]?.pcieRoot);
    expect(gpus[2]?.pcieRoot).toBe(gpus[3]?.pcieRoot);
    expect(gpus[0]?.pcieRoot).not.toBe(gpus[2]?.pcieRoot);
    for (const g of gpus) {
      expect(g.nvlinkDomain).toBe('');
      expect(g.cliqueId).toBe('');
      expect(g.partitions).toBeUndefined();
      expect(g.memoryBytes).toBe(48 * 1024 ** 3);
    }
  });

  it('nvl4-rack: nodes of one rack share the NVLink domain and clique id', () => {
    const p = profileNamed('nvl4-rack');
    const a = buildFakeGpus(p, 'gb-r1-07');
    const b = buildFakeGpus(p, 'gb-r1-08');
    const other = buildFakeGpus(p, 'gb-r2-01');
    expect(a).toHaveLength(4);
    expect(a[0]?.nvlinkDomain).toBe('gb-r1-nvl');
    expect(b[3]?.nvlinkDomain).toBe(a[0]?.nvlinkDomain);
    expect(b[0]?.cliqueId).toBe(a[0]?.cliqueId);
    expect(a[0]?.cliqueId).toBe(defaultCliqueId('gb-r1-nvl'));
    expect(a[0]?.cliqueId).toMatch(/^[0-9a-f-]{36}\.0$/);
    expect(other[0]?.nvlinkDomain).not.toBe(a[0]?.nvlinkDomain);
    expect(other[0]?.cliqueId).not.toBe(a[0]?.cliqueId);
    expect(a[0]?.uuid).not.toBe(b[0]?.uuid);
    expect(a[0]?.partitions?.profiles.map((x) => x.name)).toContain('7g.186gb');
  });

  it('nvl4-rack: explicit rack domain and clique id win', () => {
    const gpus = buildFakeGpus(profileNamed('nvl4-rack'), 'n1', 4, {
      rackDomain: 'rack-a',
      cliqueId: 'abc.3',
    });
    expect(gpus.every((g) => g.nvlinkDomain === 'rack-a' && g.cliqueId === 'abc.3')).toBe(true);
  });

  it('keeps derived NVLink names within the 64-character attribute limit', () => {
    const long = `node-${'x'.repeat(120)}-3`;
    expect(defaultRackDomain(long).length).toBeLessThanOrEqual(64);
    const gpus = buildFakeGpus(profileNamed('sxm8-80g'), long);
    expect(gpus[0]?.nvlinkDomain.length).toBeLessThanOrEqual(64);
    expect(gpus[0]?.nvlinkDomain.endsWith('-nvl')).toBe(true);
  });

  it('gives unique PCI addresses up to the maximum GPU count', () => {
    for (const name of FAKE_PROFILE_NAMES) {
      const gpus = buildFakeGpus(profileNamed(name), 'node-a', MAX_FAKE_GPUS);
      expect(new Set(gpus.map((g) => g.pciBusID)).size).toBe(MAX_FAKE_GPUS);
      expect(new Set(gpus.map((g) => g.pcieRoot)).size).toBe(2);
      const buses = gpus.map((g) => Number.parseInt(g.pciBusID.split(':')[1] ?? '', 16));
      expect(Math.max(...buses)).toBeLessThan(256);
    }
  });
});
