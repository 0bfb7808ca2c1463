/**
 * Topology-aware and queue-aware gang admission on the real control plane: `phalanx scheduler`
 * runs as a child process as its service account (planner plus the extender kube-scheduler
 * calls), gang pods are created behind the Phalanx scheduling gate (as the admission webhook
 * would), and the real kube-scheduler and DRA allocator bind them.
 *
 * The GPUs are 8 API-only nodes (no kubelet) in zone `zone-topo`: 2 blocks × 2 racks × 2 nodes of
 * the fake `sxm8-80g` profile (8 GPUs each), with the ResourceSlices our plugin would publish for
 * them. Every pod here asks for 4 GPUs through one claim, selects only these nodes and tolerates
 * the not-ready/unreachable taints the node lifecycle controller gives kubelet-less nodes. Bound
 * pods stay in phase Pending (no kubelet runs them), so placement is asserted on binding.
 *
 * Capacity in pods of 4 GPUs: 2 per node, 4 per rack, 8 per block, 16 in all.
 *
 * A sampler watches the namespace throughout: no member of a gang may be bound while another has
 * no plan, nor bound off its planned node, nor bound to a node outside the API-only pool.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceClaim } from '../../src/api/resource/v1.ts';
import {
  ANNOTATION_TOPOLOGY_PREFERRED,
  ANNOTATION_TOPOLOGY_REQUIRED,
  ANNOTATION_WAITING_REASON,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  SCHEDULING_GATE,
} from '../../src/api/scheduling/labels.ts';
import { isGated, planOf } from '../../src/scheduling/workload.ts';
import { dumpOnFailure, ensureCluster, waitFor } from '../helpers/cluster.ts';
import { PeriodicSampler } from '../helpers/sampler.ts';
import {
  bound,
  listPods,
  gangMembers as members,
  type GangPod as Pod,
  SCHEDULER_PROCESS,
  startScheduler,
  waitLeading,
} from '../helpers/scheduler-process.ts';

import { freePort, serviceAccountKubeconfig } from '../helpers/service-account.ts';
import {
  API_ONLY_NODE_TOLERATIONS,
  createApiOnlyNodes,
  deleteApiOnlyNodes,
  placeOf,
  topologyNodes,
} from '../helpers/topology.ts';

const planOfPod = planOf;
const gated = isGated;
const pods = (): Promise<Pod[]> => listPods(c, NS);

const c = await ensureCluster();
const NS = 'topology-queues';
const PROCESS = SCHEDULER_PROCESS;
const POD_IMAGE = 'registry.phalanx.test/pause:1';
const POOL_LABEL = 'phalanx.dev/test-pool';
const POOL = 'topology-queues';
const NODES = topologyNodes(
  'topo',
  { blocks: 2, racksPerBlock: 2, nodesPerRack: 2 },
  { [POOL_LABEL]: POOL, 'topology.kubernetes.io/zone': 'zone-topo' },
);
const NODE_NAMES = new Set(NODES.map((n) => n.name));
const QUEUES = {
  solo: 'tq-solo',
  lend: 'tq-lend',
  borrow: 'tq-borrow',
} as const;
const COHORT = 'tq-cohort';
const GPU_CLASS = 'gpu.phalanx.dev';
const extender = c.state.extender;
const runnable = c.local && extender !== undefined;
if (runnable) dumpOnFailure(c, NS);

interface EventObject {
  reason?: string;
  note?: string;
  regarding?: { name?: string };
}

interface QueueStatusObject {
  usage?: { resource: string; admitted: number; borrowed: number }[];
  admittedGangs?: number;
  pendingGangs?: number;
  fairShare?: number;
  conditions?: {
    type: string;
    status: string;
    reason: string;
    message: string;
    lastTransitionTime?: string;
  }[];
}

const reasonOf = (p: Pod): string | undefined =>
  p.metadata.annotations?.[ANNOTATION_WAITING_REASON];

interface GangOptions {
  readonly annotations?: Record<string, string>;
  readonly queue?: string;
  /** ResourceClaimTemplate of each pod (default four-gpus). */
  readonly template?: string;
}

