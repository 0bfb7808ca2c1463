import { describe, expect, it } from 'vitest';
import type { ResourceSlice } from '../../../src/api/resource/v1.ts';
import {
  ANNOTATION_PLAN,
  ANNOTATION_WAITING_REASON,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  SCHEDULING_GATE,
} from '../../../src/api/scheduling/labels.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import { filterPod, preemptVictims } from '../../../src/scheduling/extender-decisions.ts';
import { planRound } from '../../../src/scheduling/planner.ts';
import type {
  ClusterObjects,
  NodeObject,
  RoundResult,
} from '../../../src/scheduling/round-types.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';

const NOW = Date.parse('2026-11-21T10:00:00Z');

function node(name: string, rack: string): { node: NodeObject; slices: ResourceSlice[] } {
  const backend = new FakeGpuBackend(name, { profile: 'sxm8-80g' });
  const slices = buildPoolSlices(backend.inventory(), {
    driverName: 'gpu.phalanx.dev',
    nodeName: name,
    nodeUid: `uid-${name}`,
    layout: 'split',
    taintUnhealthy: true,
    serverMinor: 36,
  });
  return {
    node: {
      metadata: { name, labels: { 'topology.phalanx.dev/rack': rack } },
      status: { allocatable: { cpu: '64', memory: '512Gi' } },
    },
    slices,
  };
}

function gangPod(
  gang: string,
  i: number,
  size: number,
  extra: Partial<PodObject['metadata']> = {},
): PodObject {
  return {
    metadata: {
      name: `${gang}-${i}`,
      namespace: 'ml',
      uid: `${gang}-uid-${i}`,
      creationTimestamp: '2026-11-21T09:00:00Z',
      labels: { [LABEL_GANG]: gang, [LABEL_GANG_SIZE]: String(size), ...(extra.labels ?? {}) },
      annotations: { ...(extra.annotations ?? {}) },
    },
    spec: {
      schedulingGates: [{ name: SCHEDULING_GATE }],
      containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '1Gi' } } }],
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }],
    },
  };
}

function objects(nodes: string[][], pods: PodObject[], queues: unknown[] = []): ClusterObjects {
  const built = nodes.map(([n, r]) => node(n ?? '', r ?? ''));
  return {
    nodes: built.map((b) => b.node),
    slices: built.flatMap((b) => b.slices),
    claims: [],
    templates: [
      {
        metadata: { name: 'one-gpu', namespace: 'ml' },
        spec: {
          spec: {
            devices: {
              requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev' } }],
            },
          },
        },
      },
    ],
    pods,
    namespaces: new Map([['ml', {}]]),
    podGroups: [],
    queues,
  };
}

/** Applies a round's writes the way the apiserver would (annotations, then pin + ungate). */
function apply(pods: PodObject[], result: RoundResult, bind: boolean): PodObject[] {
  return pods.map((p) => {
    const w = result.writes.filter((x) => x.uid === p.metadata.uid);
    let out = p;
    for (const write of w) {
      const annotations = { ...(out.metadata.annotations ?? {}) };
      for (const [k, v] of Object.entries(write.annotations)) {
        if (v === null) delete annotations[k];
        else annotations[k] = v;
      }
      out = { ...out, metadata: { ...out.metadata, annotations } };
      if (write.pinNode !== undefined) {
        const spec = { ...out.spec, schedulingGates: [] };
        if (bind) Object.assign(spec, { nodeName: write.pinNode });
        out = { ...out, spec, status: bind ? { phase: 'Running' } : {} };
      }
    }
    return out;
  });
}

const settings = { now: NOW };
const gang = (g: string, size: number, n = size) =>
  Array.from({ length: n }, (_, i) => gangPod(g, i, size));

