/**
 * The real kubelet plugin, assembled for benchmarks ({@link startPluginServer}: what the plugin
 * process runs), and the same plus a kubelet-side client in one process ({@link startPluginRig}).
 *
 * Same parts as `src/driver/plugin.ts` (fake GPU backend, checkpoint, CDI spec store, device
 * state, gRPC servers) minus the API server: ResourceClaims come from an in-memory getter that
 * reads the allocation from the claim name (`claim-names.ts`), and no ResourceSlices are
 * published. Every durable step (checkpoint writes, CDI spec write/remove) and the claim fetch
 * are wrapped in a {@link PhaseTimer}, so a benchmark can say where time goes.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DRIVER_NAME } from '../../src/config/plugin.ts';
import { FakeGpuBackend } from '../../src/devices/fake/backend.ts';
import { CdiSpecStore } from '../../src/driver/cdi.ts';
import { Checkpoint } from '../../src/driver/checkpoint.ts';
import { type PluginServers, startPluginServers } from '../../src/driver/grpc-server.ts';
import { BackendHealthSource } from '../../src/driver/health.ts';
import { KubeletClient } from '../../src/driver/kubelet-client.ts';
import { type PluginSocketPaths, pluginSocketPaths } from '../../src/driver/sockets.ts';
import { DeviceState } from '../../src/driver/state.ts';
import type { ClaimGetter, DraHandler } from '../../src/driver/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { DriverMetrics } from '../../src/observability/metrics.ts';
import { NameDerivedClaimGetter } from './claim-names.ts';
import { type PhaseIntervals, PhaseTimer } from './phases.ts';

/** Phase names recorded by the rig, in pipeline order (each handler total after its steps). */
export const PHASE = {
  claimGet: 'prepare: claim GET (in-memory)',
  checkpointStarted: 'prepare: checkpoint PrepareStarted write',
  cdiWrite: 'prepare: CDI spec write',
  checkpointCompleted: 'prepare: checkpoint PrepareCompleted write',
  prepareHandler: 'prepare: handler total (server side)',
  cdiRemove: 'unprepare: CDI spec remove',
  checkpointRemove: 'unprepare: checkpoint entry remove',
  unprepareHandler: 'unprepare: handler total (server side)',
} as const;

/** The prepare steps that write to disk (journal appends with O_DSYNC; the CDI spec: temp file + rename, no fsync). */
export const DURABLE_PREPARE_PHASES: readonly string[] = [
  PHASE.checkpointStarted,
  PHASE.cdiWrite,
  PHASE.checkpointCompleted,
];

export interface PluginRigOptions {
  /** Scratch directory on the disk under test; the rig uses `kubelet/`, `data/` and `cdi/` in it. */
  readonly root: string;
  readonly nodeName: string;
  /** Fake backend profile, e.g. `sxm8-80g`. */
  readonly profile: string;
}

/** What the plugin side reports at a scenario boundary. */
export interface PluginStats {
  /** Every timed step since the last reset, by phase. */
  readonly phases: PhaseIntervals;
  /** Durable checkpoint commits (journal appends + snapshots) since the last reset. */
  readonly checkpointWrites: number;
}

/** Sizes of the files one prepared claim has on disk. */
export interface ClaimFileSizes {
  readonly cdiSpec: number;
  /** The checkpoint snapshot file. */
  readonly checkpoint: number;
}

/** The plugin serving its sockets, with the instrumentation a benchmark reads. */
export interface PluginServer {
  readonly nodeName: string;
  readonly driverName: string;
  readonly paths: PluginSocketPaths;
  /** Where a kubelet client dials GetInfo. */
  readonly registrationSocket: string;
  readonly dataDir: string;
  readonly cdiDir: string;
  readonly backend: FakeGpuBackend;
  readonly checkpoint: Checkpoint;
  readonly cdi: CdiSpecStore;
  readonly claims: NameDerivedClaimGetter;
  readonly phases: PhaseTimer;
  /** Forgets the phases recorded so far and starts counting checkpoint writes from zero. */
  resetStats(): void;
  stats(): PluginStats;
  /** Sizes of the CDI spec of `claimUid` (prepared now) and of the checkpoint snapshot. */
  fileSizes(claimUid: string): Promise<ClaimFileSizes>;
  close(): Promise<void>;
}

/** The plugin plus a registered kubelet client in the same process. */
export interface PluginRig extends PluginServer {
  readonly client: KubeletClient;
}

