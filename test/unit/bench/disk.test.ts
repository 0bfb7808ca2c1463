import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  makeScratchDir,
  measureDiskBaseline,
  pickDiskBacked,
  removeScratchDir,
  type ScratchDir,
} from '../../../bench/lib/disk.ts';

describe('pickDiskBacked', () => {
  it('skips memory-backed candidates and takes the first real disk', () => {
    expect(
      pickDiskBacked([
        { path: '/tmp', fsType: 'tmpfs' },
        { path: '/var/tmp', fsType: 'ext4' },
        { path: '/cache', fsType: 'xfs' },
      ]),
    ).toBe('/var/tmp');
  });

  it('finds nothing when every candidate lives in memory', () => {
    expect(
      pickDiskBacked([
        { path: '/tmp', fsType: 'tmpfs' },
        { path: '/r', fsType: 'ramfs' },
      ]),
    ).toBeUndefined();
    expect(pickDiskBacked([])).toBeUndefined();
  });
});

describe('scratch directory and disk baseline', () => {
  let scratch: ScratchDir | undefined;
  afterEach(async () => {
    if (scratch !== undefined) await removeScratchDir(scratch);
    scratch = undefined;
  });

  it('creates a fresh directory, measures each primitive n times and leaves no files', async () => {
    scratch = await makeScratchDir('bench-disk-test-', '', process.cwd());
    expect(existsSync(scratch.path)).toBe(true);
    expect(scratch.filesystem.fsType).not.toBe('tmpfs');
    const samples = await measureDiskBaseline(scratch.path, 3, 64);
    expect(samples.fileFsync).toHaveLength(3);
    expect(samples.dirFsync).toHaveLength(3);
    expect(samples.atomicWrite).toHaveLength(3);
    for (const s of [...samples.fileFsync, ...samples.dirFsync, ...samples.atomicWrite])
      expect(s).toBeGreaterThanOrEqual(0);
    expect(readdirSync(scratch.path)).toEqual([]);
    const path = scratch.path;
    await removeScratchDir(scratch);
    scratch = undefined;
    expect(existsSync(path)).toBe(false);
  });

  it('refuses an explicit parent that does not exist', async () => {
    await expect(makeScratchDir('x-', '/nonexistent/phalanx-bench', process.cwd())).rejects.toThrow(
      'no disk-backed directory among /nonexistent/phalanx-bench',
    );
  });
});
