/**
 * `phalanx webhook`: the admission webhook over HTTPS. Pods of gangs and queues get the planner's
 * scheduling gate; Queues and gpu.phalanx.dev configs are validated. Namespace labels (default
 * queues) come from a namespace informer. Flags → config → start → close on SIGTERM/SIGINT.
 */
import closeWithGrace from 'close-with-grace';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseCommandLine, usage } from '../config/flags.ts';
import { excludedNamespaces, WEBHOOK_FLAGS } from '../config/webhook.ts';
import { ApiListWatch, Informer, type KubeObject, RESOURCES } from '../kube/informer.ts';
import { KubeClient } from '../kube/rest.ts';
import { createLogger } from '../observability/logger.ts';
import { METRIC_PREFIX } from '../observability/metrics.ts';
import { parseListenAddress, startMetricsServer } from '../observability/metrics-server.ts';
import { WebhookMetrics } from '../webhook/metrics.ts';
import type { NamespaceLabels } from '../webhook/pods.ts';
import { startWebhookServer } from '../webhook/server.ts';

interface NamespaceObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { labels?: Record<string, string> };
}

/** Namespace labels from the informer's cache. */
export function informerNamespaces(informer: Informer<NamespaceObject>): NamespaceLabels {
  return {
    labelsOf: (namespace) => informer.get(namespace)?.metadata?.labels,
    ready: () => informer.hasSynced(),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values: flags, help } = parseCommandLine('webhook', WEBHOOK_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(
      usage(
        'webhook',
        'Run the admission webhook: scheduling gates for gang and queue pods, Queue and GPU config validation.',
        WEBHOOK_FLAGS,
      ),
    );
    return 0;
  }
  const listen = parseListenAddress(flags.address, 'address');
  const metricsListen =
    flags['metrics-address'] === ''
      ? undefined
      : parseListenAddress(flags['metrics-address'], 'metrics-address');
  const logger = createLogger({ component: 'webhook', verbosity: flags.v });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const client = KubeClient.fromOptions({
    kubeconfig: flags.kubeconfig,
    userAgent: 'phalanx-webhook',
  });
  const namespaces = new Informer<KubeObject>(new ApiListWatch(client, RESOURCES.namespaces), {
    logger,
  });
  namespaces.start();
  const server = await startWebhookServer({
    app: {
      namespaces: informerNamespaces(namespaces),
      logger,
      metrics: new WebhookMetrics(registry),
      excludedNamespaces: excludedNamespaces(flags['excluded-namespaces']),
    },
    certFile: flags['tls-cert-file'],
    keyFile: flags['tls-key-file'],
    host: listen.host,
    port: listen.port,
  }).catch(async (error: unknown) => {
    await namespaces.stop();
    throw error;
  });
  const metrics =
    metricsListen === undefined ? undefined : await startMetricsServer(registry, metricsListen);
  logger.info({ port: server.port }, 'webhook listening; loading namespaces');
  const timeout = setTimeout(() => {
    if (!namespaces.hasSynced()) logger.warn('namespace cache not synced yet; /readyz answers 503');
  }, flags['sync-timeout'] * 1000);
  timeout.unref();
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'Stopping after an unexpected error');
    else logger.info({ signal }, 'Stopping');
    await server.close();
    await metrics?.close();
    await namespaces.stop();
  });
  return 0;
}
