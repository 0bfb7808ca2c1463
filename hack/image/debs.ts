/**
 * The base layer: the shared libraries the Node binary links against (ldd: libc, libm, libdl,
 * libpthread, libstdc++, libgcc_s, the dynamic loader), taken from Debian 12 packages at pinned
 * versions and checked against pinned sha256 sums. Node carries its own CA store and time zone data
 * (full ICU), so ca-certificates and tzdata are left out.
 *
 * To move the pins: `apt-get update && apt-cache policy libc6 libstdc++6 libgcc-s1`, download the
 * new versions (`apt-get download libc6=<v>`), `sha256sum *.deb`, and update BASE_DEBS.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entriesFromDir, type TarEntry } from './tar.ts';

export interface DebPin {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

export const DEB_ARCH = 'amd64';

export const BASE_DEBS: readonly DebPin[] = [
  {
    name: 'libc6',
    version: '2.36-9+deb12u14',
    sha256: 'ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf',
  },
  {
    name: 'libgcc-s1',
    version: '12.2.0-14+deb12u1',
    sha256: '3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7',
  },
  {
    name: 'libstdc++6',
    version: '12.2.0-14+deb12u1',
    sha256: '5cd3171216d4ab0fc911cfe9c35509bf2dd8f47761c43b7f6a4296701551a24d',
  },
];

export function debFileName(pin: DebPin): string {
  return `${pin.name}_${pin.version.replace(/^\d+:/, '')}_${DEB_ARCH}.deb`;
}

function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function run(command: string, args: readonly string[], cwd?: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error !== undefined) {
    throw new Error(`${command} could not start (${result.error.message}); install it`);
  }
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function aptDownload(pin: DebPin, dir: string): void {
  const args = ['-q', '-o', 'APT::Sandbox::User=root', 'download', `${pin.name}=${pin.version}`];
  try {
    run('apt-get', args, dir);
  } catch (first) {
    // A fresh machine has no package lists yet; root can fetch them once and try again.
    if (process.getuid?.() !== 0) throw first;
    run('apt-get', ['-q', 'update']);
    run('apt-get', args, dir);
  }
}

/**
 * The pinned packages in `cacheDir` (downloaded with `apt-get download` when missing), each
 * checked against its pinned sha256.
 */
export function fetchDebs(cacheDir: string, pins: readonly DebPin[] = BASE_DEBS): string[] {
  mkdirSync(cacheDir, { recursive: true });
  return pins.map((pin) => {
    const path = join(cacheDir, debFileName(pin));
    if (!existsSync(path)) {
      const scratch = mkdtempSync(join(cacheDir, '.download-'));
      try {
        aptDownload(pin, scratch);
        renameSync(join(scratch, debFileName(pin)), path);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `cannot download ${pin.name} ${pin.version}: ${reason}. If the archive no longer has it, move the pin in hack/image/debs.ts (see its header).`,
        );
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
    const actual = fileSha256(path);
    if (actual !== pin.sha256) {
      throw new Error(
        `${path}: sha256 ${actual} is not the pinned ${pin.sha256}; delete the file to download it again`,
      );
    }
    return path;
  });
}

/**
 * Documentation, lintian and debugger files are dropped (each package's copyright stays), and so
 * are glibc's iconv modules: Node converts text with its own ICU.
 */
function skipShared(relative: string, isDir: boolean): boolean {
  if (relative === 'usr/lib/x86_64-linux-gnu/gconv') return true;
  if (relative === 'usr/share') return false;
  if (!relative.startsWith('usr/share/')) return false;
  const parts = relative.split('/');
  if (parts[2] !== 'doc') return true;
  if (parts.length === 3 || (parts.length === 4 && isDir)) return false;
  return !(parts.length === 5 && parts[4] === 'copyright');
}

/** Entries of one package's files, plus its control record under /var/lib/dpkg/status.d for scanners. */
export function debEntries(debPath: string): TarEntry[] {
  const scratch = mkdtempSync(join(tmpdir(), 'phalanx-deb-'));
  try {
    run('dpkg-deb', ['-x', debPath, scratch]);
    const control = run('dpkg-deb', ['-f', debPath]);
    const name = run('dpkg-deb', ['-f', debPath, 'Package']).trim();
    const entries = entriesFromDir(scratch, '', { skip: skipShared, keepModes: true });
    const kept = entries.filter((entry) => !isEmptyDocDir(entry, entries));
    kept.push({
      type: 'file',
      path: `var/lib/dpkg/status.d/${name}`,
      mode: 0o644,
      data: Buffer.from(control.endsWith('\n') ? control : `${control}\n`),
    });
    return kept;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A `usr/share/doc/<pkg>` directory left without its copyright (or a link to another doc dir). */
function isEmptyDocDir(entry: TarEntry, all: readonly TarEntry[]): boolean {
  const path = entry.path.replace(/^\//, '');
  if (!/^usr\/share\/doc\/[^/]+$/.test(path)) return false;
  if (entry.type === 'symlink') return true;
  return !all.some((other) => other.path.replace(/^\//, '').startsWith(`${path}/`));
}

/** The whole base layer: every pinned package, merged (shared directories once). */
export function baseLayerEntries(cacheDir: string): {
  entries: TarEntry[];
  pins: readonly DebPin[];
} {
  const entries = fetchDebs(cacheDir).flatMap((path) => debEntries(path));
  return { entries, pins: BASE_DEBS };
}
