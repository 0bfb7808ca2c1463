/**
 * Publishes this node's pool of ResourceSlices and keeps it current.
 *
 * The desired slices come from the pure builder (`slices.ts`); `planPoolSync` decides the writes
 * (generation rules, delete obsolete slices first). This module executes the plan through a
 * SliceStore, detects fields a disabled feature gate dropped, and re-syncs on device changes,
 * periodically, and with backoff after errors.
 */
import type { ResourceSlice } from '../api/resource/v1.ts';
import type { GpuBackend } from '../devices/types.ts';
import type { SliceStore } from '../kube/resources.ts';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import { DEVICE_HEALTH_STATES } from '../observability/metrics.ts';
import { buildPoolSlices, planPoolSync, type SliceLayout } from './slices.ts';

export interface PublisherOptions {
  readonly driverName: string;
  readonly nodeName: string;
  readonly nodeUid: string;
  /** API server minor version (1.<minor>), which picks the slice layout and limits. */
  readonly serverMinor: number;
  readonly layout: SliceLayout;
  readonly store: SliceStore;
  readonly backend: GpuBackend;
  readonly metrics: DriverMetrics;
  readonly logger: Logger;
  /** Publish device taints for unhealthy/lost GPUs. */
  readonly taintUnhealthy: boolean;
  /** Full resync period; the kubelet may wipe slices, so re-check regularly. */
  readonly resyncIntervalMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface SyncResult {
  readonly generation: number;
  readonly slices: number;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly layout: SliceLayout;
}

/** A feature whose fields the API server removed from what we sent. */
export interface DroppedFeature {
  readonly gate: 'DRAPartitionableDevices' | 'DRADeviceTaints';
  readonly fields: string;
}

/**
 * Compares a slice as sent with the slice the API server stored. Fields of a disabled feature
 * gate are silently dropped by the server; finding them missing names the gate.
 */
export function droppedFeatures(sent: ResourceSlice, stored: ResourceSlice): DroppedFeature[] {
  const dropped: DroppedFeature[] = [];
  const sentCounters = (sent.spec.sharedCounters?.length ?? 0) > 0;
  const storedCounters = (stored.spec.sharedCounters?.length ?? 0) > 0;
  const sentConsumers = (sent.spec.devices ?? []).filter(
    (d) => (d.consumesCounters?.length ?? 0) > 0,
  );
  const storedDevices = new Map((stored.spec.devices ?? []).map((d) => [d.name, d]));
  const consumersDropped = sentConsumers.some(
    (d) => (storedDevices.get(d.name)?.consumesCounters?.length ?? 0) === 0,
  );
  if ((sentCounters && !storedCounters) || consumersDropped) {
    dropped.push({
      gate: 'DRAPartitionableDevices',
      fields: 'spec.sharedCounters / devices[].consumesCounters',
    });
  }
  const taintsDropped = (sent.spec.devices ?? []).some(
    (d) => (d.taints?.length ?? 0) > 0 && (storedDevices.get(d.name)?.taints?.length ?? 0) === 0,
  );
  if (taintsDropped) dropped.push({ gate: 'DRADeviceTaints', fields: 'devices[].taints' });
  return dropped;
}

export class SlicePublisher {
  readonly #options: PublisherOptions;
  #layout: SliceLayout;
  #taints: boolean;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #pending = false;
  #stopped = false;
  #backoffMs = 0;
  #unsubscribe: (() => void) | undefined;
  readonly #abort = new AbortController();

  constructor(options: PublisherOptions) {
    this.#options = options;
    this.#layout = options.layout;
    this.#taints = options.taintUnhealthy;
    this.#recordLayout();
  }

  get layout(): SliceLayout {
    return this.#layout;
  }

  /** Builds the desired pool and brings the API server in line with it, once. */
  async syncOnce(signal?: AbortSignal): Promise<SyncResult> {
    const { metrics } = this.#options;
    try {
      let result = await this.#syncAttempt(signal);
      const fallback = this.#fallbackFor(result.dropped);
      if (fallback) result = await this.#syncAttempt(signal);
      metrics.slicePublishes.inc({ result: 'success' });
      metrics.slicesPublished.set(result.sync.slices);
      return result.sync;
    } catch (error) {
      metrics.slicePublishes.inc({ result: 'error' });
      throw error;
    }
  }

  /** Starts the background loop: sync now, on every device change and every resync period. */
  start(): void {
    this.#unsubscribe = this.#options.backend.onChange(() => this.trigger());
    this.trigger();
  }

