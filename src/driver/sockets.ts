/**
 * Where the plugin's two unix sockets live. The kubelet finds the registration socket by watching
 * `<kubelet root>/plugins_registry`; it learns the DRA socket from GetInfo's `endpoint`.
 *
 * Naming follows the kubelet plugin helper of k8s.io/dynamic-resource-allocation so that a node
 * running Phalanx looks like a node running any other DRA driver:
 * - registration: `<driver>-reg.sock`; with rolling updates (a pod UID) the first candidate that
 *   fits the AF_UNIX limit of `<driver>-<uid>-reg.sock`,
 *   `<driver>-<base64url(sha256(uid)[:8 bytes])>-reg.sock` and
 *   `dra-<base64url(sha256(driver NUL uid)[:16 bytes])>-reg.sock`;
 * - DRA service: `<kubelet root>/plugins/<driver>/dra.sock`, or `dra-<uid>.sock` with a pod UID.
 *   The helper has no fallback here; Phalanx adds `dra-<base64url(sha256(uid)[:8 bytes])>.sock`,
 *   which is safe because the kubelet dials whatever path GetInfo returns.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

export const DEFAULT_KUBELET_ROOT = '/var/lib/kubelet';

/**
 * Longest socket path in bytes. Linux `sun_path` is 108 bytes; the helper accepts a path of up to
 * 108 bytes (the kernel does not need the terminating NUL), and so does Node's libuv.
 */
export const UNIX_SOCKET_PATH_MAX = 108;

/** Bytes of the SHA-256 digest of the pod UID used by the second registration candidate. */
const UID_HASH_BYTES = 8;
/** Bytes of the SHA-256 digest of driver NUL uid used by the last registration candidate. */
const DRIVER_UID_HASH_BYTES = 16;

export interface SocketPathOptions {
  /** The kubelet's root directory; the same path must be mounted inside the container. */
  readonly kubeletRoot?: string;
  readonly driverName: string;
  /** Pod UID for rolling updates (two plugin pods side by side); empty or absent turns it off. */
  readonly podUid?: string;
}

export interface PluginSocketPaths {
  /** Directory the kubelet watches for registration sockets. */
  readonly registrationDir: string;
  /** Absolute path of our registration socket. */
  readonly registrationSocket: string;
  /** The driver's own plugin directory, shared by both pods during a rolling update. */
  readonly pluginDir: string;
  /** Absolute path of the DRA service socket, advertised as GetInfo's endpoint. */
  readonly draSocket: string;
}

export function socketPathBytes(path: string): number {
  return Buffer.byteLength(path, 'utf8');
}

export function socketPathFits(path: string): boolean {
  return socketPathBytes(path) <= UNIX_SOCKET_PATH_MAX;
}

function hashBase64Url(data: string, bytes: number): string {
  return createHash('sha256')
    .update(data, 'utf8')
    .digest()
    .subarray(0, bytes)
    .toString('base64url');
}

/** Registration socket basenames in order of preference (the helper's order). */
export function registrationSocketCandidates(driverName: string, podUid?: string): string[] {
  if (podUid === undefined || podUid === '') return [`${driverName}-reg.sock`];
  return [
    `${driverName}-${podUid}-reg.sock`,
    `${driverName}-${hashBase64Url(podUid, UID_HASH_BYTES)}-reg.sock`,
    `dra-${hashBase64Url(`${driverName}\0${podUid}`, DRIVER_UID_HASH_BYTES)}-reg.sock`,
  ];
}

/** DRA socket basenames in order of preference. */
export function draSocketCandidates(podUid?: string): string[] {
  if (podUid === undefined || podUid === '') return ['dra.sock'];
  return [`dra-${podUid}.sock`, `dra-${hashBase64Url(podUid, UID_HASH_BYTES)}.sock`];
}

/** First candidate whose full path fits; throws a sentence saying what to shorten otherwise. */
function firstFitting(dir: string, candidates: readonly string[], what: string): string {
  for (const name of candidates) {
    const full = posix.join(dir, name);
    if (socketPathFits(full)) return full;
  }
  const shortest = posix.join(dir, candidates[candidates.length - 1] ?? '');
  throw new Error(
    `${what} socket path ${shortest} is ${socketPathBytes(shortest)} bytes but unix sockets allow at most ${UNIX_SOCKET_PATH_MAX}; use a shorter kubelet root directory or driver name`,
  );
}

function checkName(value: string, what: string): void {
  if (value === '') throw new Error(`${what} must not be empty`);
  if (value.includes('/') || value.includes('\0') || value === '.' || value === '..')
    throw new Error(`${what} "${value}" must not contain "/" or NUL, nor be "." or ".."`);
}

/** Computes both socket paths. Throws when the kubelet root is relative or a path cannot fit. */
export function pluginSocketPaths(options: SocketPathOptions): PluginSocketPaths {
  const root = options.kubeletRoot ?? DEFAULT_KUBELET_ROOT;
  if (!posix.isAbsolute(root))
    throw new Error(`kubelet root directory "${root}" must be an absolute path`);
  checkName(options.driverName, 'driver name');
  if (options.podUid !== undefined && options.podUid !== '') checkName(options.podUid, 'pod UID');
  const registrationDir = posix.join(root, 'plugins_registry');
  const pluginDir = posix.join(root, 'plugins', options.driverName);
  return {
    registrationDir,
    registrationSocket: firstFitting(
      registrationDir,
      registrationSocketCandidates(options.driverName, options.podUid),
      'registration',
    ),
    pluginDir,
    draSocket: firstFitting(pluginDir, draSocketCandidates(options.podUid), 'DRA'),
  };
}
