/**
 * A deterministic fake GPU backend: GPUs and partitions from a named profile, per-claim
 * prepare/unprepare bookkeeping with the same exclusivity rules real hardware has, and a
 * fault-injection API for tests and demos.
 *
 * Environment each prepared device gets (the driver merges these into the final CDI edits and
 * adds its own claim-level variables; when several devices are prepared it prefixes or joins):
 * - `PHALANX_GPU_UUID`          UUID of the physical GPU
 * - `PHALANX_DEVICE_UUID`       UUID of the device (partition `MIG-…` UUID or the GPU UUID)
 * - `PHALANX_DEVICE_PROFILE`    `full` or the partition profile, e.g. `1g.10gb`
 * - `PHALANX_SHARING_STRATEGY`  `Exclusive` | `TimeSlicing` | `SpacePartitioning`
 * - `PHALANX_TIMESLICE_INTERVAL` (TimeSlicing) and `PHALANX_SPACE_PARTITIONS` (SpacePartitioning)
 *
 * Pure: no file or network I/O. Time comes from an injectable clock and sleep.
 */
import {
  placementMemorySlices,
  type ResolvedDevice,
  resolveDeviceName,
  wholeGpuDeviceName,
} from '../naming.ts';
import {
  BackendError,
  type BackendPreparedDevice,
  type BackendPrepareRequest,
  type DeviceInventory,
  type GpuBackend,
  type GpuHealth,
  type GpuHealthStatus,
  type GpuInfo,
  type HealthListener,
  type SharingSettings,
} from '../types.ts';
import type { FakeBackendConfig, FaultSpec } from './config.ts';
import { buildFakeGpus, fakePartitionUuid, fakeProfile } from './profiles.ts';

export {
  parseDeviceName,
  partitionDeviceName,
  partitionPlacements,
  resolveDeviceName,
  wholeGpuDeviceName,
} from '../naming.ts';

export type Clock = () => number;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** setTimeout-based sleep that rejects with the signal's reason when aborted. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** What one prepared device holds on its GPU. */
interface Holding {
  readonly gpuIndex: number;
  /** Memory slices held; `undefined` means the whole GPU. */
  readonly memorySlices?: readonly number[];
}

interface PreparedClaim {
  readonly key: string;
  readonly devices: BackendPreparedDevice[];
  readonly holdings: readonly Holding[];
}

interface PrepareFaults {
  slowMs?: number;
  /** Remaining failures; `Infinity` when the fault has no count. */
  failRemaining?: number;
  failMessage?: string;
}

function sharingEnv(sharing: SharingSettings): Record<string, string> {
  switch (sharing.strategy) {
    case 'TimeSlicing':
      return {
        PHALANX_SHARING_STRATEGY: sharing.strategy,
        PHALANX_TIMESLICE_INTERVAL: sharing.interval,
      };
    case 'SpacePartitioning':
      return {
        PHALANX_SHARING_STRATEGY: sharing.strategy,
        PHALANX_SPACE_PARTITIONS: String(sharing.partitionCount),
      };
    default:
      return { PHALANX_SHARING_STRATEGY: sharing.strategy };
  }
}

function holdingOf(device: ResolvedDevice): Holding {
  const p = device.placement;
  if (p === undefined) return { gpuIndex: device.gpu.index };
  return { gpuIndex: device.gpu.index, memorySlices: placementMemorySlices(p.profile, p.start) };
}

function overlaps(a: Holding, b: Holding): boolean {
  if (a.gpuIndex !== b.gpuIndex) return false;
  if (a.memorySlices === undefined || b.memorySlices === undefined) return true;
  return a.memorySlices.some((s) => b.memorySlices?.includes(s));
}

export class FakeGpuBackend implements GpuBackend {
  readonly nodeName: string;
  readonly profileName: string;
  readonly #gpus: readonly GpuInfo[];
  readonly #health = new Map<number, GpuHealthStatus>();
  readonly #faults = new Map<number, PrepareFaults>();
  readonly #claims = new Map<string, PreparedClaim>();
  readonly #listeners = new Set<HealthListener>();
  readonly #clock: Clock;
  readonly #sleep: Sleep;

