/**
 * CDI (Container Device Interface) specs, one per prepared claim.
 *
 * - kind `k8s.gpu.phalanx.dev/claim`; file `<cdiDir>/k8s.gpu.phalanx.dev-claim_<claimUID>.json`
 *   (the dynamic CDI directory, `/var/run/cdi` by default, which runtimes prefer over `/etc/cdi`).
 * - CDI device names are `<claimUID>-<deviceName>`, so a name is never reused across claims
 *   (runtimes may cache specs); the kubelet gets `k8s.gpu.phalanx.dev/claim=<claimUID>-<deviceName>`.
 * - `cdiVersion` is the lowest version the content needs (see {@link minimumCdiVersion}), so the
 *   oldest CDI library a runtime bundles can load the spec.
 *
 * Environment a container gets (all values deterministic, order fixed):
 *
 * Per device (device-level edits; every name carries the device key `<K>`, the device name without
 * its `gpu-` prefix, upper-cased, dashes as underscores: `gpu-3` → `3`, `gpu-3-1g-10gb-2` →
 * `3_1G_10GB_2`). Device names are unique on a node, so these never collide, even when a container
 * uses several devices or several claims:
 *   PHALANX_GPU_<K>=<uuid>                     UUID of the GPU, or `MIG-…` of the partition
 *   PHALANX_GPU_<K>_DEVICE=<deviceName>        ResourceSlice device name
 *   PHALANX_GPU_<K>_PROFILE=<profile>          `full` or the partition profile (`1g.10gb`)
 *   PHALANX_GPU_<K>_PARENT_UUID=<gpuUuid>      physical GPU
 *   PHALANX_GPU_<K>_INDEX=<gpuIndex>           physical GPU index on the node
 *   PHALANX_GPU_<K>_RESOURCE_CLAIM=<ns>/<name>
 *   PHALANX_GPU_<K>_SHARING_STRATEGY=Exclusive|TimeSlicing|SpacePartitioning
 *   PHALANX_GPU_<K>_TIMESLICE_INTERVAL=<interval>    (TimeSlicing only)
 *   PHALANX_GPU_<K>_PARTITION_COUNT=<n>              (SpacePartitioning only)
 *   then the backend's own variables, `PHALANX_X` renamed `PHALANX_GPU_<K>_X` (sorted; a name
 *   that would repeat one above is left out).
 * Per claim (spec-level edits, applied when any device of the claim is injected):
 *   PHALANX_RESOURCE_CLAIM=<ns>/<name>
 *   PHALANX_RESOURCE_CLAIM_UID=<uid>
 *   PHALANX_VISIBLE_DEVICES=<uuid>,<uuid>…     every device of the claim, in allocation order
 *   PHALANX_SHARING_STRATEGY / PHALANX_TIMESLICE_INTERVAL / PHALANX_PARTITION_COUNT
 *                                              only when all devices of the claim share them
 * A container that uses two claims of this driver sees the claim-level variables of one of them;
 * the per-device variables are exact in every case.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackendPreparedDevice, SharingSettings } from '../devices/types.ts';
import {
  describeFsError,
  isNotFound,
  listTempFiles,
  removeFileDurably,
  removeStaleTempFiles,
  writeFileAtomic,
} from './atomic-file.ts';

export const CDI_VENDOR = 'k8s.gpu.phalanx.dev';
export const CDI_CLASS = 'claim';
export const CDI_KIND = `${CDI_VENDOR}/${CDI_CLASS}`;
export const DEFAULT_CDI_DIR = '/var/run/cdi';

const FILE_PREFIX = `${CDI_VENDOR}-${CDI_CLASS}_`;
const FILE_SUFFIX = '.json';
/** Kubernetes UIDs are RFC 4122 strings; anything else must not become a file name. */
const UID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;

// ---- CDI spec shape (the subset of fields this driver may emit, named as in the CDI spec) ----

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

