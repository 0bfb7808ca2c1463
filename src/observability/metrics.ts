/**
 * Prometheus metrics. One registry per process; every metric lives here so names, units and
 * label sets are reviewed in one place. Base units, `_total` counters, label combinations
 * pre-initialised to 0, no per-object labels.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'phalanx_';

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export const RESULTS = ['success', 'error'] as const;
export type Result = (typeof RESULTS)[number];

export const DEVICE_HEALTH_STATES = ['healthy', 'unhealthy', 'lost'] as const;

/** Metrics of the kubelet plugin (`phalanx plugin`). */
export class DriverMetrics {
  readonly registry: Registry;
  readonly prepareClaims: Counter<'result'>;
  readonly prepareDuration: Histogram<'result'>;
  readonly unprepareClaims: Counter<'result'>;
  readonly unprepareDuration: Histogram<'result'>;
  readonly inFlight: Gauge<'operation'>;
  readonly preparedClaims: Gauge;
  readonly slicePublishes: Counter<'result'>;
  readonly slicesPublished: Gauge;
  readonly sliceLayout: Gauge<'layout'>;
  readonly partitionsDisabled: Gauge;
  readonly devices: Gauge<'health'>;
  readonly registrations: Counter<'result'>;
  readonly registered: Gauge;
  readonly healthStreams: Gauge;
  readonly checkpointWrites: Counter<'result'>;
  readonly checkpointRecoveries: Counter<'reason'>;
  readonly fatalBackgroundErrors: Counter;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    if (options.defaultMetrics ?? false)
      collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    const p = `${METRIC_PREFIX}driver_`;
    const registers = [registry];
    this.prepareClaims = new Counter({
      name: `${p}prepare_claims_total`,
      help: 'Claims handled by NodePrepareResources, by result.',
      labelNames: ['result'],
      registers,
    });
    this.prepareDuration = new Histogram({
      name: `${p}prepare_claim_duration_seconds`,
      help: 'Time to prepare one claim (claim fetch, backend, CDI write and checkpoint), by result.',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.unprepareClaims = new Counter({
      name: `${p}unprepare_claims_total`,
      help: 'Claims handled by NodeUnprepareResources, by result.',
      labelNames: ['result'],
      registers,
    });
    this.unprepareDuration = new Histogram({
      name: `${p}unprepare_claim_duration_seconds`,
      help: 'Time to unprepare one claim, by result.',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: `${p}requests_in_flight`,
      help: 'Claims currently being prepared or unprepared.',
      labelNames: ['operation'],
      registers,
    });
    this.preparedClaims = new Gauge({
      name: `${p}prepared_claims`,
      help: 'Claims currently prepared on this node (checkpointed as completed).',
      registers,
    });
    this.slicePublishes = new Counter({
      name: `${p}resourceslice_publish_total`,
      help: 'ResourceSlice synchronisations of this node pool, by result.',
      labelNames: ['result'],
      registers,
    });
    this.slicesPublished = new Gauge({
      name: `${p}resourceslices`,
      help: 'ResourceSlices currently published for this node pool.',
      registers,
    });
    this.sliceLayout = new Gauge({
      name: `${p}resourceslice_layout`,
      help: 'Slice layout in use: 1 for the active layout (combined = counters with devices, split = counters in their own slice, whole-gpus = partitions disabled).',
      labelNames: ['layout'],
      registers,
    });
    this.partitionsDisabled = new Gauge({
      name: `${p}partitions_disabled`,
      help: '1 when the API server dropped counter fields (DRAPartitionableDevices off) and only whole GPUs are published.',
      registers,
    });
    this.devices = new Gauge({
      name: `${p}gpus`,
      help: 'GPUs on this node by health.',
      labelNames: ['health'],
      registers,
    });
    this.registrations = new Counter({
      name: `${p}kubelet_registrations_total`,
      help: 'NotifyRegistrationStatus calls from the kubelet, by result.',
      labelNames: ['result'],
      registers,
    });
    this.registered = new Gauge({
      name: `${p}kubelet_registered`,
      help: '1 once the kubelet reported a successful registration of this plugin instance.',
      registers,
    });
    this.healthStreams = new Gauge({
      name: `${p}health_streams`,
      help: 'Open DRAResourceHealth NodeWatchResources streams.',
      registers,
    });
    this.checkpointWrites = new Counter({
      name: `${p}checkpoint_writes_total`,
      help: 'Checkpoint file writes (fsync + rename), by result.',
      labelNames: ['result'],
      registers,
    });
    this.checkpointRecoveries = new Counter({
      name: `${p}checkpoint_recoveries_total`,
      help: 'Startup recoveries of the checkpoint, by reason (corrupt, reboot, interrupted).',
      labelNames: ['reason'],
      registers,
    });
    this.fatalBackgroundErrors = new Counter({
      name: `${p}fatal_background_errors_total`,
      help: 'Background errors that stopped the plugin.',
      registers,
    });
    for (const result of RESULTS) {
      this.prepareClaims.inc({ result }, 0);
      this.prepareDuration.zero({ result });
      this.unprepareClaims.inc({ result }, 0);
      this.unprepareDuration.zero({ result });
      this.slicePublishes.inc({ result }, 0);
      this.registrations.inc({ result }, 0);
      this.checkpointWrites.inc({ result }, 0);
    }
    for (const operation of ['prepare', 'unprepare']) this.inFlight.set({ operation }, 0);
    for (const layout of ['combined', 'split', 'whole-gpus']) this.sliceLayout.set({ layout }, 0);
    for (const health of DEVICE_HEALTH_STATES) this.devices.set({ health }, 0);
    for (const reason of ['corrupt', 'reboot', 'interrupted'])
      this.checkpointRecoveries.inc({ reason }, 0);
  }
}
