/**
 * Whole-gang placement on the real control plane: `phalanx scheduler` runs as a child process
 * (the planner plus the extender kube-scheduler calls), gang pods are created behind the Phalanx
 * scheduling gate (as the admission webhook would), and the real kube-scheduler, DRA allocator and
 * kubelets do the rest.
 *
 * Gangs here are 8 pods of one GPU each that must share one node (`topology-required: node`), so
 * only node-a (8 GPUs) can hold one, and two gangs compete for room for one.
 *
 * "Partially bound" means: a gang with a bound pod while some member has no plan, or a bound pod
 * off its planned node. kube-scheduler binds one pod at a time, so a gang being bound is briefly
 * 3/8 bound; that is not a partial gang as long as every member already carries the plan.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceClaim } from '../../src/api/resource/v1.ts';
import {
  ANNOTATION_PLAN,
  ANNOTATION_TOPOLOGY_REQUIRED,
  ANNOTATION_WAITING_REASON,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  SCHEDULING_GATE,
} from '../../src/api/scheduling/labels.ts';
import { KubeApiError } from '../../src/kube/rest.ts';
import { pinPatch } from '../../src/kube/writes.ts';
import { encodePlan, isGated, planOf } from '../../src/scheduling/workload.ts';
import { dumpOnFailure, ensureCluster, metricValue, waitFor } from '../helpers/cluster.ts';
import { PeriodicSampler } from '../helpers/sampler.ts';
import {
  bound,
  listPods,
  gangMembers as members,
  type GangPod as Pod,
  SCHEDULER_PROCESS,
  schedulerMetrics,
  startScheduler,
  waitLeading,
} from '../helpers/scheduler-process.ts';
import { freePort, serviceAccountKubeconfig } from '../helpers/service-account.ts';

const planOfPod = planOf;
const gated = isGated;
const pods = (): Promise<Pod[]> => listPods(c, NS);

const c = await ensureCluster();
const NS = 'gangs';
const SIZE = 8;
const PROCESS = SCHEDULER_PROCESS;
const QUEUE = 'gangs-idle';
const POD_IMAGE = 'registry.phalanx.test/pause:1';
const extender = c.state.extender;
const runnable = c.local && extender !== undefined;
if (runnable) dumpOnFailure(c, NS);

function gangPod(gang: string, i: number, extra: { affinity?: unknown } = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${gang}-${i}`,
      namespace: NS,
      labels: { [LABEL_GANG]: gang, [LABEL_GANG_SIZE]: String(SIZE) },
      annotations: { [ANNOTATION_TOPOLOGY_REQUIRED]: 'node' },
    },
    spec: {
      schedulingGates: [{ name: SCHEDULING_GATE }],
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      ...extra,
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }],
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

function createGangs(...gangs: string[]): void {
  const pods: object[] = [];
  // Interleaved, so neither gang is complete long before the other.
  for (let i = 0; i < SIZE; i++) for (const g of gangs) pods.push(gangPod(g, i));
  c.kubectl(['create', '-f', '-'], pods.map((p) => JSON.stringify(p)).join('\n'));
}

/** Why this sample shows a partial or misplaced gang, or undefined when it does not. */
function partialGang(all: readonly Pod[]): string | undefined {
  const gangs = new Set(all.map((p) => p.metadata.labels?.[LABEL_GANG] ?? ''));
  for (const gang of gangs) {
    const m = members(all, gang);
    const boundPods = m.filter(bound);
    if (boundPods.length === 0) continue;
    const unplanned = m.filter((p) => planOfPod(p) === undefined);
    if (unplanned.length > 0) {
      return `gang ${gang}: ${boundPods.length} bound while ${unplanned.map((p) => p.metadata.name).join(', ')} have no plan`;
    }
    const ids = new Set(m.map((p) => planOfPod(p)?.plan));
    if (ids.size > 1) return `gang ${gang}: members carry ${ids.size} different plans`;
    const off = boundPods.find((p) => planOfPod(p)?.node !== p.spec.nodeName);
    if (off !== undefined) {
      return `pod ${off.metadata.name} bound to ${off.spec.nodeName} but planned on ${planOfPod(off)?.node}`;
    }
  }
  return undefined;
}