export interface CdiMount {
  hostPath: string;
  containerPath: string;
  options?: string[];
  type?: string;
}

export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface CdiIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
}

export interface CdiNetDevice {
  hostInterfaceName: string;
  name: string;
}

export interface CdiContainerEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  netDevices?: CdiNetDevice[];
  hooks?: CdiHook[];
  mounts?: CdiMount[];
  intelRdt?: CdiIntelRdt;
  additionalGids?: number[];
}

export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiContainerEdits;
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits?: CdiContainerEdits;
}

// ---- names -------------------------------------------------------------------------------------

/** CDI device name of a device within a claim's spec: `<claimUID>-<deviceName>`. */
export function cdiDeviceName(claimUid: string, deviceName: string): string {
  return `${claimUid}-${deviceName}`;
}

/** Fully-qualified CDI device id: `k8s.gpu.phalanx.dev/claim=<claimUID>-<deviceName>`. */
export function cdiDeviceId(claimUid: string, deviceName: string): string {
  return `${CDI_KIND}=${cdiDeviceName(claimUid, deviceName)}`;
}

/** Spec file name for a claim: `k8s.gpu.phalanx.dev-claim_<claimUID>.json`. */
export function claimSpecFileName(claimUid: string): string {
  return `${FILE_PREFIX}${claimUid}${FILE_SUFFIX}`;
}

/** The claim UID a spec file name belongs to, or undefined for any other file. */
export function claimUidFromFileName(name: string): string | undefined {
  if (!name.startsWith(FILE_PREFIX) || !name.endsWith(FILE_SUFFIX)) return undefined;
  const uid = name.slice(FILE_PREFIX.length, name.length - FILE_SUFFIX.length);
  return UID_RE.test(uid) ? uid : undefined;
}

/** Device key used in environment names: `gpu-3-1g-10gb-2` → `3_1G_10GB_2`. */
export function deviceEnvKey(deviceName: string): string {
  const upper = deviceName.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return deviceName.startsWith('gpu-') ? upper.slice(4) : `DEVICE_${upper}`;
}

function envPrefix(deviceName: string): string {
  const key = deviceEnvKey(deviceName);
  return key.startsWith('DEVICE_') ? `PHALANX_${key}` : `PHALANX_GPU_${key}`;
}

// ---- minimum version ---------------------------------------------------------------------------

/**
 * The lowest CDI spec version that can express `spec`, following the spec's version history
 * (CDI SPEC.md "Released versions"; loading fails when the declared version is lower):
 * - 0.3.0 base
 * - 0.4.0 `mounts[].type`
 * - 0.5.0 `deviceNodes[].hostPath`; device names starting with a digit
 * - 0.6.0 `annotations` on the spec or a device; dots in the class part of `kind`
 * - 0.7.0 `intelRdt`; `additionalGids`
 * - 1.1.0 `netDevices`; `intelRdt.schemata` / `intelRdt.enableMonitoring`
 * (0.8.0 and 1.0.0 changed only the Go API, so no content needs them.)
 */
export function minimumCdiVersion(spec: Omit<CdiSpec, 'cdiVersion'>): string {
  const edits = [
    ...(spec.containerEdits === undefined ? [] : [spec.containerEdits]),
    ...spec.devices.map((d) => d.containerEdits),
  ];
  if (edits.some(requires110)) return '1.1.0';
  if (edits.some((e) => e.intelRdt !== undefined || (e.additionalGids?.length ?? 0) > 0))
    return '0.7.0';
  if (requires060(spec)) return '0.6.0';
  if (spec.devices.some((d) => /^[0-9]/.test(d.name))) return '0.5.0';
  if (edits.some((e) => e.deviceNodes?.some((n) => (n.hostPath ?? '') !== '') ?? false))
    return '0.5.0';
  if (edits.some((e) => e.mounts?.some((m) => (m.type ?? '') !== '') ?? false)) return '0.4.0';
  return '0.3.0';
}

