import { describe, expect, it } from 'vitest';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import { PoolLedger } from '../../../src/scheduling/pool-ledger.ts';

function slicesFor(
  backend: FakeGpuBackend,
  layout: 'combined' | 'split' = 'split',
  minor = 36,
): ReturnType<typeof buildPoolSlices> {
  return buildPoolSlices(backend.inventory(), {
    driverName: 'gpu.phalanx.dev',
    nodeName: 'node-a',
    nodeUid: 'u',
    layout,
    taintUnhealthy: true,
    serverMinor: minor,
  });
}

function ledgerFor(profile: string, layout: 'combined' | 'split', minor: number): PoolLedger {
  return PoolLedger.fromSlices(slicesFor(new FakeGpuBackend('node-a', { profile }), layout, minor));
}

describe('PoolLedger', () => {
  it.each([
    ['combined', 34],
    ['split', 36],
  ] as const)('never lets a GPU be overcommitted (%s layout)', (layout, minor) => {
    const ledger = ledgerFor('sxm8-80g', layout, minor);
    const smallest = ledger.firstFit(
      7,
      (d) => d.attributes['profile']?.string === '1g.10gb' && d.attributes['index']?.int === 0,
    );
    expect(smallest).toHaveLength(7);
    expect(ledger.whyNot('gpu-0')).toMatch(
      /counter gpu-0-counters\/\S+ has \S+ left, device gpu-0 needs/,
    );
    expect(
      ledger.firstFit(
        1,
        (d) => d.attributes['index']?.int === 0 && d.attributes['profile']?.string === '1g.10gb',
      ),
    ).toBeUndefined();
    for (const name of smallest ?? []) ledger.release(name);
    expect(ledger.whyNot('gpu-0')).toBeUndefined();
  });

  it('rejects an incomplete pool', () => {
    const backend = new FakeGpuBackend('node-a', { profile: 'sxm8-80g' });
    const slices = slicesFor(backend);
    expect(() => PoolLedger.fromSlices(slices.slice(1))).toThrow(
      /incomplete: 3 of 4 slices present/,
    );
  });

  it('keeps tainted devices out', () => {
    const backend = new FakeGpuBackend('node-a', { profile: 'pcie4-48g' });
    backend.setHealth(1, 'lost', 'gone');
    const slices = slicesFor(backend);
    const ledger = PoolLedger.fromSlices(slices);
    expect(ledger.whyNot('gpu-1')).toBe('device gpu-1 is tainted');
    expect(ledger.firstFit(3, () => true)).toEqual(['gpu-0', 'gpu-2', 'gpu-3']);
  });
});
