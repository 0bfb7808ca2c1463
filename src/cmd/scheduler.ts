/**
 * `phalanx scheduler`: the scheduler extender (answers kube-scheduler on every replica) and the
 * gang planner (runs only on the replica holding the lease), over one set of API caches.
 * Flags → config → start → close on SIGTERM/SIGINT (lease released, so a successor plans at once).
 */
import closeWithGrace from 'close-with-grace';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseCommandLine, usage } from '../config/flags.ts';
import { loadTopologyLevels, SCHEDULER_FLAGS, type SchedulerFlags } from '../config/scheduler.ts';
import { CoreDecider } from '../extender/core-decider.ts';
import { ExtenderMetrics } from '../extender/metrics.ts';
import { startExtenderServer } from '../extender/server.ts';
import { ExtenderView } from '../kube/extender-view.ts';
import { ClusterInformers, discoverPodGroupResources } from '../kube/informer.ts';
import { ApiLeaseStore, defaultIdentity, LeaderElector } from '../kube/leader.ts';
import { KubeClient } from '../kube/rest.ts';
import { EventRecorder, RoundWriter, type WriteTargets } from '../kube/writes.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { METRIC_PREFIX } from '../observability/metrics.ts';
import { parseListenAddress, startMetricsServer } from '../observability/metrics-server.ts';
import { type BaseSettings, PlannerController, PlannerMetrics } from '../planner/controller.ts';
import * as extenderCore from '../scheduling/extender-decisions.ts';
import { planRound } from '../scheduling/planner.ts';

interface Closable {
  close(): Promise<void>;
}

function settingsOf(flags: SchedulerFlags): BaseSettings {
  const levels = loadTopologyLevels(flags['topology-levels']);
  const base: BaseSettings = { policy: flags.policy, planTtlSeconds: flags['plan-ttl'] };
  return levels === undefined ? base : { ...base, levels };
}

function tlsOf(flags: SchedulerFlags): { certFile: string; keyFile: string } | undefined {
  const certFile = flags['tls-cert-file'];
  const keyFile = flags['tls-key-file'];
  if (certFile === '' && keyFile === '') return undefined;
  if (certFile === '' || keyFile === '') {
    throw new Error('--tls-cert-file and --tls-key-file must be given together');
  }
  return { certFile, keyFile };
}

async function connect(flags: SchedulerFlags, logger: Logger) {
  const client = KubeClient.fromOptions({
    kubeconfig: flags.kubeconfig,
    userAgent: 'phalanx-scheduler',
  });
  let podGroups: Awaited<ReturnType<typeof discoverPodGroupResources>>;
  try {
    podGroups = await discoverPodGroupResources(client);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot read API discovery from ${client.server.origin} (${why}); check --kubeconfig`,
    );
  }
  logger.info(
    { podGroups: podGroups.map((r) => `${r.group}/${r.version}`) },
    podGroups.length === 0
      ? 'no PodGroup API served; gangs come from pod labels'
      : 'PodGroup APIs found',
  );
  return { client, informers: new ClusterInformers(client, { logger, podGroups }) };
}

function planner(
  client: KubeClient,
  informers: ClusterInformers,
  settings: BaseSettings,
  flags: SchedulerFlags,
  logger: Logger,
  metrics: PlannerMetrics,
): { controller: PlannerController; identity: string } {
  const identity = defaultIdentity();
  const targets: WriteTargets = {
    pod: (namespace, name) => informers.pods.get(`${namespace}/${name}`),
    podGroup: (namespace, name) => informers.podGroup(namespace, name),
    queue: (name) => informers.queues.get(name) as { status?: unknown } | undefined,
  };
  const writer = new RoundWriter({
    client,
    logger,
    targets,
    events: new EventRecorder({ client, logger, identity, targets }),
  });
  const controller = new PlannerController({
    snapshot: () => informers.snapshot(),
    plan: planRound,
    apply: (result) => writer.apply(result),
    podVersion: (key) => informers.pods.get(key)?.metadata?.resourceVersion,
    settings,
    metrics,
    logger,
    periodMs: flags['round-period'] * 1000,
  });
  informers.onChange(() => controller.notify());
  return { controller, identity };
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values: flags, help } = parseCommandLine('scheduler', SCHEDULER_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(
      usage(
        'scheduler',
        'Run the scheduler extender and the leader-elected gang planner.',
        SCHEDULER_FLAGS,
      ),
    );
    return 0;
  }
  const settings = settingsOf(flags);
  const tls = tlsOf(flags);
  const listen = parseListenAddress(flags['extender-address'], 'extender-address');
  const metricsListen =
    flags['metrics-address'] === ''
      ? undefined
      : parseListenAddress(flags['metrics-address'], 'metrics-address');
  const logger = createLogger({ component: 'scheduler', verbosity: flags.v });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const plannerMetrics = new PlannerMetrics(registry);
  const { client, informers } = await connect(flags, logger);
  const closables: Closable[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closables.reverse()) await c.close();
  };
  try {
    informers.start();
    closables.push({ close: () => informers.stop() });
    const view = new ExtenderView(informers, flags['extender-max-staleness']);
    closables.push({ close: async () => view.close() });
    const decider = new CoreDecider({
      core: extenderCore,
      objects: () => view.objects(),
      synced: () => informers.hasSynced(),
      settings,
    });
    const extender = await startExtenderServer({
      host: listen.host,
      port: listen.port,
      pathPrefix: flags['url-prefix'],
      decider,
      logger,
      metrics: new ExtenderMetrics(registry),
      ...(tls === undefined ? {} : { tls }),
    });
    closables.push(extender);
    if (metricsListen !== undefined)
      closables.push(await startMetricsServer(registry, metricsListen));
    logger.info({ url: extender.url }, 'extender listening; loading the cluster');
    await informers.waitForSync(flags['sync-timeout'] * 1000);
    const { controller, identity } = planner(
      client,
      informers,
      settings,
      flags,
      logger,
      plannerMetrics,
    );
    closables.push({ close: () => controller.stop() });
    if (flags['leader-elect']) {
      const elector = new LeaderElector({
        store: new ApiLeaseStore(
          client,
          flags['leader-elect-namespace'],
          flags['leader-elect-name'],
        ),
        identity,
        logger,
        onStartedLeading: () => controller.start(),
        onStoppedLeading: () => controller.stop(),
      });
      elector.start();
      closables.push({ close: () => elector.stop() });
    } else controller.start();
    logger.info({ identity, leaderElect: flags['leader-elect'] }, 'scheduler ready');
  } catch (error) {
    await closeAll();
    throw error;
  }
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'Stopping after an unexpected error');
    else logger.info({ signal }, 'Stopping');
    await closeAll();
  });
  return 0;
}
