/**
 * What a benchmark result must say about where it ran: machine, runtime, package versions,
 * source revision, and the filesystem under a path. The parsers are pure; the collectors read
 * /proc, the OS and the repository.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  readonly hostname: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly totalMemoryBytes: number;
  readonly kernel: string;
  readonly platform: string;
  readonly arch: string;
  /** 1, 5 and 15 minute load averages when the info was taken (others' work skews timings). */
  readonly loadAverage: readonly number[];
}

export interface RuntimeInfo {
  readonly node: string;
  readonly v8: string;
}

export interface GitInfo {
  readonly commit: string;
  /** Tracked files differ from the commit. */
  readonly dirty: boolean;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    hostname: hostname(),
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpuCount: list.length,
    totalMemoryBytes: totalmem(),
    kernel: release(),
    platform: process.platform,
    arch: process.arch,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function runtimeInfo(): RuntimeInfo {
  return { node: process.version, v8: process.versions.v8 };
}

/** First label of the host name, lower-cased, reduced to `[a-z0-9-]` (for file names). */
export function shortHostName(name: string): string {
  const label = (name.split('.')[0] ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  const trimmed = label.replace(/^-+|-+$/g, '');
  return trimmed === '' ? 'host' : trimmed;
}

/**
 * `version` of the project and of each named dependency, read from package.json files under
 * `root`. A package that is not installed is reported as `missing`.
 */
export function packageVersions(root: string, names: readonly string[]): Record<string, string> {
  const read = (path: string): string => {
    try {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
      return typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      return 'missing';
    }
  };
  const project = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name?: string;
  };
  const out: Record<string, string> = {
    [project.name ?? 'project']: read(join(root, 'package.json')),
  };
  for (const name of names) out[name] = read(join(root, 'node_modules', name, 'package.json'));
  return out;
}

/** HEAD commit and whether tracked files are modified; undefined outside a git checkout. */
export function gitInfo(root: string): GitInfo | undefined {
  try {
    const run = (args: string[]): string =>
      execFileSync('git', ['-C', root, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const commit = run(['rev-parse', 'HEAD']).trim();
    const dirty = run(['status', '--porcelain', '--untracked-files=no']).trim() !== '';
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

// ---- filesystems -------------------------------------------------------------------------------

export interface MountEntry {
  readonly source: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly options: string;
}

/** Filesystems that live in memory: fsync on them returns at once and measures nothing. */
export const MEMORY_FILESYSTEMS: readonly string[] = ['tmpfs', 'ramfs'];

export function isMemoryBacked(fsType: string): boolean {
  return MEMORY_FILESYSTEMS.includes(fsType);
}

/** `\040` → space etc.: /proc/mounts escapes space, tab, newline and backslash in octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/** Parses /proc/mounts (or /proc/self/mounts) text; malformed lines are skipped. */
export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [source, mountPoint, fsType, options] = line.trim().split(/\s+/);
    if (source === undefined || mountPoint === undefined || fsType === undefined) continue;
    if (source === '') continue;
    entries.push({
      source: unescapeMountField(source),
      mountPoint: unescapeMountField(mountPoint),
      fsType,
      options: options ?? '',
    });
  }
  return entries;
}

const within = (path: string, mountPoint: string): boolean =>
  mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);

/**
 * The mount an absolute, symlink-free path lives on: the longest matching mount point, the last
 * one listed when several mounts share it (a later mount hides an earlier one).
 */
export function mountFor(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    if (!within(path, m.mountPoint)) continue;
    if (best === undefined || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best;
}

export interface FilesystemInfo extends MountEntry {
  /** The path asked about, with symlinks resolved. */
  readonly path: string;
}

/** The filesystem under `path` (which must exist), from /proc/self/mounts. */
export function filesystemOf(path: string): FilesystemInfo {
  const real = realpathSync(path);
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    // not Linux: reported as unknown below
  }
  const mount = mountFor(parseMounts(text), real);
  return {
    path: real,
    source: mount?.source ?? 'unknown',
    mountPoint: mount?.mountPoint ?? 'unknown',
    fsType: mount?.fsType ?? 'unknown',
    options: mount?.options ?? '',
  };
}
