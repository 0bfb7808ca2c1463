import { describe, expect, it } from 'vitest';
import { FakeGpuBackend, type Sleep } from '../../../../src/devices/fake/backend.ts';
import type { FakeBackendConfig } from '../../../../src/devices/fake/config.ts';
import {
  BackendError,
  type BackendPrepareRequest,
  type DeviceInventory,
} from '../../../../src/devices/types.ts';

const EXCLUSIVE = { strategy: 'Exclusive' } as const;

function req(claimUid: string, ...names: string[]): BackendPrepareRequest {
  return { claimUid, devices: names.map((deviceName) => ({ deviceName, sharing: EXCLUSIVE })) };
}

/** A clock the test moves and a sleep that records delays and advances the clock. */
function harness(config: FakeBackendConfig = { profile: 'sxm8-80g' }) {
  let now = 1_000;
  const sleeps: number[] = [];
  const sleep: Sleep = async (ms, signal) => {
    signal?.throwIfAborted();
    sleeps.push(ms);
    now += ms;
  };
  const backend = new FakeGpuBackend('node-a', config, () => now, sleep);
  return { backend, sleeps, tick: (ms: number) => (now += ms) };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    const err = e as BackendError;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a BackendError');
}

describe('FakeGpuBackend inventory', () => {
  it('reports the profile GPUs, all healthy at the clock time', () => {
    const { backend } = harness();
    const inv = backend.inventory();
    expect(inv.nodeName).toBe('node-a');
    expect(inv.gpus).toHaveLength(8);
    expect([...inv.health.values()].every((h) => h.health === 'healthy' && h.since === 1_000)).toBe(
      true,
    );
  });

  it('honours the GPU count override and config faults', () => {
    const { backend } = harness({
      profile: 'pcie4-48g',
      gpus: 2,
      faults: [{ gpu: 1, kind: 'lost', message: 'XID 79' }],
    });
    const inv = backend.inventory();
    expect(inv.gpus).toHaveLength(2);
    expect(inv.health.get(1)).toEqual({ health: 'lost', message: 'XID 79', since: 1_000 });
  });

  it('returns a snapshot: later changes do not alter an old inventory', () => {
    const { backend } = harness();
    const before = backend.inventory();
    backend.setHealth(0, 'unhealthy', 'ECC');
    expect(before.health.get(0)?.health).toBe('healthy');
    expect(backend.inventory().health.get(0)?.health).toBe('unhealthy');
  });

  it('rejects unknown profiles', () => {
    expect(() => new FakeGpuBackend('n', { profile: 'x' })).toThrow(/profile "x" is unknown/);
  });
});

