/**
 * Assembles the kubelet plugin: fake GPU backend → checkpoint + CDI + DeviceState → gRPC servers
 * (DRA first, then registration) → ResourceSlice publisher → liveness and metrics listeners.
 *
 * Order matters. Unprepare needs no API server, so the gRPC servers come up before the first
 * API call: a plugin restarted during an API server outage can still release devices. The
 * publisher starts once the API server has told us its version and the Node's UID, retrying
 * with backoff until it does.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { DRIVER_NAME } from '../config/plugin.ts';
import { FakeGpuBackend } from '../devices/fake/backend.ts';
import {
  type FakeBackendConfig,
  parseFakeBackendConfig,
  parseFakeBackendFlag,
} from '../devices/fake/config.ts';
import { ApiClaimGetter, ApiSliceStore, getNode } from '../kube/resources.ts';
import { KubeClient } from '../kube/rest.ts';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import {
  type MetricsServer,
  parseListenAddress,
  startMetricsServer,
} from '../observability/metrics-server.ts';
import { CdiSpecStore } from './cdi.ts';
import { Checkpoint } from './checkpoint.ts';
import { type PluginServers, startPluginServers } from './grpc-server.ts';
import { BackendHealthSource } from './health.ts';
import { type LivenessServer, pluginLivenessChecks, startLivenessServer } from './liveness.ts';
import { SlicePublisher } from './publisher.ts';
import { layoutForServerVersion, type SliceLayout } from './slices.ts';
import { pluginSocketPaths } from './sockets.ts';
import { DeviceState } from './state.ts';

export interface KubeletPluginConfig {
  readonly nodeName: string;
  readonly kubeletRoot: string;
  /** Empty: `<kubeletRoot>/plugins/gpu.phalanx.dev`. */
  readonly pluginDataDir: string;
  readonly cdiRoot: string;
  readonly podUid: string;
  readonly kubeconfig: string;
  readonly fakeGpus: string;
  readonly fakeGpusConfig: string;
  readonly sliceLayout: 'auto' | SliceLayout;
  readonly deviceTaints: boolean;
  readonly prepareTimeoutMs: number;
  readonly resyncIntervalMs: number;
  readonly metricsAddress: string;
  readonly healthcheckAddress: string;
}

export interface KubeletPlugin {
  readonly backend: FakeGpuBackend;
  readonly state: DeviceState;
  readonly servers: PluginServers;
  readonly metricsPort: number | undefined;
  readonly livenessPort: number | undefined;
  close(): Promise<void>;
}

/** Reads the fake backend's configuration from the file (if given) or the compact flag. */
export function loadFakeBackendConfig(
  config: Pick<KubeletPluginConfig, 'fakeGpus' | 'fakeGpusConfig'>,
): FakeBackendConfig {
  if (config.fakeGpusConfig === '') return parseFakeBackendFlag(config.fakeGpus);
  let text: string;
  try {
    text = readFileSync(config.fakeGpusConfig, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`--fake-gpus-config: cannot read ${config.fakeGpusConfig}: ${reason}`);
  }
  return parseFakeBackendConfig(text, config.fakeGpusConfig);
}

/** Re-applies the fault list of the config file whenever it changes (profile changes need a restart). */
function watchFaults(path: string, backend: FakeGpuBackend, logger: Logger): () => void {
  if (path === '') return () => undefined;
  const listener = (): void => {
    try {
      const next = parseFakeBackendConfig(readFileSync(path, 'utf8'), path);
      if (next.profile !== backend.profileName) {
        logger.warn(
          { file: path, profile: next.profile },
          'Fake GPU profile changed; restart the plugin to apply it',
        );
      }
      backend.clearFaults();
      for (const fault of next.faults ?? []) backend.injectFault(fault);
      logger.info(
        { file: path, faults: next.faults?.length ?? 0 },
        'Applied fake GPU faults from config file',
      );
    } catch (error) {
      logger.error(
        { err: error, file: path },
        'Ignoring invalid fake GPU config; the previous faults stay in force',
      );
    }
  };
  watchFile(path, { interval: 1000 }, listener);
  return () => unwatchFile(path, listener);
}

