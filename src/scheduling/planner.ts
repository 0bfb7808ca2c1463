/**
 * One planning round over the live cluster: read every gang from its pods, order the complete,
 * gated gangs by their queues, plan each whole gang into the narrowest topology domain that holds
 * it (or explain why it waits), and say which pods to annotate, pin and ungate.
 *
 * The round is a pure function of the cluster objects and the clock: a restarted or newly elected
 * planner computes the same decisions, and plans already written on pods are re-read as
 * reservations, so no gang is admitted twice and no plan is lost.
 *
 * Head-of-line reservation: the first gang in queue order that is blocked only by capacity gets
 * the domain closest to holding it reserved; gangs behind it may not use that domain, so a stream
 * of small gangs cannot starve a large one.
 */
import { ANNOTATION_PLAN, ANNOTATION_WAITING_REASON } from '../api/scheduling/labels.ts';
import {
  decodeQueue,
  mergeConditions,
  type QueueObject,
} from '../api/scheduling/v1alpha1/queue.ts';
import { admitRound, type GangCandidate } from './admission.ts';
import type { NodeState } from './cluster.ts';
import { type GangMember, type GangPlan, GangPlanner, type GangRequest } from './gang.ts';
import { type PodNodeConstraints, podSelectsNode } from './node-affinity.ts';
import { policyContext } from './place.ts';
import { policyByName } from './policies/index.ts';
import {
  type DeviceRequest,
  demandVector,
  QueueBook,
  type ResourceVector,
  type RunningGang,
} from './queues.ts';
import type {
  ClusterObjects,
  CoreEvent,
  GangReport,
  PlannerSettings,
  PodDeletion,
  PodWrite,
  QueueStatusUpdate,
  RoundResult,
} from './round-types.ts';
import { buildSnapshot, claimSpecs, type PodEntry, type Snapshot } from './snapshot.ts';
import {
  encodePlan,
  type GangRef,
  gangOf,
  isActiveOnNode,
  isGated,
  podDeviceRequests,
  queueOf,
  topologyOf,
  wholeGpus,
} from './workload.ts';

export const DEFAULT_PLAN_TTL_SECONDS = 300;
export const DEFAULT_LIVE_POLICY = 'best-fit';

/** A gang as one planning round reads it from its pods (also what the kubectl plugin shows). */
export interface Gang {
  readonly ref: GangRef;
  readonly members: PodEntry[];
  size: number;
  queue: string | undefined;
  priority: number;
  createdAt: number;
  /** Whole GPUs each member (by pod key) asks for, allocated or not. */
  readonly gpus: Map<string, number>;
  /** Devices each member asks for, allocated or not, per class/profile: what counts against the queue. */
  readonly requests: Map<string, DeviceRequest[]>;
}

interface RoundState {
  readonly snap: Snapshot;
  readonly settings: PlannerSettings;
  readonly book: QueueBook;
  readonly planner: GangPlanner;
  readonly writes: PodWrite[];
  readonly deletions: PodDeletion[];
  readonly events: CoreEvent[];
  readonly reports: GangReport[];
  readonly problems: string[];
  /** Admitted gangs (reclaim candidates) and every managed gang by id. */
  readonly running: RunningGang[];
  readonly gangsById: Map<string, Gang>;
}

function time(ts: string | undefined): number {
  const t = ts === undefined ? Number.NaN : Date.parse(ts);
  return Number.isNaN(t) ? 0 : t;
}

function gangSizes(objects: ClusterObjects): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const g of objects.podGroups) {
    const size = g.spec?.minMember ?? g.spec?.schedulingPolicy?.gang?.minCount;
    if (size !== undefined)
      sizes.set(`${g.metadata.namespace ?? ''}/${g.metadata.name ?? ''}`, size);
  }
  return sizes;
}

