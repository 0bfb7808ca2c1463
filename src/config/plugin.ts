/**
 * Settings of `phalanx plugin`, the DRA kubelet plugin. The flag table is the single source of
 * the defaults; the chart sets the env twins.
 */
import { type FlagTable, type FlagValues, VERBOSITY_FLAG } from './flags.ts';

export const DRIVER_NAME = 'gpu.phalanx.dev';

export const PLUGIN_FLAGS = {
  'node-name': {
    type: 'string',
    env: 'NODE_NAME',
    default: '',
    description:
      'Name of the Node this plugin serves; its pool of ResourceSlices carries this name. Required.',
  },
  'kubelet-root': {
    type: 'string',
    env: 'PHALANX_KUBELET_ROOT',
    default: '/var/lib/kubelet',
    description:
      'Kubelet root directory; sockets go to <root>/plugins_registry and <root>/plugins/gpu.phalanx.dev.',
  },
  'plugin-data-dir': {
    type: 'string',
    env: 'PHALANX_PLUGIN_DATA_DIR',
    default: '',
    description:
      'Directory for the checkpoint; empty means <kubelet-root>/plugins/gpu.phalanx.dev.',
  },
  'cdi-root': {
    type: 'string',
    env: 'PHALANX_CDI_ROOT',
    default: '/var/run/cdi',
    description: 'Directory where per-claim CDI specs are written for the container runtime.',
  },
  'pod-uid': {
    type: 'string',
    env: 'POD_UID',
    default: '',
    description:
      'UID of the plugin pod; when set, socket names are unique per pod so a rolling update can overlap two plugin pods.',
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    default: '',
    description: 'Kubeconfig file; empty uses the in-cluster service account (or ~/.kube/config).',
  },
  'fake-gpus': {
    type: 'string',
    env: 'PHALANX_FAKE_GPUS',
    default: 'profile=sxm8-80g',
    description:
      'Fake GPU backend in compact form, e.g. "profile=pcie4-48g,gpus=2". Ignored when --fake-gpus-config is set.',
  },
  'fake-gpus-config': {
    type: 'string',
    env: 'PHALANX_FAKE_GPUS_CONFIG',
    default: '',
    description:
      'YAML/JSON file configuring the fake GPU backend (profile, GPU count, rack domain, faults); re-read when it changes.',
  },
  'slice-layout': {
    type: 'string',
    env: 'PHALANX_SLICE_LAYOUT',
    default: 'auto',
    choices: ['auto', 'combined', 'split', 'whole-gpus'],
    description:
      'ResourceSlice layout: auto picks by API server version (1.34 combined counters+devices, 1.35+ split).',
  },
  'device-taints': {
    type: 'boolean',
    env: 'PHALANX_DEVICE_TAINTS',
    default: true,
    description:
      'Publish NoSchedule/NoExecute device taints for unhealthy/lost GPUs (needs DRADeviceTaints).',
  },
  'prepare-timeout': {
    type: 'number',
    env: 'PHALANX_PREPARE_TIMEOUT_SECONDS',
    default: 30,
    min: 1,
    max: 44,
    description:
      "Upper bound for preparing one claim, in seconds; kept below the kubelet's 45 s call timeout.",
  },
  'resync-interval': {
    type: 'number',
    env: 'PHALANX_RESYNC_INTERVAL_SECONDS',
    default: 30,
    min: 1,
    description: 'Period of the full ResourceSlice resync, in seconds.',
  },
  'metrics-address': {
    type: 'string',
    env: 'PHALANX_METRICS_ADDRESS',
    default: ':9400',
    description: 'host:port for Prometheus /metrics; empty disables.',
  },
  'healthcheck-address': {
    type: 'string',
    env: 'PHALANX_HEALTHCHECK_ADDRESS',
    default: ':9401',
    description:
      'host:port of the grpc.health.v1 liveness service (service "liveness"); empty disables.',
  },
  v: VERBOSITY_FLAG,
} as const satisfies FlagTable;

export type PluginFlags = FlagValues<typeof PLUGIN_FLAGS>;

/**
 * How `phalanx plugin` is started (the chart's container command): a 1 MiB young generation.
 * Prepare allocates little but steadily; with V8's default nursery (up to 16 MiB per semi-space)
 * an occasional scavenge of several milliseconds lands inside a NodePrepareResources call and
 * sets its p99; small nurseries are collected in a fraction of that (bench/plugin-prepare.ts).
 */
export const PLUGIN_RUNTIME = { nodeFlags: ['--max-semi-space-size=1'] } as const;
