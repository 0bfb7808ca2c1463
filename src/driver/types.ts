/**
 * Contracts between the kubelet-facing gRPC layer (`grpc-*.ts`, `plugin.ts`) and the prepare /
 * unprepare state machine (`state.ts`). The gRPC layer only adapts wire messages to these shapes.
 */
import type { ResourceClaim } from '../api/resource/v1.ts';

/** Reference to a claim as the kubelet sends it (DRA `Claim` message). */
export interface ClaimRef {
  readonly namespace: string;
  readonly uid: string;
  readonly name: string;
}

/** One prepared device as returned to the kubelet (DRA `Device` message). */
export interface PreparedDevice {
  /** Base request names (subrequest suffix stripped). */
  readonly requestNames: readonly string[];
  readonly poolName: string;
  readonly deviceName: string;
  readonly cdiDeviceIds: readonly string[];
  /** Only for devices allocated with consumable capacity. */
  readonly shareId?: string;
}

/** Per-claim prepare outcome: devices, or an error string the kubelet shows and retries on. */
export type PrepareOutcome =
  | { readonly devices: readonly PreparedDevice[] }
  | { readonly error: string };

/** Per-claim unprepare outcome: empty on success. */
export type UnprepareOutcome = { readonly error?: string };

/**
 * The driver's answer to the kubelet. Implementations return an entry for EVERY claim in the
 * request, keyed by claim UID, and never reject for a single claim's failure.
 */
export interface DraHandler {
  prepareResources(
    claims: readonly ClaimRef[],
    signal?: AbortSignal,
  ): Promise<Map<string, PrepareOutcome>>;
  unprepareResources(
    claims: readonly ClaimRef[],
    signal?: AbortSignal,
  ): Promise<Map<string, UnprepareOutcome>>;
}

/** Reads ResourceClaims from the API server (implemented in `kube/`). */
export interface ClaimGetter {
  /** Returns undefined when the claim does not exist. Rejects on transport errors. */
  get(namespace: string, name: string, signal?: AbortSignal): Promise<ResourceClaim | undefined>;
}

/** Health of one published device, as streamed on DRAResourceHealth. */
export interface DeviceHealthEntry {
  readonly poolName: string;
  readonly deviceName: string;
  readonly health: 'Unknown' | 'Healthy' | 'Unhealthy';
  /** Unix seconds. */
  readonly lastUpdated: number;
  readonly message: string;
}

/** Source of device health for the DRAResourceHealth stream. */
export interface HealthSource {
  /** Complete list of devices and their health right now. */
  snapshot(): readonly DeviceHealthEntry[];
  /** Called with a complete list on every change; returns an unsubscribe function. */
  subscribe(listener: (entries: readonly DeviceHealthEntry[]) => void): () => void;
}
