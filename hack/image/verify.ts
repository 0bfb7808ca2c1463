/**
 * Checks an image built by hack/image/build.ts the way CI needs it checked without Docker:
 * the OCI layout (every digest and size, media types, config fields), the file tree of the
 * unpacked layers, and the entrypoint itself started inside that tree with chroot as uid 65532
 * (`--help`, `plugin --help` and the embedded `simulate`).
 *
 *   node hack/image/verify.ts [--dir DIR] [--no-run] [--keep]
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { APP_DIR, devOnlyPackages, NODE_PATH, NONROOT } from './app.ts';
import { cacheRoot, ENTRYPOINT, REPO_ROOT } from './build.ts';
import { blobPath, type Descriptor, LAYOUT_VERSION, MEDIA_TYPE, sha256 } from './oci.ts';

export interface VerifyReport {
  readonly passed: string[];
  readonly problems: string[];
  readonly skipped: string[];
}

function check(report: VerifyReport, ok: boolean, what: string, problem?: string): boolean {
  if (ok) report.passed.push(what);
  else report.problems.push(problem ?? what);
  return ok;
}

interface IndexJson {
  readonly schemaVersion?: number;
  readonly mediaType?: string;
  readonly manifests?: readonly Descriptor[];
}

interface ManifestJson {
  readonly schemaVersion?: number;
  readonly mediaType?: string;
  readonly config?: Descriptor;
  readonly layers?: readonly Descriptor[];
}

export interface ConfigJson {
  readonly os?: string;
  readonly architecture?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[];
    readonly WorkingDir?: string;
    readonly Labels?: Record<string, string>;
  };
  readonly rootfs?: { readonly type?: string; readonly diff_ids?: readonly string[] };
  readonly history?: readonly unknown[];
}

/** A blob's bytes when its file exists and matches the descriptor's size and digest. */
function readBlob(dir: string, descriptor: Descriptor, report: VerifyReport): Buffer | undefined {
  const path = join(dir, blobPath(descriptor.digest));
  if (!check(report, existsSync(path), `blob ${descriptor.digest} present`)) return undefined;
  const bytes = readFileSync(path);
  const sized = check(
    report,
    bytes.length === descriptor.size,
    `blob ${descriptor.digest} size ${descriptor.size}`,
    `blob ${descriptor.digest} is ${bytes.length} bytes, the descriptor says ${descriptor.size}`,
  );
  const hashed = check(
    report,
    sha256(bytes) === descriptor.digest,
    `blob ${descriptor.digest} digest`,
    `blob ${descriptor.digest} hashes to ${sha256(bytes)}`,
  );
  return sized && hashed ? bytes : undefined;
}

function readJson<T>(path: string, report: VerifyReport): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    report.problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

function manifestOf(dir: string, report: VerifyReport): ManifestJson | undefined {
  const layout = readJson<{ imageLayoutVersion?: string }>(join(dir, 'oci-layout'), report);
  check(report, layout?.imageLayoutVersion === LAYOUT_VERSION, `oci-layout ${LAYOUT_VERSION}`);
  const index = readJson<IndexJson>(join(dir, 'index.json'), report);
  check(
    report,
    index?.schemaVersion === 2 && index.mediaType === MEDIA_TYPE.index,
    'index.json is an OCI index',
  );
  const descriptor = index?.manifests?.[0];
  if (
    !check(report, descriptor?.mediaType === MEDIA_TYPE.manifest, 'index names one image manifest')
  ) {
    return undefined;
  }
  const bytes = descriptor === undefined ? undefined : readBlob(dir, descriptor, report);
  if (bytes === undefined) return undefined;
  const manifest = JSON.parse(bytes.toString('utf8')) as ManifestJson;
  check(
    report,
    manifest.schemaVersion === 2 && manifest.mediaType === MEDIA_TYPE.manifest,
    'manifest media type',
  );
  check(report, manifest.config?.mediaType === MEDIA_TYPE.config, 'config media type');
  const layers = manifest.layers ?? [];
  check(
    report,
    layers.length > 0 && layers.every((l) => l.mediaType === MEDIA_TYPE.layerGzip),
    'layers are tar+gzip',
  );
  return manifest;
}

function checkConfigFields(config: ConfigJson, report: VerifyReport): void {
  const c = config.config;
  check(report, config.os === 'linux' && config.architecture === 'amd64', 'platform linux/amd64');
  check(
    report,
    c?.User === `${NONROOT}:${NONROOT}`,
    `User ${NONROOT}:${NONROOT}`,
    `User is ${c?.User}, not ${NONROOT}:${NONROOT}`,
  );
  check(
    report,
    JSON.stringify(c?.Entrypoint) === JSON.stringify(ENTRYPOINT),
    'Entrypoint',
    `Entrypoint is ${JSON.stringify(c?.Entrypoint)}`,
  );
  check(report, c?.Env?.includes('NODE_ENV=production') === true, 'Env NODE_ENV=production');
  check(
    report,
    c?.Env?.some((e) => /^PATH=(.*:)?\/usr\/local\/bin(:|$)/.test(e)) === true,
    'Env PATH has /usr/local/bin',
  );
  check(report, c?.WorkingDir === '/app', 'WorkingDir /app');
  for (const label of ['version', 'revision', 'created', 'title']) {
    const key = `org.opencontainers.image.${label}`;
    check(report, (c?.Labels?.[key] ?? '') !== '', `label ${key}`);
  }
}

