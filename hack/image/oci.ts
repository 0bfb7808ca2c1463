/**
 * OCI image layout pieces: content-addressed blobs, the image config, manifest and index, the
 * layout directory and a single-file archive of it that `docker load`, `skopeo copy oci-archive:`
 * and `kind load image-archive` read (the OCI layout plus Docker's `manifest.json`).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type TarEntry, withParentDirs, writeTar } from './tar.ts';

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const LAYOUT_VERSION = '1.0.0';

export interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
  readonly platform?: { readonly architecture: string; readonly os: string };
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function blobOf(bytes: Buffer): Blob {
  return { digest: sha256(bytes), size: bytes.length, bytes };
}

/** JSON blobs are written compactly with the key order given, so their digests are stable. */
export function jsonBlob(value: unknown): Blob {
  return blobOf(Buffer.from(JSON.stringify(value), 'utf8'));
}

export function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return `blobs/${algorithm ?? ''}/${hex ?? ''}`;
}

export interface Layer {
  /** What the layer holds, for history and output (`base`, `node`, `app`). */
  readonly name: string;
  readonly createdBy: string;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
  readonly blob: Blob;
}

export interface ImageSpec {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly user: string;
  readonly env: readonly string[];
  readonly entrypoint: readonly string[];
  readonly workingDir: string;
  readonly labels: Record<string, string>;
  readonly layers: readonly Layer[];
}

export function imageConfig(spec: ImageSpec): Blob {
  return jsonBlob({
    created: spec.created,
    architecture: spec.architecture,
    os: spec.os,
    config: {
      User: spec.user,
      Env: spec.env,
      Entrypoint: spec.entrypoint,
      WorkingDir: spec.workingDir,
      Labels: spec.labels,
    },
    rootfs: { type: 'layers', diff_ids: spec.layers.map((layer) => layer.diffId) },
    history: spec.layers.map((layer) => ({
      created: spec.created,
      created_by: layer.createdBy,
      comment: `phalanx ${layer.name} layer`,
    })),
  });
}

export function imageManifest(config: Blob, layers: readonly Layer[]): Blob {
  return jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, digest: config.digest, size: config.size },
    layers: layers.map((layer) => ({
      mediaType: MEDIA_TYPE.layerGzip,
      digest: layer.blob.digest,
      size: layer.blob.size,
    })),
  });
}

/** `phalanx:dev` → the full name containerd gives it (`docker.io/library/phalanx:dev`). */
export function fullImageName(name: string): string {
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && /[.:]|^localhost$/.test(first);
  if (hasRegistry) return name;
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
}

export function tagOf(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon === -1 ? 'latest' : last.slice(colon + 1);
}

export function imageIndex(manifest: Blob, spec: ImageSpec, name: string): unknown {
  const descriptor: Descriptor = {
    mediaType: MEDIA_TYPE.manifest,
    digest: manifest.digest,
    size: manifest.size,
    annotations: {
      'io.containerd.image.name': fullImageName(name),
      'org.opencontainers.image.ref.name': tagOf(name),
    },
    platform: { architecture: spec.architecture, os: spec.os },
  };
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.index, manifests: [descriptor] };
}

export interface Image {
  readonly name: string;
  readonly config: Blob;
  readonly manifest: Blob;
  readonly index: unknown;
  readonly layers: readonly Layer[];
}

/** Every file of the layout: `oci-layout`, `index.json` and the blobs, by relative path. */
function layoutFiles(image: Image): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
  files.set('index.json', Buffer.from(JSON.stringify(image.index)));
  for (const blob of [image.config, image.manifest, ...image.layers.map((layer) => layer.blob)]) {
    files.set(blobPath(blob.digest), blob.bytes);
  }
  return files;
}

/**
 * Writes the layout to `dir`, replacing an earlier layout there. A directory that holds anything
 * but an OCI layout is refused rather than emptied.
 */
export function writeLayout(dir: string, image: Image): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, 'oci-layout'))) {
    throw new Error(`--out ${dir} is not empty and holds no OCI layout; name a new directory`);
  }
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const [path, bytes] of layoutFiles(image)) {
    mkdirSync(dirname(join(staging, path)), { recursive: true });
    writeFileSync(join(staging, path), bytes);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(staging, dir);
}

/** The layout plus Docker's `manifest.json` in one tar, with every mtime at `mtime`. */
export function imageArchive(image: Image, mtime: number): Buffer {
  const dockerManifest = [
    {
      Config: blobPath(image.config.digest),
      RepoTags: [image.name],
      Layers: image.layers.map((layer) => blobPath(layer.blob.digest)),
    },
  ];
  const entries: TarEntry[] = [
    {
      type: 'file',
      path: 'manifest.json',
      mode: 0o644,
      data: Buffer.from(JSON.stringify(dockerManifest)),
    },
  ];
  for (const [path, data] of layoutFiles(image)) {
    entries.push({ type: 'file', path, mode: 0o644, data });
  }
  return writeTar(withParentDirs(entries), mtime);
}
