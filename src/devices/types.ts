/**
 * The GPU backend seam. The kubelet plugin, the ResourceSlice builder and the scheduling core see
 * GPUs only through these types; `devices/fake` implements them without hardware.
 *
 * Pure data and interfaces: no I/O here.
 */

/** Health of one GPU as the backend sees it. `lost` means the GPU fell off the bus. */
export type GpuHealth = 'healthy' | 'unhealthy' | 'lost';

/**
 * A MIG-like partition profile. A GPU that supports partitions is divided into `computeSlices`
 * compute slices and `memorySlices` memory slices; a profile takes a contiguous run of memory
 * slices starting at one of `placements`.
 */
export interface PartitionProfile {
  /** Profile name as users select it, e.g. `1g.10gb`. */
  readonly name: string;
  /** Compute slices the profile consumes. */
  readonly computeSlices: number;
  /** Contiguous memory slices the profile occupies. */
  readonly memorySlices: number;
  /** Memory of one partition of this profile, in bytes. */
  readonly memoryBytes: number;
  /** Allowed start memory-slice indices, ascending. */
  readonly placements: readonly number[];
}

/** The partition geometry of a partitionable GPU model. */
export interface PartitionGeometry {
  readonly computeSlices: number;
  readonly memorySlices: number;
  readonly profiles: readonly PartitionProfile[];
}

/** One physical GPU. */
export interface GpuInfo {
  /** Index on the node, 0-based. */
  readonly index: number;
  /** Deterministic UUID (`GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`). */
  readonly uuid: string;
  /** Product name, e.g. `Phalanx Fake H100 80GB HBM3`. */
  readonly productName: string;
  /** Architecture, e.g. `Hopper`. */
  readonly architecture: string;
  /** Semver of the (fake) driver. */
  readonly driverVersion: string;
  /** Total memory in bytes. */
  readonly memoryBytes: number;
  /** Extended PCI bus id, e.g. `0000:18:00.0`. */
  readonly pciBusID: string;
  /** PCIe root complex, `pci<domain>:<bus>`, e.g. `pci0000:10`. */
  readonly pcieRoot: string;
  /** NUMA node the GPU is attached to. */
  readonly numaNode: number;
  /**
   * NVLink domain id: GPUs with the same value share an NVLink/NVSwitch fabric. Node-local
   * domains are unique per node; a multi-node NVLink rack shares one value across nodes.
   * Empty when the GPU has no NVLink (PCIe only).
   */
  readonly nvlinkDomain: string;
  /** NVLink clique id within a multi-node NVLink domain (`<cluster-uuid>.<clique>`), or empty. */
  readonly cliqueId: string;
  /** Partition geometry when the GPU supports MIG-like partitions, otherwise undefined. */
  readonly partitions?: PartitionGeometry;
}

/** One placement of a partition profile on one GPU: what the scheduler can allocate. */
export interface PartitionPlacement {
  readonly gpuIndex: number;
  readonly profile: PartitionProfile;
  /** First memory slice occupied. */
  readonly start: number;
}

/** Everything the backend reports about a node at one moment. */
export interface DeviceInventory {
  readonly nodeName: string;
  readonly gpus: readonly GpuInfo[];
  /** Health by GPU index. */
  readonly health: ReadonlyMap<number, GpuHealthStatus>;
}

export interface GpuHealthStatus {
  readonly health: GpuHealth;
  /** Short human reason, e.g. `XID 79: GPU has fallen off the bus`. Empty when healthy. */
  readonly message: string;
  /** Unix milliseconds of the last change. */
  readonly since: number;
}

/**
 * What the driver asks the backend to set up for one claim: the devices the scheduler allocated,
 * by their ResourceSlice device name, plus the sharing settings that apply to each.
 */
export interface BackendPrepareRequest {
  readonly claimUid: string;
  readonly devices: readonly BackendDeviceRequest[];
}

export interface BackendDeviceRequest {
  /** ResourceSlice device name, e.g. `gpu-3` or `gpu-3-1g-10gb-2`. */
  readonly deviceName: string;
  /** Sharing mode applied to the device (from the opaque GpuConfig), already validated. */
  readonly sharing: SharingSettings;
}

export type SharingSettings =
  | { readonly strategy: 'Exclusive' }
  | { readonly strategy: 'TimeSlicing'; readonly interval: 'Default' | 'Short' | 'Medium' | 'Long' }
  | { readonly strategy: 'SpacePartitioning'; readonly partitionCount: number };

/** What the backend made for one device: identifiers the container needs. */
export interface BackendPreparedDevice {
  readonly deviceName: string;
  /** UUID of the GPU, or of the partition (`MIG-…`) for partitions. */
  readonly uuid: string;
  /** UUID of the physical GPU the device lives on. */
  readonly gpuUuid: string;
  readonly gpuIndex: number;
  /** Profile name for partitions, `full` for whole GPUs. */
  readonly profile: string;
  /** Environment the container gets for this device (name → value). */
  readonly env: Readonly<Record<string, string>>;
}

/** Thrown by a backend for a failure the driver reports per claim. `code` is stable. */
export class BackendError extends Error {
  readonly code:
    | 'UnknownDevice'
    | 'DeviceUnhealthy'
    | 'DeviceBusy'
    | 'InjectedFailure'
    | 'Internal';
  constructor(code: BackendError['code'], message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
  }
}

export type HealthListener = (inventory: DeviceInventory) => void;

/**
 * A GPU backend. Implementations must be safe for concurrent prepare/unprepare of different
 * claims; calls for the same claim are serialised by the caller.
 */
export interface GpuBackend {
  readonly nodeName: string;
  /** Current inventory. Cheap; called on every publish and health poll. */
  inventory(): DeviceInventory;
  /**
   * Sets up the claim's devices (creates partitions, applies sharing). Idempotent: preparing a
   * claim that is already prepared with the same devices returns the same result.
   */
  prepare(request: BackendPrepareRequest, signal?: AbortSignal): Promise<BackendPreparedDevice[]>;
  /** Tears down whatever `prepare` made for the claim. Unknown claims succeed. */
  unprepare(claimUid: string): Promise<void>;
  /** Claims the backend currently holds resources for (for startup reconciliation). */
  preparedClaims(): readonly string[];
  /** Subscribes to health and inventory changes; returns an unsubscribe function. */
  onChange(listener: HealthListener): () => void;
}