describe('planRound', () => {
  it('plans one of two competing 8-pod gangs whole and holds the other whole', () => {
    const pods = [...gang('a', 8), ...gang('b', 8)];
    const r1 = planRound(objects([['n1', 'r1']], pods), settings);
    const pinned = r1.writes.filter((w) => w.pinNode !== undefined);
    expect(pinned).toHaveLength(8);
    expect(new Set(pinned.map((w) => w.name.split('-')[0]))).toEqual(new Set(['a']));
    const waiting = r1.gangs.find((g) => g.key === 'ml/b');
    expect(waiting?.phase).toBe('Waiting');
    expect(waiting?.reason).toMatch(/gang ml\/b: room for 0 of 8 pods/);
    // Gang b's members carry the reason; a second round with a bound gang a keeps b whole.
    const after = apply(pods, r1, true);
    expect(
      after
        .filter((p) => p.metadata.name?.startsWith('b'))
        .every((p) => p.metadata.annotations?.[ANNOTATION_WAITING_REASON]),
    ).toBe(true);
    const r2 = planRound(objects([['n1', 'r1']], after), settings);
    expect(r2.writes.filter((w) => w.pinNode !== undefined)).toHaveLength(0);
    // Gang a finishes: b is planned whole.
    const rest = after.filter((p) => p.metadata.name?.startsWith('b'));
    const r3 = planRound(objects([['n1', 'r1']], rest), settings);
    expect(r3.writes.filter((w) => w.pinNode !== undefined)).toHaveLength(8);
  });

  it('resumes a half-written plan after a restart instead of planning the gang again', () => {
    const pods = gang('a', 4);
    const r1 = planRound(
      objects(
        [
          ['n1', 'r1'],
          ['n2', 'r1'],
        ],
        pods,
      ),
      settings,
    );
    // Only the annotations landed before the planner died: every pod has its plan, none is pinned.
    const annotated = pods.map((p) => {
      const w = r1.writes.find((x) => x.uid === p.metadata.uid);
      const plan = w?.annotations[ANNOTATION_PLAN];
      return { ...p, metadata: { ...p.metadata, annotations: { [ANNOTATION_PLAN]: plan ?? '' } } };
    });
    const r2 = planRound(
      objects(
        [
          ['n1', 'r1'],
          ['n2', 'r1'],
        ],
        annotated,
      ),
      settings,
    );
    const first = new Map(r1.writes.map((w) => [w.uid, w.pinNode]));
    expect(r2.writes.filter((w) => w.pinNode !== undefined)).toHaveLength(4);
    for (const w of r2.writes) expect(w.pinNode).toBe(first.get(w.uid));
    expect(r2.writes.every((w) => w.annotations[ANNOTATION_PLAN] === undefined)).toBe(true);
  });

  it('plans a gang again, whole, when its plan was written on only some members', () => {
    const pods = gang('a', 4);
    const r1 = planRound(
      objects(
        [
          ['n1', 'r1'],
          ['n2', 'r1'],
        ],
        pods,
      ),
      settings,
    );
    const partly = pods.map((p, i) => {
      const plan = r1.writes.find((x) => x.uid === p.metadata.uid)?.annotations[ANNOTATION_PLAN];
      if (i >= 2 || typeof plan !== 'string') return p;
      return { ...p, metadata: { ...p.metadata, annotations: { [ANNOTATION_PLAN]: plan } } };
    });
    const r2 = planRound(
      objects(
        [
          ['n1', 'r1'],
          ['n2', 'r1'],
        ],
        partly,
      ),
      settings,
    );
    expect(r2.writes.some((w) => w.pinNode !== undefined)).toBe(false);
    expect(r2.writes.filter((w) => w.annotations[ANNOTATION_PLAN] === null)).toHaveLength(2);
    expect(r2.problems).toContain(
      'gang ml/a: its plan was only partly written; planning the whole gang again',
    );
    const cleared = partly.map((p) => ({ ...p, metadata: { ...p.metadata, annotations: {} } }));
    const r3 = planRound(
      objects(
        [
          ['n1', 'r1'],
          ['n2', 'r1'],
        ],
        cleared,
      ),
      settings,
    );
    expect(r3.writes.filter((w) => w.pinNode !== undefined)).toHaveLength(4);
  });

  it('explains an incomplete gang', () => {
    const r = planRound(objects([['n1', 'r1']], gang('a', 8, 3)), settings);
    expect(r.gangs[0]?.reason).toBe('gang ml/a: 3/8 pods present; waiting for 5');
    expect(r.writes.every((w) => w.pinNode === undefined)).toBe(true);
  });

  it('holds a gang over its queue quota with the quota reason', () => {
    const queue = {
      apiVersion: 'scheduling.phalanx.dev/v1alpha1',
      kind: 'Queue',
      metadata: { name: 'team-a' },
      spec: { quotas: [{ resource: 'gpu.phalanx.dev', nominal: 4 }] },
    };
    const pods = Array.from({ length: 8 }, (_, i) =>
      gangPod('q', i, 8, { labels: { [LABEL_QUEUE]: 'team-a' } }),
    );
    const r = planRound(objects([['n1', 'r1']], pods, [queue]), settings);
    expect(r.writes.some((w) => w.pinNode !== undefined)).toBe(false);
    expect(r.gangs[0]?.reason).toMatch(/team-a/);
    expect(r.queues[0]?.name).toBe('team-a');
  });

  it('lends idle quota inside a cohort and reclaims it with whole-gang preemption', () => {
    const queue = (name: string) => ({
      apiVersion: 'scheduling.phalanx.dev/v1alpha1',
      kind: 'Queue',
      metadata: { name },
      spec: { cohort: 'research', quotas: [{ resource: 'gpu.phalanx.dev', nominal: 8 }] },
    });
    const queues = [queue('team-a'), queue('team-b')];
    const inQueue = (g: string, q: string, created: string): PodObject[] =>
      Array.from({ length: 8 }, (_, i) => {
        const p = gangPod(g, i, 8, { labels: { [LABEL_QUEUE]: q } });
        return { ...p, metadata: { ...p.metadata, creationTimestamp: created } };
      });
    const nodes = [
      ['n1', 'r1'],
      ['n2', 'r1'],
    ];
    // team-b runs two 8-GPU gangs: one on its own quota, one borrowed from idle team-a.
    let pods: PodObject[] = [
      ...inQueue('b1', 'team-b', '2026-11-21T09:00:00Z'),
      ...inQueue('b2', 'team-b', '2026-11-21T09:01:00Z'),
    ];
    const r1 = planRound(objects(nodes, pods, queues), settings);
    expect(r1.writes.filter((w) => w.pinNode !== undefined)).toHaveLength(16);
    pods = apply(pods, r1, true);
    // team-a's gang arrives: team-b's newest gang is preempted whole to give the quota back.
    pods = [...pods, ...inQueue('a1', 'team-a', '2026-11-21T09:05:00Z')];
    const r2 = planRound(objects(nodes, pods, queues), settings);
    expect(new Set(r2.deletions.map((d) => d.name.split('-')[0]))).toEqual(new Set(['b2']));
    expect(r2.deletions).toHaveLength(8);
    expect(r2.gangs.find((g) => g.key === 'ml/a1')?.reason).toMatch(
      /queue team-a reclaims quota it lent; preempting whole gang ml\/b2 \(queue team-b\)/,
    );
    // Once the preempted pods are gone, team-a's gang is planned.
    const after = pods.filter((p) => !p.metadata.name?.startsWith('b2'));
    const r3 = planRound(objects(nodes, after, queues), settings);
    expect(
      r3.writes.filter((w) => w.pinNode !== undefined && w.name.startsWith('a1')),
    ).toHaveLength(8);
  });

  it('keeps a gang that fits in one rack inside one rack', () => {
    const nodes = [
      ['n1', 'r1'],
      ['n2', 'r2'],
      ['n3', 'r2'],
    ];
    const pods = gang('a', 12);
    const r = planRound(objects(nodes, pods), settings);
    const used = new Set(r.writes.map((w) => w.pinNode));
    expect(used).toEqual(new Set(['n2', 'n3']));
  });
});

