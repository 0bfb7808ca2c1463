/**
 * Disk baselines for benchmarks whose work includes fsync: where to put scratch files so fsync is
 * real, and how long the bare durable-write primitives take on that disk right now.
 */
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from '../../src/driver/atomic-file.ts';
import { type FilesystemInfo, filesystemOf, isMemoryBacked } from './machine.ts';

export interface ScratchDir {
  /** A fresh directory; remove it with {@link removeScratchDir}. */
  readonly path: string;
  readonly filesystem: FilesystemInfo;
}

/**
 * The first candidate that is not memory-backed. Explicit choices are not second-guessed except
 * for that: a tmpfs data dir would make every fsync free and the numbers meaningless.
 */
export function pickDiskBacked(
  candidates: readonly { readonly path: string; readonly fsType: string }[],
): string | undefined {
  return candidates.find((c) => !isMemoryBacked(c.fsType))?.path;
}

/**
 * Creates a scratch directory on a disk-backed filesystem: under `explicit` when given, else the
 * first of os.tmpdir(), /var/tmp and `<repoRoot>/.cache` that is not tmpfs/ramfs.
 */
export async function makeScratchDir(
  prefix: string,
  explicit: string,
  repoRoot: string,
): Promise<ScratchDir> {
  const parents = explicit === '' ? [tmpdir(), '/var/tmp', join(repoRoot, '.cache')] : [explicit];
  const candidates: { path: string; fsType: string }[] = [];
  for (const path of parents) {
    try {
      candidates.push({ path, fsType: filesystemOf(path).fsType });
    } catch {
      // missing or unreadable: not a candidate
    }
  }
  const parent = pickDiskBacked(candidates);
  if (parent === undefined)
    throw new Error(
      `no disk-backed directory among ${parents.join(', ')} (tmpfs makes fsync free); pass --data-dir on a real disk`,
    );
  const path = await mkdtemp(join(parent, prefix));
  return { path, filesystem: filesystemOf(path) };
}

export async function removeScratchDir(dir: ScratchDir): Promise<void> {
  await rm(dir.path, { recursive: true, force: true });
}

/** Samples in milliseconds of each durable-write primitive, measured back to back. */
export interface DiskBaselineSamples {
  /** fsync(2) of a freshly written small file: only the sync call is timed. */
  readonly fileFsync: number[];
  /** fsync(2) of a directory right after a file was created in it. */
  readonly dirFsync: number[];
  /** The plugin's atomic replace: temp file, write, fsync, rename, directory fsync. */
  readonly atomicWrite: number[];
}

/** Measures the primitives `iterations` times each in `dir` with `bytes`-sized files. */
export async function measureDiskBaseline(
  dir: string,
  iterations: number,
  bytes: number,
): Promise<DiskBaselineSamples> {
  const data = 'x'.repeat(bytes);
  const fileFsync: number[] = [];
  const dirFsync: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const path = join(dir, `fsync-${i}`);
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(data, 'utf8');
      const t0 = performance.now();
      await handle.sync();
      fileFsync.push(performance.now() - t0);
    } finally {
      await handle.close();
    }
    const t1 = performance.now();
    await fsyncDirectory(dir);
    dirFsync.push(performance.now() - t1);
    await unlink(path);
  }
  const atomicWrite: number[] = [];
  const target = join(dir, 'atomic.json');
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await writeFileAtomic(target, data);
    atomicWrite.push(performance.now() - t0);
  }
  await unlink(target);
  return { fileFsync, dirFsync, atomicWrite };
}
