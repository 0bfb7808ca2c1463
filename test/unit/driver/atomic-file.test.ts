import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DurableAppendFile, writeFileAtomic } from '../../../src/driver/atomic-file.ts';

/** Paths whose FileHandle was fsynced, in order (files and directories alike). */
const synced = vi.hoisted((): string[] => []);

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof actual.open = async (...args) => {
    const handle = await actual.open(...args);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      synced.push(String(args[0]));
      await sync();
    };
    return handle;
  };
  return { ...actual, open };
});

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phalanx-atomic-'));
    synced.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fsyncs the temp file and then the directory by default', async () => {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two', 0o600);
    expect(await readFile(path, 'utf8')).toBe('two');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(synced).toHaveLength(4);
    expect(synced[0]).toMatch(/\/\.a\.json\.tmp-\d+-[0-9a-f]{8}$/);
    expect(synced[1]).toBe(dir);
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('skips only the data fsync when asked', async () => {
    const path = join(dir, 'b.json');
    await writeFileAtomic(path, 'content', 0o644, { syncData: false });
    expect(await readFile(path, 'utf8')).toBe('content');
    expect(synced).toEqual([dir]);
    expect(await readdir(dir)).toEqual(['b.json']);
  });
});

describe('DurableAppendFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phalanx-append-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file on the first append, appends in order and tracks its size', async () => {
    const path = join(dir, 'log');
    const file = new DurableAppendFile(path);
    expect(file.size).toBe(0);
    await file.truncate(); // nothing to do for a missing file
    expect(await readdir(dir)).toEqual([]);
    await file.append(Buffer.from('one\n'));
    await file.append(Buffer.from('two\n'));
    expect(file.size).toBe(8);
    expect(await readFile(path, 'utf8')).toBe('one\ntwo\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await file.truncate();
    expect(file.size).toBe(0);
    await file.append(Buffer.from('three\n'));
    expect(await readFile(path, 'utf8')).toBe('three\n');
    await file.close();
    await file.close();
    // A later append reopens it; an instance for an existing file appends after its content.
    await file.append(Buffer.from('four\n'));
    await file.close();
    const reopened = new DurableAppendFile(path, { size: 11 });
    await reopened.append(Buffer.from('five\n'));
    await reopened.close();
    expect(await readFile(path, 'utf8')).toBe('three\nfour\nfive\n');
    expect(reopened.size).toBe(16);
  });

  it('rejects with the fs error when the file cannot be opened', async () => {
    const file = new DurableAppendFile(join(dir, 'missing-dir', 'log'));
    await expect(file.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