describe('extender decisions', () => {
  it('passes a planned pod only on its node and keeps reserved GPUs from other pods', () => {
    const pods = gang('a', 8);
    const r1 = planRound(objects([['n1', 'r1']], pods), settings);
    const planned = apply(pods, r1, false);
    const objs = objects(
      [
        ['n1', 'r1'],
        ['n2', 'r1'],
      ],
      planned,
    );
    const member = planned[0] as PodObject;
    const d = filterPod(objs, settings, member, ['n1', 'n2', 'ghost']);
    expect(d.feasible).toEqual(['n1']);
    expect(d.others).toEqual({
      message: 'phalanx: gang ml/a planned this pod on n1',
      unresolvable: true,
    });
    const other: PodObject = {
      metadata: { name: 'solo', namespace: 'ml', uid: 'solo' },
      spec: { resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }] },
    };
    const o = filterPod(objs, settings, other, ['n1', 'n2', 'ghost']);
    expect(o.feasible).toEqual(['n2']);
    expect(o.failed.n1).toMatch(/0 of 8 GPUs free after planned gangs' reservations/);
    expect(o.unknown).toEqual(['ghost']);
  });

  it('drops preemption candidates that would split a gang', () => {
    const pods = gang('a', 2).map((p) => ({ ...p, spec: { ...p.spec, nodeName: 'n1' } }));
    const objs = objects([['n1', 'r1']], pods);
    const out = preemptVictims(
      objs,
      settings,
      pods[0] as PodObject,
      new Map([
        ['n1', { podUids: ['a-uid-0'], numPDBViolations: 0 }],
        ['n2', { podUids: ['a-uid-0', 'a-uid-1'], numPDBViolations: 0 }],
      ]),
    );
    expect([...out.keys()]).toEqual(['n2']);
  });
});