describe('FakeGpuBackend prepare', () => {
  it('prepares a whole GPU with its UUID and minimal env', async () => {
    const { backend } = harness();
    const gpu3 = backend.inventory().gpus[3];
    const [dev] = await backend.prepare(req('c1', 'gpu-3'));
    expect(dev).toEqual({
      deviceName: 'gpu-3',
      uuid: gpu3?.uuid,
      gpuUuid: gpu3?.uuid,
      gpuIndex: 3,
      profile: 'full',
      env: {
        PHALANX_GPU_UUID: gpu3?.uuid,
        PHALANX_DEVICE_UUID: gpu3?.uuid,
        PHALANX_DEVICE_PROFILE: 'full',
        PHALANX_SHARING_STRATEGY: 'Exclusive',
      },
    });
    expect(backend.preparedClaims()).toEqual(['c1']);
  });

  it('prepares partitions with deterministic MIG UUIDs and sharing env', async () => {
    const a = harness().backend;
    const b = harness().backend;
    const request: BackendPrepareRequest = {
      claimUid: 'c1',
      devices: [
        { deviceName: 'gpu-1-1g-10gb-6', sharing: { strategy: 'TimeSlicing', interval: 'Short' } },
        {
          deviceName: 'gpu-1-3g-40gb-0',
          sharing: { strategy: 'SpacePartitioning', partitionCount: 3 },
        },
      ],
    };
    const devs = await a.prepare(request);
    expect(await b.prepare(request)).toEqual(devs);
    expect(devs.map((d) => d.profile)).toEqual(['1g.10gb', '3g.40gb']);
    expect(devs[0]?.uuid).toMatch(/^MIG-/);
    expect(devs[0]?.uuid).not.toBe(devs[1]?.uuid);
    expect(devs[0]?.gpuUuid).toBe(a.inventory().gpus[1]?.uuid);
    expect(devs[0]?.env.PHALANX_TIMESLICE_INTERVAL).toBe('Short');
    expect(devs[1]?.env.PHALANX_SPACE_PARTITIONS).toBe('3');
  });

  it('is idempotent per claim and refuses different devices for a prepared claim', async () => {
    const { backend } = harness();
    const first = await backend.prepare(req('c1', 'gpu-0', 'gpu-1'));
    expect(await backend.prepare(req('c1', 'gpu-1', 'gpu-0'))).toEqual(first);
    const err = await codeOf(backend.prepare(req('c1', 'gpu-2')));
    expect(err.code).toBe('Internal');
    expect(err.message).toBe(
      'claim c1 is already prepared with devices gpu-0, gpu-1; unprepare it before preparing different devices',
    );
  });

  it('returns copies: callers cannot corrupt stored results', async () => {
    const { backend } = harness();
    const [dev] = await backend.prepare(req('c1', 'gpu-0'));
    if (dev === undefined) throw new Error('no device');
    (dev.env as Record<string, string>).PHALANX_GPU_UUID = 'changed';
    const [again] = await backend.prepare(req('c1', 'gpu-0'));
    expect(again?.env.PHALANX_GPU_UUID).not.toBe('changed');
  });

  it('rejects devices the node does not publish', async () => {
    const { backend } = harness({ profile: 'pcie4-48g' });
    for (const name of ['gpu-9', 'gpu-0-1g-10gb-0', 'nic-0', 'gpu-01']) {
      const err = await codeOf(backend.prepare(req('c1', name)));
      expect(err.code).toBe('UnknownDevice');
      expect(err.message).toBe(`claim c1: device "${name}" does not exist on node node-a`);
    }
    const sxm = harness().backend;
    expect((await codeOf(sxm.prepare(req('c1', 'gpu-0-1g-10gb-7')))).code).toBe('UnknownDevice');
    expect((await codeOf(sxm.prepare(req('c1', 'gpu-0-5g-50gb-0')))).code).toBe('UnknownDevice');
  });

  it('refuses a whole GPU while a partition on it is held, and the reverse', async () => {
    const { backend } = harness();
    await backend.prepare(req('a', 'gpu-2-1g-10gb-3'));
    const busy = await codeOf(backend.prepare(req('b', 'gpu-2')));
    expect(busy).toEqual({
      code: 'DeviceBusy',
      message:
        'claim b: device "gpu-2" overlaps devices held by claim a; unprepare that claim first',
    });
    await backend.prepare(req('c', 'gpu-3'));
    expect((await codeOf(backend.prepare(req('d', 'gpu-3-7g-80gb-0')))).message).toMatch(/claim c/);
  });

  it('allows disjoint partitions on one GPU and refuses overlapping ones', async () => {
    const { backend } = harness();
    await backend.prepare(req('a', 'gpu-0-4g-40gb-0'));
    await backend.prepare(req('b', 'gpu-0-1g-10gb-4'));
    await backend.prepare(req('c', 'gpu-0-1g-20gb-6'));
    expect((await codeOf(backend.prepare(req('d', 'gpu-0-1g-10gb-3')))).message).toMatch(/claim a/);
    expect((await codeOf(backend.prepare(req('d', 'gpu-0-1g-10gb-7')))).code).toBe('UnknownDevice');
    expect((await codeOf(backend.prepare(req('d', 'gpu-0-1g-10gb-6')))).message).toMatch(/claim c/);
    await backend.prepare(req('e', 'gpu-0-1g-10gb-5'));
    expect(backend.preparedClaims()).toEqual(['a', 'b', 'c', 'e']);
  });

  it('lets only one of two concurrent prepares of overlapping devices win', async () => {
    const { backend } = harness({
      profile: 'sxm8-80g',
      faults: [{ gpu: 0, kind: 'slowPrepare', delayMs: 5 }],
    });
    const results = await Promise.allSettled([
      backend.prepare(req('a', 'gpu-0')),
      backend.prepare(req('b', 'gpu-0-1g-10gb-0')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const rejected = results[1];
    expect(rejected?.status === 'rejected' && (rejected.reason as BackendError).code).toBe(
      'DeviceBusy',
    );
    expect(backend.preparedClaims()).toEqual(['a']);
  });

  it('refuses overlapping devices inside one claim', async () => {
    const { backend } = harness();
    const err = await codeOf(backend.prepare(req('a', 'gpu-0-2g-20gb-2', 'gpu-0-3g-40gb-0')));
    expect(err.code).toBe('DeviceBusy');
    expect(backend.preparedClaims()).toEqual([]);
  });

  it('frees devices on unprepare and accepts unknown claims', async () => {
    const { backend } = harness();
    await backend.prepare(req('a', 'gpu-0'));
    await backend.unprepare('a');
    await backend.unprepare('never-prepared');
    await backend.prepare(req('b', 'gpu-0-1g-10gb-0'));
    expect(backend.preparedClaims()).toEqual(['b']);
  });

  it('rejects an already aborted signal before doing anything', async () => {
    const { backend } = harness();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(backend.prepare(req('a', 'gpu-0'), ac.signal)).rejects.toThrow('stop');
    expect(backend.preparedClaims()).toEqual([]);
  });
});

describe('FakeGpuBackend faults', () => {
  it('unhealthy and lost GPUs refuse prepare with the reason', async () => {
    const { backend } = harness({
      profile: 'sxm8-80g',
      faults: [
        { gpu: 1, kind: 'unhealthy', message: 'XID 48: double-bit ECC' },
        { gpu: 2, kind: 'lost' },
      ],
    });
    expect(await codeOf(backend.prepare(req('a', 'gpu-1-1g-10gb-0')))).toEqual({
      code: 'DeviceUnhealthy',
      message:
        'claim a: device "gpu-1-1g-10gb-0" is on gpu-1, which is unhealthy (XID 48: double-bit ECC)',
    });
    const lost = await codeOf(backend.prepare(req('a', 'gpu-2')));
    expect(lost.code).toBe('DeviceUnhealthy');
    expect(lost.message).toMatch(/which is lost \(injected fault: GPU has fallen off the bus\)/);
  });

  it('slowPrepare delays prepares touching the GPU, by the injected sleep', async () => {
    const { backend, sleeps } = harness({
      profile: 'sxm8-80g',
      faults: [{ gpu: 3, kind: 'slowPrepare', delayMs: 1500 }],
    });
    await backend.prepare(req('a', 'gpu-0'));
    expect(sleeps).toEqual([]);
    await backend.prepare(req('b', 'gpu-1', 'gpu-3-1g-10gb-0'));
    expect(sleeps).toEqual([1500]);
  });

  it('slowPrepare is abortable with the real sleep', async () => {
    const backend = new FakeGpuBackend('node-a', {
      profile: 'sxm8-80g',
      faults: [{ gpu: 0, kind: 'slowPrepare', delayMs: 60_000 }],
    });
    const ac = new AbortController();
    const pending = backend.prepare(req('a', 'gpu-0'), ac.signal);
    setTimeout(() => ac.abort(new Error('deadline')), 5);
    await expect(pending).rejects.toThrow('deadline');
    expect(backend.preparedClaims()).toEqual([]);
  });

  it('re-checks health after the delay', async () => {
    // The GPU is lost while the prepare waits: the prepare must not succeed afterwards.
    const backend: FakeGpuBackend = new FakeGpuBackend(
      'node-a',
      { profile: 'sxm8-80g', faults: [{ gpu: 0, kind: 'slowPrepare', delayMs: 10 }] },
      () => 0,
      async () => backend.setHealth(0, 'lost', 'gone'),
    );
    expect((await codeOf(backend.prepare(req('a', 'gpu-0')))).code).toBe('DeviceUnhealthy');
    expect(backend.preparedClaims()).toEqual([]);
  });

  it('failPrepare fails the next count prepares touching the GPU, then succeeds', async () => {
    const { backend } = harness();
    backend.injectFault({ gpu: 4, kind: 'failPrepare', count: 2, message: 'driver busy' });
    await backend.prepare(req('other', 'gpu-5'));
    for (let i = 0; i < 2; i++) {
      expect(await codeOf(backend.prepare(req('a', 'gpu-4')))).toEqual({
        code: 'InjectedFailure',
        message: 'claim a: driver busy on gpu-4',
      });
    }
    await backend.prepare(req('a', 'gpu-4'));
    expect(backend.preparedClaims()).toEqual(['a', 'other']);
  });

  it('failPrepare without count fails until cleared', async () => {
    const { backend } = harness();
    backend.injectFault({ gpu: 0, kind: 'failPrepare' });
    for (let i = 0; i < 5; i++) {
      expect((await codeOf(backend.prepare(req('a', 'gpu-0-7g-80gb-0')))).code).toBe(
        'InjectedFailure',
      );
    }
    backend.clearFaults(0);
    await backend.prepare(req('a', 'gpu-0-7g-80gb-0'));
  });

  it('setHealth, injectFault and clearFaults notify listeners with the new inventory', () => {
    const { backend, tick } = harness();
    const seen: DeviceInventory[] = [];
    const off = backend.onChange((inv) => seen.push(inv));
    tick(5);
    backend.setHealth(2, 'unhealthy', 'XID 94');
    backend.setHealth(2, 'unhealthy', 'XID 94'); // no change, no event
    expect(seen).toHaveLength(1);
    expect(seen[0]?.health.get(2)).toEqual({
      health: 'unhealthy',
      message: 'XID 94',
      since: 1_005,
    });
    backend.injectFault({ gpu: 3, kind: 'lost' });
    expect(seen[1]?.health.get(3)?.health).toBe('lost');
    backend.clearFaults();
    expect([...(seen[2]?.health.values() ?? [])].every((h) => h.health === 'healthy')).toBe(true);
    off();
    backend.setHealth(1, 'lost', 'x');
    expect(seen).toHaveLength(3);
  });

  it('clears the message when a GPU turns healthy and rejects unknown GPUs', () => {
    const { backend } = harness({ profile: 'pcie4-48g' });
    backend.setHealth(0, 'unhealthy', 'hot');
    backend.setHealth(0, 'healthy', 'ignored');
    expect(backend.inventory().health.get(0)?.message).toBe('');
    expect(() => backend.setHealth(4, 'lost')).toThrow(/GPU 4 does not exist on node node-a/);
    expect(() => backend.injectFault({ gpu: 9, kind: 'lost' })).toThrow(RangeError);
  });
});
