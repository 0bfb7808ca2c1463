/**
 * The kubelet-facing protobuf APIs, loaded at runtime from `proto/` with @grpc/proto-loader, plus
 * hand-written TypeScript shapes of their messages. Field names are snake_case because the loader
 * keeps the .proto spelling (`keepCase`).
 *
 * Encoding notes (checked against protobufjs 7, which the loader uses):
 * - a field that is present on an outgoing object is written even when it holds the proto3 default
 *   ('' / 0 / false / first enum value). Outgoing shapes therefore make such fields optional and the
 *   builders leave them out, which yields the same bytes as the Go encoder the kubelet expects;
 * - proto3 `optional` keeps presence: an absent or undefined `share_id` is not written, a set one is
 *   written even when it is the empty string. Decoded messages carry it only when it was sent.
 */
import { join } from 'node:path';
import type { handleServerStreamingCall, handleUnaryCall, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The repository's `proto/` directory (include root, so package paths match upstream). */
export const PROTO_DIR = join(import.meta.dirname, '..', '..', 'proto');

export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** Proto files, relative to {@link PROTO_DIR}. */
export const PROTO_FILES = {
  registration: 'k8s.io/kubelet/pkg/apis/pluginregistration/v1/api.proto',
  draV1: 'k8s.io/kubelet/pkg/apis/dra/v1/api.proto',
  draV1beta1: 'k8s.io/kubelet/pkg/apis/dra/v1beta1/api.proto',
  healthV1: 'k8s.io/kubelet/pkg/apis/dra-health/v1/api.proto',
  healthV1alpha1: 'k8s.io/kubelet/pkg/apis/dra-health/v1alpha1/api.proto',
  grpcHealth: 'grpc/health/v1/health.proto',
} as const;

/** Fully qualified gRPC service names (what goes on the wire in method paths). */
export const SERVICE_NAMES = {
  registration: 'pluginregistration.Registration',
  draV1: 'k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin',
  draV1beta1: 'k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin',
  healthV1: 'v1.DRAResourceHealth',
  healthV1alpha1: 'v1alpha1.DRAResourceHealth',
  grpcHealth: 'grpc.health.v1.Health',
} as const;

// ---------------------------------------------------------------------------------------------
// pluginregistration

export type InfoRequestMessage = Record<string, never>;

export interface PluginInfoMessage {
  readonly type?: string;
  readonly name?: string;
  readonly endpoint?: string;
  readonly supported_versions?: readonly string[];
}

export interface RegistrationStatusMessage {
  readonly plugin_registered: boolean;
  readonly error: string;
}

export type RegistrationStatusResponseMessage = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// dra v1 / v1beta1 (same messages; v1beta1 Device has no share_id)

export interface ClaimMessage {
  readonly namespace: string;
  readonly uid: string;
  readonly name: string;
}

export interface NodePrepareResourcesRequestMessage {
  readonly claims: readonly ClaimMessage[];
}

export interface DeviceV1beta1Message {
  readonly request_names?: readonly string[];
  readonly pool_name?: string;
  readonly device_name?: string;
  readonly cdi_device_ids?: readonly string[];
}

export interface DeviceV1Message extends DeviceV1beta1Message {
  /** proto3 `optional`: leave it out unless the device is a share. */
  readonly share_id?: string;
}

export interface NodePrepareResourceResponseMessage<D extends DeviceV1beta1Message> {
  readonly devices?: readonly D[];
  readonly error?: string;
}

export interface NodePrepareResourcesResponseMessage<D extends DeviceV1beta1Message> {
  /** Keyed by claim UID. */
  readonly claims: Readonly<Record<string, NodePrepareResourceResponseMessage<D>>>;
}

export interface NodeUnprepareResourcesRequestMessage {
  readonly claims: readonly ClaimMessage[];
}

export interface NodeUnprepareResourceResponseMessage {
  readonly error?: string;
}

export interface NodeUnprepareResourcesResponseMessage {
  /** Keyed by claim UID. */
  readonly claims: Readonly<Record<string, NodeUnprepareResourceResponseMessage>>;
}

// ---------------------------------------------------------------------------------------------
// dra-health v1 / v1alpha1 (identical messages)

export type NodeWatchResourcesRequestMessage = Record<string, never>;

/** Enum names as the loader spells them (`enums: String`); numbers 0, 1, 2 on the wire. */
export type HealthStatusName = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';

export interface DeviceIdentifierMessage {
  readonly pool_name?: string;
  readonly device_name?: string;
}

export interface DeviceHealthMessage {
  readonly device?: DeviceIdentifierMessage;
  readonly health?: HealthStatusName;
  /** Unix seconds (int64). */
  readonly last_updated_time?: number;
  readonly health_check_timeout_seconds?: number;
  readonly message?: string;
}

export interface NodeWatchResourcesResponseMessage {
  readonly devices: readonly DeviceHealthMessage[];
}

// ---------------------------------------------------------------------------------------------
// grpc.health.v1

export interface HealthCheckRequestMessage {
  readonly service: string;
}

export type ServingStatusName = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthCheckResponseMessage {
  readonly status?: ServingStatusName;
}

// ---------------------------------------------------------------------------------------------
// Service implementations (what a server registers for each service). Type aliases, not
// interfaces, so they fit grpc-js's index-signature `UntypedServiceImplementation`.

export type RegistrationImplementation = {
  GetInfo: handleUnaryCall<InfoRequestMessage, PluginInfoMessage>;
  NotifyRegistrationStatus: handleUnaryCall<
    RegistrationStatusMessage,
    RegistrationStatusResponseMessage
  >;
};

export type DraPluginImplementation<D extends DeviceV1beta1Message> = {
  NodePrepareResources: handleUnaryCall<
    NodePrepareResourcesRequestMessage,
    NodePrepareResourcesResponseMessage<D>
  >;
  NodeUnprepareResources: handleUnaryCall<
    NodeUnprepareResourcesRequestMessage,
    NodeUnprepareResourcesResponseMessage
  >;
};

export type ResourceHealthImplementation = {
  NodeWatchResources: handleServerStreamingCall<
    NodeWatchResourcesRequestMessage,
    NodeWatchResourcesResponseMessage
  >;
};

export type GrpcHealthImplementation = {
  Check: handleUnaryCall<HealthCheckRequestMessage, HealthCheckResponseMessage>;
  Watch: handleServerStreamingCall<HealthCheckRequestMessage, HealthCheckResponseMessage>;
};

export interface KubeletServices {
  readonly registration: ServiceDefinition<RegistrationImplementation>;
  readonly draV1: ServiceDefinition<DraPluginImplementation<DeviceV1Message>>;
  readonly draV1beta1: ServiceDefinition<DraPluginImplementation<DeviceV1beta1Message>>;
  readonly healthV1: ServiceDefinition<ResourceHealthImplementation>;
  readonly healthV1alpha1: ServiceDefinition<ResourceHealthImplementation>;
  readonly grpcHealth: ServiceDefinition<GrpcHealthImplementation>;
}

/** Looks a service up and checks that it has exactly the methods the implementation type names. */
function serviceOf<T>(
  file: string,
  name: string,
  methods: readonly (keyof T & string)[],
): ServiceDefinition<T> {
  const pkg: PackageDefinition = loadSync(file, PROTO_LOADER_OPTIONS);
  const service = pkg[name];
  if (service === undefined || 'format' in service)
    throw new Error(`proto file ${file} does not define service ${name}`);
  for (const method of methods) {
    const definition = service[method];
    if (definition === undefined || definition.path !== `/${name}/${method}`)
      throw new Error(`service ${name} in ${file} has no method ${method}`);
  }
  // Checked above: every method the implementation type names exists with the expected path.
  return service as unknown as ServiceDefinition<T>;
}

let cached: KubeletServices | undefined;

/** Loads (once) and returns the service definitions of every API the plugin serves. */
export function kubeletServices(): KubeletServices {
  cached ??= {
    registration: serviceOf<RegistrationImplementation>(
      PROTO_FILES.registration,
      SERVICE_NAMES.registration,
      ['GetInfo', 'NotifyRegistrationStatus'],
    ),
    draV1: serviceOf<DraPluginImplementation<DeviceV1Message>>(
      PROTO_FILES.draV1,
      SERVICE_NAMES.draV1,
      ['NodePrepareResources', 'NodeUnprepareResources'],
    ),
    draV1beta1: serviceOf<DraPluginImplementation<DeviceV1beta1Message>>(
      PROTO_FILES.draV1beta1,
      SERVICE_NAMES.draV1beta1,
      ['NodePrepareResources', 'NodeUnprepareResources'],
    ),
    healthV1: serviceOf<ResourceHealthImplementation>(
      PROTO_FILES.healthV1,
      SERVICE_NAMES.healthV1,
      ['NodeWatchResources'],
    ),
    healthV1alpha1: serviceOf<ResourceHealthImplementation>(
      PROTO_FILES.healthV1alpha1,
      SERVICE_NAMES.healthV1alpha1,
      ['NodeWatchResources'],
    ),
    grpcHealth: serviceOf<GrpcHealthImplementation>(
      PROTO_FILES.grpcHealth,
      SERVICE_NAMES.grpcHealth,
      ['Check', 'Watch'],
    ),
  };
  return cached;
}