describe('PodGroup events', () => {
  /** A member of the scheduler-plugins PodGroup `g` (label + minMember on the group). */
  function member(i: number): PodObject {
    const p = gangPod('g', i, 4);
    const labels = { 'scheduling.x-k8s.io/pod-group': 'train' };
    return { ...p, metadata: { ...p.metadata, labels } };
  }
  const group = {
    apiVersion: 'scheduling.x-k8s.io/v1alpha1',
    kind: 'PodGroup',
    metadata: { name: 'train', namespace: 'ml', uid: 'pg-uid' },
    spec: { minMember: 4 },
  };
  const withGroup = (pods: PodObject[]): ClusterObjects => ({
    ...objects([['n1', 'r1']], pods),
    podGroups: [group],
  });
  const groupEvents = (r: RoundResult) => r.events.filter((e) => e.kind === 'PodGroup');

  it('tells the PodGroup once per change: quorum missing, then planned', () => {
    const three = [0, 1, 2].map(member);
    const r1 = planRound(withGroup(three), settings);
    expect(groupEvents(r1)).toEqual([
      expect.objectContaining({
        kind: 'PodGroup',
        namespace: 'ml',
        name: 'train',
        reason: 'GangIncomplete',
        message: 'gang ml/train: 3/4 pods present; waiting for 1',
      }),
    ]);
    // The same reason next round: no new event.
    expect(groupEvents(planRound(withGroup(apply(three, r1, false)), settings))).toEqual([]);
    const four = [...apply(three, r1, false), member(3)];
    const r2 = planRound(withGroup(four), settings);
    expect(groupEvents(r2)).toEqual([
      expect.objectContaining({
        reason: 'GangPlanned',
        message: 'all 4 pods planned in node n1 on 1 node',
      }),
    ]);
    // Pod events stay per pod; labelled gangs (no PodGroup object) get none on a group.
    expect(r2.events.filter((e) => e.kind === 'Pod' && e.reason === 'GangPlanned')).toHaveLength(4);
    expect(groupEvents(planRound(objects([['n1', 'r1']], gang('lbl', 2)), settings))).toEqual([]);
  });
});