/** Every gang of the snapshot's pods, by key: members, size (label or PodGroup), queue, priority, age. */
export function collectGangs(snap: Snapshot, objects: ClusterObjects): Map<string, Gang> {
  const sizes = gangSizes(objects);
  const specs = claimSpecs(objects);
  const gangs = new Map<string, Gang>();
  const claimsSeen = new Map<string, Set<string>>();
  for (const entry of snap.pods) {
    const ref = gangOf(entry.pod);
    let gang = gangs.get(ref.key);
    if (gang === undefined) {
      gang = {
        ref,
        members: [],
        size: ref.size ?? sizes.get(ref.key) ?? 0,
        queue: queueOf(entry.pod, objects.namespaces.get(ref.namespace)),
        priority: Number.NEGATIVE_INFINITY,
        createdAt: Number.POSITIVE_INFINITY,
        gpus: new Map(),
        requests: new Map(),
      };
      gangs.set(ref.key, gang);
    }
    gang.members.push(entry);
    const seen = claimsSeen.get(ref.key) ?? new Set<string>();
    claimsSeen.set(ref.key, seen);
    const requests = podDeviceRequests(entry.pod, specs, seen);
    gang.requests.set(entry.key, requests);
    gang.gpus.set(entry.key, wholeGpus(requests));
    gang.priority = Math.max(gang.priority, entry.pod.spec?.priority ?? 0);
    gang.createdAt = Math.min(gang.createdAt, time(entry.pod.metadata.creationTimestamp));
  }
  return gangs;
}

/**
 * GPUs the members ask for, counting claims already allocated: a running gang keeps using its
 * queue's quota after the allocator has written its claims.
 */
function gpusOf(gang: Gang, entries: readonly PodEntry[]): number {
  return entries.reduce((s, e) => s + (gang.gpus.get(e.key) ?? 0), 0);
}

/** The gang's devices per quota resource (device class, and class/profile for partitions). */
function demandOf(gang: Gang, entries: readonly PodEntry[]): ResourceVector {
  return demandVector(entries.flatMap((e) => gang.requests.get(e.key) ?? []));
}

