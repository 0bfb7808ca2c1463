/**
 * Device health for the DRAResourceHealth stream, derived from the backend's GPU health: every
 * published device (whole GPU and each partition placement) reports the health of its GPU.
 * The list is complete on every update, as the kubelet expects.
 */
import { partitionDeviceName, partitionPlacements, wholeGpuDeviceName } from '../devices/naming.ts';
import type { DeviceInventory, GpuBackend, GpuHealthStatus } from '../devices/types.ts';
import type { DeviceHealthEntry, HealthSource } from './types.ts';

/** Health check timeout the kubelet applies before it marks a silent device Unknown, in seconds. */
export const HEALTH_TIMEOUT_SECONDS = 60;

function toEntry(
  pool: string,
  device: string,
  status: GpuHealthStatus | undefined,
): DeviceHealthEntry {
  const health =
    status === undefined ? 'Unknown' : status.health === 'healthy' ? 'Healthy' : 'Unhealthy';
  return {
    poolName: pool,
    deviceName: device,
    health,
    lastUpdated: Math.floor((status?.since ?? 0) / 1000),
    message: status?.message ?? '',
  };
}

/** Health entries for every device of the inventory; partitions only when they are published. */
export function healthEntries(
  inventory: DeviceInventory,
  withPartitions: boolean,
): DeviceHealthEntry[] {
  const entries: DeviceHealthEntry[] = [];
  const pool = inventory.nodeName;
  for (const gpu of inventory.gpus) {
    const status = inventory.health.get(gpu.index);
    entries.push(toEntry(pool, wholeGpuDeviceName(gpu.index), status));
    if (!withPartitions) continue;
    for (const placement of partitionPlacements(gpu)) {
      const name = partitionDeviceName(gpu.index, placement.profile.name, placement.start);
      entries.push(toEntry(pool, name, status));
    }
  }
  return entries;
}

export class BackendHealthSource implements HealthSource {
  readonly #backend: GpuBackend;
  readonly #withPartitions: () => boolean;

  constructor(backend: GpuBackend, withPartitions: () => boolean) {
    this.#backend = backend;
    this.#withPartitions = withPartitions;
  }

  snapshot(): readonly DeviceHealthEntry[] {
    return healthEntries(this.#backend.inventory(), this.#withPartitions());
  }

  subscribe(listener: (entries: readonly DeviceHealthEntry[]) => void): () => void {
    return this.#backend.onChange((inventory) =>
      listener(healthEntries(inventory, this.#withPartitions())),
    );
  }
}