function requires110(edits: CdiContainerEdits): boolean {
  if ((edits.netDevices?.length ?? 0) > 0) return true;
  const rdt = edits.intelRdt;
  return rdt !== undefined && (rdt.schemata !== undefined || rdt.enableMonitoring === true);
}

function requires060(spec: Omit<CdiSpec, 'cdiVersion'>): boolean {
  const hasAnnotations = (a: Record<string, string> | undefined) =>
    a !== undefined && Object.keys(a).length > 0;
  if (hasAnnotations(spec.annotations)) return true;
  if (spec.devices.some((d) => hasAnnotations(d.annotations))) return true;
  const slash = spec.kind.indexOf('/');
  return slash >= 0 && spec.kind.slice(slash + 1).includes('.');
}

// ---- content -----------------------------------------------------------------------------------

export interface ClaimSpecDevice {
  readonly prepared: BackendPreparedDevice;
  readonly sharing: SharingSettings;
}

export interface ClaimSpecInput {
  readonly claimUid: string;
  readonly namespace: string;
  readonly name: string;
  /** In allocation order; a device listed twice (shared by two requests) is emitted once. */
  readonly devices: readonly ClaimSpecDevice[];
}

function sharingEnv(prefix: string, sharing: SharingSettings): string[] {
  const env = [`${prefix}SHARING_STRATEGY=${sharing.strategy}`];
  if (sharing.strategy === 'TimeSlicing')
    env.push(`${prefix}TIMESLICE_INTERVAL=${sharing.interval}`);
  if (sharing.strategy === 'SpacePartitioning')
    env.push(`${prefix}PARTITION_COUNT=${sharing.partitionCount}`);
  return env;
}