function gangPod(gang: string, i: number, size: number, o: GangOptions): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${gang}-${i}`,
      namespace: NS,
      labels: {
        [LABEL_GANG]: gang,
        [LABEL_GANG_SIZE]: String(size),
        ...(o.queue === undefined ? {} : { [LABEL_QUEUE]: o.queue }),
      },
      annotations: o.annotations ?? {},
    },
    spec: {
      schedulingGates: [{ name: SCHEDULING_GATE }],
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      nodeSelector: { [POOL_LABEL]: POOL },
      tolerations: API_ONLY_NODE_TOLERATIONS,
      resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: o.template ?? 'four-gpus' }],
      containers: [
        {
          name: 'worker',
          image: POD_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          resources: { claims: [{ name: 'gpus' }] },
        },
      ],
    },
  };
}

function createGang(gang: string, size: number, o: GangOptions = {}): void {
  const pods = Array.from({ length: size }, (_, i) => JSON.stringify(gangPod(gang, i, size, o)));
  c.kubectl(['create', '-f', '-'], pods.join('\n'));
}

async function events(reason: string): Promise<EventObject[]> {
  const list = await c.kube.request<{ items: EventObject[] }>(
    'GET',
    `/apis/events.k8s.io/v1/namespaces/${NS}/events`,
  );
  return list.items.filter((e) => e.reason === reason);
}

/**
 * Waits until `reason` events whose note passes `note` are recorded on `pods` distinct pods of a
 * gang (events are written right after the pod updates of a round) and returns them.
 */
async function gangEvents(
  reason: string,
  gang: string,
  pods: number,
  note: (text: string) => boolean = () => true,
): Promise<EventObject[]> {
  let found: EventObject[] = [];
  await waitFor(
    `${reason} events on ${pods} pods of gang ${gang}`,
    async () => {
      found = (await events(reason)).filter(
        (e) => e.regarding?.name?.startsWith(`${gang}-`) && note(e.note ?? ''),
      );
      return new Set(found.map((e) => e.regarding?.name)).size === pods;
    },
    10_000,
    250,
  );
  return found;
}

async function queueStatus(name: string): Promise<QueueStatusObject> {
  const q = await c.kube.request<{ status?: QueueStatusObject }>(
    'GET',
    `/apis/scheduling.phalanx.dev/v1alpha1/queues/${name}`,
  );
  return q.status ?? {};
}

const condition = (s: QueueStatusObject, type: string) =>
  s.conditions?.find((x) => x.type === type);
const usageOf = (s: QueueStatusObject) => s.usage?.find((u) => u.resource === GPU_CLASS);

/** Why this sample shows a partial, misplaced or out-of-pool gang, or undefined when it does not. */
function badGang(all: readonly Pod[]): string | undefined {
  const gangs = new Set(all.map((p) => p.metadata.labels?.[LABEL_GANG] ?? ''));
  for (const gang of gangs) {
    const m = members(all, gang);
    const boundPods = m.filter(bound);
    if (boundPods.length === 0) continue;
    const unplanned = m.filter((p) => planOfPod(p) === undefined);
    if (unplanned.length > 0) {
      return `gang ${gang}: ${boundPods.length} bound while ${unplanned.map((p) => p.metadata.name).join(', ')} have no plan`;
    }
    if (new Set(m.map((p) => planOfPod(p)?.plan)).size > 1)
      return `gang ${gang}: members carry different plans`;
    const off = boundPods.find(
      (p) => planOfPod(p)?.node !== p.spec.nodeName || !NODE_NAMES.has(p.spec.nodeName ?? ''),
    );
    if (off !== undefined) {
      return `pod ${off.metadata.name} bound to ${off.spec.nodeName} but planned on ${planOfPod(off)?.node}`;
    }
  }
  return undefined;
}

/** Samples the namespace every 200 ms; records bad gangs and every pod ever planned. */
class Sampler extends PeriodicSampler {
  readonly bad: string[] = [];
  readonly planned = new Set<string>();
  protected async sample(): Promise<void> {
    const all = await pods();
    const why = badGang(all);
    if (why !== undefined) this.bad.push(why);
    for (const p of all) if (planOfPod(p) !== undefined) this.planned.add(p.metadata.name);
  }
}

/** Every member bound; returns the members. */
async function waitBound(gang: string, size: number, timeoutMs = 60_000): Promise<Pod[]> {
  let m: Pod[] = [];
  await waitFor(
    `all ${size} pods of gang ${gang} bound`,
    async () => {
      m = members(await pods(), gang);
      return m.length === size && m.every(bound);
    },
    timeoutMs,
    250,
  );
  return m;
}

/** Every member carries a waiting reason; returns the members. */
async function waitWaiting(gang: string, size: number, match: RegExp): Promise<Pod[]> {
  let m: Pod[] = [];
  await waitFor(
    `all ${size} pods of gang ${gang} waiting with a reason matching ${match}`,
    async () => {
      m = members(await pods(), gang);
      return m.length === size && m.every((p) => match.test(reasonOf(p) ?? ''));
    },
    30_000,
    250,
  );
  return m;
}

async function deletePods(selector: string): Promise<void> {
  const all = await c.kube.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${NS}/pods`, {
    query: { labelSelector: selector },
  });
  // The pods' terminationGracePeriodSeconds of 0 makes the deletion immediate: no kubelet would
  // ever confirm a graceful one on an API-only node.
  for (const p of all.items) {
    await c.kube
      .request('DELETE', `/api/v1/namespaces/${NS}/pods/${p.metadata.name}`)
      .catch(() => undefined);
  }
  await waitFor(
    `pods ${selector} gone`,
    async () =>
      (
        await c.kube.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${NS}/pods`, {
          query: { labelSelector: selector },
        })
      ).items.length === 0,
    60_000,
    250,
  );
}

async function deleteGang(gang: string): Promise<void> {
  await deletePods(`${LABEL_GANG}=${gang}`);
}

/** GPU devices allocated to claims of the namespace, by pool (node). */
async function allocatedByPool(): Promise<Map<string, number>> {
  const list = await c.kube.request<{ items: ResourceClaim[] }>(
    'GET',
    `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`,
  );
  const out = new Map<string, number>();
  for (const claim of list.items) {
    for (const r of claim.status?.allocation?.devices?.results ?? []) {
      out.set(r.pool, (out.get(r.pool) ?? 0) + 1);
    }
  }
  return out;
}

function queueObject(name: string, nominal: number, cohort?: string): object {
  return {
    apiVersion: 'scheduling.phalanx.dev/v1alpha1',
    kind: 'Queue',
    metadata: { name },
    spec: {
      ...(cohort === undefined ? {} : { cohort }),
      quotas: [{ resource: GPU_CLASS, nominal }],
    },
  };
}

function deleteQueues(): void {
  c.kubectl([
    'delete',
    'queues.scheduling.phalanx.dev',
    ...Object.values(QUEUES),
    '--ignore-not-found',
  ]);
}

let kubeconfig = '';
let metricsPort = 0;

function setUpNamespace(): void {
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaimTemplate',
        metadata: { name: 'four-gpus', namespace: NS },
        spec: {
          spec: {
            devices: {
              requests: [{ name: 'gpus', exactly: { deviceClassName: GPU_CLASS, count: 4 } }],
            },
          },
        },
      },
      {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaimTemplate',
        metadata: { name: 'small-partition', namespace: NS },
        spec: {
          spec: {
            devices: {
              requests: [
                {
                  name: 'gpus',
                  exactly: {
                    deviceClassName: `partition.${GPU_CLASS}`,
                    selectors: [
                      {
                        cel: {
                          expression: `device.attributes["${GPU_CLASS}"].profile == "1g.10gb"`,
                        },
                      },
                    ],
                  },
                },
              ],
            },
          },
        },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
}

const racksOf = (m: readonly Pod[]) =>
  new Set(m.map((p) => placeOf(NODES, p.spec.nodeName ?? '')?.rack));
const blocksOf = (m: readonly Pod[]) =>
  new Set(m.map((p) => placeOf(NODES, p.spec.nodeName ?? '')?.block));

describe.runIf(runnable)('topology and queues through phalanx scheduler on a real cluster', () => {
  const sampler = new Sampler();
  const started = Date.now();

  beforeAll(async () => {
    metricsPort = await freePort();
    setUpNamespace();
    await deletePods(LABEL_GANG);
    deleteQueues();
    await waitFor(
      'no GPU claims left in the namespace',
      async () => (await allocatedByPool()).size === 0,
      60_000,
      250,
    );
    const slices = await createApiOnlyNodes(c, NODES, 'sxm8-80g');
    await waitFor(
      'the default service account of the namespace',
      () => c.kubectl(['get', 'serviceaccounts', '-n', NS, '-o', 'name']).includes('default'),
      30_000,
      250,
    );
    kubeconfig = serviceAccountKubeconfig(c, '60-scheduler.yaml', 'phalanx-scheduler');
    startScheduler(c, kubeconfig, metricsPort);
    await waitLeading(c, metricsPort);
    sampler.start();
    process.stdout.write(
      `topology-queues: ${NODES.length} API-only nodes with ${slices} ResourceSlices (server 1.${c.state.minor}) ready after ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });

  afterAll(async () => {
    sampler.stop();
    await c.supervisor.stop(PROCESS);
    await deletePods(LABEL_GANG).catch(() => undefined);
    deleteQueues();
    await deleteApiOnlyNodes(c, NODES);
    c.kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
    process.stdout.write(
      `topology-queues: ${sampler.samples} samples, ${sampler.bad.length} bad; file took ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });

  describe('topology', () => {
    /** Rack of the first gang, kept for the next tests' reasoning. */
    let firstRack = '';

    it('places a gang that fits in a rack inside one rack, and the next one inside another rack with room', async () => {
      createGang('rack-a', 3);
      const a = await waitBound('rack-a', 3);
      expect(racksOf(a).size).toBe(1);
      firstRack = [...racksOf(a)][0] ?? '';
      expect(a.map((p) => planOfPod(p)?.level)).toEqual(['rack', 'rack', 'rack']);
      expect(a.every((p) => planOfPod(p)?.domain === firstRack)).toBe(true);
      // rack-a took 12 of its rack's 16 GPUs: the next 12-GPU gang needs another rack.
      createGang('rack-b', 3);
      const b = await waitBound('rack-b', 3);
      expect(racksOf(b).size).toBe(1);
      expect([...racksOf(b)][0]).not.toBe(firstRack);
      // The DRA allocator took the devices from the API-only nodes' slices: 4 GPUs per pod there.
      const byPool = await allocatedByPool();
      for (const p of [...a, ...b]) expect(byPool.get(p.spec.nodeName ?? '')).toBeGreaterThan(0);
      expect([...byPool.values()].reduce((s, n) => s + n, 0)).toBe(24);
      process.stdout.write(
        `topology (a): rack-a in rack ${firstRack} on ${[...new Set(a.map((p) => p.spec.nodeName))].join(', ')}; rack-b in rack ${[...racksOf(b)][0]}\n`,
      );
    });

    it('keeps a rack-required gang larger than any free rack wholly gated, with the rack named in its reason and event', async () => {
      // 5 pods × 4 GPUs: no rack holds 20 GPUs, while the cluster has 40 free (10 pods' worth).
      createGang('rack-wide', 5, { annotations: { [ANNOTATION_TOPOLOGY_REQUIRED]: 'rack' } });
      const waiting = await waitWaiting('rack-wide', 5, /no rack has room for all 5 pods/);
      const reason = reasonOf(waiting[0] as Pod) ?? '';
      expect(reason).toMatch(new RegExp(`^gang ${NS}/rack-wide: `));
      expect(new Set(waiting.map(reasonOf)).size).toBe(1);
      await sleep(2000);
      const again = members(await pods(), 'rack-wide');
      expect(again).toHaveLength(5);
      expect(again.every((p) => gated(p) && !bound(p) && planOfPod(p) === undefined)).toBe(true);
      await gangEvents('GangWaiting', 'rack-wide', 5, (note) => note === reason);
      process.stdout.write(`topology (b): ${reason}\n`);
    });

    it('places a block-preferred gang that no block can hold across blocks, with the fallback note on GangPlanned', async () => {
      // 9 pods × 4 GPUs = 36 > 32 GPUs of a block; 40 GPUs are free across the zone.
      createGang('block-pref', 9, { annotations: { [ANNOTATION_TOPOLOGY_PREFERRED]: 'block' } });
      const m = await waitBound('block-pref', 9);
      expect(blocksOf(m).size).toBe(2);
      const plan = planOfPod(m[0] as Pod);
      expect(plan?.level).toBe('zone');
      expect(plan?.domain).toBe('zone-topo');
      const planned = await gangEvents('GangPlanned', 'block-pref', 9);
      const note = `(no block has room for all 9 pods of gang ${NS}/block-pref; placed across zone zone-topo)`;
      expect(planned.every((e) => e.note?.endsWith(note))).toBe(true);
      // The rack-required gang stayed wholly gated through all these rounds.
      const wide = members(await pods(), 'rack-wide');
      expect(wide.every((p) => gated(p) && !bound(p))).toBe(true);
      expect([...sampler.planned].filter((n) => n.startsWith('rack-wide-'))).toEqual([]);
      process.stdout.write(`topology (c): ${planned[0]?.note}\n`);
    });

    it('never showed a partial, misplaced or out-of-pool gang', () => {
      expect(sampler.bad).toEqual([]);
    });
  });

  describe('queues', () => {
    beforeAll(async () => {
      await deletePods(LABEL_GANG);
      await waitFor(
        "the topology gangs' GPUs released",
        async () => (await allocatedByPool()).size === 0,
        60_000,
        250,
      );
      c.kubectl(
        ['create', '-f', '-'],
        [
          queueObject(QUEUES.solo, 8),
          queueObject(QUEUES.lend, 8, COHORT),
          queueObject(QUEUES.borrow, 4, COHORT),
        ]
          .map((o) => JSON.stringify(o))
          .join('\n'),
      );
    });

    it('holds a gang over its queue quota with the quota reason, and admits it when quota frees', async () => {
      createGang('solo-1', 2, { queue: QUEUES.solo });
      await waitBound('solo-1', 2);
      createGang('solo-2', 2, { queue: QUEUES.solo });
      const waiting = await waitWaiting('solo-2', 2, /quota/);
      const reason = reasonOf(waiting[0] as Pod) ?? '';
      expect(reason).toBe(
        `queue ${QUEUES.solo}: ${GPU_CLASS} quota 8, in use 8, gang needs 8; it is in no cohort, so it cannot borrow`,
      );
      let status: QueueStatusObject = {};
      await waitFor(
        `queue ${QUEUES.solo} status showing one admitted and one pending gang`,
        async () => {
          status = await queueStatus(QUEUES.solo);
          return status.admittedGangs === 1 && status.pendingGangs === 1;
        },
        30_000,
        250,
      );
      expect(usageOf(status)).toEqual({ resource: GPU_CLASS, admitted: 8, borrowed: 0 });
      expect(condition(status, 'QuotaExhausted')?.status).toBe('True');
      expect(condition(status, 'Active')?.status).toBe('True');
      await gangEvents('GangWaiting', 'solo-2', 2, (note) => note === reason);
      expect(members(await pods(), 'solo-2').every((p) => gated(p) && !bound(p))).toBe(true);
      await deleteGang('solo-1');
      await waitBound('solo-2', 2);
      process.stdout.write(`queues (a): ${reason}\n`);
    });

    it('lends idle quota inside a cohort and takes it back by preempting the borrowing gang whole', async () => {
      // tq-borrow (nominal 4) runs 12 GPUs: 8 borrowed from tq-lend, which is idle.
      createGang('borrower', 3, { queue: QUEUES.borrow });
      const b = await waitBound('borrower', 3);
      let borrowing: QueueStatusObject = {};
      await waitFor(
        `queue ${QUEUES.borrow} status showing the borrowed quota`,
        async () => {
          borrowing = await queueStatus(QUEUES.borrow);
          return condition(borrowing, 'Borrowing')?.status === 'True';
        },
        30_000,
        250,
      );
      expect(usageOf(borrowing)).toEqual({ resource: GPU_CLASS, admitted: 12, borrowed: 8 });
      expect(borrowing.admittedGangs).toBe(1);
      const victims = new Set(b.map((p) => p.metadata.uid));
      // The lender's 8-GPU gang arrives: within its nominal, so the borrower is preempted whole.
      const arrived = Date.now();
      createGang('lender', 2, { queue: QUEUES.lend });
      await waitBound('lender', 2);
      const tookBack = (Date.now() - arrived) / 1000;
      const all = await pods();
      expect(members(all, 'borrower')).toEqual([]);
      expect(all.filter((p) => victims.has(p.metadata.uid))).toEqual([]);
      const preempted = (await events('GangPreempted')).filter((e) =>
        e.regarding?.name?.startsWith('borrower-'),
      );
      expect(new Set(preempted.map((e) => e.regarding?.name))).toEqual(
        new Set(['borrower-0', 'borrower-1', 'borrower-2']),
      );
      expect(preempted[0]?.note).toBe(
        `gang ${NS}/lender: queue ${QUEUES.lend} reclaims quota it lent; preempting whole gang ${NS}/borrower (queue ${QUEUES.borrow})`,
      );
      process.stdout.write(
        `queues (b): borrower admitted with 8 GPUs borrowed; lender bound ${tookBack.toFixed(1)} s after it arrived; ${preempted[0]?.note}\n`,
      );
    });

    it('shows usage, admitted and pending gangs and conditions in Queue status', async () => {
      let lend: QueueStatusObject = {};
      let borrow: QueueStatusObject = {};
      await waitFor(
        'queue statuses after the reclaim',
        async () => {
          lend = await queueStatus(QUEUES.lend);
          borrow = await queueStatus(QUEUES.borrow);
          return lend.admittedGangs === 1 && borrow.admittedGangs === 0;
        },
        30_000,
        250,
      );
      expect(usageOf(lend)).toEqual({ resource: GPU_CLASS, admitted: 8, borrowed: 0 });
      expect(usageOf(borrow)).toEqual({ resource: GPU_CLASS, admitted: 0, borrowed: 0 });
      expect(lend.pendingGangs).toBe(0);
      // tq-lend may still borrow the 4 GPUs tq-borrow leaves idle; tq-solo has no cohort.
      expect(condition(lend, 'QuotaExhausted')?.status).toBe('False');
      expect(condition(borrow, 'Borrowing')?.status).toBe('False');
      expect(lend.fairShare).toBe(1);
      const solo = await queueStatus(QUEUES.solo);
      expect(solo.admittedGangs).toBe(1);
      expect(solo.pendingGangs).toBe(0);
      expect(condition(solo, 'QuotaExhausted')?.status).toBe('True');
      for (const s of [lend, borrow, solo]) {
        expect(s.conditions?.map((x) => x.type).sort()).toEqual([
          'Active',
          'Borrowing',
          'QuotaExhausted',
        ]);
        expect(s.conditions?.every((x) => x.message !== '' && x.lastTransitionTime)).toBe(true);
      }
      expect(sampler.bad).toEqual([]);
      process.stdout.write(
        `queues (c): ${QUEUES.lend} ${JSON.stringify(usageOf(lend))} fairShare ${lend.fairShare}; ${QUEUES.borrow} ${condition(borrow, 'Borrowing')?.message}\n`,
      );
    });
  });

  describe('device requests', () => {
    beforeAll(async () => {
      await deletePods(LABEL_GANG);
      deleteQueues();
      await waitFor(
        "the queue gangs' GPUs released",
        async () => (await allocatedByPool()).size === 0,
        60_000,
        250,
      );
    });

    it('plans a gang of MIG-like partitions (class + CEL selector) onto one node, and the allocator agrees', async () => {
      // 10 pods × one 1g.10gb partition: the ledger counts partitions through the GPUs' shared
      // counters; best fit packs them on one node (56 such partitions fit on an 8-GPU node).
      createGang('parts', 10, { template: 'small-partition' });
      const m = await waitBound('parts', 10);
      expect(new Set(m.map((p) => p.spec.nodeName)).size).toBe(1);
      expect(m.map((p) => planOfPod(p)?.level)).toEqual(Array(10).fill('node'));
      const list = await c.kube.request<{ items: ResourceClaim[] }>(
        'GET',
        `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`,
      );
      const devices = list.items.flatMap((claim) =>
        (claim.status?.allocation?.devices?.results ?? []).map((r) => `${r.pool}/${r.device}`),
      );
      expect(devices).toHaveLength(10);
      expect(new Set(devices).size).toBe(10);
      expect(
        devices.every((d) => d.startsWith(`${m[0]?.spec.nodeName}/`) && d.includes('1g-10gb')),
      ).toBe(true);
      expect(sampler.bad).toEqual([]);
      process.stdout.write(`devices: parts on ${m[0]?.spec.nodeName}: ${devices.join(', ')}\n`);
    });
  });
});