/** Wraps the checkpoint's durable writes and the CDI store's file steps with phase timers. */
function instrument(checkpoint: Checkpoint, cdi: CdiSpecStore, phases: PhaseTimer): void {
  const setStarted = checkpoint.setStarted.bind(checkpoint);
  const setCompleted = checkpoint.setCompleted.bind(checkpoint);
  const remove = checkpoint.remove.bind(checkpoint);
  checkpoint.setStarted = (uid, record) =>
    phases.time(PHASE.checkpointStarted, () => setStarted(uid, record));
  checkpoint.setCompleted = (uid, record) =>
    phases.time(PHASE.checkpointCompleted, () => setCompleted(uid, record));
  checkpoint.remove = (uid) => phases.time(PHASE.checkpointRemove, () => remove(uid));
  const writeSpec = cdi.writeClaimSpec.bind(cdi);
  const removeSpec = cdi.removeClaimSpec.bind(cdi);
  cdi.writeClaimSpec = (input) => phases.time(PHASE.cdiWrite, () => writeSpec(input));
  cdi.removeClaimSpec = (uid) => phases.time(PHASE.cdiRemove, () => removeSpec(uid));
}

function timedHandler(state: DraHandler, phases: PhaseTimer): DraHandler {
  return {
    prepareResources: (claims, signal) =>
      phases.time(PHASE.prepareHandler, () => state.prepareResources(claims, signal)),
    unprepareResources: (claims, signal) =>
      phases.time(PHASE.unprepareHandler, () => state.unprepareResources(claims, signal)),
  };
}

/** Starts the plugin on unix sockets under `options.root`; nothing has registered with it yet. */
export async function startPluginServer(options: PluginRigOptions): Promise<PluginServer> {
  const logger = silentLogger();
  const metrics = new DriverMetrics();
  const phases = new PhaseTimer();
  const backend = new FakeGpuBackend(options.nodeName, { profile: options.profile });
  const dataDir = join(options.root, 'data');
  const cdiDir = join(options.root, 'cdi');
  const checkpoint = await Checkpoint.open({ dataDir, logger, metrics });
  const cdi = new CdiSpecStore({ dir: cdiDir });
  instrument(checkpoint, cdi, phases);
  const claims = new NameDerivedClaimGetter(options.nodeName);
  const timedClaims: ClaimGetter = {
    get: (namespace, name, signal) =>
      phases
        .time(PHASE.claimGet, () => claims.get(namespace, name))
        .then((c) => {
          signal?.throwIfAborted();
          return c;
        }),
  };
  const { state } = await DeviceState.open({
    driverName: DRIVER_NAME,
    nodeName: options.nodeName,
    backend,
    claims: timedClaims,
    cdi,
    checkpoint,
    logger,
    metrics,
  });
  const paths = pluginSocketPaths({
    kubeletRoot: join(options.root, 'kubelet'),
    driverName: DRIVER_NAME,
  });
  const servers: PluginServers = await startPluginServers({
    driverName: DRIVER_NAME,
    paths,
    handler: timedHandler(state, phases),
    health: new BackendHealthSource(backend, () => true),
    metrics,
    logger,
  });
  let writesAtReset = checkpoint.writeCount;
  return {
    nodeName: options.nodeName,
    driverName: DRIVER_NAME,
    paths,
    registrationSocket: servers.registrationSocket,
    dataDir,
    cdiDir,
    backend,
    checkpoint,
    cdi,
    claims,
    phases,
    resetStats() {
      phases.reset();
      writesAtReset = checkpoint.writeCount;
    },
    stats: () => ({
      phases: phases.intervals(),
      checkpointWrites: checkpoint.writeCount - writesAtReset,
    }),
    async fileSizes(claimUid) {
      const [spec, snapshot] = await Promise.all([
        stat(cdi.specPath(claimUid)),
        stat(checkpoint.path),
      ]);
      return { cdiSpec: spec.size, checkpoint: snapshot.size };
    },
    close: () => servers.close(),
  };
}

/** Starts the plugin and registers a kubelet client with it, both in this process. */
export async function startPluginRig(options: PluginRigOptions): Promise<PluginRig> {
  const server = await startPluginServer(options);
  const client = new KubeletClient(server.registrationSocket);
  try {
    await client.register();
  } catch (err) {
    client.close();
    await server.close();
    throw err;
  }
  return {
    ...server,
    client,
    async close() {
      client.close();
      await server.close();
    },
  };
}
