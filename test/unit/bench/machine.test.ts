import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isMemoryBacked,
  machineInfo,
  mountFor,
  packageVersions,
  parseMounts,
  shortHostName,
} from '../../../bench/lib/machine.ts';

const MOUNTS = [
  '/dev/vda / ext4 rw,relatime 0 0',
  'proc /proc proc rw,nosuid 0 0',
  'tmpfs /tmp tmpfs rw,nosuid,nodev 0 0',
  '/dev/vdb /var/lib/with\\040space xfs rw 0 0',
  'tmpfs /var/run tmpfs rw 0 0',
  '/dev/vdc /var/run ext4 rw 0 0',
  '',
  'garbage',
].join('\n');

describe('parseMounts', () => {
  it('reads source, mount point, type and options, unescaping octal escapes', () => {
    const mounts = parseMounts(MOUNTS);
    expect(mounts).toHaveLength(6);
    expect(mounts[0]).toEqual({
      source: '/dev/vda',
      mountPoint: '/',
      fsType: 'ext4',
      options: 'rw,relatime',
    });
    expect(mounts[3]?.mountPoint).toBe('/var/lib/with space');
  });
});

describe('mountFor', () => {
  const mounts = parseMounts(MOUNTS);

  it('picks the longest mount point that contains the path', () => {
    expect(mountFor(mounts, '/tmp/phalanx-bench-1')?.fsType).toBe('tmpfs');
    expect(mountFor(mounts, '/tmp')?.fsType).toBe('tmpfs');
    expect(mountFor(mounts, '/var/tmp/x')?.fsType).toBe('ext4');
    expect(mountFor(mounts, '/var/lib/with space/data')?.fsType).toBe('xfs');
  });

  it('does not treat a name prefix as a parent directory', () => {
    expect(mountFor(mounts, '/tmpx/file')?.mountPoint).toBe('/');
  });

  it('takes the later of two mounts on the same point (it hides the earlier one)', () => {
    expect(mountFor(mounts, '/var/run/cdi')).toEqual({
      source: '/dev/vdc',
      mountPoint: '/var/run',
      fsType: 'ext4',
      options: 'rw',
    });
  });

  it('finds nothing in an empty table', () => {
    expect(mountFor([], '/x')).toBeUndefined();
  });
});

describe('isMemoryBacked', () => {
  it('flags tmpfs and ramfs only', () => {
    expect(isMemoryBacked('tmpfs')).toBe(true);
    expect(isMemoryBacked('ramfs')).toBe(true);
    expect(isMemoryBacked('ext4')).toBe(false);
    expect(isMemoryBacked('overlay')).toBe(false);
  });
});

describe('shortHostName', () => {
  it('keeps the first label, lower-cased, safe for a file name', () => {
    expect(shortHostName('Build-07.ci.example.com')).toBe('build-07');
    expect(shortHostName('box_1')).toBe('box-1');
    expect(shortHostName('')).toBe('host');
    expect(shortHostName('__')).toBe('host');
  });
});

describe('machineInfo', () => {
  it('reports this machine’s CPUs, memory and kernel', () => {
    const info = machineInfo();
    expect(info.cpuCount).toBeGreaterThan(0);
    expect(info.totalMemoryBytes).toBeGreaterThan(0);
    expect(info.kernel).not.toBe('');
    expect(info.loadAverage).toHaveLength(3);
  });
});

describe('packageVersions', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'bench-pkg-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads the project version and each dependency’s, marking absent ones', () => {
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'proj', version: '1.2.3' }));
    const dep = join(root, 'node_modules', '@scope', 'dep');
    mkdirSync(dep, { recursive: true });
    writeFileSync(
      join(dep, 'package.json'),
      JSON.stringify({ name: '@scope/dep', version: '4.5.6' }),
    );
    expect(packageVersions(root, ['@scope/dep', 'gone'])).toEqual({
      proj: '1.2.3',
      '@scope/dep': '4.5.6',
      gone: 'missing',
    });
  });
});