/** Samples the namespace every 200 ms, recording partial gangs and every plan id a pod ever had. */
class Sampler extends PeriodicSampler {
  readonly partial: string[] = [];
  /** pod name → plan ids seen, in order. */
  readonly plans = new Map<string, string[]>();
  /** Pods seen ungated with a plan whose plan id later changed. */
  readonly rewritten: string[] = [];
  readonly #committed = new Map<string, string>();
  protected async sample(): Promise<void> {
    const all = await pods();
    const why = partialGang(all);
    if (why !== undefined) this.partial.push(why);
    for (const p of all) {
      const id = planOfPod(p)?.plan;
      if (id === undefined) continue;
      const seen = this.plans.get(p.metadata.name) ?? [];
      if (seen.at(-1) !== id) seen.push(id);
      this.plans.set(p.metadata.name, seen);
      const committed = this.#committed.get(p.metadata.uid);
      if (committed !== undefined && committed !== id) {
        this.rewritten.push(`${p.metadata.name}: ${committed} → ${id}`);
      }
      if (!gated(p)) this.#committed.set(p.metadata.uid, id);
    }
  }
}

let kubeconfig = '';

async function gpuClaimsOn(node: string): Promise<number> {
  const list = await c.kube.request<{ items: ResourceClaim[] }>(
    'GET',
    '/apis/resource.k8s.io/v1/resourceclaims',
  );
  return list.items.filter((claim) =>
    (claim.status?.allocation?.devices?.results ?? []).some((r) => r.pool === node),
  ).length;
}

async function deleteGang(gang: string): Promise<void> {
  c.kubectl([
    'delete',
    'pods',
    '-n',
    NS,
    '-l',
    `${LABEL_GANG}=${gang}`,
    '--grace-period=0',
    '--wait=false',
  ]);
  await waitFor(
    `pods of gang ${gang} gone`,
    // Gone for good, not just terminating: a terminating pod still carries its plan.
    async () => (await pods()).every((p) => p.metadata.labels?.[LABEL_GANG] !== gang),
    60_000,
    250,
  );
}

/** Every member bound, to one node; returns that node. */
async function waitBound(gang: string, timeoutMs = 90_000): Promise<string> {
  let node = '';
  await waitFor(
    `all ${SIZE} pods of gang ${gang} bound`,
    async () => {
      const m = members(await pods(), gang);
      node = m[0]?.spec.nodeName ?? '';
      return m.length === SIZE && m.every(bound);
    },
    timeoutMs,
    250,
  );
  return node;
}