function queueBook(objects: ClusterObjects, problems: string[]): QueueBook {
  const book = new QueueBook();
  for (const raw of objects.queues) {
    try {
      book.upsert(decodeQueue(raw));
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
  }
  return book;
}

/** A deterministic generator: live planning takes no random choice that differs between replicas. */
function lcg(): () => number {
  let seed = 42;
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

/** The pod may run on the node: its nodeSelector and required node affinity admit it, taints are tolerated. */
const tolerated = (pod: PodEntry['pod'], node: NodeState): boolean =>
  !node.unschedulable &&
  podSelectsNode(pod.spec as PodNodeConstraints | undefined, node) &&
  node.taints.every(
    (t) =>
      t.effect === 'PreferNoSchedule' ||
      (
        (pod.spec as { tolerations?: { key?: string; operator?: string; effect?: string }[] })
          ?.tolerations ?? []
      ).some(
        (tol) =>
          (tol.operator === 'Exists' && (tol.key === undefined || tol.key === t.key)) ||
          (tol.key === t.key && (tol.effect === undefined || tol.effect === t.effect)),
      ),
  );

function event(
  entry: PodEntry,
  type: CoreEvent['type'],
  reason: string,
  message: string,
): CoreEvent {
  const m = entry.pod.metadata;
  const e: CoreEvent = {
    kind: 'Pod',
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    type,
    reason,
    message,
  };
  return m.uid === undefined ? e : { ...e, uid: m.uid };
}

/**
 * The same news once on the gang's PodGroup (native or scheduler-plugins), so `kubectl describe
 * podgroup` tells the gang's story; gangs from labels have no object to carry it.
 */
function groupEvent(
  gang: Gang,
  type: CoreEvent['type'],
  reason: string,
  message: string,
): CoreEvent[] {
  if (gang.ref.source !== 'podgroup' && gang.ref.source !== 'x-k8s-podgroup') return [];
  return [
    { kind: 'PodGroup', namespace: gang.ref.namespace, name: gang.ref.name, type, reason, message },
  ];
}

function podId(entry: PodEntry): { namespace: string; name: string; uid: string } {
  const m = entry.pod.metadata;
  return { namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '' };
}

/** Sets the waiting reason on gated members where it changed. */
function wait(state: RoundState, gang: Gang, phase: GangReport['phase'], reason: string): void {
  const kind = phase === 'Incomplete' ? 'GangIncomplete' : 'GangWaiting';
  let changed = false;
  for (const entry of gang.members) {
    if (!isGated(entry.pod)) continue;
    if (entry.pod.metadata.annotations?.[ANNOTATION_WAITING_REASON] === reason) continue;
    state.writes.push({ ...podId(entry), annotations: { [ANNOTATION_WAITING_REASON]: reason } });
    state.events.push(event(entry, 'Normal', kind, reason));
    changed = true;
  }
  if (changed) state.events.push(...groupEvent(gang, 'Normal', kind, reason));
  state.reports.push(report(gang, phase, { reason }));
}

function report(gang: Gang, phase: GangReport['phase'], extra: Partial<GangReport>): GangReport {
  return {
    key: gang.ref.key,
    queue: gang.queue,
    phase,
    members: gang.members.length,
    size: gang.size,
    gpus: gpusOf(gang, gang.members),
    ...extra,
  };
}

function planId(gang: Gang, settings: PlannerSettings): string {
  return `${gang.ref.name}-${Math.floor(settings.now / 1000).toString(36)}`;
}

/** Annotates every member with its placement, then pins and ungates each. */
function commit(state: RoundState, gang: Gang, plan: GangPlan, members: readonly PodEntry[]): void {
  const byKey = new Map(members.map((m) => [m.key, m]));
  const ttl = state.settings.planTtlSeconds ?? DEFAULT_PLAN_TTL_SECONDS;
  const expires = new Date(state.settings.now + ttl * 1000).toISOString();
  const id = planId(gang, state.settings);
  const domain = plan.domain?.name ?? 'cluster';
  for (const p of plan.placements) {
    const entry = byKey.get(p.member);
    if (entry === undefined) continue;
    const record = encodePlan({
      gang: gang.ref.key,
      plan: id,
      node: p.node.name,
      level: plan.level,
      domain,
      expires,
    });
    state.writes.push({
      ...podId(entry),
      annotations: { [ANNOTATION_PLAN]: record, [ANNOTATION_WAITING_REASON]: null },
      pinNode: p.node.name,
    });
    const note = plan.note === undefined ? '' : ` (${plan.note})`;
    state.events.push(
      event(
        entry,
        'Normal',
        'GangPlanned',
        `gang ${gang.ref.key}: all ${members.length} pods planned in ${plan.level} ${domain}; this pod on ${p.node.name}${note}`,
      ),
    );
  }
  const note = plan.note === undefined ? '' : ` (${plan.note})`;
  const nodes = new Set(plan.placements.map((p) => p.node.name)).size;
  state.events.push(
    ...groupEvent(
      gang,
      'Normal',
      'GangPlanned',
      `all ${members.length} pods planned in ${plan.level} ${domain} on ${nodes} node${nodes === 1 ? '' : 's'}${note}`,
    ),
  );
  state.reports.push(report(gang, 'Planned', { level: plan.level, domain }));
}

function request(gang: Gang, members: readonly PodEntry[]): GangRequest {
  const topo = topologyOf(members[0]?.pod ?? { metadata: {} });
  const first = members[0]?.pod ?? { metadata: {} };
  return {
    id: gang.ref.key,
    members: members.flatMap((m): GangMember[] =>
      'shape' in m.demand ? [{ id: m.key, shape: m.demand.shape }] : [],
    ),
    required: topo.required,
    preferred: topo.preferred,
    allowed: (node) => tolerated(first, node),
  };
}

/** Resumes a plan that was written but not fully applied (restart between writes). */
function resume(state: RoundState, gang: Gang): boolean {
  const gated = gang.members.filter((m) => isGated(m.pod));
  const gatedPlanned = gated.filter((m) => m.plan !== undefined);
  if (gatedPlanned.length === 0) return false;
  const planIds = new Set(gatedPlanned.map((m) => m.plan?.plan));
  const pinned = gang.members.some(
    (m) => !isGated(m.pod) && m.plan !== undefined && planIds.has(m.plan.plan),
  );
  // Annotations are written on every member before any member is pinned: planned and unplanned
  // gated members side by side, with none pinned yet, mean the writing stopped half-way.
  const partial = !pinned && gated.length > gatedPlanned.length;
  const broken = gatedPlanned.some((m) => m.reservation === 'broken');
  if (partial || broken) {
    for (const m of gatedPlanned) {
      state.writes.push({ ...podId(m), annotations: { [ANNOTATION_PLAN]: null } });
    }
    const why = broken ? 'its written plan no longer fits' : 'its plan was only partly written';
    state.problems.push(`gang ${gang.ref.key}: ${why}; planning the whole gang again`);
    return true;
  }
  for (const m of gatedPlanned) {
    state.writes.push({
      ...podId(m),
      annotations: { [ANNOTATION_WAITING_REASON]: null },
      pinNode: m.plan?.node ?? '',
    });
  }
  state.reports.push(
    report(gang, 'Planned', {
      level: gatedPlanned[0]?.plan?.level ?? '',
      domain: gatedPlanned[0]?.plan?.domain ?? '',
    }),
  );
  return true;
}

/** Pinned members that were not bound before their plan expired: recreate them through their controller. */
function expire(state: RoundState, gang: Gang): boolean {
  const stale = gang.members.filter(
    (m) =>
      m.plan !== undefined &&
      !isGated(m.pod) &&
      !isActiveOnNode(m.pod) &&
      time(m.plan.expires) < state.settings.now,
  );
  if (stale.length === 0) return false;
  const reason = `gang ${gang.ref.key}: ${stale.length} planned pods were not bound before the plan expired; recreating them to plan again`;
  for (const m of stale) {
    const owned = (
      (m.pod.metadata as { ownerReferences?: { controller?: boolean }[] }).ownerReferences ?? []
    ).some((o) => o.controller === true);
    if (owned) state.deletions.push({ ...podId(m), reason });
    else
      state.events.push(
        event(
          m,
          'Warning',
          'GangPlanExpired',
          `${reason}; this pod has no controller, delete it to retry`,
        ),
      );
  }
  state.reports.push(report(gang, 'Stale', { reason }));
  return true;
}

function initialState(objects: ClusterObjects, settings: PlannerSettings): RoundState {
  const snap = buildSnapshot(objects, settings);
  const problems = [...snap.problems];
  const policy = policyByName(settings.policy ?? DEFAULT_LIVE_POLICY);
  const ctx = policyContext(snap.model, lcg());
  return {
    snap,
    settings,
    book: queueBook(objects, problems),
    planner: new GangPlanner(snap.model, snap.tree, policy, ctx),
    writes: [],
    deletions: [],
    events: [],
    reports: [],
    problems,
    running: [],
    gangsById: new Map(),
  };
}

/** Records an admitted gang's usage in its queue, and as a candidate for reclaim. */
function admitRunning(state: RoundState, gang: Gang, admitted: readonly PodEntry[]): void {
  state.gangsById.set(gang.ref.key, gang);
  if (gang.queue === undefined || !state.book.has(gang.queue)) return;
  const demand = demandOf(gang, admitted);
  state.book.admit({ id: gang.ref.key }, gang.queue, demand);
  state.running.push({
    id: gang.ref.key,
    queue: gang.queue,
    priority: gang.priority,
    startedAt: gang.createdAt,
    demand,
  });
}

/** Preempts whole victim gangs so a queue gets back the quota it lent. */
function reclaim(state: RoundState, victims: readonly RunningGang[], reason: string): void {
  for (const v of victims) {
    const gang = state.gangsById.get(v.id);
    for (const m of gang?.members ?? []) {
      state.deletions.push({ ...podId(m), reason });
      state.events.push(event(m, 'Warning', 'GangPreempted', reason));
    }
    if (gang !== undefined)
      state.events.push(...groupEvent(gang, 'Warning', 'GangPreempted', reason));
  }
}

/** Gangs whose members Phalanx manages: any member gated by our gate or carrying a plan. */
function managed(gang: Gang): boolean {
  return gang.members.some((m) => isGated(m.pod) || m.plan !== undefined);
}

export function planRound(objects: ClusterObjects, settings: PlannerSettings): RoundResult {
  const state = initialState(objects, settings);
  const gangs = [...collectGangs(state.snap, objects).values()].filter(managed);
  const pending: { gang: Gang; members: PodEntry[] }[] = [];
  for (const gang of gangs) {
    const admitted = gang.members.filter((m) => m.plan !== undefined);
    if (admitted.length > 0) admitRunning(state, gang, admitted);
    if (expire(state, gang) || resume(state, gang)) continue;
    const waiting = gang.members.filter((m) => isGated(m.pod) && m.plan === undefined);
    if (waiting.length === 0) {
      state.reports.push(
        report(gang, admitted.every((m) => isActiveOnNode(m.pod)) ? 'Running' : 'Planned', {}),
      );
      continue;
    }
    pending.push({ gang, members: waiting });
  }
  admitPending(state, pending);
  return {
    writes: state.writes,
    deletions: state.deletions,
    events: state.events,
    queues: queueStatuses(state, objects),
    gangs: state.reports,
    problems: state.problems,
  };
}

function candidate(gang: Gang, members: PodEntry[]): GangCandidate {
  const unsupported = members.find((m) => 'unsupported' in m.demand);
  const base = {
    id: gang.ref.key,
    queue: gang.queue,
    priority: gang.priority,
    createdAt: gang.createdAt,
    size: gang.size,
    present: members.length + gang.members.filter((m) => m.plan !== undefined).length,
    request: request(gang, members),
    demand: demandOf(gang, members),
  };
  if (unsupported === undefined || !('unsupported' in unsupported.demand)) return base;
  return {
    ...base,
    unsupported: `gang ${gang.ref.key}: pod ${unsupported.key}: ${unsupported.demand.unsupported}`,
  };
}

function admitPending(
  state: RoundState,
  pending: readonly { gang: Gang; members: PodEntry[] }[],
): void {
  const byId = new Map(pending.map((p) => [p.gang.ref.key, p]));
  const candidates = pending.map((p) => candidate(p.gang, p.members));
  const ctx = {
    planner: state.planner,
    book: state.book,
    model: state.snap.model,
    tree: state.snap.tree,
    running: state.running,
  };
  for (const a of admitRound(ctx, candidates)) {
    const item = byId.get(a.gang.id);
    if (item === undefined) continue;
    if (a.kind === 'planned') commit(state, item.gang, a.plan, item.members);
    else if (a.kind === 'reclaim') {
      reclaim(state, a.victims, a.reason);
      wait(state, item.gang, 'Waiting', a.reason);
    } else wait(state, item.gang, a.phase, a.reason);
  }
}

function queueStatuses(state: RoundState, objects: ClusterObjects): QueueStatusUpdate[] {
  const pendingByQueue = new Map<string, number>();
  for (const r of state.reports) {
    if ((r.phase === 'Waiting' || r.phase === 'Incomplete') && r.queue !== undefined) {
      pendingByQueue.set(r.queue, (pendingByQueue.get(r.queue) ?? 0) + 1);
    }
  }
  const now = new Date(state.settings.now).toISOString();
  const out: QueueStatusUpdate[] = [];
  for (const raw of objects.queues) {
    const q = raw as QueueObject;
    const name = q.metadata?.name;
    if (name === undefined || !state.book.has(name)) continue;
    const data = state.book.status(name, pendingByQueue.get(name) ?? 0);
    out.push({
      name,
      status: { ...data, conditions: mergeConditions(q.status?.conditions, data.conditions, now) },
    });
  }
  return out;
}
