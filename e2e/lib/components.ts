/**
 * Where the e2e suite's Phalanx scheduler side and admission webhook come from — the one switch:
 *
 * - local harness (CI): `phalanx scheduler` and `phalanx webhook` are started here as processes,
 *   each as the service account of its deploy manifest, the scheduler behind the extender entry
 *   the harness gave kube-scheduler, the webhook registered for the example namespaces only;
 *   `stop()` takes the processes
 *   and the webhook registration down again.
 * - a cluster given by PHALANX_KUBECONFIG (kind): the chart's Deployments serve both; they must
 *   roll out, and nothing is started or stopped. PHALANX_NAMESPACE (default phalanx-system),
 *   PHALANX_SCHEDULER_DEPLOYMENT and PHALANX_WEBHOOK_DEPLOYMENT name them if the release differs.
 */
import type { TestCluster } from '../../test/helpers/cluster.ts';
import {
  SCHEDULER_PROCESS,
  startScheduler,
  waitLeading,
} from '../../test/helpers/scheduler-process.ts';
import { freePort, serviceAccountKubeconfig } from '../../test/helpers/service-account.ts';
import { startWebhook, type WebhookProcess, type WebhookScope } from './webhook-process.ts';

export type ComponentSource = 'local processes' | 'installed chart';

export interface Components {
  readonly source: ComponentSource;
  stop(): Promise<void>;
}

function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** The chart's Deployments, which must have rolled out. */
function installedChart(c: TestCluster): Components {
  const namespace = env('PHALANX_NAMESPACE', 'phalanx-system');
  for (const name of [
    env('PHALANX_SCHEDULER_DEPLOYMENT', 'phalanx-scheduler'),
    env('PHALANX_WEBHOOK_DEPLOYMENT', 'phalanx-webhook'),
  ]) {
    c.kubectl(['rollout', 'status', `deployment/${name}`, '-n', namespace, '--timeout=180s']);
  }
  return { source: 'installed chart', stop: async () => undefined };
}

async function localProcesses(c: TestCluster, scope: WebhookScope): Promise<Components> {
  if (c.state.extender === undefined) {
    throw new Error(
      'the local cluster was started without the extender entry; run "make cluster-down" and let the suite start it again',
    );
  }
  const metricsPort = await freePort();
  const kubeconfig = serviceAccountKubeconfig(c, '60-scheduler.yaml', 'phalanx-scheduler');
  startScheduler(c, kubeconfig, metricsPort);
  let webhook: WebhookProcess | undefined;
  try {
    webhook = await startWebhook(c, scope);
    await waitLeading(c, metricsPort);
    const started = webhook;
    return {
      source: 'local processes',
      stop: async () => {
        await started.stop();
        await c.supervisor.stop(SCHEDULER_PROCESS);
      },
    };
  } catch (error) {
    await webhook?.stop();
    await c.supervisor.stop(SCHEDULER_PROCESS);
    throw error;
  }
}

/** Makes the scheduler side and the webhook available for the examples; see the file comment. */
export async function startComponents(c: TestCluster, scope: WebhookScope): Promise<Components> {
  return c.local ? localProcesses(c, scope) : installedChart(c);
}
