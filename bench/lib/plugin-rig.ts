/**
 * The real kubelet plugin, assembled in-process for benchmarks, and a kubelet-side client that
 * talks to it over its real unix sockets.
 *
 * Same parts as `src/driver/plugin.ts` (fake GPU backend, checkpoint, CDI spec store, device
 * state, gRPC servers) minus the API server: ResourceClaims come from an in-memory getter, and no
 * ResourceSlices are published. Every durable step (checkpoint writes, CDI spec write/remove) and
 * the claim fetch are wrapped in a {@link PhaseTimer}, so a benchmark can say where time goes.
 */
import { join } from 'node:path';
import type { ResourceClaim } from '../../src/api/resource/v1.ts';
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
import { PhaseTimer } from './phases.ts';

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

/** The prepare steps that write to disk durably (journal append with O_DSYNC; CDI spec: temp + rename + dir fsync). */
export const DURABLE_PREPARE_PHASES: readonly string[] = [
  PHASE.checkpointStarted,
  PHASE.cdiWrite,
  PHASE.checkpointCompleted,
];

/** ResourceClaims held in memory, as the API server would return them (a deep copy per GET). */
export class MemoryClaimGetter implements ClaimGetter {
  readonly #claims = new Map<string, ResourceClaim>();

  put(claim: ResourceClaim): void {
    this.#claims.set(`${claim.metadata.namespace ?? ''}/${claim.metadata.name ?? ''}`, claim);
  }

  delete(namespace: string, name: string): void {
    this.#claims.delete(`${namespace}/${name}`);
  }

  get size(): number {
    return this.#claims.size;
  }

  async get(namespace: string, name: string): Promise<ResourceClaim | undefined> {
    const claim = this.#claims.get(`${namespace}/${name}`);
    return claim === undefined ? undefined : structuredClone(claim);
  }
}

export interface PluginRigOptions {
  /** Scratch directory on the disk under test; the rig uses `kubelet/`, `data/` and `cdi/` in it. */
  readonly root: string;
  readonly nodeName: string;
  /** Fake backend profile, e.g. `sxm8-80g`. */
  readonly profile: string;
}

export interface PluginRig {
  readonly nodeName: string;
  readonly driverName: string;
  readonly paths: PluginSocketPaths;
  readonly dataDir: string;
  readonly cdiDir: string;
  readonly backend: FakeGpuBackend;
  readonly checkpoint: Checkpoint;
  readonly cdi: CdiSpecStore;
  readonly claims: MemoryClaimGetter;
  readonly client: KubeletClient;
  readonly phases: PhaseTimer;
  close(): Promise<void>;
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

/** Starts the plugin on unix sockets under `options.root` and registers a kubelet client. */
export async function startPluginRig(options: PluginRigOptions): Promise<PluginRig> {
  const logger = silentLogger();
  const metrics = new DriverMetrics();
  const phases = new PhaseTimer();
  const backend = new FakeGpuBackend(options.nodeName, { profile: options.profile });
  const dataDir = join(options.root, 'data');
  const cdiDir = join(options.root, 'cdi');
  const checkpoint = await Checkpoint.open({ dataDir, logger, metrics });
  const cdi = new CdiSpecStore({ dir: cdiDir });
  instrument(checkpoint, cdi, phases);
  const claims = new MemoryClaimGetter();
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
  const client = new KubeletClient(servers.registrationSocket);
  try {
    await client.register();
  } catch (err) {
    client.close();
    await servers.close();
    throw err;
  }
  return {
    nodeName: options.nodeName,
    driverName: DRIVER_NAME,
    paths,
    dataDir,
    cdiDir,
    backend,
    checkpoint,
    cdi,
    claims,
    client,
    phases,
    async close() {
      client.close();
      await servers.close();
    },
  };
}