async function withRetry<T>(
  what: string,
  logger: Logger,
  signal: AbortSignal,
  run: () => Promise<T>,
): Promise<T> {
  let delay = 250;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      signal.throwIfAborted();
      logger.warn({ err: error, retryInMs: delay }, `${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      signal.throwIfAborted();
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

export async function startKubeletPlugin(
  config: KubeletPluginConfig,
  logger: Logger,
  metrics: DriverMetrics,
): Promise<KubeletPlugin> {
  if (config.nodeName === '') throw new Error('--node-name (NODE_NAME) is required');
  const backend = new FakeGpuBackend(config.nodeName, loadFakeBackendConfig(config));
  const stopWatching = watchFaults(config.fakeGpusConfig, backend, logger);
  const kube = KubeClient.fromOptions({
    kubeconfig: config.kubeconfig,
    userAgent: `phalanx-plugin/${config.nodeName}`,
  });
  const paths = pluginSocketPaths({
    kubeletRoot: config.kubeletRoot,
    driverName: DRIVER_NAME,
    podUid: config.podUid,
  });
  const dataDir =
    config.pluginDataDir === ''
      ? join(config.kubeletRoot, 'plugins', DRIVER_NAME)
      : config.pluginDataDir;
  const checkpoint = await Checkpoint.open({ dataDir, logger, metrics });
  const { state, report } = await DeviceState.open({
    driverName: DRIVER_NAME,
    nodeName: config.nodeName,
    backend,
    claims: new ApiClaimGetter(kube),
    cdi: new CdiSpecStore({ dir: config.cdiRoot }),
    checkpoint,
    logger,
    metrics,
    prepareTimeoutMs: config.prepareTimeoutMs,
  });
  logger.info(
    { ...report, prepared: state.preparedClaimUids().length },
    'Reconciled checkpoint, CDI specs and GPUs',
  );

  let publisher: SlicePublisher | undefined;
  const withPartitions = (): boolean => (publisher?.layout ?? 'split') !== 'whole-gpus';
  const servers = await startPluginServers({
    driverName: DRIVER_NAME,
    paths,
    handler: state,
    health: new BackendHealthSource(backend, withPartitions),
    metrics,
    logger,
    // The kubelet wipes this node's slices when it (re)starts; republish right after it registers us.
    onRegistrationStatus: (status) => {
      if (status.registered) publisher?.trigger();
    },
  });
  logger.info(
    { registration: servers.registrationSocket, endpoint: servers.draSocket },
    'Serving kubelet plugin sockets',
  );

  const abort = new AbortController();
  const publisherReady = (async (): Promise<SlicePublisher> => {
    const version = await withRetry('Reading the API server version', logger, abort.signal, () =>
      kube.serverVersion(abort.signal),
    );
    const node = await withRetry(`Reading Node ${config.nodeName}`, logger, abort.signal, () =>
      getNode(kube, config.nodeName, abort.signal),
    );
    const layout =
      config.sliceLayout === 'auto'
        ? layoutForServerVersion(version.major, version.minor)
        : config.sliceLayout;
    logger.info(
      { server: version.gitVersion, layout },
      'Chose ResourceSlice layout for the API server version',
    );
    const started = new SlicePublisher({
      driverName: DRIVER_NAME,
      nodeName: config.nodeName,
      nodeUid: node.uid,
      serverMinor: version.minor,
      layout,
      store: new ApiSliceStore(kube),
      backend,
      metrics,
      logger,
      taintUnhealthy: config.deviceTaints,
      resyncIntervalMs: config.resyncIntervalMs,
    });
    publisher = started;
    started.start();
    return started;
  })();
  publisherReady.catch((error: unknown) => {
    if (!abort.signal.aborted)
      logger.error({ err: error }, 'ResourceSlice publisher could not start');
  });

  let liveness: LivenessServer | undefined;
  if (config.healthcheckAddress !== '') {
    const address = parseListenAddress(config.healthcheckAddress, 'healthcheck-address');
    liveness = await startLivenessServer({
      port: address.port,
      host: address.host === '' ? '0.0.0.0' : address.host,
      checks: pluginLivenessChecks(servers, DRIVER_NAME),
      logger,
    });
  }
  let metricsServer: MetricsServer | undefined;
  if (config.metricsAddress !== '') {
    metricsServer = await startMetricsServer(
      metrics.registry,
      parseListenAddress(config.metricsAddress, 'metrics-address'),
    );
  }

  return {
    backend,
    state,
    servers,
    metricsPort: metricsServer?.port,
    livenessPort: liveness?.port,
    async close(): Promise<void> {
      abort.abort();
      stopWatching();
      // Sockets go first: the kubelet sees the plugin leave before anything else stops.
      await servers.close();
      await publisher?.stop();
      await liveness?.close();
      await metricsServer?.close();
    },
  };
}
