/**
 * `npm run image` / `make image`: the Phalanx container image as an OCI image layout, built
 * without Docker. Three layers: base (Debian's glibc, libstdc++ and libgcc_s at pinned versions),
 * node (the pinned Node 24 binary) and app (/app + accounts). Two builds of the same tree give
 * the same digests: tars are sorted, every mtime is SOURCE_DATE_EPOCH (default: the commit time),
 * owners are numeric, gzip headers fixed.
 *
 *   node hack/image/build.ts [--out DIR] [--tar FILE] [--name phalanx:dev]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { appLayerEntries, NONROOT, nodeLayerEntries, productionModules } from './app.ts';
import { baseLayerEntries } from './debs.ts';
import {
  blobOf,
  type Image,
  type ImageSpec,
  imageArchive,
  imageConfig,
  imageIndex,
  imageManifest,
  type Layer,
  sha256,
  writeLayout,
} from './oci.ts';
import { gzipDeterministic, type TarEntry, withParentDirs, writeTar } from './tar.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const ENTRYPOINT = ['/usr/local/bin/node', '/app/src/cmd/phalanx.ts'] as const;
export const DEFAULT_NAME = 'phalanx:dev';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PHALANX_CACHE) return env.PHALANX_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'phalanx');
}

export interface BuildOptions {
  readonly repo: string;
  readonly out: string;
  readonly cacheDir: string;
  readonly name: string;
  readonly tar?: string;
  /** Seconds since the epoch for every mtime and the created time. */
  readonly epoch: number;
  readonly revision: string;
}

export interface BuildResult {
  readonly out: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layers: readonly { name: string; digest: string; size: number; diffId: string }[];
  readonly totalSize: number;
  readonly tar?: string;
}

function git(repo: string, args: readonly string[]): string | undefined {
  const result = spawnSync('git', args, { cwd: repo, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** SOURCE_DATE_EPOCH when set, else the commit time of HEAD, else 0. */
export function sourceDateEpoch(repo: string, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '') {
    const value = Number(fromEnv);
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`SOURCE_DATE_EPOCH=${fromEnv} is not a whole number of seconds`);
    }
    return value;
  }
  return Number(git(repo, ['log', '-1', '--format=%ct']) ?? 0);
}

/** HEAD's commit, with `-dirty` when the files that go into the image differ from it. */
export function revision(repo: string): string {
  const head = git(repo, ['rev-parse', 'HEAD']);
  if (head === undefined) return 'unknown';
  const paths = ['src', 'proto', 'package.json', 'package-lock.json'];
  const status = git(repo, ['status', '--porcelain', '--', ...paths]);
  return status === '' ? head : `${head}-dirty`;
}

function layer(
  name: string,
  createdBy: string,
  entries: readonly TarEntry[],
  epoch: number,
): Layer {
  const tar = writeTar(withParentDirs(entries), epoch);
  return { name, createdBy, diffId: sha256(tar), blob: blobOf(gzipDeterministic(tar)) };
}

interface PackageJson {
  readonly version: string;
  readonly description?: string;
  readonly license?: string;
  readonly devDependencies?: Record<string, string>;
}

function nodeBinary(repo: string, pkg: PackageJson): string {
  const path = join(repo, 'node_modules', 'node', 'bin', 'node');
  const want = pkg.devDependencies?.node;
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (want !== undefined && version !== `v${want}`) {
    throw new Error(
      `${path} is ${version || 'missing'}, not the pinned node ${want}; run npm install first`,
    );
  }
  return path;
}

function buildLayers(options: BuildOptions, pkg: PackageJson): Layer[] {
  const { entries: base, pins } = baseLayerEntries(join(options.cacheDir, 'debs'));
  const modules = productionModules(options.repo, join(options.cacheDir, 'npm'));
  const debs = pins.map((pin) => `${pin.name}=${pin.version}`).join(' ');
  return [
    layer('base', `apt-get download ${debs} (dpkg-deb -x)`, base, options.epoch),
    layer(
      'node',
      `node ${pkg.devDependencies?.node ?? ''} at /usr/local/bin/node`,
      nodeLayerEntries(nodeBinary(options.repo, pkg)),
      options.epoch,
    ),
    layer(
      'app',
      'src proto package.json + npm install --omit=dev → /app; nonroot 65532',
      appLayerEntries(options.repo, modules),
      options.epoch,
    ),
  ];
}

export function imageSpec(options: BuildOptions, pkg: PackageJson, layers: Layer[]): ImageSpec {
  const created = new Date(options.epoch * 1000).toISOString().replace('.000Z', 'Z');
  return {
    created,
    architecture: 'amd64',
    os: 'linux',
    user: `${NONROOT}:${NONROOT}`,
    env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'],
    entrypoint: ENTRYPOINT,
    workingDir: '/app',
    labels: {
      'org.opencontainers.image.title': 'phalanx',
      'org.opencontainers.image.description': pkg.description ?? '',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.revision': options.revision,
      'org.opencontainers.image.created': created,
      'org.opencontainers.image.licenses': pkg.license ?? '',
    },
    layers,
  };
}

export function buildImage(options: BuildOptions): BuildResult {
  const pkg = JSON.parse(readFileSync(join(options.repo, 'package.json'), 'utf8')) as PackageJson;
  const layers = buildLayers(options, pkg);
  const spec = imageSpec(options, pkg, layers);
  const config = imageConfig(spec);
  const manifest = imageManifest(config, layers);
  const image: Image = {
    name: options.name,
    config,
    manifest,
    index: imageIndex(manifest, spec, options.name),
    layers,
  };
  writeLayout(options.out, image);
  if (options.tar !== undefined) {
    mkdirSync(dirname(options.tar), { recursive: true });
    writeFileSync(options.tar, imageArchive(image, options.epoch));
  }
  const blobs = [config, manifest, ...layers.map((l) => l.blob)];
  return {
    out: options.out,
    manifestDigest: manifest.digest,
    configDigest: config.digest,
    layers: layers.map((l) => ({
      name: l.name,
      digest: l.blob.digest,
      size: l.blob.size,
      diffId: l.diffId,
    })),
    totalSize: blobs.reduce((sum, blob) => sum + blob.size, 0),
    ...(options.tar === undefined ? {} : { tar: options.tar }),
  };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export function formatResult(result: BuildResult): string {
  const lines = [`image ${result.out}`, `manifest ${result.manifestDigest}`];
  for (const l of result.layers) {
    lines.push(`  layer ${l.name.padEnd(5)} ${mib(l.size).padStart(10)}  ${l.digest}`);
  }
  lines.push(`total ${mib(result.totalSize)} compressed (${result.totalSize} bytes)`);
  if (result.tar !== undefined)
    lines.push(`archive ${result.tar} (docker load -i / kind load image-archive)`);
  return `${lines.join('\n')}\n`;
}

export function optionsFromArgs(argv: readonly string[], env = process.env): BuildOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      out: { type: 'string' },
      tar: { type: 'string' },
      name: { type: 'string', default: DEFAULT_NAME },
    },
  });
  const cacheDir = join(cacheRoot(env), 'image');
  return {
    repo: REPO_ROOT,
    out: resolve(values.out ?? join(cacheDir, 'oci')),
    cacheDir,
    name: values.name,
    epoch: sourceDateEpoch(REPO_ROOT, env),
    revision: revision(REPO_ROOT),
    ...(values.tar === undefined ? {} : { tar: resolve(values.tar) }),
  };
}

if (import.meta.main) {
  try {
    process.stdout.write(formatResult(buildImage(optionsFromArgs(process.argv.slice(2)))));
  } catch (error) {
    process.stderr.write(`image: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
