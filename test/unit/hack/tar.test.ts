/**
 * The layer tar writer, read back by the system's GNU tar: entries, types, modes, owners and
 * mtimes as written, long paths through PAX headers, and the same bytes for the same input.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  entriesFromDir,
  gzipDeterministic,
  normalizePath,
  type TarEntry,
  withParentDirs,
  writeTar,
} from '../../../hack/image/tar.ts';

const MTIME = 1_700_000_000;
const LONG_DIR = `app/node_modules/${'deep/'.repeat(30)}pkg`;

const ENTRIES: TarEntry[] = [
  { type: 'file', path: 'usr/local/bin/node', mode: 0o755, data: Buffer.from('#!binary\n') },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'dir', path: 'home/nonroot', mode: 0o700, uid: 65532, gid: 65532 },
  { type: 'symlink', path: 'lib64/ld-linux-x86-64.so.2', target: '/lib/x86_64-linux-gnu/ld.so' },
  {
    type: 'file',
    path: 'etc/passwd',
    mode: 0o644,
    data: Buffer.from('root:x:0:0::/root:/sbin/nologin\n'),
  },
  { type: 'file', path: `${LONG_DIR}/index.js`, mode: 0o644, data: Buffer.alloc(1000, 0x61) },
];

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'phalanx-tar-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function systemTar(args: string[], archive: Buffer): string {
  const file = join(tempDir(), 'layer.tar');
  writeFileSync(file, archive);
  const result = spawnSync('tar', [...args, '-f', file], {
    encoding: 'utf8',
    env: { TZ: 'UTC', PATH: process.env.PATH ?? '' },
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

interface Listed {
  perms: string;
  owner: string;
  size: number;
  time: string;
  path: string;
}

/** `tar -tv --numeric-owner --full-time` lines, parsed. */
function listing(archive: Buffer): Listed[] {
  const text = systemTar(['-tv', '--numeric-owner', '--full-time'], archive);
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [perms = '', owner = '', size = '', day = '', clock = '', ...rest] = line.split(/\s+/);
      return { perms, owner, size: Number(size), time: `${day} ${clock}`, path: rest.join(' ') };
    });
}

describe('writeTar', () => {
  it('writes what GNU tar reads back: types, modes, owners, sizes, one mtime, sorted paths', () => {
    const archive = writeTar(withParentDirs(ENTRIES), MTIME);
    const rows = listing(archive);
    const byPath = new Map(rows.map((row) => [row.path, row]));
    expect(rows.map((row) => row.path)).toEqual(
      [...rows.map((row) => row.path)].sort((a, b) =>
        Buffer.compare(Buffer.from(a), Buffer.from(b)),
      ),
    );
    expect(new Set(rows.map((row) => row.time))).toEqual(new Set(['2023-11-14 22:13:20']));
    expect(byPath.get('usr/local/bin/node')).toMatchObject({
      perms: '-rwxr-xr-x',
      owner: '0/0',
      size: 9,
    });
    expect(byPath.get('tmp/')).toMatchObject({ perms: 'drwxrwxrwt', owner: '0/0' });
    expect(byPath.get('home/nonroot/')).toMatchObject({
      perms: 'drwx------',
      owner: '65532/65532',
    });
    expect(byPath.get('home/')).toMatchObject({ perms: 'drwxr-xr-x', owner: '0/0' });
    expect(byPath.get('etc/passwd')).toMatchObject({ perms: '-rw-r--r--', size: 32 });
    expect(byPath.get('lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld.so')?.perms).toBe(
      'lrwxrwxrwx',
    );
    expect(byPath.get(`${LONG_DIR}/index.js`)?.size).toBe(1000);
    expect(archive.length % 512).toBe(0);
  });

  it('carries a path longer than ustar allows through a PAX header, and its contents intact', () => {
    const dir = tempDir();
    const file = join(tempDir(), 'long.tar');
    writeFileSync(file, writeTar(withParentDirs(ENTRIES), MTIME));
    const result = spawnSync('tar', ['-xf', file, '-C', dir], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(`${LONG_DIR}/index.js`.length).toBeGreaterThan(155);
    expect(readFileSync(join(dir, LONG_DIR, 'index.js'))).toEqual(Buffer.alloc(1000, 0x61));
    expect(readFileSync(join(dir, 'usr/local/bin/node'), 'utf8')).toBe('#!binary\n');
  });

  it('gives the same bytes for the same entries, in any order', () => {
    const once = writeTar(withParentDirs(ENTRIES), MTIME);
    const again = writeTar(withParentDirs([...ENTRIES].reverse()), MTIME);
    expect(again.equals(once)).toBe(true);
    expect(writeTar(withParentDirs(ENTRIES), MTIME + 1).equals(once)).toBe(false);
  });

  it('keeps a directory named twice alike once, and refuses a path named twice differently', () => {
    const dir: TarEntry = { type: 'dir', path: 'usr', mode: 0o755 };
    expect(
      listing(writeTar([dir, { ...dir, path: '/usr/' }], MTIME)).map((row) => row.path),
    ).toEqual(['usr/']);
    const clash: TarEntry = { type: 'file', path: 'usr', mode: 0o644, data: Buffer.from('x') };
    expect(() => writeTar([dir, clash], MTIME)).toThrow(
      '"usr" is named twice with different contents',
    );
  });

  it('refuses paths that leave the root', () => {
    expect(() => normalizePath('../etc/passwd')).toThrow('leaves the root');
    expect(() => normalizePath('/')).toThrow('is empty');
    expect(normalizePath('./usr/lib/')).toBe('usr/lib');
  });
});

describe('gzipDeterministic', () => {
  it('has a fixed header, round-trips through gunzip and system gzip, and repeats byte for byte', () => {
    const tar = writeTar(withParentDirs(ENTRIES), MTIME);
    const gz = gzipDeterministic(tar);
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(gunzipSync(gz).equals(tar)).toBe(true);
    const file = join(tempDir(), 'layer.tar.gz');
    writeFileSync(file, gz);
    const system = spawnSync('gzip', ['-dc', file]);
    expect(system.status).toBe(0);
    expect(Buffer.from(system.stdout).equals(tar)).toBe(true);
    expect(gzipDeterministic(tar).equals(gz)).toBe(true);
  });
});

describe('entriesFromDir', () => {
  it('walks a tree into entries under a prefix, normalising modes, keeping links, honouring skip', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'run'), 'x', { mode: 0o700 });
    writeFileSync(join(dir, 'a.txt'), 'hello', { mode: 0o600 });
    writeFileSync(join(dir, 'skip.map'), '{}');
    symlinkSync('bin/run', join(dir, 'link'));
    const entries = entriesFromDir(dir, 'app', { skip: (rel) => rel.endsWith('.map') });
    expect(
      entries.map(({ type, path, ...rest }) => [
        type,
        path,
        'mode' in rest ? rest.mode : rest.target,
      ]),
    ).toEqual([
      ['file', 'app/a.txt', 0o644],
      ['dir', 'app/bin', 0o755],
      ['file', 'app/bin/run', 0o755],
      ['symlink', 'app/link', 'bin/run'],
    ]);
    const kept = entriesFromDir(dir, 'app', { keepModes: true });
    expect(kept.find((entry) => entry.path === 'app/a.txt')).toMatchObject({ mode: 0o600 });
  });
});