describe.runIf(runnable)('gangs through phalanx scheduler on a real cluster', () => {
  const sampler = new Sampler();
  let metricsPort = 0;
  const SXM = c.role('sxm');

  beforeAll(async () => {
    metricsPort = await freePort();
    c.kubectl(
      ['apply', '--server-side', '-f', '-'],
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
        {
          apiVersion: 'resource.k8s.io/v1',
          kind: 'ResourceClaimTemplate',
          metadata: { name: 'one-gpu', namespace: NS },
          spec: {
            spec: {
              devices: {
                requests: [
                  { name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev', count: 1 } },
                ],
              },
            },
          },
        },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    c.kubectl(['delete', 'pods', '-n', NS, '--all', '--grace-period=0', '--wait=true']);
    c.kubectl(['delete', 'queues.scheduling.phalanx.dev', QUEUE, '--ignore-not-found']);
    c.kubectl(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: QUEUE },
        spec: {},
      }),
    );
    // Pods of earlier test files may still be releasing node-a's GPUs.
    await waitFor(
      `no GPU claims left on ${SXM}`,
      async () => (await gpuClaimsOn(SXM)) === 0,
      90_000,
      500,
    );
    kubeconfig = serviceAccountKubeconfig(c, '60-scheduler.yaml', 'phalanx-scheduler');
    startScheduler(c, kubeconfig, metricsPort);
    await waitLeading(c, metricsPort);
    sampler.start();
  });

  afterAll(async () => {
    sampler.stop();
    await c.supervisor.stop(PROCESS);
    c.kubectl(['delete', 'pods', '-n', NS, '--all', '--grace-period=0', '--wait=false']);
    c.kubectl(['delete', 'queues.scheduling.phalanx.dev', QUEUE, '--ignore-not-found']);
  });

  it('binds one of two competing 8-pod gangs whole, keeps the other whole behind its gate, then binds it when room frees', async () => {
    const mark = sampler.partial.length;
    const started = Date.now();
    createGangs('train-a', 'train-b');
    let winner = '';
    await waitFor(
      'one gang fully bound',
      async () => {
        const all = await pods();
        winner =
          ['train-a', 'train-b'].find((g) => members(all, g).filter(bound).length === SIZE) ?? '';
        return winner !== '';
      },
      90_000,
      250,
    );
    const boundAfter = (Date.now() - started) / 1000;
    const loser = winner === 'train-a' ? 'train-b' : 'train-a';
    // A few more rounds: the loser must stay wholly gated, with the reason on every pod.
    await sleep(3000);
    let all = await pods();
    expect(members(all, winner).every((p) => p.spec.nodeName === SXM)).toBe(true);
    const waiting = members(all, loser);
    expect(waiting).toHaveLength(SIZE);
    expect(waiting.every((p) => gated(p) && !bound(p) && planOfPod(p) === undefined)).toBe(true);
    const reasons = new Set(
      waiting.map((p) => p.metadata.annotations?.[ANNOTATION_WAITING_REASON]),
    );
    expect(reasons.size).toBe(1);
    expect([...reasons][0]).toMatch(new RegExp(`gang ${NS}/${loser}`));
    await deleteGang(winner);
    const freed = Date.now();
    expect(await waitBound(loser)).toBe(SXM);
    const secondAfter = (Date.now() - freed) / 1000;
    all = await pods();
    expect(members(all, loser).every((p) => p.spec.nodeName === SXM)).toBe(true);
    const metrics = await schedulerMetrics(metricsPort);
    process.stdout.write(
      `gangs (a): ${winner} bound in ${boundAfter.toFixed(1)} s, ${loser} bound ${secondAfter.toFixed(1)} s after room freed; ` +
        `${sampler.samples} samples, ${sampler.partial.length - mark} partial; plans_total ${metricValue(metrics, 'phalanx_planner_plans_total')}\n`,
    );
    expect(sampler.partial.slice(mark)).toEqual([]);
    expect(metricValue(metrics, 'phalanx_planner_plans_total')).toBeGreaterThanOrEqual(2);
    // Queue status goes through the status subresource (as the service account).
    const queue = JSON.parse(
      c.kubectl(['get', 'queues.scheduling.phalanx.dev', QUEUE, '-o', 'json']),
    ) as { status?: Record<string, unknown> };
    expect(Object.keys(queue.status ?? {}).length).toBeGreaterThan(0);
  });

  /**
   * After a restart: the winner bound whole on node-a under one plan id, plans committed (pinned)
   * before the restart kept, and the loser never planned nor bound.
   */
  async function expectOneAdmission(
    winner: string,
    loser: string,
    committed: ReadonlyMap<string, string>,
  ): Promise<number> {
    expect(await waitBound(winner)).toBe(SXM);
    await sleep(2000);
    const all = await pods();
    const plans = new Set(members(all, winner).map((p) => planOfPod(p)?.plan));
    for (const p of members(all, winner)) {
      const earlier = committed.get(p.metadata.name);
      if (earlier !== undefined)
        expect.soft(planOfPod(p)?.plan, `plan of ${p.metadata.name}`).toBe(earlier);
    }
    expect.soft([...plans], `plan ids of gang ${winner}`).toHaveLength(1);
    expect.soft(sampler.rewritten, 'committed plans rewritten').toEqual([]);
    const loserPlans = [...sampler.plans.keys()].filter((name) => name.startsWith(`${loser}-`));
    expect.soft(loserPlans, `pods of ${loser} ever planned`).toEqual([]);
    expect(members(all, loser).every((p) => gated(p) && !bound(p))).toBe(true);
    return plans.size;
  }

  async function freshStart(...gangs: string[]): Promise<number> {
    for (const g of gangs) await deleteGang(g);
    await waitFor(`${SXM} free again`, async () => (await gpuClaimsOn(SXM)) === 0, 60_000, 250);
    await c.supervisor.stop(PROCESS);
    return sampler.partial.length;
  }

  it('admits no gang twice and loses no plan when the planner is killed mid-round', async () => {
    const mark = await freshStart('train-a', 'train-b');
    createGangs('train-c', 'train-d');
    startScheduler(c, kubeconfig, metricsPort);
    // Kill it as soon as the first plan annotation lands, before the round's pins are all done.
    let atKill = { annotated: 0, pinned: 0 };
    await waitFor(
      'the first plan annotation',
      async () => {
        // Only the new gangs: pods of the deleted ones may still be terminating, plans and all.
        const all = [...members(await pods(), 'train-c'), ...members(await pods(), 'train-d')];
        const annotated = all.filter((p) => planOfPod(p) !== undefined);
        if (annotated.length === 0) return false;
        await c.supervisor.stop(PROCESS, 'SIGKILL');
        atKill = { annotated: annotated.length, pinned: annotated.filter((p) => !gated(p)).length };
        return true;
      },
      60_000,
      20,
    );
    const listed = await pods();
    const after = [...members(listed, 'train-c'), ...members(listed, 'train-d')];
    const committed = new Map(
      after.filter((p) => !gated(p)).map((p) => [p.metadata.name, planOfPod(p)?.plan ?? '']),
    );
    const winner =
      after.find((p) => planOfPod(p) !== undefined)?.metadata.labels?.[LABEL_GANG] ?? '';
    const loser = winner === 'train-c' ? 'train-d' : 'train-c';
    const killedAt = Date.now();
    startScheduler(c, kubeconfig, metricsPort);
    await waitLeading(c, metricsPort);
    const plans = await expectOneAdmission(winner, loser, committed);
    process.stdout.write(
      `gangs (b): killed with ${after.filter((p) => planOfPod(p) !== undefined).length}/${2 * SIZE} pods annotated ` +
        `(${atKill.annotated} seen before the kill) and ${atKill.pinned} pinned; ${winner} bound ` +
        `${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (lease takeover included) under ${plans} plan id(s)\n`,
    );
    expect([...new Set(sampler.partial.slice(mark))]).toEqual([]);
  });

  it('completes or redoes a plan a crashed planner left half written, never splitting the gang', async () => {
    const mark = await freshStart('train-c', 'train-d');
    createGangs('train-f', 'train-g');
    // What a planner killed mid-round leaves: 3 of 8 members carry the plan, all still gated.
    const expires = new Date(Date.now() + 300_000).toISOString();
    const record = encodePlan({
      gang: `${NS}/train-f`,
      plan: 'train-f-crashed',
      node: SXM,
      level: 'node',
      domain: SXM,
      expires,
    });
    for (const i of [0, 1, 2]) {
      c.kubectl(['annotate', 'pod', '-n', NS, `train-f-${i}`, `${ANNOTATION_PLAN}=${record}`]);
    }
    startScheduler(c, kubeconfig, metricsPort);
    await waitLeading(c, metricsPort);
    const plans = await expectOneAdmission('train-f', 'train-g', new Map());
    process.stdout.write(`gangs (b, half-written plan): train-f bound under ${plans} plan id(s)\n`);
    expect([...new Set(sampler.partial.slice(mark))]).toEqual([]);
  });

  it('keeps gated pods gated and misplaces none while the scheduler process is down', async () => {
    const mark = await freshStart('train-f', 'train-g');
    createGangs('train-e');
    await sleep(6000);
    const all = await pods();
    const e = members(all, 'train-e');
    expect(e).toHaveLength(SIZE);
    expect(e.every((p) => gated(p) && !bound(p) && planOfPod(p) === undefined)).toBe(true);
    for (const p of all.filter(bound)) expect(p.spec.nodeName).toBe(planOfPod(p)?.node);
    expect(sampler.partial.slice(mark)).toEqual([]);
  });

  it('pins a gated pod by ANDing its node into every existing required term (API server rule)', async () => {
    const terms = [
      { matchExpressions: [{ key: 'phalanx.dev/gpu-node', operator: 'In', values: ['true'] }] },
      { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'Exists' }] },
    ];
    const pod = gangPod('affinity', 0, {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
        },
      },
    }) as { spec: { schedulingGates: unknown[] } };
    pod.spec.schedulingGates = [{ name: SCHEDULING_GATE }, { name: 'example.com/other' }];
    c.kubectl(['create', '-f', '-'], JSON.stringify(pod));
    const path = `/api/v1/namespaces/${NS}/pods/affinity-0`;
    const jsonPatch = (body: unknown) =>
      c.kube.request<Pod>('PATCH', path, { contentType: 'application/json-patch+json', body });
    // kube-scheduler records the SchedulingGated condition right after creation; let it land.
    await waitFor(
      'the SchedulingGated condition',
      async () =>
        JSON.stringify(await c.kube.request<Pod>('GET', path)).includes('SchedulingGated'),
      10_000,
      100,
    );
    const created = await c.kube.request<Pod>('GET', path);
    // A stale resourceVersion fails the guard.
    const stale = { ...created, metadata: { ...created.metadata, resourceVersion: '1' } };
    const guard = await jsonPatch(pinPatch(stale as never, SXM)).then(
      () => undefined,
      (error: unknown) => error as KubeApiError,
    );
    expect(guard).toBeInstanceOf(KubeApiError);
    expect(guard?.status).toBe(422);
    // The pod's status may still change (scheduler conditions): pin the version read last, as
    // the writer does on its next round after a conflict.
    let pinned: Pod | undefined;
    await waitFor(
      'the pin to apply to the current resourceVersion',
      async () => {
        const current = await c.kube.request<Pod>('GET', path);
        pinned = await jsonPatch(pinPatch(current as never, SXM)).catch((error: unknown) => {
          if (error instanceof KubeApiError && error.status === 422) return undefined;
          throw error;
        });
        return pinned !== undefined;
      },
      10_000,
      200,
    );
    if (pinned === undefined) throw new Error('pin never applied');
    expect(pinned.spec.schedulingGates).toEqual([{ name: 'example.com/other' }]);
    expect(pinned.spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((t) => ({
            ...t,
            matchFields: [{ key: 'metadata.name', operator: 'In', values: [SXM] }],
          })),
        },
      },
    });
    // Loosening is refused while the pod is still gated: replacing the terms by one.
    const loosen = await jsonPatch([
      {
        op: 'replace',
        path: '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms',
        value: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [SXM] }] }],
      },
    ]).then(
      () => 'allowed',
      (error: unknown) => String(error),
    );
    expect(loosen).toMatch(/422/);
    process.stdout.write(
      `gangs (affinity): stale guard → ${guard?.message}\nloosening → ${loosen}\n`,
    );
    c.kubectl(['delete', 'pod', '-n', NS, 'affinity-0', '--grace-period=0', '--wait=false']);
  });
});
