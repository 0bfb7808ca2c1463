/**
 * `phalanx scheduler` as a child process of the integration tests, and the pod views the gang
 * tests share. Plan records and gates are read with the product's own readers (workload.ts).
 */
import { LABEL_GANG } from '../../src/api/scheduling/labels.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { metricValue, type TestCluster } from './cluster.ts';

export const SCHEDULER_PROCESS = 'phalanx-scheduler';

/** The fields of a v1.Pod the gang tests read. */
export interface GangPod {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; schedulingGates?: { name: string }[]; affinity?: unknown };
  status: { phase?: string };
}

export const bound = (p: GangPod): boolean => (p.spec.nodeName ?? '') !== '';

export async function listPods(c: TestCluster, namespace: string): Promise<GangPod[]> {
  const list = await c.kube.request<{ items: GangPod[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/pods`,
  );
  return list.items;
}

/** The gang's pods that are not terminating. */
export function gangMembers(all: readonly GangPod[], gang: string): GangPod[] {
  return all.filter(
    (p) => p.metadata.labels?.[LABEL_GANG] === gang && !p.metadata.deletionTimestamp,
  );
}

/** Starts `phalanx scheduler` against the harness's extender entry (no-op without one). */
export function startScheduler(c: TestCluster, kubeconfig: string, metricsPort: number): void {
  const extender = c.state.extender;
  if (extender === undefined) return;
  c.supervisor.start({
    name: SCHEDULER_PROCESS,
    command: `${REPO_ROOT}/node_modules/.bin/node`,
    args: [
      `${REPO_ROOT}/src/cmd/phalanx.ts`,
      'scheduler',
      `--kubeconfig=${kubeconfig}`,
      `--extender-address=127.0.0.1:${extender.port}`,
      `--url-prefix=${extender.pathPrefix}`,
      `--metrics-address=127.0.0.1:${metricsPort}`,
      '--v=4',
    ],
  });
}

export async function schedulerMetrics(metricsPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}

/** Waits until the process leads the planner and its extender answers ready. */
export async function waitLeading(c: TestCluster, metricsPort: number): Promise<void> {
  await c.supervisor.waitWhileAlive(
    SCHEDULER_PROCESS,
    'phalanx scheduler leading and its extender ready',
    async () => {
      const ready = await fetch(`http://127.0.0.1:${c.state.extender?.port ?? 0}/readyz`);
      const metrics = await schedulerMetrics(metricsPort);
      return ready.ok && metricValue(metrics, 'phalanx_planner_leader') === 1;
    },
    60_000,
    250,
  );
}
