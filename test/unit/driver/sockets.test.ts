import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_KUBELET_ROOT,
  pluginSocketPaths,
  registrationSocketCandidates,
  UNIX_SOCKET_PATH_MAX,
} from '../../../src/driver/sockets.ts';

const DRIVER = 'gpu.phalanx.dev';
const UID = '5f0c7a52-1e4b-4d7a-9c3e-000000000007';

// Independent re-statement of the naming rule: base64 (URL alphabet, no padding) of the first
// N bytes of the SHA-256 digest.
function hashName(data: string, bytes: number): string {
  const digest = createHash('sha256').update(data).digest().subarray(0, bytes);
  return digest.toString('base64').replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** A kubelet root whose plugins_registry dir is exactly `dirBytes` long. */
function rootWithRegistryDirOf(dirBytes: number): string {
  const suffix = '/plugins_registry';
  const pad = dirBytes - suffix.length - 1;
  return `/${'r'.repeat(pad)}`;
}

describe('socket paths without rolling updates', () => {
  it('uses the kubelet defaults', () => {
    expect(pluginSocketPaths({ driverName: DRIVER })).toEqual({
      registrationDir: '/var/lib/kubelet/plugins_registry',
      registrationSocket: '/var/lib/kubelet/plugins_registry/gpu.phalanx.dev-reg.sock',
      pluginDir: '/var/lib/kubelet/plugins/gpu.phalanx.dev',
      draSocket: '/var/lib/kubelet/plugins/gpu.phalanx.dev/dra.sock',
    });
    expect(DEFAULT_KUBELET_ROOT).toBe('/var/lib/kubelet');
  });

  it('follows a custom kubelet root and normalises it', () => {
    const paths = pluginSocketPaths({ driverName: DRIVER, kubeletRoot: '/data/kubelet/' });
    expect(paths.registrationSocket).toBe(
      '/data/kubelet/plugins_registry/gpu.phalanx.dev-reg.sock',
    );
    expect(paths.draSocket).toBe('/data/kubelet/plugins/gpu.phalanx.dev/dra.sock');
  });

  it('treats an empty pod UID as no rolling update', () => {
    const paths = pluginSocketPaths({ driverName: DRIVER, podUid: '' });
    expect(paths.registrationSocket.endsWith('/gpu.phalanx.dev-reg.sock')).toBe(true);
    expect(paths.draSocket.endsWith('/dra.sock')).toBe(true);
  });
});

describe('socket paths with rolling updates', () => {
  it('puts the pod UID into both names when they fit', () => {
    const paths = pluginSocketPaths({ driverName: DRIVER, podUid: UID });
    expect(paths.registrationSocket).toBe(
      `/var/lib/kubelet/plugins_registry/gpu.phalanx.dev-${UID}-reg.sock`,
    );
    expect(paths.draSocket).toBe(`/var/lib/kubelet/plugins/gpu.phalanx.dev/dra-${UID}.sock`);
  });

  it('matches vectors computed with Go crypto/sha256 and base64.RawURLEncoding', () => {
    // Cross-language check of the exact hash slice and base64 variant (URL alphabet, no padding).
    const [, second, third] = registrationSocketCandidates(DRIVER, UID);
    expect(second).toBe('gpu.phalanx.dev-A6f37z-VWAQ-reg.sock');
    expect(third).toBe('dra-ZuMrqSWGew_LnVU4wf9MGA-reg.sock');
    expect(second).toBe(`${DRIVER}-${hashName(UID, 8)}-reg.sock`);
    expect(third).toBe(`dra-${hashName(`${DRIVER}\0${UID}`, 16)}-reg.sock`);
  });

  it('accepts a path of exactly 108 bytes and falls back at 109', () => {
    const full = `${DRIVER}-${UID}-reg.sock`;
    const fitsRoot = rootWithRegistryDirOf(UNIX_SOCKET_PATH_MAX - 1 - full.length);
    const fits = pluginSocketPaths({ driverName: DRIVER, podUid: UID, kubeletRoot: fitsRoot });
    expect(fits.registrationSocket.length).toBe(108);
    expect(fits.registrationSocket.endsWith(full)).toBe(true);

    const overRoot = rootWithRegistryDirOf(UNIX_SOCKET_PATH_MAX - full.length);
    const over = pluginSocketPaths({ driverName: DRIVER, podUid: UID, kubeletRoot: overRoot });
    expect(over.registrationSocket).toBe(
      `${overRoot}/plugins_registry/${DRIVER}-${hashName(UID, 8)}-reg.sock`,
    );
  });

  it('falls back to the driver-independent hash when the driver name is long', () => {
    const driver = `${'a'.repeat(50)}.${'b'.repeat(7)}.example.com`; // 70 bytes
    const paths = pluginSocketPaths({ driverName: driver, podUid: UID, kubeletRoot: '/k' });
    expect(paths.registrationSocket).toBe(
      `/k/plugins_registry/dra-${hashName(`${driver}\0${UID}`, 16)}-reg.sock`,
    );
    // The DRA socket lives under plugins/<driver>, so it needs its own fallback here.
    expect(paths.draSocket).toBe(`/k/plugins/${driver}/dra-${hashName(UID, 8)}.sock`);
  });

  it('falls back to a hashed DRA socket name when the UID does not fit', () => {
    const driver = `${'d'.repeat(40)}.example.com`;
    const root = `/${'k'.repeat(6)}`;
    const paths = pluginSocketPaths({ driverName: driver, podUid: UID, kubeletRoot: root });
    // root(7) + /plugins/(9) + driver(52) + /dra-(5) + uid(36) + .sock(5) = 114 > 108
    expect(paths.draSocket).toBe(`${root}/plugins/${driver}/dra-${hashName(UID, 8)}.sock`);
  });

  it('names each pod differently', () => {
    const other = '5f0c7a52-1e4b-4d7a-9c3e-000000000008';
    const root = rootWithRegistryDirOf(50);
    const a = pluginSocketPaths({ driverName: DRIVER, podUid: UID, kubeletRoot: root });
    const b = pluginSocketPaths({ driverName: DRIVER, podUid: other, kubeletRoot: root });
    expect(a.registrationSocket).not.toBe(b.registrationSocket);
    expect(a.draSocket).not.toBe(b.draSocket);
  });
});

describe('socket path errors', () => {
  it('says what to shorten when even the shortest name does not fit', () => {
    const root = `/${'x'.repeat(90)}`;
    expect(() => pluginSocketPaths({ driverName: DRIVER, podUid: UID, kubeletRoot: root })).toThrow(
      /registration socket path .* is \d+ bytes but unix sockets allow at most 108; use a shorter kubelet root directory/,
    );
    expect(() => pluginSocketPaths({ driverName: DRIVER, kubeletRoot: root })).toThrow(
      /socket path .* allow at most 108/,
    );
  });

  it('counts bytes, not characters', () => {
    // 2-byte characters: 40 characters, 80 bytes.
    const root = `/${'é'.repeat(40)}`;
    expect(() => pluginSocketPaths({ driverName: DRIVER, kubeletRoot: root })).toThrow(
      /at most 108/,
    );
  });

  it('rejects a relative kubelet root and unsafe names', () => {
    expect(() => pluginSocketPaths({ driverName: DRIVER, kubeletRoot: 'var/lib' })).toThrow(
      'kubelet root directory "var/lib" must be an absolute path',
    );
    expect(() => pluginSocketPaths({ driverName: '' })).toThrow('driver name must not be empty');
    expect(() => pluginSocketPaths({ driverName: 'a/b' })).toThrow(/driver name "a\/b"/);
    expect(() => pluginSocketPaths({ driverName: DRIVER, podUid: '../x' })).toThrow(/pod UID/);
  });
});

describe('the 108-byte limit on this platform', () => {
  const dir = mkdtempSync(join(tmpdir(), 'phx-len-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('binds a unix socket whose path is exactly 108 bytes', async () => {
    const path = `${dir}/${'s'.repeat(UNIX_SOCKET_PATH_MAX - dir.length - 1)}`;
    expect(Buffer.byteLength(path)).toBe(108);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
