/**
 * `kubectl-phalanx` on the real control plane: `phalanx scheduler` plans two gangs (one that fits
 * and one that can never fit: 2 pods of 8 GPUs on one node, within its queue's quota), and the plugin runs as its real
 * executable with the cluster's kubeconfig. `explain` must show the plan (node, domain) of a
 * placed pod and the planner's reason plus the extender's verdict for a waiting one; `nodes`,
 * `gangs` and `queues` must show the expected rows, and `-o json` must parse.
 *
 * The outputs are printed, so a run also yields the samples in docs/kubectl-phalanx.md.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_TOPOLOGY_REQUIRED,
  ANNOTATION_WAITING_REASON,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  SCHEDULING_GATE,
} from '../../src/api/scheduling/labels.ts';
import type { ExplainReport } from '../../src/kubectl/explain.ts';
import type { GangRow } from '../../src/kubectl/gangs.ts';
import type { NodesReport } from '../../src/kubectl/nodes.ts';
import type { QueueRow } from '../../src/kubectl/queues.ts';
import { isGated, planOf } from '../../src/scheduling/workload.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { dumpOnFailure, ensureCluster, waitFor } from '../helpers/cluster.ts';
import {
  bound,
  type GangPod,
  gangMembers,
  listPods,
  SCHEDULER_PROCESS,
  startScheduler,
  waitLeading,
} from '../helpers/scheduler-process.ts';
import { freePort, serviceAccountKubeconfig } from '../helpers/service-account.ts';

const c = await ensureCluster();
const NS = 'kubectl-phalanx';
const QUEUE = 'kubectl-phalanx';
const POD_IMAGE = 'registry.phalanx.test/pause:1';
const BIN = join(REPO_ROOT, 'src', 'cmd', 'kubectl-phalanx.ts');
const runnable = c.local && c.state.extender !== undefined;
if (runnable) dumpOnFailure(c, NS);

/** Runs the real executable with the cluster's kubeconfig in KUBECONFIG; prints what it printed. */
function plugin(...args: string[]): string {
  const env = {
    ...process.env,
    PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    KUBECONFIG: c.state.kubeconfig,
  };
  const out = execFileSync(BIN, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stdout.write(`$ kubectl phalanx ${args.join(' ')}\n${out}\n`);
  return out;
}

function gangPod(gang: string, i: number, template: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${gang}-${i}`,
      namespace: NS,
      labels: { [LABEL_GANG]: gang, [LABEL_GANG_SIZE]: '2', [LABEL_QUEUE]: QUEUE },
      annotations: { [ANNOTATION_TOPOLOGY_REQUIRED]: 'node' },
    },
    spec: {
      schedulingGates: [{ name: SCHEDULING_GATE }],
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: template }],
      containers: [
        {
          name: 'worker',
          image: POD_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          resources: { claims: [{ name: 'gpu' }] },
        },
      ],
    },
  };
}

function template(name: string, count: number): object {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name, namespace: NS },
    spec: {
      spec: {
        devices: {
          requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev', count } }],
        },
      },
    },
  };
}

const apply = (objects: readonly object[]): string =>
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );

const pods = (): Promise<GangPod[]> => listPods(c, NS);

describe.runIf(runnable)('kubectl-phalanx against a real cluster', () => {
  let placed: GangPod | undefined;
  let waiting: GangPod | undefined;

  beforeAll(async () => {
    apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      template('one-gpu', 1),
      template('eight-gpu', 8),
      {
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: QUEUE },
        spec: { weight: 1, quotas: [{ resource: 'gpu.phalanx.dev', nominal: 32 }] },
      },
    ]);
    c.kubectl(['delete', 'pods', '-n', NS, '--all', '--grace-period=0', '--wait=true']);
    const kubeconfig = serviceAccountKubeconfig(c, '60-scheduler.yaml', 'phalanx-scheduler');
    const metricsPort = await freePort();
    startScheduler(c, kubeconfig, metricsPort);
    await waitLeading(c, metricsPort);
    c.kubectl(
      ['create', '-f', '-'],
      [0, 1].map((i) => JSON.stringify(gangPod('fits', i, 'one-gpu'))).join('\n'),
    );
    await waitFor(
      'both pods of gang fits bound',
      async () => gangMembers(await pods(), 'fits').filter(bound).length === 2,
      90_000,
      250,
    );
    c.kubectl(
      ['create', '-f', '-'],
      [0, 1].map((i) => JSON.stringify(gangPod('waits', i, 'eight-gpu'))).join('\n'),
    );
    await waitFor(
      "the planner's waiting reason on gang waits",
      async () =>
        gangMembers(await pods(), 'waits').every(
          (p) => isGated(p) && (p.metadata.annotations?.[ANNOTATION_WAITING_REASON] ?? '') !== '',
        ),
      60_000,
      250,
    );
    const all = await pods();
    placed = gangMembers(all, 'fits')[0];
    waiting = gangMembers(all, 'waits')[0];
  });

  afterAll(async () => {
    await c.supervisor.stop(SCHEDULER_PROCESS);
    c.kubectl(['delete', 'pods', '-n', NS, '--all', '--grace-period=0', '--wait=false']);
    c.kubectl(['delete', 'queues.scheduling.phalanx.dev', QUEUE, '--ignore-not-found']);
  });

  it('explains a placed gang pod: its node and the plan that put it there', () => {
    const pod = placed;
    const plan = pod === undefined ? undefined : planOf(pod);
    if (pod === undefined || plan === undefined) throw new Error('gang fits has no planned pod');
    const node = pod.spec.nodeName ?? '';
    expect(plan.node).toBe(node);
    const text = plugin('explain', pod.metadata.name, '-n', NS);
    expect(text).toMatch(new RegExp(`^Node: +${node}$`, 'm'));
    expect(text).toContain(
      `pod ${NS}/${pod.metadata.name} is bound to ${node}, where gang ${NS}/fits planned it (plan ${plan.plan}, ${plan.level} ${plan.domain})`,
    );
    expect(text).toMatch(new RegExp(`^ +Domain: +${plan.level} ${plan.domain}$`, 'm'));
    expect(text).toMatch(new RegExp(`^ +gpu: ${node}/gpu-\\d+$`, 'm'));
    const json = JSON.parse(
      plugin(
        'explain',
        pod.metadata.name,
        '-n',
        NS,
        '-o',
        'json',
        '--kubeconfig',
        c.state.kubeconfig,
      ),
    ) as ExplainReport;
    expect(json).toMatchObject({ situation: 'Bound', node, plan: { plan: plan.plan, node } });
    expect(json.claims[0]?.devices[0]?.pool).toBe(node);
    // Only this pod's events, not those of an earlier pod of the same name (an earlier run).
    expect(json.events.filter((e) => e.reason === 'Scheduled')).toHaveLength(1);
  });

  it("explains a waiting gang pod: the planner's reason and the extender's verdict", () => {
    const pod = waiting;
    if (pod === undefined) throw new Error('gang waits has no pod');
    const reason = pod.metadata.annotations?.[ANNOTATION_WAITING_REASON] ?? '';
    expect(reason).toMatch(new RegExp(`gang ${NS}/waits`));
    // The sentence's tail ("best node … has room for N") follows capacity that other tests'
    // pods may still be releasing; its head is stable.
    const stable = `gang ${NS}/waits: no node has room for all 2 pods`;
    expect(reason.startsWith(stable)).toBe(true);
    const text = plugin('explain', pod.metadata.name, '-n', NS);
    expect(text).toContain(`waits behind gate ${SCHEDULING_GATE}: ${stable}`);
    expect(text).toContain(`Waiting reason:  ${stable}`);
    expect(text).toContain('Extender filter passes: no node');
    expect(text).toContain(
      `phalanx: pod of gang ${NS}/waits has no plan; it must be admitted by the planner`,
    );
    const json = JSON.parse(
      plugin('explain', pod.metadata.name, '-n', NS, '-o', 'json'),
    ) as ExplainReport;
    expect(json).toMatchObject({
      situation: 'Gated',
      waitingReason: reason,
      gates: [SCHEDULING_GATE],
    });
    expect(json.core.filter?.feasible).toEqual([]);
    expect(json.core.phase).toBe('Waiting');
  });

  it('lists both gangs with their state, planned domain and reason', () => {
    const text = plugin('gangs', '-n', NS);
    const node = placed?.spec.nodeName ?? '';
    expect(text).toMatch(
      new RegExp(`^fits +labels +2 +2 +0 +0 +${QUEUE} +Running +node ${node} `, 'm'),
    );
    expect(text).toMatch(new RegExp(`^waits +labels +2 +0 +2 +0 +${QUEUE} +Waiting +<none> `, 'm'));
    const { gangs } = JSON.parse(plugin('gangs', '-n', NS, '-o', 'json')) as { gangs: GangRow[] };
    expect(gangs.map((g) => [g.name, g.state])).toEqual([
      ['fits', 'Running'],
      ['waits', 'Waiting'],
    ]);
    expect(gangs[1]?.reason).toMatch(
      new RegExp(`^gang ${NS}/waits: no node has room for all 2 pods`),
    );
    expect(plugin('gangs', '-A')).toMatch(new RegExp(`^${NS} +fits `, 'm'));
  });

  it('lists the nodes with the gang on its node and the queue', () => {
    const node = placed?.spec.nodeName ?? '';
    const text = plugin('nodes');
    for (const name of c.state.nodes.map((n) => n.name))
      expect(text).toMatch(new RegExp(` ${name} `));
    const report = JSON.parse(plugin('nodes', '-o', 'json')) as NodesReport;
    const row = report.nodes.find((n) => n.name === node);
    expect(row?.wholeAllocated).toBeGreaterThanOrEqual(2);
    expect(row?.queues).toContain(QUEUE);
    expect(report.levels).toEqual(['zone', 'block', 'rack', 'nvlink']);
    expect(row?.topology.zone).toBe(c.node(node).labels?.['topology.kubernetes.io/zone']);
  });

  it("lists the queue with the admitted gang's usage and the pending gang", () => {
    const text = plugin('queues');
    expect(text).toMatch(
      new RegExp(
        `^${QUEUE} +<none> +0 +1 +gpu.phalanx.dev 2/32 +0 +[0-9.]+ +1 +1 +Active=True,`,
        'm',
      ),
    );
    const { queues } = JSON.parse(plugin('queues', '-o', 'json')) as { queues: QueueRow[] };
    const q = queues.find((r) => r.name === QUEUE);
    expect(q?.status).toMatchObject({ admittedGangs: 1, pendingGangs: 1, fairShare: 0.0625 });
    plugin('queues', '-o', 'wide');
  });
});
