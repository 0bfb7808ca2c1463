/**
 * Acceptance 2 of issue 6: the image is built without Docker, twice to the same digests, its
 * layout and file tree are checked, and its entrypoint is started inside the unpacked tree
 * (chroot as uid 65532: `--help`, `plugin --help`, the embedded `simulate`). Needs no cluster;
 * downloads go to $PHALANX_CACHE/image (Debian packages, production node_modules), reused after.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../hack/image/build.ts';
import { verifyImage } from '../../hack/image/verify.ts';

const work = mkdtempSync(join(tmpdir(), 'phalanx-image-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function build(out: string, ...extra: string[]): string {
  const result = spawnSync(process.execPath, ['hack/image/build.ts', '--out', out, ...extra], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 280_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

function manifestDigest(output: string): string {
  return /^manifest (sha256:[0-9a-f]{64})$/m.exec(output)?.[1] ?? 'no manifest line';
}

describe('container image without Docker', () => {
  const first = join(work, 'first');
  const second = join(work, 'second');
  const archive = join(work, 'phalanx.tar');
  let firstOutput = '';

  it('builds twice from the same tree to the same digests', { timeout: 600_000 }, () => {
    firstOutput = build(first);
    const secondOutput = build(second, '--tar', archive);
    expect(manifestDigest(firstOutput)).toMatch(/^sha256:/);
    expect(manifestDigest(secondOutput)).toBe(manifestDigest(firstOutput));
    expect(firstOutput).toMatch(
      /^ {2}layer base .*\n {2}layer node .*\n {2}layer app .*\ntotal [\d.]+ MiB compressed/m,
    );
    expect(readFileSync(join(second, 'index.json'))).toEqual(
      readFileSync(join(first, 'index.json')),
    );
  });

  it('writes an archive that carries the same image for docker load and kind', () => {
    const listed = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.split('\n');
    expect(listed).toEqual(expect.arrayContaining(['manifest.json', 'index.json', 'oci-layout']));
    const index = spawnSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' }).stdout;
    expect(index).toContain(manifestDigest(firstOutput));
  });

  it('passes every layout and file-tree check and starts its entrypoint in the rootfs', {
    timeout: 300_000,
  }, () => {
    const report = verifyImage({ dir: first, lockfile: join(REPO_ROOT, 'package-lock.json') });
    expect(report.problems).toEqual([]);
    const started = report.passed.filter((line) => line.startsWith('entrypoint '));
    if (process.getuid?.() === 0) {
      expect(report.skipped).toEqual([]);
      expect(started).toEqual([
        'entrypoint --help in the rootfs (chroot --userspec=65532:65532)',
        'entrypoint plugin --help in the rootfs (chroot --userspec=65532:65532)',
        'entrypoint simulate in the rootfs (chroot --userspec=65532:65532)',
      ]);
    } else {
      expect(started.length + report.skipped.length).toBeGreaterThan(0);
    }
    expect(report.passed).toEqual(
      expect.arrayContaining([
        'no development packages in /app/node_modules',
        '/tmp is 1777',
        '/etc/passwd has uid 65532',
      ]),
    );
  });
});
