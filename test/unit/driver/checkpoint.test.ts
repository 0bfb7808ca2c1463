import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_API_VERSION,
  Checkpoint,
  type CheckpointFile,
  type ClaimRecord,
  canonicalJson,
  checkpointChecksum,
  readBootId,
} from '../../../src/driver/checkpoint.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { DriverMetrics } from '../../../src/observability/metrics.ts';

const BOOT = 'boot-1111';
const record = (name: string, device = 'gpu-0'): ClaimRecord => ({
  namespace: 'ns',
  name,
  devices: [
    {
      requestNames: ['gpu'],
      poolName: 'node-a',
      deviceName: device,
      cdiDeviceIds: [`k8s.gpu.phalanx.dev/claim=uid-${device}`],
      sharing: { strategy: 'TimeSlicing', interval: 'Short' },
    },
  ],
});

async function recoveries(metrics: DriverMetrics, reason: string): Promise<number> {
  const value = (await metrics.checkpointRecoveries.get()).values.find(
    (v) => v.labels.reason === reason,
  );
  return value?.value ?? 0;
}

describe('Checkpoint', () => {
  let dir: string;
  let metrics: DriverMetrics;
  const open = (bootId = BOOT, clock?: () => number) =>
    Checkpoint.open({
      dataDir: dir,
      bootId,
      logger: silentLogger(),
      metrics,
      ...(clock === undefined ? {} : { clock }),
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phalanx-ckpt-'));
    metrics = new DriverMetrics();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts empty when there is no file', async () => {
    const cp = await open();
    expect(cp.entries()).toEqual([]);
    expect(cp.recovery).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('round-trips both phases and removal', async () => {
    const cp = await open(BOOT, () => Date.UTC(2026, 0, 2, 3, 4, 5));
    await cp.setStarted('uid-1', record('c1'));
    await cp.setCompleted('uid-2', record('c2', 'gpu-1'));
    const again = await open();
    expect(again.recovery).toBeUndefined();
    expect(again.get('uid-1')).toEqual({
      state: 'PrepareStarted',
      ...record('c1'),
      updatedAt: '2026-01-02T03:04:05.000Z',
    });
    expect(again.get('uid-2')?.state).toBe('PrepareCompleted');
    expect(again.completedCount()).toBe(1);
    await again.setCompleted('uid-1', record('c1'));
    await again.remove('uid-2');
    await again.remove('uid-unknown');
    const third = await open();
    expect(third.entries().map(([uid, c]) => [uid, c.state])).toEqual([
      ['uid-1', 'PrepareCompleted'],
    ]);
  });

  it('writes the documented format with a checksum over the canonical content', async () => {
    const cp = await open();
    await cp.setCompleted('uid-1', record('c1'));
    const file = JSON.parse(await readFile(cp.path, 'utf8')) as CheckpointFile;
    expect(file.apiVersion).toBe(CHECKPOINT_API_VERSION);
    expect(file.bootId).toBe(BOOT);
    expect(file.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(checkpointChecksum(file)).toBe(file.checksum);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('leaves no temp files', async () => {
    const cp = await open();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => cp.setCompleted(`uid-${i}`, record(`c${i}`))),
    );
    expect(await readdir(dir)).toEqual(['checkpoint.json']);
  });

  it('group-commits concurrent changes into few writes', async () => {
    const cp = await open();
    const n = 32;
    await Promise.all(
      Array.from({ length: n }, (_, i) => cp.setCompleted(`uid-${i}`, record(`c${i}`))),
    );
    // The first change starts a write; the other 31 join the single queued write.
    expect(cp.writeCount).toBeLessThanOrEqual(2);
    expect(cp.writeCount).toBeGreaterThanOrEqual(1);
    const reloaded = await open();
    expect(reloaded.entries()).toHaveLength(n);
    const successes = (await metrics.checkpointWrites.get()).values.find(
      (v) => v.labels.result === 'success',
    );
    expect(successes?.value).toBe(cp.writeCount);
  });

  it('makes every awaited change durable, even when it arrives mid-write', async () => {
    const cp = await open();
    const first = cp.setStarted('uid-a', record('a'));
    const second = cp.setStarted('uid-b', record('b'));
    await first;
    const third = cp.setCompleted('uid-a', record('a'));
    await Promise.all([second, third]);
    const reloaded = await open();
    expect(reloaded.get('uid-a')?.state).toBe('PrepareCompleted');
    expect(reloaded.get('uid-b')?.state).toBe('PrepareStarted');
  });

  describe('recovery', () => {
    async function writeValid(): Promise<string> {
      const cp = await open();
      await cp.setCompleted('uid-1', record('c1'));
      return cp.path;
    }
    async function expectCorrupt(reasonText: RegExp): Promise<void> {
      const cp = await open(BOOT, () => Date.UTC(2026, 5, 1));
      expect(cp.entries()).toEqual([]);
      expect(cp.recovery?.reason).toBe('corrupt');
      expect(cp.recovery?.detail).toMatch(reasonText);
      expect(cp.recovery?.movedTo).toBe(
        join(dir, 'checkpoint.json.corrupt-2026-06-01T00-00-00-000Z'),
      );
      expect((await readdir(dir)).sort()).toEqual([
        'checkpoint.json.corrupt-2026-06-01T00-00-00-000Z',
      ]);
      expect(await recoveries(metrics, 'corrupt')).toBe(1);
      // The next write starts a fresh, valid file.
      await cp.setCompleted('uid-2', record('c2'));
      expect((await open()).get('uid-2')?.state).toBe('PrepareCompleted');
    }

    it('moves a truncated file aside', async () => {
      const path = await writeValid();
      const text = await readFile(path, 'utf8');
      await writeFile(path, text.slice(0, Math.floor(text.length / 2)));
      await expectCorrupt(/is not valid JSON/);
    });

    it('detects a flipped byte through the checksum', async () => {
      const path = await writeValid();
      const text = await readFile(path, 'utf8');
      await writeFile(path, text.replace('"gpu-0"', '"gpu-9"'));
      await expectCorrupt(/checksum sha256:[0-9a-f]+ does not match the content/);
    });

    it('rejects an unknown apiVersion', async () => {
      const path = await writeValid();
      const file = JSON.parse(await readFile(path, 'utf8')) as CheckpointFile;
      const v2 = { ...file, apiVersion: 'gpu.phalanx.dev/checkpoint/v2' };
      await writeFile(path, JSON.stringify(v2));
      await expectCorrupt(/apiVersion "gpu.phalanx.dev\/checkpoint\/v2" is not/);
    });

    it('rejects content that does not match the schema even with a matching checksum', async () => {
      const body = {
        apiVersion: CHECKPOINT_API_VERSION,
        bootId: BOOT,
        claims: {
          'uid-1': { state: 'Weird', namespace: 'n', name: 'c', devices: [], updatedAt: '' },
        },
      };
      const checksum = checkpointChecksum(body as unknown as CheckpointFile);
      await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ ...body, checksum }));
      await expectCorrupt(/does not match the schema/);
    });

    it('keeps entries but reports a reboot when the boot ID changed', async () => {
      await writeValid();
      const cp = await open('boot-2222');
      expect(cp.recovery).toMatchObject({ reason: 'reboot', previousBootId: BOOT });
      expect(cp.get('uid-1')?.state).toBe('PrepareCompleted');
      expect(await recoveries(metrics, 'reboot')).toBe(1);
      await cp.save();
      const after = await open('boot-2222');
      expect(after.recovery).toBeUndefined();
    });
  });

  it('reports an unwritable data directory with the path', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(
      Checkpoint.open({
        dataDir: join(dir, 'file', 'sub'),
        bootId: BOOT,
        logger: silentLogger(),
        metrics,
      }),
    ).rejects.toThrow(/cannot create plugin data directory .*file\/sub: ENOTDIR/);
  });

  it('rejects the write promise and counts the error when the file cannot be written', async () => {
    const cp = await open();
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'now a file');
    await expect(cp.setCompleted('uid-1', record('c1'))).rejects.toThrow(
      /cannot write checkpoint .*checkpoint\.json: ENOTDIR/,
    );
    const errors = (await metrics.checkpointWrites.get()).values.find(
      (v) => v.labels.result === 'error',
    );
    expect(errors?.value).toBe(1);
    await rm(dir, { force: true });
  });

  it('reads the boot ID from a file', async () => {
    await writeFile(join(dir, 'boot_id'), 'abc-def\n');
    expect(await readBootId(join(dir, 'boot_id'))).toBe('abc-def');
  });
});