/** The config's fields, and its diff_ids against the uncompressed layers. */
function checkConfig(
  dir: string,
  manifest: ManifestJson,
  report: VerifyReport,
): ConfigJson | undefined {
  const bytes = manifest.config === undefined ? undefined : readBlob(dir, manifest.config, report);
  if (bytes === undefined) return undefined;
  const config = JSON.parse(bytes.toString('utf8')) as ConfigJson;
  checkConfigFields(config, report);
  const layers = manifest.layers ?? [];
  const diffIds = config.rootfs?.diff_ids ?? [];
  check(
    report,
    config.rootfs?.type === 'layers' && diffIds.length === layers.length,
    'one diff_id per layer',
  );
  check(report, (config.history ?? []).length === layers.length, 'one history entry per layer');
  layers.forEach((layer, i) => {
    const blob = readBlob(dir, layer, report);
    if (blob === undefined) return;
    const diffId = sha256(gunzipSync(blob));
    check(
      report,
      diffId === diffIds[i],
      `layer ${i} diff_id`,
      `layer ${i} unpacks to ${diffId}, config says ${diffIds[i]}`,
    );
  });
  return config;
}

function unpack(dir: string, manifest: ManifestJson, rootfs: string): void {
  for (const layer of manifest.layers ?? []) {
    const result = spawnSync(
      'tar',
      ['--numeric-owner', '-xzf', join(dir, blobPath(layer.digest)), '-C', rootfs],
      {
        encoding: 'utf8',
      },
    );
    if (result.status !== 0)
      throw new Error(`tar -xzf ${layer.digest} failed: ${result.stderr.trim()}`);
  }
}

function findNamed(root: string, name: string, relative = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
    const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.name === name) found.push(rel);
    if (entry.isDirectory()) found.push(...findNamed(root, name, rel));
  }
  return found;
}

/** Development packages the image must not carry: the lockfile's dev-only ones and the usual suspects. */
export function forbiddenPackages(lockfile: string): string[] {
  return [
    ...new Set([
      ...devOnlyPackages(lockfile),
      'vitest',
      'typescript',
      '@biomejs/biome',
      'fast-check',
    ]),
  ].sort();
}

export function checkTree(
  rootfs: string,
  forbidden: readonly string[],
  report: VerifyReport,
): void {
  const at = (path: string) => join(rootfs, path);
  const node = existsSync(at(NODE_PATH)) ? lstatSync(at(NODE_PATH)) : undefined;
  check(
    report,
    node?.isFile() === true && (node.mode & 0o111) !== 0,
    `/${NODE_PATH} is an executable file`,
  );
  const loader = 'lib64/ld-linux-x86-64.so.2';
  check(
    report,
    existsSync(at(loader)) || existsSync(join(rootfs, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2')),
    `/${loader} present`,
  );
  for (const path of [
    'src/cmd/phalanx.ts',
    'package.json',
    'proto',
    'node_modules/fastify/package.json',
  ]) {
    check(report, existsSync(at(`${APP_DIR}/${path}`)), `/${APP_DIR}/${path} present`);
  }
  const present = forbidden.filter((name) => existsSync(at(`${APP_DIR}/node_modules/${name}`)));
  check(
    report,
    present.length === 0,
    'no development packages in /app/node_modules',
    `development packages in /app/node_modules: ${present.join(', ')}`,
  );
  const strays = ['test', 'bench', 'e2e', 'hack', 'deploy', '.git'].filter((d) =>
    existsSync(at(`${APP_DIR}/${d}`)),
  );
  check(
    report,
    strays.length === 0,
    'no test/bench/e2e/hack/.git in /app',
    `/app holds ${strays.join(', ')}`,
  );
  const gits = findNamed(rootfs, '.git');
  check(report, gits.length === 0, 'no .git anywhere', `.git found at ${gits.join(', ')}`);
  const passwd = existsSync(at('etc/passwd')) ? readFileSync(at('etc/passwd'), 'utf8') : '';
  check(
    report,
    new RegExp(`^[^:]+:x:${NONROOT}:${NONROOT}:`, 'm').test(passwd),
    `/etc/passwd has uid ${NONROOT}`,
  );
  const group = existsSync(at('etc/group')) ? readFileSync(at('etc/group'), 'utf8') : '';
  check(
    report,
    new RegExp(`^[^:]+:x:${NONROOT}:`, 'm').test(group),
    `/etc/group has gid ${NONROOT}`,
  );
  const tmp = existsSync(at('tmp')) ? lstatSync(at('tmp')).mode & 0o7777 : 0;
  check(report, tmp === 0o1777, '/tmp is 1777', `/tmp is ${tmp.toString(8)}, not 1777`);
}

interface Probe {
  readonly args: readonly string[];
  readonly expect: readonly RegExp[];
}

export const PROBES: readonly Probe[] = [
  {
    args: ['--help'],
    expect: [
      /^Usage: phalanx <command>/m,
      /^ {2}plugin /m,
      /^ {2}scheduler /m,
      /^ {2}webhook /m,
      /^ {2}simulate /m,
    ],
  },
  { args: ['plugin', '--help'], expect: [/^Usage: phalanx plugin/m] },
  {
    args: ['simulate'],
    expect: [/^simulate phalanx: \d+ gangs run in /m, /^Workload embedded-default: /m],
  },
];

/** How to enter the rootfs: chroot as 65532 when root, a user namespace otherwise, or why neither. */
export function chrootPrefix(rootfs: string): { prefix: string[] } | { skip: string } {
  if (process.getuid?.() === 0)
    return { prefix: ['chroot', `--userspec=${NONROOT}:${NONROOT}`, rootfs] };
  const probe = spawnSync('unshare', ['-r', 'chroot', rootfs, '/usr/local/bin/node', '--version'], {
    encoding: 'utf8',
  });
  if (probe.status === 0) return { prefix: ['unshare', '-r', 'chroot', rootfs] };
  return {
    skip: `entrypoint not started: not root and unshare -r chroot failed (${(probe.stderr ?? '').trim() || probe.error?.message})`,
  };
}

/** A command's full path by this process's PATH (the probes run with the image's own PATH). */
function which(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, command))) return join(dir, command);
  }
  return command;
}

