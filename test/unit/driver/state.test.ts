import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResourceClaim } from '../../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { type CdiSpec, CdiSpecStore, cdiDeviceId } from '../../../src/driver/cdi.ts';
import { Checkpoint } from '../../../src/driver/checkpoint.ts';
import { DeviceState, KeyedLock, type ReconcileReport } from '../../../src/driver/state.ts';
import type { PrepareOutcome } from '../../../src/driver/types.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { DriverMetrics } from '../../../src/observability/metrics.ts';
import {
  FakeClaimGetter,
  gpuConfig,
  makeClaim,
  refOf,
  TEST_DRIVER,
  uidOf,
} from '../../helpers/claims.ts';

const NODE = 'node-a';

interface Harness {
  state: DeviceState;
  report: ReconcileReport;
  backend: FakeGpuBackend;
  claims: FakeClaimGetter;
  cdi: CdiSpecStore;
  checkpoint: Checkpoint;
  metrics: DriverMetrics;
}

function devicesOf(outcome: PrepareOutcome | undefined) {
  if (outcome === undefined || !('devices' in outcome))
    throw new Error(`expected devices, got ${JSON.stringify(outcome)}`);
  return outcome.devices;
}

function errorOf(outcome: PrepareOutcome | undefined): string {
  if (outcome === undefined || !('error' in outcome))
    throw new Error(`expected an error, got ${JSON.stringify(outcome)}`);
  return outcome.error;
}

interface MetricLike {
  get(): Promise<{ values: readonly { labels: object; value: number }[] }>;
}

async function counter(metric: MetricLike, labels: Record<string, string>): Promise<number> {
  const values = (await metric.get()).values;
  const match = values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return match?.value ?? 0;
}

