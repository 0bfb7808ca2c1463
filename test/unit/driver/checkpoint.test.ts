import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DurableAppendFile } from '../../../src/driver/atomic-file.ts';
import {
  CHECKPOINT_API_VERSION,
  Checkpoint,
  type CheckpointClaim,
  type CheckpointFile,
  type CheckpointOptions,
  type ClaimRecord,
  canonicalJson,
  checkpointChecksum,
  decodeJournalRecord,
  encodeJournalRecord,
  readBootId,
  readCheckpointState,
} from '../../../src/driver/checkpoint.ts';
import { createLogger, silentLogger } from '../../../src/observability/logger.ts';
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
    // The snapshot and the journal of the changes made after it; nothing else.
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.journal', 'checkpoint.json']);
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
    const successes = (await metrics.checkpointWrites.get()).values.find(
      (v) => v.labels.result === 'success',
    );
    expect(successes?.value).toBe(cp.writeCount);
    const reloaded = await open();
    expect(reloaded.entries()).toHaveLength(n);
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

  describe('journal', () => {
    const journal = () => join(dir, 'checkpoint.journal');
    const openWith = (extra: Partial<CheckpointOptions>, bootId = BOOT) =>
      Checkpoint.open({ dataDir: dir, bootId, logger: silentLogger(), metrics, ...extra });
    const snapshot = async () =>
      JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as CheckpointFile;
    const journalLines = async () =>
      (await readFile(journal(), 'utf8')).split('\n').filter((line) => line !== '');
    const claim = (
      name: string,
      state: CheckpointClaim['state'] = 'PrepareStarted',
    ): CheckpointClaim => ({
      state,
      ...record(name),
      devices: [...record(name).devices],
      updatedAt: '2026-01-01T00:00:00.000Z',
    });
    /** A checkpoint with a snapshot holding uid-1 (seq 1) and journal records uid-2, uid-3 (seq 2, 3). */
    async function snapshotAndTwoRecords(): Promise<Checkpoint> {
      const cp = await open();
      await cp.setCompleted('uid-1', record('c1'));
      await cp.setCompleted('uid-2', record('c2'));
      await cp.setCompleted('uid-3', record('c3'));
      return cp;
    }
    function capturingLogger(): {
      logger: ReturnType<typeof createLogger>;
      lines: Record<string, unknown>[];
    } {
      const lines: Record<string, unknown>[] = [];
      const destination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
          done();
        },
      });
      return { logger: createLogger({ component: 'test', destination }), lines };
    }

    it('writes a snapshot first, then one checksummed record per change, and replays them on reopen', async () => {
      const cp = await open();
      await cp.setStarted('uid-1', record('c1'));
      expect([cp.snapshotCount, cp.appendCount]).toEqual([1, 0]);
      await cp.setCompleted('uid-1', record('c1'));
      await cp.setStarted('uid-2', record('c2', 'gpu-1'));
      await cp.remove('uid-1');
      expect([cp.snapshotCount, cp.appendCount, cp.journalRecordCount]).toEqual([1, 3, 3]);
      // Appends leave the snapshot alone.
      const before = await snapshot();
      expect(before.seq).toBe(1);
      expect(Object.keys(before.claims)).toEqual(['uid-1']);
      expect(before.claims['uid-1']?.state).toBe('PrepareStarted');
      const lines = await journalLines();
      const decoded = lines.map((line) => decodeJournalRecord(line));
      expect(decoded.map((d) => (d.ok ? [d.value.seq, d.value.op, d.value.uid] : d.why))).toEqual([
        [2, 'completed', 'uid-1'],
        [3, 'started', 'uid-2'],
        [4, 'removed', 'uid-1'],
      ]);
      for (const line of lines) expect(line).toMatch(/"checksum":"crc32:[0-9a-f]{8}"}$/);
      // Reading does not change the files; it sees snapshot + journal.
      expect(await readCheckpointState(dir)).toEqual({
        bootId: BOOT,
        seq: 4,
        claims: Object.fromEntries(cp.entries()),
      });
      expect(await journalLines()).toEqual(lines);

      const again = await open();
      expect(again.recovery).toBeUndefined();
      expect(again.entries()).toEqual(cp.entries());
      // The start folded the journal into a new snapshot.
      expect((await stat(journal())).size).toBe(0);
      expect((await snapshot()).seq).toBe(4);
      expect(Object.keys((await snapshot()).claims)).toEqual(['uid-2']);
      // Numbering goes on from the snapshot.
      await again.setCompleted('uid-2', record('c2', 'gpu-1'));
      const [next] = (await journalLines()).map((line) => decodeJournalRecord(line));
      expect(next?.ok === true && next.value.seq).toBe(5);
    });

    it.each([
      ['cut off in the middle', (line: string) => line.slice(0, Math.floor(line.length / 2))],
      ['complete but garbled', (line: string) => line.replace('"c4"', '"cX"')],
      ['blocks of zeros', (line: string) => '\0'.repeat(line.length)],
    ])('drops a torn last record (%s) and keeps the ones before it', async (_, tear) => {
      await snapshotAndTwoRecords();
      const last = encodeJournalRecord({ seq: 4, op: 'started', uid: 'uid-4', claim: claim('c4') });
      await appendFile(journal(), tear(last));
      const { logger, lines } = capturingLogger();
      const cp = await openWith({ logger });
      expect(cp.recovery).toBeUndefined();
      expect(cp.entries().map(([uid]) => uid)).toEqual(['uid-1', 'uid-2', 'uid-3']);
      const info = lines.find((l) => String(l.msg).startsWith('dropped the last record'));
      expect(info?.level).toBe('info');
      expect(String(info?.msg)).toMatch(
        /checkpoint journal .*checkpoint\.journal: record 3 \(byte \d+\) (is incomplete|has checksum)/,
      );
      // Truncated away at startup; the next change takes the dropped record's number.
      expect((await stat(journal())).size).toBe(0);
      await cp.setStarted('uid-5', record('c5'));
      const again = await open();
      expect(again.entries().map(([uid]) => uid)).toEqual(['uid-1', 'uid-2', 'uid-3', 'uid-5']);
      expect(await recoveries(metrics, 'corrupt')).toBe(0);
    });

    it.each([
      [
        'a bad checksum',
        (lines: string[]) => [(lines[0] ?? '').replace('"c2"', '"cX"'), ...lines.slice(1)],
        /record 1 \(byte 0\) has checksum crc32:[0-9a-f]{8}, which does not match its content, and 1 record\(s\) follow it/,
      ],
      [
        'an unparsable line',
        (lines: string[]) => [lines[0] ?? '', '{"seq":3,"op":', ...lines.slice(1)],
        /record 2 \(byte \d+\) does not end in a checksum, and 1 record\(s\) follow it/,
      ],
      [
        'a gap in the sequence',
        (lines: string[]) => [lines[1] ?? ''],
        /records seq 2 to 2 are missing \(the snapshot holds changes up to seq 1\)/,
      ],
    ])(
      'moves snapshot and journal aside when a record before the last has %s',
      async (_, edit, why) => {
        await snapshotAndTwoRecords();
        await writeFile(journal(), `${edit(await journalLines()).join('\n')}\n`);
        const cp = await open(BOOT, () => Date.UTC(2026, 5, 1));
        expect(cp.entries()).toEqual([]);
        expect(cp.recovery?.reason).toBe('corrupt');
        expect(cp.recovery?.detail).toMatch(
          /^checkpoint journal .*checkpoint\.journal is not trusted because /,
        );
        expect(cp.recovery?.detail).toMatch(why);
        expect(cp.recovery?.movedTo).toBe(
          join(dir, 'checkpoint.json.corrupt-2026-06-01T00-00-00-000Z'),
        );
        expect(cp.recovery?.journalMovedTo).toBe(
          join(dir, 'checkpoint.journal.corrupt-2026-06-01T00-00-00-000Z'),
        );
        expect((await readdir(dir)).sort()).toEqual([
          'checkpoint.journal.corrupt-2026-06-01T00-00-00-000Z',
          'checkpoint.json.corrupt-2026-06-01T00-00-00-000Z',
        ]);
        expect(await recoveries(metrics, 'corrupt')).toBe(1);
        // A fresh snapshot and journal follow.
        await cp.setCompleted('uid-9', record('c9'));
        await cp.setCompleted('uid-8', record('c8'));
        expect((await open()).entries().map(([uid]) => uid)).toEqual(['uid-8', 'uid-9']);
      },
    );

    it('does not trust a journal without a snapshot', async () => {
      await snapshotAndTwoRecords();
      await rm(join(dir, 'checkpoint.json'));
      const cp = await open(BOOT, () => Date.UTC(2026, 5, 1));
      expect(cp.entries()).toEqual([]);
      expect(cp.recovery).toMatchObject({
        reason: 'corrupt',
        journalMovedTo: join(dir, 'checkpoint.journal.corrupt-2026-06-01T00-00-00-000Z'),
      });
      expect(cp.recovery?.movedTo).toBeUndefined();
      expect(cp.recovery?.detail).toMatch(/there is no snapshot/);
      await expect(readCheckpointState(dir)).resolves.toBeUndefined();
    });

    it('folds the journal into a new snapshot at the record limit, in the background', async () => {
      const cp = await openWith({ journalMaxRecords: 5 });
      await cp.setCompleted('uid-0', record('c0'));
      for (let i = 1; i <= 5; i++) await cp.setCompleted(`uid-${i}`, record(`c${i}`));
      const entries = cp.entries();
      await cp.close(); // waits for the compaction the fifth append started
      expect([cp.snapshotCount, cp.appendCount, cp.journalRecordCount]).toEqual([2, 5, 0]);
      expect((await stat(journal())).size).toBe(0);
      const file = await snapshot();
      expect(file.seq).toBe(6);
      expect(Object.keys(file.claims)).toHaveLength(6);
      const again = await open();
      expect(again.entries()).toEqual(entries);
      expect(again.snapshotCount).toBe(0); // nothing left to fold at startup
    });

    it('folds the journal into a new snapshot at the byte limit', async () => {
      const cp = await openWith({ journalMaxBytes: 1 });
      await cp.setCompleted('uid-0', record('c0'));
      await cp.setCompleted('uid-1', record('c1'));
      await cp.close();
      expect([cp.snapshotCount, cp.appendCount]).toEqual([2, 1]);
      expect((await stat(journal())).size).toBe(0);
      expect((await open()).entries().map(([uid]) => uid)).toEqual(['uid-0', 'uid-1']);
    });

    it('skips journal records the snapshot already holds (crash between snapshot and truncation)', async () => {
      const cp = await open();
      await cp.setCompleted('uid-x', record('x'));
      await cp.setCompleted('uid-a', record('a', 'gpu-1'));
      const notYetEmptied = await readFile(journal());
      await cp.remove('uid-a');
      await cp.save(); // snapshot with seq 3, then the journal is emptied…
      expect((await snapshot()).seq).toBe(3);
      await writeFile(journal(), notYetEmptied); // …except the plugin died before that
      const again = await open();
      // Replaying "completed uid-a" (seq 2) over the snapshot would resurrect a removed claim.
      expect(again.get('uid-a')).toBeUndefined();
      expect(again.entries().map(([uid]) => uid)).toEqual(['uid-x']);
      expect(again.recovery).toBeUndefined();
      expect((await stat(journal())).size).toBe(0);
    });

    it('group-commits 32 concurrent changes into one or two appends', async () => {
      const cp = await open();
      await cp.save(); // a snapshot exists, so changes go to the journal
      const n = 32;
      await Promise.all(
        Array.from({ length: n }, (_, i) => cp.setCompleted(`uid-${i}`, record(`c${i}`))),
      );
      // The first change starts an append; the other 31 share the single queued one.
      expect(cp.appendCount).toBeGreaterThanOrEqual(1);
      expect(cp.appendCount).toBeLessThanOrEqual(2);
      expect(cp.snapshotCount).toBe(1);
      const seqs = (await journalLines()).map((line) => {
        const d = decodeJournalRecord(line);
        return d.ok ? d.value.seq : -1;
      });
      expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect((await open()).entries()).toHaveLength(n);
    });

    it('keeps the journal with its boot: a reboot is reported until save()', async () => {
      const cp = await open('boot-A');
      await cp.setCompleted('uid-1', record('c1'));
      await cp.setCompleted('uid-2', record('c2'));
      const rebooted = await open('boot-B');
      expect(rebooted.recovery).toMatchObject({ reason: 'reboot', previousBootId: 'boot-A' });
      expect(rebooted.entries().map(([uid]) => uid)).toEqual(['uid-1', 'uid-2']);
      // Cleaning up after the reboot, then dying before save(): still a reboot at the next start.
      await rebooted.remove('uid-1');
      const again = await open('boot-B');
      expect(again.recovery).toMatchObject({ reason: 'reboot', previousBootId: 'boot-A' });
      expect(again.entries().map(([uid]) => uid)).toEqual(['uid-2']);
      await again.save();
      const settled = await open('boot-B');
      expect(settled.recovery).toBeUndefined();
      expect(settled.entries().map(([uid]) => uid)).toEqual(['uid-2']);
      expect(await recoveries(metrics, 'reboot')).toBe(2);
    });

    it('writes a whole snapshot after a failed append, so the journal never has a gap', async () => {
      const cp = await open();
      await cp.setCompleted('uid-1', record('c1'));
      const failing = vi
        .spyOn(DurableAppendFile.prototype, 'append')
        .mockRejectedValueOnce(Object.assign(new Error('disk error'), { code: 'EIO' }));
      try {
        await expect(cp.setCompleted('uid-2', record('c2'))).rejects.toThrow(
          /cannot append to checkpoint journal .*checkpoint\.journal: EIO \(input\/output error\); check that the plugin data directory is writable/,
        );
      } finally {
        failing.mockRestore();
      }
      await cp.setCompleted('uid-3', record('c3'));
      expect([cp.snapshotCount, cp.appendCount]).toEqual([2, 0]);
      await cp.setCompleted('uid-4', record('c4'));
      expect(cp.appendCount).toBe(1);
      expect((await open()).entries().map(([uid]) => uid)).toEqual([
        'uid-1',
        'uid-2',
        'uid-3',
        'uid-4',
      ]);
      const errors = (await metrics.checkpointWrites.get()).values.find(
        (v) => v.labels.result === 'error',
      );
      expect(errors?.value).toBe(1);
    });

    it('removes snapshot temp files left by a crash, but not young ones', async () => {
      const old = join(dir, '.checkpoint.json.tmp-9-ab');
      const young = join(dir, '.checkpoint.json.tmp-9-cd');
      await writeFile(old, '{');
      await writeFile(young, '{');
      const past = new Date(Date.now() - 3_600_000);
      await utimes(old, past, past);
      await open();
      expect(await readdir(dir)).toEqual(['.checkpoint.json.tmp-9-cd']);
    });
  });

  it('reads the boot ID from a file', async () => {
    await writeFile(join(dir, 'boot_id'), 'abc-def\n');
    expect(await readBootId(join(dir, 'boot_id'))).toBe('abc-def');
  });
});