export function runEntrypoint(rootfs: string, config: ConfigJson, report: VerifyReport): void {
  const how = chrootPrefix(rootfs);
  if ('skip' in how) {
    report.skipped.push(how.skip);
    return;
  }
  const env: Record<string, string> = { HOME: '/home/nonroot' };
  for (const pair of config.config?.Env ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const [command = 'chroot', ...rest] = how.prefix;
  for (const probe of PROBES) {
    const args = [...rest, ...(config.config?.Entrypoint ?? ENTRYPOINT), ...probe.args];
    const result = spawnSync(which(command), args, { encoding: 'utf8', env, timeout: 120_000 });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
    const what = `entrypoint ${probe.args.join(' ')} in the rootfs (${how.prefix.slice(0, -1).join(' ')})`;
    const ok = result.status === 0 && probe.expect.every((re) => re.test(output));
    check(
      report,
      ok,
      what,
      `${what} exited ${result.status ?? result.signal}: ${output.trim().slice(-800)}`,
    );
  }
}

export interface VerifyOptions {
  readonly dir: string;
  readonly lockfile: string;
  /** Start the entrypoint in the unpacked tree (default true). */
  readonly run?: boolean;
  /** Keep the unpacked tree (its path is reported) instead of deleting it. */
  readonly keep?: boolean;
}

/** The layout checks alone (digests, sizes, media types, config), with what they read. */
export function checkLayout(
  dir: string,
  report: VerifyReport,
): { manifest: ManifestJson; config: ConfigJson } | undefined {
  const manifest = manifestOf(dir, report);
  const config = manifest === undefined ? undefined : checkConfig(dir, manifest, report);
  return manifest === undefined || config === undefined ? undefined : { manifest, config };
}

export function verifyImage(options: VerifyOptions): VerifyReport & { rootfs?: string } {
  const report: VerifyReport = { passed: [], problems: [], skipped: [] };
  const layout = checkLayout(options.dir, report);
  if (layout === undefined || report.problems.length > 0) return report;
  const { manifest, config } = layout;
  const rootfs = mkdtempSync(join(tmpdir(), 'phalanx-rootfs-'));
  chmodSync(rootfs, 0o755);
  try {
    unpack(options.dir, manifest, rootfs);
    checkTree(rootfs, forbiddenPackages(options.lockfile), report);
    if (options.run === false) report.skipped.push('entrypoint not started (--no-run)');
    else runEntrypoint(rootfs, config, report);
  } finally {
    if (options.keep !== true) rmSync(rootfs, { recursive: true, force: true });
  }
  return options.keep === true ? { ...report, rootfs } : report;
}

export function formatReport(report: VerifyReport & { rootfs?: string }): string {
  const lines = [
    ...report.problems.map((p) => `FAIL ${p}`),
    ...report.skipped.map((s) => `SKIP ${s}`),
    `${report.passed.length} checks passed, ${report.problems.length} failed, ${report.skipped.length} skipped`,
  ];
  if (report.rootfs !== undefined) lines.push(`rootfs kept at ${report.rootfs}`);
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: join(cacheRoot(), 'image', 'oci') },
      'no-run': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const report = verifyImage({
    dir: values.dir,
    lockfile: join(REPO_ROOT, 'package-lock.json'),
    run: !values['no-run'],
    keep: values.keep,
  });
  process.stdout.write(formatReport(report));
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}