describe('DeviceState', () => {
  let dir: string;
  let claims: FakeClaimGetter;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phalanx-state-'));
    claims = new FakeClaimGetter();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function start(
    options: {
      backend?: FakeGpuBackend;
      bootId?: string;
      cdiDir?: string;
      prepareTimeoutMs?: number;
    } = {},
  ): Promise<Harness> {
    const metrics = new DriverMetrics();
    const logger = silentLogger();
    const checkpoint = await Checkpoint.open({
      dataDir: join(dir, 'data'),
      bootId: options.bootId ?? 'boot-1',
      logger,
      metrics,
    });
    const cdi = new CdiSpecStore({ dir: options.cdiDir ?? join(dir, 'cdi') });
    const backend = options.backend ?? new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
    const { state, report } = await DeviceState.open({
      driverName: TEST_DRIVER,
      nodeName: NODE,
      backend,
      claims,
      cdi,
      checkpoint,
      logger,
      metrics,
      ...(options.prepareTimeoutMs === undefined
        ? {}
        : { prepareTimeoutMs: options.prepareTimeoutMs }),
    });
    return { state, report, backend, claims, cdi, checkpoint, metrics };
  }

  function addClaim(...args: Parameters<typeof makeClaim>): ResourceClaim {
    const claim = makeClaim(...args);
    claims.put(claim);
    return claim;
  }

  describe('prepare', () => {
    it('prepares devices, writes the CDI spec and completes the checkpoint', async () => {
      const h = await start();
      const claim = addClaim({
        name: 'train',
        uid: uidOf(1),
        results: [
          { request: 'gpu/large', device: 'gpu-1' },
          { request: 'mig', device: 'gpu-2-1g-10gb-3', shareID: 'share-7' },
        ],
      });
      const answer = await h.state.prepareResources([refOf(claim)]);
      expect(devicesOf(answer.get(uidOf(1)))).toEqual([
        {
          requestNames: ['gpu'],
          poolName: NODE,
          deviceName: 'gpu-1',
          cdiDeviceIds: [`k8s.gpu.phalanx.dev/claim=${uidOf(1)}-gpu-1`],
        },
        {
          requestNames: ['mig'],
          poolName: NODE,
          deviceName: 'gpu-2-1g-10gb-3',
          cdiDeviceIds: [cdiDeviceId(uidOf(1), 'gpu-2-1g-10gb-3')],
          shareId: 'share-7',
        },
      ]);
      expect(h.checkpoint.get(uidOf(1))?.state).toBe('PrepareCompleted');
      expect(h.backend.preparedClaims()).toEqual([uidOf(1)]);
      expect(h.state.preparedClaimUids()).toEqual([uidOf(1)]);
      const spec = (await h.cdi.readClaimSpec(uidOf(1))) as CdiSpec;
      expect(spec.cdiVersion).toBe('0.5.0'); // the UID starts with a digit
      expect(spec.devices.map((d) => d.name)).toEqual([
        `${uidOf(1)}-gpu-1`,
        `${uidOf(1)}-gpu-2-1g-10gb-3`,
      ]);
      expect(spec.containerEdits?.env).toContain('PHALANX_RESOURCE_CLAIM=default/train');
      expect(spec.devices[1]?.containerEdits.env).toContain(
        'PHALANX_GPU_2_1G_10GB_3_PROFILE=1g.10gb',
      );
      expect(await counter(h.metrics.prepareClaims, { result: 'success' })).toBe(1);
      expect((await h.metrics.preparedClaims.get()).values[0]?.value).toBe(1);
    });

    it('is idempotent: a second prepare returns the recorded result without redoing work', async () => {
      const h = await start();
      const claim = addClaim({ name: 'c', uid: uidOf(2) });
      const first = await h.state.prepareResources([refOf(claim)]);
      const prepare = vi.spyOn(h.backend, 'prepare');
      const writes = h.checkpoint.writeCount;
      const second = await h.state.prepareResources([refOf(claim)]);
      expect(second.get(uidOf(2))).toEqual(first.get(uidOf(2)));
      expect(prepare).not.toHaveBeenCalled();
      expect(h.checkpoint.writeCount).toBe(writes);
    });

    it('rewrites a missing CDI spec on a repeated prepare', async () => {
      const h = await start();
      const claim = addClaim({ name: 'c', uid: uidOf(3) });
      await h.state.prepareResources([refOf(claim)]);
      await h.cdi.removeClaimSpec(uidOf(3));
      const again = await h.state.prepareResources([refOf(claim)]);
      expect(devicesOf(again.get(uidOf(3)))).toHaveLength(1);
      expect(await h.cdi.hasClaimSpec(uidOf(3))).toBe(true);
      expect(h.backend.preparedClaims()).toEqual([uidOf(3)]);
    });

    it('answers every claim of a call, successes and failures mixed', async () => {
      const h = await start();
      const ok = addClaim({ name: 'ok', uid: uidOf(10) });
      const replaced = addClaim({ name: 'replaced', uid: uidOf(11) });
      const unallocated = addClaim({ name: 'pending', uid: uidOf(12), allocated: false });
      const otherDriver = addClaim({
        name: 'nic',
        uid: uidOf(13),
        results: [{ request: 'nic', device: 'eth-0', driver: 'net.example.com' }],
      });
      const otherPool = addClaim({
        name: 'far',
        uid: uidOf(14),
        results: [{ request: 'gpu', device: 'gpu-1', pool: 'node-b' }],
      });
      const unknown = addClaim({
        name: 'ghost',
        uid: uidOf(15),
        results: [{ request: 'gpu', device: 'gpu-99' }],
      });
      const badConfig = addClaim({
        name: 'cfg',
        uid: uidOf(16),
        config: [
          {
            requests: ['gpu'],
            parameters: { ...gpuConfig(), sharing: { strategy: 'Exclusive', replicas: 2 } },
          },
        ],
      });
      const refs = [
        refOf(ok),
        { ...refOf(replaced), uid: uidOf(99) },
        refOf(unallocated),
        refOf(otherDriver),
        refOf(otherPool),
        refOf(unknown),
        refOf(badConfig),
        { namespace: 'default', name: 'gone', uid: uidOf(17) },
      ];
      const answer = await h.state.prepareResources(refs);
      expect([...answer.keys()].sort()).toEqual(refs.map((r) => r.uid).sort());
      expect(devicesOf(answer.get(uidOf(10)))).toHaveLength(1);
      expect(errorOf(answer.get(uidOf(99)))).toBe(
        `claim default/replaced has UID ${uidOf(11)}, kubelet asked for ${uidOf(99)} (claim was replaced)`,
      );
      expect(errorOf(answer.get(uidOf(12)))).toBe(
        'claim default/pending is not allocated; wait for the scheduler to allocate it',
      );
      expect(errorOf(answer.get(uidOf(13)))).toBe(
        'claim default/nic has no devices allocated by driver gpu.phalanx.dev; check its DeviceClass',
      );
      expect(errorOf(answer.get(uidOf(14)))).toBe(
        'device gpu-1 is allocated from pool node-b, this plugin serves node-a',
      );
      expect(errorOf(answer.get(uidOf(15)))).toContain(
        'device "gpu-99" does not exist on node node-a',
      );
      expect(errorOf(answer.get(uidOf(16)))).toMatch(
        /^GpuConfig from claim for request gpu: unknown field sharing\.replicas; remove it/,
      );
      expect(errorOf(answer.get(uidOf(17)))).toBe(
        'claim default/gone not found; it may have been deleted',
      );
      // Only the good claim holds anything.
      expect(h.backend.preparedClaims()).toEqual([uidOf(10)]);
      expect(await h.cdi.listClaimSpecs()).toEqual([uidOf(10)]);
      expect(h.checkpoint.entries().map(([uid]) => uid)).toEqual([uidOf(10)]);
      expect(await counter(h.metrics.prepareClaims, { result: 'error' })).toBe(7);
    });

    it('reports API server failures per claim', async () => {
      const h = await start();
      claims.failure = new Error('connection refused');
      const answer = await h.state.prepareResources([
        { namespace: 'ns', name: 'c', uid: uidOf(5) },
      ]);
      expect(errorOf(answer.get(uidOf(5)))).toBe(
        'cannot read claim ns/c from the API server: connection refused',
      );
    });

    it('applies class config before claim config, last one winning per device', async () => {
      const h = await start();
      const claim = addClaim({
        name: 'shared',
        uid: uidOf(20),
        results: [
          { request: 'a', device: 'gpu-0' },
          { request: 'b/sub', device: 'gpu-1' },
          { request: 'c', device: 'gpu-2' },
        ],
        config: [
          // Listed first but FromClaim: still applied after every FromClass entry.
          {
            source: 'FromClaim',
            requests: ['b'],
            parameters: gpuConfig({ strategy: 'SpacePartitioning', partitionCount: 4 }),
          },
          {
            source: 'FromClass',
            parameters: gpuConfig({ strategy: 'TimeSlicing', interval: 'Long' }),
          },
          {
            source: 'FromClaim',
            requests: ['c'],
            parameters: gpuConfig({ strategy: 'TimeSlicing', interval: 'Short' }),
          },
          { driver: 'other.example.com', parameters: { anything: true } },
        ],
      });
      await h.state.prepareResources([refOf(claim)]);
      const sharing = Object.fromEntries(
        (h.checkpoint.get(uidOf(20))?.devices ?? []).map((d) => [d.deviceName, d.sharing]),
      );
      expect(sharing).toEqual({
        'gpu-0': { strategy: 'TimeSlicing', interval: 'Long' },
        'gpu-1': { strategy: 'SpacePartitioning', partitionCount: 4 },
        'gpu-2': { strategy: 'TimeSlicing', interval: 'Short' },
      });
      const spec = (await h.cdi.readClaimSpec(uidOf(20))) as CdiSpec;
      expect(spec.devices[1]?.containerEdits.env).toContain('PHALANX_GPU_1_PARTITION_COUNT=4');
    });

    it('names the source of an invalid class config', async () => {
      const h = await start();
      const claim = addClaim({
        name: 'c',
        uid: uidOf(21),
        config: [
          {
            source: 'FromClass',
            parameters: {
              ...gpuConfig(),
              sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 40 } },
            },
          },
        ],
      });
      const answer = await h.state.prepareResources([refOf(claim)]);
      expect(errorOf(answer.get(uidOf(21)))).toBe(
        'GpuConfig from class for all requests: sharing.spacePartitioning.partitionCount must be between 1 and 16, got 40',
      );
    });

    it('fails a claim with a clear error when the CDI directory is unwritable, and rolls it back', async () => {
      await writeFile(join(dir, 'plain-file'), 'x');
      const cdiDir = join(dir, 'plain-file', 'cdi');
      const h = await start({ cdiDir });
      const claim = addClaim({ name: 'c', uid: uidOf(30) });
      const answer = await h.state.prepareResources([refOf(claim)]);
      expect(errorOf(answer.get(uidOf(30)))).toBe(
        `cannot write CDI spec ${join(cdiDir, `k8s.gpu.phalanx.dev-claim_${uidOf(30)}.json`)}: ENOTDIR (a parent of the path is not a directory); check that the CDI directory is writable by the plugin`,
      );
      expect(h.backend.preparedClaims()).toEqual([]);
      expect(h.checkpoint.get(uidOf(30))).toBeUndefined();
    });

    it('rolls back a backend failure and succeeds on the retry', async () => {
      const h = await start();
      h.backend.injectFault({ gpu: 0, kind: 'failPrepare', count: 1, message: 'NVML busy' });
      const claim = addClaim({ name: 'c', uid: uidOf(31) });
      const first = await h.state.prepareResources([refOf(claim)]);
      expect(errorOf(first.get(uidOf(31)))).toContain('NVML busy on gpu-0');
      expect(h.checkpoint.get(uidOf(31))).toBeUndefined();
      const second = await h.state.prepareResources([refOf(claim)]);
      expect(devicesOf(second.get(uidOf(31)))).toHaveLength(1);
    });

    it('reports an unhealthy GPU', async () => {
      const h = await start();
      h.backend.setHealth(0, 'lost', 'XID 79');
      const claim = addClaim({ name: 'c', uid: uidOf(32) });
      const answer = await h.state.prepareResources([refOf(claim)]);
      expect(errorOf(answer.get(uidOf(32)))).toMatch(/gpu-0, which is lost \(XID 79\)/);
    });
  });

  describe('concurrency', () => {
    it('prepares different claims concurrently', async () => {
      const h = await start();
      const a = addClaim({
        name: 'a',
        uid: uidOf(40),
        results: [{ request: 'g', device: 'gpu-0' }],
      });
      const b = addClaim({
        name: 'b',
        uid: uidOf(41),
        results: [{ request: 'g', device: 'gpu-1' }],
      });
      const [ra, rb] = await Promise.all([
        h.state.prepareResources([refOf(a)]),
        h.state.prepareResources([refOf(b)]),
      ]);
      expect(devicesOf(ra.get(uidOf(40)))).toHaveLength(1);
      expect(devicesOf(rb.get(uidOf(41)))).toHaveLength(1);
      expect(h.backend.preparedClaims()).toEqual([uidOf(40), uidOf(41)]);
    });

    it('prepares the same claim once when asked twice at the same time', async () => {
      const h = await start();
      const prepare = vi.spyOn(h.backend, 'prepare');
      const claim = addClaim({ name: 'c', uid: uidOf(42) });
      const [one, two] = await Promise.all([
        h.state.prepareResources([refOf(claim)]),
        h.state.prepareResources([refOf(claim)]),
      ]);
      expect(one.get(uidOf(42))).toEqual(two.get(uidOf(42)));
      expect(devicesOf(one.get(uidOf(42)))).toHaveLength(1);
      expect(prepare).toHaveBeenCalledTimes(1);
    });

    it('group-commits the checkpoint when many claims are prepared at once', async () => {
      const h = await start({
        backend: new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 32 }),
      });
      const refs = Array.from({ length: 32 }, (_, i) =>
        refOf(
          addClaim({
            name: `c${i}`,
            uid: uidOf(100 + i),
            results: [{ request: 'g', device: `gpu-${i}` }],
          }),
        ),
      );
      const before = h.checkpoint.writeCount;
      const answer = await h.state.prepareResources(refs);
      expect([...answer.values()].every((o) => 'devices' in o)).toBe(true);
      // Two phases for 32 claims would be 64 writes without group commit.
      expect(h.checkpoint.writeCount - before).toBeLessThan(16);
    });

    it('KeyedLock serialises one key and not others', async () => {
      const lock = new KeyedLock();
      const order: string[] = [];
      let releaseA: () => void = () => undefined;
      const a1 = lock.run(
        'a',
        () =>
          new Promise<void>((r) => {
            order.push('a1-start');
            releaseA = () => {
              order.push('a1-end');
              r();
            };
          }),
      );
      const a2 = lock.run('a', async () => {
        order.push('a2');
      });
      await lock.run('b', async () => {
        order.push('b');
      });
      expect(order).toEqual(['a1-start', 'b']);
      releaseA();
      await Promise.all([a1, a2]);
      expect(order).toEqual(['a1-start', 'b', 'a1-end', 'a2']);
      expect(lock.size).toBe(0);
    });
  });

  describe('timeouts', () => {
    it('returns an error entry instead of hanging when the backend is slow', async () => {
      const h = await start({ prepareTimeoutMs: 50 });
      h.backend.injectFault({ gpu: 0, kind: 'slowPrepare', delayMs: 60_000 });
      const slow = addClaim({ name: 'slow', uid: uidOf(50) });
      const fast = addClaim({
        name: 'fast',
        uid: uidOf(51),
        results: [{ request: 'g', device: 'gpu-1' }],
      });
      const startedAt = Date.now();
      const answer = await h.state.prepareResources([refOf(slow), refOf(fast)]);
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(errorOf(answer.get(uidOf(50)))).toBe(
        'prepare of claim default/slow did not finish within 50 ms; the GPU backend is slow or stuck, the kubelet will retry',
      );
      expect(devicesOf(answer.get(uidOf(51)))).toHaveLength(1);
      // The abandoned attempt is rolled back under the claim lock; unprepare waits for it.
      await h.state.unprepareResources([refOf(slow)]);
      expect(h.checkpoint.get(uidOf(50))).toBeUndefined();
      expect(h.backend.preparedClaims()).toEqual([uidOf(51)]);
    });

    it('honours the kubelet cancelling the call', async () => {
      const h = await start();
      h.backend.injectFault({ gpu: 0, kind: 'slowPrepare', delayMs: 60_000 });
      const claim = addClaim({ name: 'c', uid: uidOf(52) });
      const controller = new AbortController();
      const pending = h.state.prepareResources([refOf(claim)], controller.signal);
      setTimeout(() => controller.abort(), 20);
      const answer = await pending;
      expect(errorOf(answer.get(uidOf(52)))).toBe(
        'prepare of claim default/c was cancelled by the kubelet',
      );
    });
  });

  describe('unprepare', () => {
    it('releases backend, CDI spec and checkpoint entry, idempotently', async () => {
      const h = await start();
      const claim = addClaim({ name: 'c', uid: uidOf(60) });
      await h.state.prepareResources([refOf(claim)]);
      const first = await h.state.unprepareResources([refOf(claim)]);
      expect(first.get(uidOf(60))).toEqual({});
      expect(h.backend.preparedClaims()).toEqual([]);
      expect(await h.cdi.listClaimSpecs()).toEqual([]);
      expect(h.checkpoint.get(uidOf(60))).toBeUndefined();
      expect(h.state.preparedClaimUids()).toEqual([]);
      const second = await h.state.unprepareResources([refOf(claim)]);
      expect(second.get(uidOf(60))).toEqual({});
      // After unprepare the devices are free for another claim.
      const other = addClaim({ name: 'd', uid: uidOf(61) });
      expect(
        devicesOf((await h.state.prepareResources([refOf(other)])).get(uidOf(61))),
      ).toHaveLength(1);
    });

    it('succeeds for claims it never prepared, including deleted ones', async () => {
      const h = await start();
      const unprepare = vi.spyOn(h.backend, 'unprepare');
      const answer = await h.state.unprepareResources([
        { namespace: 'ns', name: 'never', uid: uidOf(62) },
        { namespace: 'ns', name: 'deleted', uid: uidOf(63) },
      ]);
      expect(answer).toEqual(
        new Map([
          [uidOf(62), {}],
          [uidOf(63), {}],
        ]),
      );
      expect(unprepare).not.toHaveBeenCalled();
      expect(
        await counter(h.metrics.unprepareClaims, {
          result: 'success',
        }),
      ).toBe(2);
    });

    it('reports a backend failure for that claim only', async () => {
      const h = await start();
      const a = addClaim({
        name: 'a',
        uid: uidOf(64),
        results: [{ request: 'g', device: 'gpu-0' }],
      });
      const b = addClaim({
        name: 'b',
        uid: uidOf(65),
        results: [{ request: 'g', device: 'gpu-1' }],
      });
      await h.state.prepareResources([refOf(a), refOf(b)]);
      const original = h.backend.unprepare.bind(h.backend);
      vi.spyOn(h.backend, 'unprepare').mockImplementation(async (uid) => {
        if (uid === uidOf(64)) throw new Error('device reset failed');
        return original(uid);
      });
      const answer = await h.state.unprepareResources([refOf(a), refOf(b)]);
      expect(answer.get(uidOf(64))).toEqual({
        error: 'cannot release devices: device reset failed',
      });
      expect(answer.get(uidOf(65))).toEqual({});
      expect(h.checkpoint.get(uidOf(64))?.state).toBe('PrepareCompleted');
    });
  });

  describe('startup reconciliation', () => {
    it('rolls back a prepare interrupted between the phases', async () => {
      const backend = new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
      const h = await start({ backend });
      // Simulate a crash after backend.prepare and the CDI write but before PrepareCompleted.
      const uid = uidOf(70);
      const devices = [
        {
          requestNames: ['gpu'],
          poolName: NODE,
          deviceName: 'gpu-0',
          cdiDeviceIds: [cdiDeviceId(uid, 'gpu-0')],
          sharing: { strategy: 'Exclusive' } as const,
        },
      ];
      await h.checkpoint.setStarted(uid, { namespace: 'ns', name: 'c', devices });
      const prepared = await backend.prepare({
        claimUid: uid,
        devices: [{ deviceName: 'gpu-0', sharing: { strategy: 'Exclusive' } }],
      });
      await h.cdi.writeClaimSpec({
        claimUid: uid,
        namespace: 'ns',
        name: 'c',
        devices: prepared.map((p) => ({ prepared: p, sharing: { strategy: 'Exclusive' } })),
      });

      const restarted = await start({ backend });
      expect(restarted.report.rolledBack).toEqual([uid]);
      expect(backend.preparedClaims()).toEqual([]);
      expect(await restarted.cdi.listClaimSpecs()).toEqual([]);
      expect(restarted.checkpoint.entries()).toEqual([]);
      expect(await counter(restarted.metrics.checkpointRecoveries, { reason: 'interrupted' })).toBe(
        1,
      );
      // The checkpoint on disk agrees.
      const reread = await start({ backend });
      expect(reread.checkpoint.entries()).toEqual([]);
    });

    it('re-creates completed claims on a backend that lost its state (plugin restart)', async () => {
      const h = await start();
      const claim = addClaim({
        name: 'c',
        uid: uidOf(71),
        results: [{ request: 'g', device: 'gpu-3' }],
      });
      const before = await h.state.prepareResources([refOf(claim)]);
      const fresh = new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
      const restarted = await start({ backend: fresh });
      expect(restarted.report.readopted).toEqual([uidOf(71)]);
      expect(fresh.preparedClaims()).toEqual([uidOf(71)]);
      const prepare = vi.spyOn(fresh, 'prepare');
      const after = await restarted.state.prepareResources([refOf(claim)]);
      expect(after.get(uidOf(71))).toEqual(before.get(uidOf(71)));
      expect(prepare).not.toHaveBeenCalled();
      // Another claim cannot take the re-adopted GPU.
      const rival = addClaim({
        name: 'r',
        uid: uidOf(72),
        results: [{ request: 'g', device: 'gpu-3' }],
      });
      expect(
        errorOf((await restarted.state.prepareResources([refOf(rival)])).get(uidOf(72))),
      ).toMatch(/overlaps devices held by claim/);
    });

    it('rewrites a completed claim\u2019s missing CDI spec at startup', async () => {
      const backend = new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
      const h = await start({ backend });
      const claim = addClaim({ name: 'c', uid: uidOf(73) });
      await h.state.prepareResources([refOf(claim)]);
      await h.cdi.removeClaimSpec(uidOf(73));
      const restarted = await start({ backend });
      expect(restarted.report.rewrittenSpecs).toEqual([uidOf(73)]);
      expect(await restarted.cdi.hasClaimSpec(uidOf(73))).toBe(true);
    });

    it('drops a completed claim whose GPU is gone after a restart', async () => {
      const h = await start();
      const claim = addClaim({
        name: 'c',
        uid: uidOf(74),
        results: [{ request: 'g', device: 'gpu-2' }],
      });
      await h.state.prepareResources([refOf(claim)]);
      const fresh = new FakeGpuBackend(NODE, {
        profile: 'sxm8-80g',
        gpus: 4,
        faults: [{ gpu: 2, kind: 'lost' }],
      });
      const restarted = await start({ backend: fresh });
      expect(restarted.report.dropped).toEqual([uidOf(74)]);
      expect(restarted.checkpoint.entries()).toEqual([]);
      expect(await restarted.cdi.listClaimSpecs()).toEqual([]);
    });

    it('drops every claim after a reboot and prepares afresh', async () => {
      const h = await start({ bootId: 'boot-1' });
      const claim = addClaim({ name: 'c', uid: uidOf(75) });
      await h.state.prepareResources([refOf(claim)]);
      const fresh = new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
      const rebooted = await start({ backend: fresh, bootId: 'boot-2' });
      expect(rebooted.report.droppedAfterReboot).toEqual([uidOf(75)]);
      expect(rebooted.checkpoint.entries()).toEqual([]);
      expect(await rebooted.cdi.listClaimSpecs()).toEqual([]);
      expect(await counter(rebooted.metrics.checkpointRecoveries, { reason: 'reboot' })).toBe(1);
      const prepare = vi.spyOn(fresh, 'prepare');
      const answer = await rebooted.state.prepareResources([refOf(claim)]);
      expect(devicesOf(answer.get(uidOf(75)))).toHaveLength(1);
      expect(prepare).toHaveBeenCalledTimes(1);
      // The new boot ID is on disk: the next start is not another "reboot".
      const again = await start({ backend: fresh, bootId: 'boot-2' });
      expect(again.checkpoint.recovery).toBeUndefined();
    });

    it('rebuilds from CDI specs after a corrupt checkpoint', async () => {
      const h = await start();
      const a = addClaim({
        name: 'a',
        uid: uidOf(80),
        results: [{ request: 'g', device: 'gpu-0' }],
        config: [{ parameters: gpuConfig({ strategy: 'TimeSlicing', interval: 'Medium' }) }],
      });
      const b = addClaim({
        name: 'b',
        uid: uidOf(81),
        results: [{ request: 'g', device: 'gpu-1' }],
      });
      const c = addClaim({
        name: 'c',
        uid: uidOf(82),
        results: [{ request: 'g', device: 'gpu-2' }],
      });
      const before = await h.state.prepareResources([refOf(a), refOf(b), refOf(c)]);
      const text = await readFile(h.checkpoint.path, 'utf8');
      await writeFile(h.checkpoint.path, text.slice(0, text.length - 40)); // truncated

      // After the restart GPU 2 is lost, so claim c cannot be re-created.
      const fresh = new FakeGpuBackend(NODE, {
        profile: 'sxm8-80g',
        gpus: 4,
        faults: [{ gpu: 2, kind: 'lost' }],
      });
      const restarted = await start({ backend: fresh });
      expect(restarted.checkpoint.recovery?.reason).toBe('corrupt');
      expect(restarted.report.rebuilt).toEqual([uidOf(80), uidOf(81)]);
      expect(restarted.report.dropped).toEqual([uidOf(82)]);
      expect(fresh.preparedClaims()).toEqual([uidOf(80), uidOf(81)]);
      expect(await restarted.cdi.listClaimSpecs()).toEqual([uidOf(80), uidOf(81)]);
      expect(restarted.checkpoint.get(uidOf(80))?.devices[0]?.sharing).toEqual({
        strategy: 'TimeSlicing',
        interval: 'Medium',
      });
      expect(
        (await readdir(join(dir, 'data'))).some((n) => n.startsWith('checkpoint.json.corrupt-')),
      ).toBe(true);

      // The next prepare fills in the request names and answers as before.
      const after = await restarted.state.prepareResources([refOf(a)]);
      expect(after.get(uidOf(80))).toEqual(before.get(uidOf(80)));
      expect(restarted.checkpoint.get(uidOf(80))?.devices[0]?.requestNames).toEqual(['g']);
      // Unprepare of a rebuilt claim releases it.
      await restarted.state.unprepareResources([refOf(b)]);
      expect(fresh.preparedClaims()).toEqual([uidOf(80)]);
    });

    it('removes leaked CDI specs and backend claims', async () => {
      const backend = new FakeGpuBackend(NODE, { profile: 'sxm8-80g', gpus: 4 });
      const h = await start({ backend });
      const prepared = await backend.prepare({
        claimUid: uidOf(90),
        devices: [{ deviceName: 'gpu-0', sharing: { strategy: 'Exclusive' } }],
      });
      await h.cdi.writeClaimSpec({
        claimUid: uidOf(91),
        namespace: 'ns',
        name: 'leak',
        devices: prepared.map((p) => ({ prepared: p, sharing: { strategy: 'Exclusive' } })),
      });
      await writeFile(join(dir, 'cdi', 'k8s.gpu.nvidia.com-claim_x.json'), '{}');
      const restarted = await start({ backend });
      expect(restarted.report.leakedSpecs).toEqual([uidOf(91)]);
      expect(restarted.report.leakedBackendClaims).toEqual([uidOf(90)]);
      expect(backend.preparedClaims()).toEqual([]);
      expect(await readdir(join(dir, 'cdi'))).toEqual(['k8s.gpu.nvidia.com-claim_x.json']);
    });
  });
});