function deviceEnv(claim: string, device: ClaimSpecDevice): string[] {
  const p = device.prepared;
  const prefix = envPrefix(p.deviceName);
  const env = [
    `${prefix}=${p.uuid}`,
    `${prefix}_DEVICE=${p.deviceName}`,
    `${prefix}_PROFILE=${p.profile}`,
    `${prefix}_PARENT_UUID=${p.gpuUuid}`,
    `${prefix}_INDEX=${p.gpuIndex}`,
    `${prefix}_RESOURCE_CLAIM=${claim}`,
    ...sharingEnv(`${prefix}_`, device.sharing),
  ];
  const taken = new Set(env.map((e) => e.slice(0, e.indexOf('='))));
  for (const [name, value] of Object.entries(p.env).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const renamed = `${prefix}_${name.startsWith('PHALANX_') ? name.slice(8) : name}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(renamed) || taken.has(renamed)) continue;
    taken.add(renamed);
    env.push(`${renamed}=${value}`);
  }
  return env;
}

function uniqueDevices(devices: readonly ClaimSpecDevice[]): ClaimSpecDevice[] {
  const seen = new Set<string>();
  return devices.filter((d) => {
    if (seen.has(d.prepared.deviceName)) return false;
    seen.add(d.prepared.deviceName);
    return true;
  });
}

/** Builds the claim's spec (pure). */
export function buildClaimSpec(input: ClaimSpecInput): CdiSpec {
  checkUid(input.claimUid);
  const claim = `${input.namespace}/${input.name}`;
  const devices = uniqueDevices(input.devices);
  const claimEnv = [
    `PHALANX_RESOURCE_CLAIM=${claim}`,
    `PHALANX_RESOURCE_CLAIM_UID=${input.claimUid}`,
    `PHALANX_VISIBLE_DEVICES=${devices.map((d) => d.prepared.uuid).join(',')}`,
  ];
  const first = devices[0]?.sharing;
  const uniform =
    first !== undefined &&
    devices.every((d) => JSON.stringify(d.sharing) === JSON.stringify(first));
  if (uniform) claimEnv.push(...sharingEnv('PHALANX_', first));
  const body: Omit<CdiSpec, 'cdiVersion'> = {
    kind: CDI_KIND,
    devices: devices.map((d) => ({
      name: cdiDeviceName(input.claimUid, d.prepared.deviceName),
      containerEdits: { env: deviceEnv(claim, d) },
    })),
    containerEdits: { env: claimEnv },
  };
  return { cdiVersion: minimumCdiVersion(body), ...body };
}

/** What a spec on disk says about its claim (used to rebuild state after a lost checkpoint). */
export interface ParsedClaimSpec {
  readonly claimUid: string;
  readonly namespace: string;
  readonly name: string;
  readonly devices: readonly { readonly deviceName: string; readonly sharing: SharingSettings }[];
}

function envMap(env: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}

const INTERVALS = new Set(['Default', 'Short', 'Medium', 'Long']);

function parseSharing(env: Map<string, string>, prefix: string): SharingSettings | undefined {
  switch (env.get(`${prefix}SHARING_STRATEGY`)) {
    case 'Exclusive':
      return { strategy: 'Exclusive' };
    case 'TimeSlicing': {
      const interval = env.get(`${prefix}TIMESLICE_INTERVAL`) ?? '';
      if (!INTERVALS.has(interval)) return undefined;
      return { strategy: 'TimeSlicing', interval: interval as 'Default' };
    }
    case 'SpacePartitioning': {
      const count = Number(env.get(`${prefix}PARTITION_COUNT`));
      return Number.isInteger(count)
        ? { strategy: 'SpacePartitioning', partitionCount: count }
        : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Reads back a spec written by {@link buildClaimSpec}. Returns undefined when the content is not
 * one of ours or is incomplete (such a spec cannot be trusted to describe a prepared claim).
 */
export function parseClaimSpec(claimUid: string, spec: unknown): ParsedClaimSpec | undefined {
  const s = spec as Partial<CdiSpec> | undefined;
  if (s?.kind !== CDI_KIND || !Array.isArray(s.devices) || s.devices.length === 0) return undefined;
  const claim = envMap(s.containerEdits?.env).get('PHALANX_RESOURCE_CLAIM') ?? '';
  const slash = claim.indexOf('/');
  if (slash <= 0) return undefined;
  const devices: { deviceName: string; sharing: SharingSettings }[] = [];
  for (const device of s.devices) {
    const deviceName = String(device.name ?? '').slice(claimUid.length + 1);
    if (!String(device.name ?? '').startsWith(`${claimUid}-`) || deviceName === '')
      return undefined;
    const sharing = parseSharing(envMap(device.containerEdits?.env), `${envPrefix(deviceName)}_`);
    if (sharing === undefined) return undefined;
    devices.push({ deviceName, sharing });
  }
  return { claimUid, namespace: claim.slice(0, slash), name: claim.slice(slash + 1), devices };
}

// ---- files -------------------------------------------------------------------------------------

/** A CDI spec could not be written, read or removed. The message names the path and the cause. */
export class CdiError extends Error {
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CdiError';
    this.path = path;
  }
}

function checkUid(claimUid: string): void {
  if (!UID_RE.test(claimUid))
    throw new CdiError(
      `claim UID ${JSON.stringify(claimUid)} is not a valid UID; it must be letters, digits and dashes`,
      '',
    );
}

/**
 * How spec files are written and removed: atomically (temp file + rename), without an fsync of the
 * data or of the directory. Those fsyncs cost about 0.35 ms and 0.2–2 ms on every prepare and
 * protect only against a power loss or kernel crash:
 * - A process crash (the plugin killed mid-write) keeps written data and the renamed or removed
 *   name in the kernel's caches, so the runtime and the next plugin process see the whole old or
 *   the whole new spec either way.
 * - A power loss or kernel crash reboots the node. The boot ID then differs from the one in the
 *   checkpoint and startup reconciliation drops every recorded claim together with its spec, and
 *   removes every other spec of this driver as a leak (state.ts), before the plugin serves the
 *   kubelet, which prepares again for pods it restarts. A spec that lost its data is therefore
 *   never used. (The default directory, `/var/run/cdi`, is a tmpfs on most distributions and
 *   is empty after a reboot anyway.)
 * - After a checkpoint that is corrupt (not merely from an earlier boot), specs are used to
 *   rebuild state; one that is empty or garbled fails to parse and is removed, not trusted.
 * The checkpoint itself is always fsynced: it is the record the steps above rely on.
 */
const SPEC_WRITE = { syncData: false, syncDirectory: false } as const;

/** Per-claim CDI spec files in one directory. */
export class CdiSpecStore {
  readonly dir: string;

  constructor(options: { dir?: string } = {}) {
    this.dir = options.dir ?? DEFAULT_CDI_DIR;
  }

  specPath(claimUid: string): string {
    checkUid(claimUid);
    return join(this.dir, claimSpecFileName(claimUid));
  }

  /**
   * Builds and atomically writes the claim's spec (temp file + rename; neither data nor directory
   * fsync: see {@link SPEC_WRITE}); returns it.
   */
  async writeClaimSpec(input: ClaimSpecInput): Promise<CdiSpec> {
    const spec = buildClaimSpec(input);
    const path = this.specPath(input.claimUid);
    const text = `${JSON.stringify(spec, null, 2)}\n`;
    try {
      await writeFileAtomic(path, text, 0o644, SPEC_WRITE).catch(async (err: unknown) => {
        if (!isNotFound(err)) throw err;
        // First spec, or the directory was removed: create it and write again.
        await mkdir(this.dir, { recursive: true });
        await writeFileAtomic(path, text, 0o644, SPEC_WRITE);
      });
    } catch (err) {
      throw new CdiError(
        `cannot write CDI spec ${path}: ${describeFsError(err)}; check that the CDI directory is writable by the plugin`,
        path,
        { cause: err },
      );
    }
    return spec;
  }

  /** The spec on disk, or undefined when there is none or it is not valid JSON. */
  async readClaimSpec(claimUid: string): Promise<unknown> {
    const path = this.specPath(claimUid);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new CdiError(`cannot read CDI spec ${path}: ${describeFsError(err)}`, path, {
        cause: err,
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  async hasClaimSpec(claimUid: string): Promise<boolean> {
    const path = this.specPath(claimUid);
    try {
      await stat(path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new CdiError(`cannot check CDI spec ${path}: ${describeFsError(err)}`, path, {
        cause: err,
      });
    }
  }

  /** Removes the claim's spec. Idempotent: returns false when there was none. */
  async removeClaimSpec(claimUid: string): Promise<boolean> {
    const path = this.specPath(claimUid);
    try {
      return await removeFileDurably(path, SPEC_WRITE);
    } catch (err) {
      throw new CdiError(
        `cannot remove CDI spec ${path}: ${describeFsError(err)}; check that the CDI directory is writable by the plugin`,
        path,
        { cause: err },
      );
    }
  }

  /** Claim UIDs that have a spec of this driver in the directory, sorted. Other files are ignored. */
  async listClaimSpecs(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw new CdiError(
        `cannot list CDI directory ${this.dir}: ${describeFsError(err)}`,
        this.dir,
        {
          cause: err,
        },
      );
    }
    return names
      .map(claimUidFromFileName)
      .filter((uid): uid is string => uid !== undefined)
      .sort();
  }

  /** Temp files of this driver's specs in the directory (names); none after a clean write. */
  listTempFiles(): Promise<string[]> {
    return listTempFiles(this.dir, FILE_PREFIX);
  }

  /** Removes temp files a crashed write left behind (older than `minAgeMs`); returns their names. */
  removeStaleTempFiles(minAgeMs?: number): Promise<string[]> {
    return removeStaleTempFiles(this.dir, FILE_PREFIX, minAgeMs);
  }
}
