/**
 * The OCI layout writer and the checks of hack/image/verify.ts on a small hand-made image: a good
 * layout passes, a changed byte or size is named, the archive holds what `docker load` reads, and
 * the file-tree checks catch development packages and a wrong /tmp.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  devOnlyPackages,
  isPrunedModulePath,
  lockfileDrift,
  systemEntries,
} from '../../../hack/image/app.ts';
import { type BuildOptions, imageSpec } from '../../../hack/image/build.ts';
import {
  blobOf,
  blobPath,
  fullImageName,
  type Image,
  imageArchive,
  imageConfig,
  imageIndex,
  imageManifest,
  type Layer,
  sha256,
  tagOf,
  writeLayout,
} from '../../../hack/image/oci.ts';
import { gzipDeterministic, withParentDirs, writeTar } from '../../../hack/image/tar.ts';
import { checkLayout, checkTree, type VerifyReport } from '../../../hack/image/verify.ts';

const EPOCH = 1_700_000_000;
const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'phalanx-oci-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function smallImage(): Image {
  const tar = writeTar(
    withParentDirs([
      { type: 'file', path: 'app/src/cmd/phalanx.ts', mode: 0o644, data: Buffer.from('x') },
      ...systemEntries(),
    ]),
    EPOCH,
  );
  const layer: Layer = {
    name: 'app',
    createdBy: 'test',
    diffId: sha256(tar),
    blob: blobOf(gzipDeterministic(tar)),
  };
  const options: BuildOptions = {
    repo: '/r',
    out: '/o',
    cacheDir: '/c',
    name: 'phalanx:dev',
    epoch: EPOCH,
    revision: 'abc',
  };
  const spec = imageSpec(options, { version: '1.2.3', description: 'd', license: 'Apache-2.0' }, [
    layer,
  ]);
  const config = imageConfig(spec);
  const manifest = imageManifest(config, [layer]);
  return {
    name: 'phalanx:dev',
    config,
    manifest,
    index: imageIndex(manifest, spec, 'phalanx:dev'),
    layers: [layer],
  };
}

function emptyReport(): VerifyReport {
  return { passed: [], problems: [], skipped: [] };
}

describe('OCI layout', () => {
  it('writes a layout whose every check passes, with the config a runtime needs', () => {
    const dir = join(tempDir(), 'oci');
    const image = smallImage();
    writeLayout(dir, image);
    const report = emptyReport();
    const layout = checkLayout(dir, report);
    expect(report.problems).toEqual([]);
    expect(report.passed.length).toBeGreaterThan(15);
    expect(layout?.config.config).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['/usr/local/bin/node', '/app/src/cmd/phalanx.ts'],
      WorkingDir: '/app',
      Labels: {
        'org.opencontainers.image.version': '1.2.3',
        'org.opencontainers.image.revision': 'abc',
      },
    });
    expect(layout?.config).toMatchObject({ created: '2023-11-14T22:13:20Z' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe(
      'docker.io/library/phalanx:dev',
    );
  });

  it('names a blob whose bytes or size no longer match its descriptor', () => {
    const dir = join(tempDir(), 'oci');
    const image = smallImage();
    writeLayout(dir, image);
    const layerFile = join(dir, blobPath(image.layers[0]?.blob.digest ?? ''));
    const bytes = readFileSync(layerFile);
    bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 0xff;
    writeFileSync(layerFile, bytes);
    const report = emptyReport();
    checkLayout(dir, report);
    expect(report.problems).toEqual([
      expect.stringMatching(/^blob sha256:\w+ hashes to sha256:\w+$/),
    ]);
    writeFileSync(layerFile, Buffer.concat([bytes, Buffer.from('x')]));
    const sized = emptyReport();
    checkLayout(dir, sized);
    expect(sized.problems).toContain(
      `blob ${image.layers[0]?.blob.digest} is ${bytes.length + 1} bytes, the descriptor says ${bytes.length}`,
    );
  });

  it('replaces an earlier layout but refuses to empty a directory holding anything else', () => {
    const dir = join(tempDir(), 'oci');
    writeLayout(dir, smallImage());
    writeLayout(dir, smallImage());
    const other = tempDir();
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    expect(() => writeLayout(other, smallImage())).toThrow('is not empty and holds no OCI layout');
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('archives the layout with a Docker manifest.json naming the config and layers', () => {
    const image = smallImage();
    const file = join(tempDir(), 'image.tar');
    writeFileSync(file, imageArchive(image, EPOCH));
    const listed = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(listed).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'index.json',
        'oci-layout',
        blobPath(image.config.digest),
        blobPath(image.manifest.digest),
      ]),
    );
    const docker = JSON.parse(
      spawnSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' }).stdout,
    );
    expect(docker).toEqual([
      {
        Config: blobPath(image.config.digest),
        RepoTags: ['phalanx:dev'],
        Layers: [blobPath(image.layers[0]?.blob.digest ?? '')],
      },
    ]);
    expect(imageArchive(image, EPOCH).equals(readFileSync(file))).toBe(true);
  });

  it.each([
    ['phalanx:dev', 'docker.io/library/phalanx:dev', 'dev'],
    ['org/phalanx:0.1.0', 'docker.io/org/phalanx:0.1.0', '0.1.0'],
    ['localhost:5000/phalanx', 'localhost:5000/phalanx', 'latest'],
    ['ghcr.io/x/phalanx:v1', 'ghcr.io/x/phalanx:v1', 'v1'],
  ])('%s → %s (tag %s)', (name, full, tag) => {
    expect(fullImageName(name)).toBe(full);
    expect(tagOf(name)).toBe(tag);
  });
});

describe('file tree checks', () => {
  function rootfs(): string {
    const root = tempDir();
    const tar = join(tempDir(), 'system.tar');
    writeFileSync(tar, writeTar(withParentDirs(systemEntries()), EPOCH));
    expect(spawnSync('tar', ['-xf', tar, '-C', root]).status).toBe(0);
    for (const file of [
      'usr/local/bin/node',
      'lib64/ld-linux-x86-64.so.2',
      'app/src/cmd/phalanx.ts',
      'app/package.json',
      'app/node_modules/fastify/package.json',
    ]) {
      mkdirSync(join(root, file, '..'), { recursive: true });
      writeFileSync(join(root, file), '', { mode: 0o755 });
    }
    mkdirSync(join(root, 'app/proto'));
    return root;
  }

  it('passes a tree shaped like the image', () => {
    const report = emptyReport();
    checkTree(rootfs(), ['vitest'], report);
    expect(report.problems).toEqual([]);
  });

  it('names development packages, stray test directories, .git and a /tmp without the sticky bit', () => {
    const root = rootfs();
    mkdirSync(join(root, 'app/node_modules/vitest'));
    mkdirSync(join(root, 'app/test'));
    mkdirSync(join(root, 'app/node_modules/fastify/.git'));
    chmodSync(join(root, 'tmp'), 0o777);
    const report = emptyReport();
    checkTree(root, ['vitest', '@biomejs/biome'], report);
    expect(report.problems).toEqual([
      'development packages in /app/node_modules: vitest',
      '/app holds test',
      '.git found at app/node_modules/fastify/.git',
      '/tmp is 777, not 1777',
    ]);
  });
});

describe('production dependencies', () => {
  const lock = {
    packages: {
      '': { name: 'phalanx' },
      'node_modules/fastify': { version: '5.0.0' },
      'node_modules/vitest': { version: '5.1.1', dev: true },
      'node_modules/@biomejs/biome': { version: '2.6.8', dev: true },
      'node_modules/vitest/node_modules/tinyspy': { version: '1.0.0', dev: true },
    },
  };

  it('lists the top-level development-only packages of a lockfile', () => {
    const file = join(tempDir(), 'package-lock.json');
    writeFileSync(file, JSON.stringify(lock));
    expect(devOnlyPackages(file)).toEqual(['@biomejs/biome', 'vitest']);
  });

  it('names every installed package the committed lockfile does not pin to the same version', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'committed.json'), JSON.stringify(lock));
    const installed = {
      packages: {
        '': {},
        'node_modules/fastify': { version: '5.0.1' },
        'node_modules/vitest': { version: '5.1.1' },
        'node_modules/left-pad': { version: '1.0.0' },
      },
    };
    writeFileSync(join(dir, 'installed.json'), JSON.stringify(installed));
    expect(lockfileDrift(join(dir, 'installed.json'), join(dir, 'committed.json'))).toEqual([
      'node_modules/fastify 5.0.1 ≠ 5.0.0',
      'node_modules/vitest is a development dependency',
      'node_modules/left-pad is not in the lockfile',
    ]);
  });

  it.each([
    ['fastify/test', true, true],
    ['@fastify/error/test', true, true],
    ['ajv/node_modules/fast-uri/test', true, true],
    ['@bufbuild/cel-spec/dist/esm/gen/cel/expr/conformance/test', true, false],
    ['@bufbuild/cel-spec/dist/cjs/testdata', true, true],
    ['pino/lib/index.d.ts', false, true],
    ['pino/lib/index.js.map', false, true],
    ['pino/lib/index.js', false, false],
    ['test', true, false],
  ])('prunes %s (dir %s): %s', (path, isDir, pruned) => {
    expect(isPrunedModulePath(path, isDir)).toBe(pruned);
  });
});
