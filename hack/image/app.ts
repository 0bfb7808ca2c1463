/**
 * The node and app layers. The app is the sources as they are (Node 24 strips the types, so there
 * is no build step), the protos and the production dependencies, installed from the committed
 * lockfile into a cache directory (the repository's own node_modules is never touched).
 *
 * `npm ci` refuses this lockfile (it holds only this platform's optional Biome binaries), so the
 * install is `npm install --omit=dev --ignore-scripts` on a copy of package.json and the lockfile,
 * and the installed tree is then checked against the committed lockfile, package by package.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { entriesFromDir, type TarEntry } from './tar.ts';

export const NONROOT = 65532;
export const APP_DIR = 'app';
export const NODE_PATH = 'usr/local/bin/node';

/**
 * Files of no use at run time: type declarations and source maps (with the test directories
 * below, about half of the installed bytes).
 */
const PRUNED_FILE = /\.(d\.[cm]?ts|map|tsbuildinfo)$/;

interface LockPackage {
  readonly version?: string;
  readonly dev?: boolean;
}

interface Lockfile {
  readonly packages?: Record<string, LockPackage>;
}

export function readLockfile(path: string): Record<string, LockPackage> {
  return (JSON.parse(readFileSync(path, 'utf8')) as Lockfile).packages ?? {};
}

/** Top-level package names the lockfile marks as development-only (never in the image). */
export function devOnlyPackages(lockPath: string): string[] {
  return Object.entries(readLockfile(lockPath))
    .filter(([key, pkg]) => pkg.dev === true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key))
    .map(([key]) => key.slice('node_modules/'.length))
    .sort();
}

/** Packages whose installed version differs from the committed lockfile, or that it lacks. */
export function lockfileDrift(installedLock: string, committedLock: string): string[] {
  const committed = readLockfile(committedLock);
  const drift: string[] = [];
  for (const [key, pkg] of Object.entries(readLockfile(installedLock))) {
    if (key === '') continue;
    const want = committed[key];
    if (want === undefined) drift.push(`${key} is not in the lockfile`);
    else if (want.dev === true) drift.push(`${key} is a development dependency`);
    else if (want.version !== pkg.version) drift.push(`${key} ${pkg.version} ≠ ${want.version}`);
  }
  return drift;
}

/**
 * Production node_modules for the repository's package.json + lockfile, cached under `cacheDir`
 * by their sha256, installed on first use.
 */
export function productionModules(repo: string, cacheDir: string): string {
  const manifest = join(repo, 'package.json');
  const lock = join(repo, 'package-lock.json');
  const key = createHash('sha256')
    .update(readFileSync(manifest))
    .update(readFileSync(lock))
    .digest('hex')
    .slice(0, 16);
  const target = join(cacheDir, key);
  if (existsSync(join(target, 'node_modules'))) return join(target, 'node_modules');
  mkdirSync(cacheDir, { recursive: true });
  const scratch = mkdtempSync(join(cacheDir, '.install-'));
  try {
    copyFileSync(manifest, join(scratch, 'package.json'));
    copyFileSync(lock, join(scratch, 'package-lock.json'));
    const args = ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'];
    const result = spawnSync('npm', args, { cwd: scratch, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`npm ${args.join(' ')} failed in ${scratch}: ${result.stderr.trim()}`);
    }
    const drift = lockfileDrift(join(scratch, 'node_modules', '.package-lock.json'), lock);
    if (drift.length > 0) {
      throw new Error(`production install differs from package-lock.json: ${drift.join('; ')}`);
    }
    rmSync(target, { recursive: true, force: true });
    renameSync(scratch, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return join(target, 'node_modules');
}

/** The node layer: the pinned Node binary itself at /usr/local/bin/node. */
export function nodeLayerEntries(nodeBinary: string): TarEntry[] {
  return [
    { type: 'file', path: NODE_PATH, mode: 0o755, data: readFileSync(realpathSync(nodeBinary)) },
  ];
}

const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  `nonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin`,
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
];
const GROUP = ['root:x:0:', `nonroot:x:${NONROOT}:`, 'nobody:x:65534:'];
const NSSWITCH = ['passwd: files', 'group: files', 'hosts: files dns'];

function textFile(path: string, lines: readonly string[]): TarEntry {
  return { type: 'file', path, mode: 0o644, data: Buffer.from(`${lines.join('\n')}\n`) };
}

/** Accounts (root and nonroot 65532), name service order, /tmp, and the nonroot home. */
export function systemEntries(): TarEntry[] {
  return [
    textFile('etc/passwd', PASSWD),
    textFile('etc/group', GROUP),
    textFile('etc/nsswitch.conf', NSSWITCH),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'home', mode: 0o755 },
    { type: 'dir', path: 'home/nonroot', mode: 0o700, uid: NONROOT, gid: NONROOT },
  ];
}

function skipLocalFiles(relative: string): boolean {
  const name = relative.slice(relative.lastIndexOf('/') + 1);
  return name.startsWith('.') || name.endsWith('.log');
}

/** Test directories at a package's root (`fastify/test`) and test data anywhere. */
const TEST_DIRS = new Set(['test', 'tests', '__tests__']);

export function isPrunedModulePath(relative: string, isDir: boolean): boolean {
  if (!isDir) return PRUNED_FILE.test(relative);
  const parts = (relative.split('/node_modules/').pop() ?? '').split('/');
  if (parts.at(-1) === 'testdata') return true;
  const root = parts[0]?.startsWith('@') === true ? 2 : 1;
  return parts.length === root + 1 && TEST_DIRS.has(parts[root] ?? '');
}

/** The app layer: /app (sources, protos, package.json, production node_modules) + system files. */
export function appLayerEntries(repo: string, modules: string): TarEntry[] {
  return [
    { type: 'dir', path: APP_DIR, mode: 0o755 },
    {
      type: 'file',
      path: `${APP_DIR}/package.json`,
      mode: 0o644,
      data: readFileSync(join(repo, 'package.json')),
    },
    { type: 'dir', path: `${APP_DIR}/src`, mode: 0o755 },
    ...entriesFromDir(join(repo, 'src'), `${APP_DIR}/src`, { skip: skipLocalFiles }),
    { type: 'dir', path: `${APP_DIR}/proto`, mode: 0o755 },
    ...entriesFromDir(join(repo, 'proto'), `${APP_DIR}/proto`, { skip: skipLocalFiles }),
    { type: 'dir', path: `${APP_DIR}/node_modules`, mode: 0o755 },
    ...entriesFromDir(modules, `${APP_DIR}/node_modules`, { skip: isPrunedModulePath }),
    ...systemEntries(),
  ];
}