  /** Asks for a sync soon (coalesced with any sync already queued). */
  trigger(): void {
    if (this.#stopped) return;
    this.#pending = true;
    if (this.#running === undefined) this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#unsubscribe?.();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  async #loop(): Promise<void> {
    const { logger } = this.#options;
    while (this.#pending && !this.#stopped) {
      this.#pending = false;
      try {
        const result = await this.syncOnce(this.#abort.signal);
        this.#backoffMs = 0;
        logger.debug({ ...result }, 'ResourceSlices in sync');
        this.#schedule(this.#options.resyncIntervalMs ?? 30_000);
      } catch (error) {
        if (this.#stopped) break;
        this.#backoffMs = Math.min(
          this.#options.maxBackoffMs ?? 30_000,
          Math.max(this.#options.initialBackoffMs ?? 250, this.#backoffMs * 2),
        );
        logger.warn(
          { err: error, retryInMs: this.#backoffMs },
          'Publishing ResourceSlices failed; will retry',
        );
        this.#schedule(this.#backoffMs);
      }
    }
    this.#running = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.trigger(), delayMs);
    this.#timer.unref();
  }

  async #syncAttempt(
    signal?: AbortSignal,
  ): Promise<{ sync: SyncResult; dropped: DroppedFeature[] }> {
    const o = this.#options;
    const inventory = o.backend.inventory();
    this.#recordHealth(inventory.health);
    const desired = buildPoolSlices(inventory, {
      driverName: o.driverName,
      nodeName: o.nodeName,
      nodeUid: o.nodeUid,
      layout: this.#layout,
      taintUnhealthy: this.#taints,
      serverMinor: o.serverMinor,
    });
    const existing = await o.store.list(o.driverName, o.nodeName, signal);
    const plan = planPoolSync(existing, desired);
    const dropped: DroppedFeature[] = [];
    // Obsolete slices go first so consumers never see two generations mixing device names.
    for (const slice of plan.deletes) await o.store.delete(slice, signal);
    for (const slice of plan.updates)
      dropped.push(...droppedFeatures(slice, await o.store.update(slice, signal)));
    for (const slice of plan.creates)
      dropped.push(...droppedFeatures(slice, await o.store.create(slice, signal)));
    const sync: SyncResult = {
      generation: plan.generation,
      slices: desired.length,
      created: plan.creates.length,
      updated: plan.updates.length,
      deleted: plan.deletes.length,
      layout: this.#layout,
    };
    if (plan.creates.length + plan.updates.length + plan.deletes.length > 0) {
      o.logger.info({ pool: o.nodeName, ...sync }, 'Published ResourceSlices');
    }
    return { sync, dropped };
  }

  /** Switches off what the server does not accept; returns true when a re-sync is needed. */
  #fallbackFor(dropped: readonly DroppedFeature[]): boolean {
    const { logger, metrics } = this.#options;
    let changed = false;
    for (const feature of new Map(dropped.map((d) => [d.gate, d])).values()) {
      if (feature.gate === 'DRAPartitionableDevices' && this.#layout !== 'whole-gpus') {
        logger.error(
          { gate: feature.gate, fields: feature.fields },
          'The API server dropped partition counters (feature gate DRAPartitionableDevices is off); publishing whole GPUs only. Enable the gate on the API server and scheduler to offer partitions.',
        );
        this.#layout = 'whole-gpus';
        metrics.partitionsDisabled.set(1);
        this.#recordLayout();
        changed = true;
      }
      if (feature.gate === 'DRADeviceTaints' && this.#taints) {
        logger.error(
          { gate: feature.gate, fields: feature.fields },
          'The API server dropped device taints (feature gate DRADeviceTaints is off); unhealthy GPUs are reported on the health stream only.',
        );
        this.#taints = false;
        changed = true;
      }
    }
    return changed;
  }

  #recordLayout(): void {
    for (const layout of ['combined', 'split', 'whole-gpus'] as const) {
      this.#options.metrics.sliceLayout.set({ layout }, layout === this.#layout ? 1 : 0);
    }
  }

  #recordHealth(health: ReturnType<GpuBackend['inventory']>['health']): void {
    const counts = new Map<string, number>(DEVICE_HEALTH_STATES.map((state) => [state, 0]));
    for (const status of health.values())
      counts.set(status.health, (counts.get(status.health) ?? 0) + 1);
    for (const [state, count] of counts)
      this.#options.metrics.devices.set({ health: state }, count);
  }
}