  constructor(nodeName: string, config: FakeBackendConfig, clock?: Clock, sleep?: Sleep) {
    const profile = fakeProfile(config.profile);
    if (profile === undefined) {
      throw new Error(`fake backend: profile "${config.profile}" is unknown`);
    }
    this.nodeName = nodeName;
    this.profileName = profile.name;
    this.#clock = clock ?? Date.now;
    this.#sleep = sleep ?? realSleep;
    this.#gpus = buildFakeGpus(profile, nodeName, config.gpus ?? profile.defaultGpus, {
      rackDomain: config.rackDomain,
      cliqueId: config.cliqueId,
    });
    const now = this.#clock();
    for (const gpu of this.#gpus) {
      this.#health.set(gpu.index, { health: 'healthy', message: '', since: now });
    }
    for (const fault of config.faults ?? []) this.#applyFault(fault);
  }

  inventory(): DeviceInventory {
    return { nodeName: this.nodeName, gpus: this.#gpus, health: new Map(this.#health) };
  }

  preparedClaims(): readonly string[] {
    return [...this.#claims.keys()].sort();
  }

  onChange(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async prepare(
    request: BackendPrepareRequest,
    signal?: AbortSignal,
  ): Promise<BackendPreparedDevice[]> {
    signal?.throwIfAborted();
    const uid = request.claimUid;
    const resolved = request.devices.map((d) => this.#resolve(uid, d.deviceName));
    const key = request.devices
      .map((d) => `${d.deviceName}=${JSON.stringify(d.sharing)}`)
      .sort()
      .join(',');
    const existing = this.#claims.get(uid);
    if (existing !== undefined) return this.#samePrepare(uid, existing, key);

    const touched = [...new Set(resolved.map((d) => d.gpu.index))].sort((a, b) => a - b);
    this.#checkHealth(uid, resolved);
    const delay = Math.max(0, ...touched.map((i) => this.#faults.get(i)?.slowMs ?? 0));
    if (delay > 0) await this.#sleep(delay, signal);
    signal?.throwIfAborted();

    // Re-check after any wait: health or other claims may have changed meanwhile.
    const again = this.#claims.get(uid);
    if (again !== undefined) return this.#samePrepare(uid, again, key);
    this.#checkHealth(uid, resolved);
    const holdings = this.#checkBusy(uid, resolved);
    this.#consumeFailure(uid, touched);

    const devices = request.devices.map((d, i) => this.#prepared(resolved[i], d.sharing));
    this.#claims.set(uid, { key, devices, holdings });
    return devices.map((d) => ({ ...d, env: { ...d.env } }));
  }

  async unprepare(claimUid: string): Promise<void> {
    this.#claims.delete(claimUid);
  }

  /** Sets a GPU's health; notifies listeners when it changed. */
  setHealth(gpu: number, health: GpuHealth, message = ''): void {
    this.#gpu(gpu);
    const current = this.#health.get(gpu);
    const text = health === 'healthy' ? '' : message;
    if (current?.health === health && current.message === text) return;
    this.#health.set(gpu, { health, message: text, since: this.#clock() });
    this.#notify();
  }

  /** Applies one fault at runtime (same meaning as in the config file). */
  injectFault(spec: FaultSpec): void {
    this.#gpu(spec.gpu);
    this.#applyFault(spec);
    this.#notify();
  }

  /** Removes prepare faults and restores health, for one GPU or all. */
  clearFaults(gpu?: number): void {
    const targets = gpu === undefined ? this.#gpus.map((g) => g.index) : [this.#gpu(gpu).index];
    const now = this.#clock();
    for (const index of targets) {
      this.#faults.delete(index);
      this.#health.set(index, { health: 'healthy', message: '', since: now });
    }
    this.#notify();
  }

  #applyFault(spec: FaultSpec): void {
    const now = this.#clock();
    switch (spec.kind) {
      case 'unhealthy':
        this.#health.set(spec.gpu, {
          health: 'unhealthy',
          message: spec.message ?? 'injected fault: GPU unhealthy',
          since: now,
        });
        return;
      case 'lost':
        this.#health.set(spec.gpu, {
          health: 'lost',
          message: spec.message ?? 'injected fault: GPU has fallen off the bus',
          since: now,
        });
        return;
      case 'slowPrepare':
        this.#faultsOf(spec.gpu).slowMs = spec.delayMs ?? 0;
        return;
      case 'failPrepare': {
        const f = this.#faultsOf(spec.gpu);
        f.failRemaining = spec.count ?? Number.POSITIVE_INFINITY;
        f.failMessage = spec.message ?? 'injected prepare failure';
        return;
      }
    }
  }

  #faultsOf(gpu: number): PrepareFaults {
    let f = this.#faults.get(gpu);
    if (f === undefined) {
      f = {};
      this.#faults.set(gpu, f);
    }
    return f;
  }

  #gpu(index: number): GpuInfo {
    const gpu = this.#gpus.find((g) => g.index === index);
    if (gpu === undefined) {
      throw new RangeError(
        `fake backend: GPU ${index} does not exist on node ${this.nodeName}; it has GPUs 0..${this.#gpus.length - 1}`,
      );
    }
    return gpu;
  }

  #notify(): void {
    const inventory = this.inventory();
    for (const listener of [...this.#listeners]) listener(inventory);
  }

  #resolve(uid: string, deviceName: string): ResolvedDevice {
    const device = resolveDeviceName(this.#gpus, deviceName);
    if (device === undefined) {
      throw new BackendError(
        'UnknownDevice',
        `claim ${uid}: device "${deviceName}" does not exist on node ${this.nodeName}`,
      );
    }
    return device;
  }

  #samePrepare(uid: string, existing: PreparedClaim, key: string): BackendPreparedDevice[] {
    if (existing.key !== key) {
      throw new BackendError(
        'Internal',
        `claim ${uid} is already prepared with devices ${existing.devices.map((d) => d.deviceName).join(', ')}; unprepare it before preparing different devices`,
      );
    }
    return existing.devices.map((d) => ({ ...d, env: { ...d.env } }));
  }

  #checkHealth(uid: string, devices: readonly ResolvedDevice[]): void {
    for (const d of devices) {
      const status = this.#health.get(d.gpu.index);
      if (status !== undefined && status.health !== 'healthy') {
        const why = status.message === '' ? '' : ` (${status.message})`;
        throw new BackendError(
          'DeviceUnhealthy',
          `claim ${uid}: device "${d.name}" is on ${wholeGpuDeviceName(d.gpu.index)}, which is ${status.health}${why}`,
        );
      }
    }
  }

  #checkBusy(uid: string, devices: readonly ResolvedDevice[]): Holding[] {
    const holdings = devices.map(holdingOf);
    holdings.forEach((h, i) => {
      const name = devices[i]?.name ?? '';
      for (let j = 0; j < i; j++) {
        const other = holdings[j];
        if (other !== undefined && overlaps(h, other)) {
          throw new BackendError(
            'DeviceBusy',
            `claim ${uid}: devices "${devices[j]?.name}" and "${name}" overlap on the same GPU memory; request non-overlapping devices`,
          );
        }
      }
      for (const [otherUid, claim] of this.#claims) {
        if (claim.holdings.some((o) => overlaps(h, o))) {
          throw new BackendError(
            'DeviceBusy',
            `claim ${uid}: device "${name}" overlaps devices held by claim ${otherUid}; unprepare that claim first`,
          );
        }
      }
    });
    return holdings;
  }

  #consumeFailure(uid: string, touched: readonly number[]): void {
    for (const index of touched) {
      const f = this.#faults.get(index);
      if (f?.failRemaining !== undefined && f.failRemaining > 0) {
        f.failRemaining -= 1;
        throw new BackendError(
          'InjectedFailure',
          `claim ${uid}: ${f.failMessage ?? 'injected prepare failure'} on ${wholeGpuDeviceName(index)}`,
        );
      }
    }
  }

  #prepared(device: ResolvedDevice | undefined, sharing: SharingSettings): BackendPreparedDevice {
    if (device === undefined)
      throw new BackendError('Internal', 'device list changed during prepare');
    const p = device.placement;
    const uuid =
      p === undefined
        ? device.gpu.uuid
        : fakePartitionUuid(device.gpu.uuid, p.profile.name, p.start);
    const profile = p === undefined ? 'full' : p.profile.name;
    return {
      deviceName: device.name,
      uuid,
      gpuUuid: device.gpu.uuid,
      gpuIndex: device.gpu.index,
      profile,
      env: {
        PHALANX_GPU_UUID: device.gpu.uuid,
        PHALANX_DEVICE_UUID: uuid,
        PHALANX_DEVICE_PROFILE: profile,
        ...sharingEnv(sharing),
      },
    };
  }
}
