/**
 * The parts of `resource.k8s.io/v1` that Phalanx reads and writes, as plain JSON shapes.
 *
 * These mirror upstream field names exactly (kubernetes/api `resource/v1/types.go`). Plain
 * interfaces rather than client-node model classes: the slice publisher must send and compare the
 * exact JSON, including fields newer than the client's generator.
 */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Exactly one member is set. */
export interface DeviceAttribute {
  int?: number;
  bool?: boolean;
  string?: string;
  version?: string;
}

export interface DeviceCapacity {
  value: string;
}

export interface Counter {
  value: string;
}

export interface CounterSet {
  name: string;
  counters: Record<string, Counter>;
}

export interface DeviceCounterConsumption {
  counterSet: string;
  counters: Record<string, Counter>;
}

export interface DeviceTaint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'NoExecute' | 'None';
  timeAdded?: string;
}

export interface Device {
  name: string;
  attributes?: Record<string, DeviceAttribute>;
  capacity?: Record<string, DeviceCapacity>;
  consumesCounters?: DeviceCounterConsumption[];
  taints?: DeviceTaint[];
}

export interface ResourcePool {
  name: string;
  generation: number;
  resourceSliceCount: number;
}

export interface ResourceSliceSpec {
  driver: string;
  pool: ResourcePool;
  nodeName?: string;
  allNodes?: boolean;
  devices?: Device[];
  sharedCounters?: CounterSet[];
}

export interface ResourceSlice {
  apiVersion?: 'resource.k8s.io/v1';
  kind?: 'ResourceSlice';
  metadata: ObjectMeta;
  spec: ResourceSliceSpec;
}

export interface OpaqueDeviceConfiguration {
  driver: string;
  parameters: unknown;
}

export interface DeviceAllocationConfiguration {
  source: 'FromClass' | 'FromClaim';
  requests?: string[];
  opaque?: OpaqueDeviceConfiguration;
}

export interface DeviceRequestAllocationResult {
  /** `request` or `request/subrequest`. */
  request: string;
  driver: string;
  pool: string;
  device: string;
  adminAccess?: boolean;
  shareID?: string;
}

export interface AllocationResult {
  devices?: {
    results?: DeviceRequestAllocationResult[];
    config?: DeviceAllocationConfiguration[];
  };
  nodeSelector?: unknown;
}

export interface ResourceClaim {
  apiVersion?: 'resource.k8s.io/v1';
  kind?: 'ResourceClaim';
  metadata: ObjectMeta;
  spec?: { devices?: { requests?: unknown[]; config?: unknown[] } };
  status?: {
    allocation?: AllocationResult;
    reservedFor?: { resource: string; name: string; uid: string }[];
  };
}
