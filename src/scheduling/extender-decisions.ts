/**
 * What the scheduler extender answers, decided on the same cluster model the planner uses:
 *   - a planned pod passes only its planned node;
 *   - a gang or queue pod without a plan passes nowhere (it must go through the planner);
 *   - any other pod passes the nodes where it fits without taking capacity reserved for plans;
 *   - scores favour the planned node, then tight packing inside already used topology domains;
 *   - preemption never takes part of a gang: a node whose victims would split a gang is dropped.
 * Reasons are short sentences: kube-scheduler puts them in the pod's FailedScheduling event.
 *
 * Pure: no I/O. The snapshot is built once per `objects` value (callers pass the same object until
 * the cluster changes).
 */
import { LABEL_QUEUE } from '../api/scheduling/labels.ts';
import type { NodeState } from './cluster.ts';
import { describeClaims } from './devices.ts';
import { MILLI_PER_GPU, type PodShape } from './node-view.ts';
import { deviceScore } from './place.ts';
import type { ClusterObjects, PlannerSettings } from './round-types.ts';
import { buildSnapshot, claimSpecs, type Snapshot } from './snapshot.ts';
import { gangOf, type PodObject, planOf, podDemand } from './workload.ts';

export interface FilterDecision {
  feasible: string[];
  failed: Record<string, string>;
  unresolvable: Record<string, string>;
  /** Input nodes the model does not know (informer lag); the adapter reports them as an error. */
  unknown: string[];
  /** One verdict for every input node not named above (cheaper than thousands of map entries). */
  others?: { message: string; unresolvable: boolean };
}

export interface VictimSet {
  podUids: string[];
  numPDBViolations: number;
}

const snapshots = new WeakMap<ClusterObjects, Snapshot>();

function snapshotOf(objects: ClusterObjects, settings: PlannerSettings): Snapshot {
  let snap = snapshots.get(objects);
  if (snap === undefined) {
    snap = buildSnapshot(objects, settings);
    snapshots.set(objects, snap);
  }
  return snap;
}

function describe(shape: PodShape): string {
  const gpus =
    shape.gpuCount === 0 ? '' : `${shape.gpuCount} GPU${shape.gpuCount === 1 ? '' : 's'}, `;
  return `${gpus}${shape.cpuMilli} mCPU, ${Math.ceil(shape.memoryBytes / 2 ** 20)} MiB`;
}

function whyNot(node: NodeState, shape: PodShape): string | undefined {
  if (node.canHold(shape)) return undefined;
  if (shape.devices !== undefined && node.hasCpuAndMemoryFor(shape)) {
    return `phalanx: no free devices for ${describeClaims(shape.devices)} after planned gangs' reservations`;
  }
  const free = node.gpusFor(shape).length;
  if (shape.gpuCount > 0 && free < shape.gpuCount) {
    return `phalanx: ${free} of ${node.gpuCount} GPUs free after planned gangs' reservations; pod needs ${shape.gpuCount}`;
  }
  return `phalanx: not enough CPU or memory left after planned gangs' reservations (pod needs ${describe(shape)})`;
}

function managedWithoutPlan(pod: PodObject): string | undefined {
  const gang = gangOf(pod);
  const queue = pod.metadata.labels?.[LABEL_QUEUE];
  if (gang.source === 'single' && queue === undefined) return undefined;
  const what = gang.source === 'single' ? `queue ${queue}` : `gang ${gang.key}`;
  return `phalanx: pod of ${what} has no plan; it must be admitted by the planner (was it created while the admission webhook was unavailable? recreate it)`;
}

export function filterPod(
  objects: ClusterObjects,
  settings: PlannerSettings,
  pod: PodObject,
  nodeNames: readonly string[],
): FilterDecision {
  const snap = snapshotOf(objects, settings);
  const out: FilterDecision = { feasible: [], failed: {}, unresolvable: {}, unknown: [] };
  const plan = planOf(pod);
  if (plan !== undefined) {
    if (nodeNames.includes(plan.node)) out.feasible.push(plan.node);
    out.others = {
      message: `phalanx: gang ${plan.gang} planned this pod on ${plan.node}`,
      unresolvable: true,
    };
    return out;
  }
  const unmanaged = managedWithoutPlan(pod);
  if (unmanaged !== undefined) {
    out.others = { message: unmanaged, unresolvable: true };
    return out;
  }
  const demand = podDemand(pod, claimSpecs(objects));
  for (const name of nodeNames) {
    const node = snap.model.node(name);
    if (node === undefined) {
      out.unknown.push(name);
      continue;
    }
    if (!('shape' in demand)) {
      out.feasible.push(name);
      continue;
    }
    const reason = whyNot(node, demand.shape);
    if (reason === undefined) out.feasible.push(name);
    else out.failed[name] = reason;
  }
  return out;
}

/** 0..10: planned node 10; GPU pods pack tight; pods without GPUs prefer nodes without GPUs. */
export function scorePod(
  objects: ClusterObjects,
  settings: PlannerSettings,
  pod: PodObject,
  nodeNames: readonly string[],
): { host: string; score: number }[] {
  const snap = snapshotOf(objects, settings);
  const plan = planOf(pod);
  if (plan !== undefined)
    return nodeNames.map((host) => ({ host, score: host === plan.node ? 10 : 0 }));
  const demand = podDemand(pod, claimSpecs(objects));
  const gpus = 'shape' in demand ? demand.shape.gpuCount : 0;
  const devices =
    'shape' in demand && demand.shape.devices !== undefined ? demand.shape : undefined;
  return nodeNames.map((host) => {
    const node = snap.model.node(host);
    if (devices !== undefined && node !== undefined) {
      const fit = deviceScore(node, devices);
      return { host, score: fit === undefined ? 0 : Math.round(10 * fit.score) };
    }
    if (node === undefined || node.gpuCount === 0) return { host, score: gpus === 0 ? 10 : 0 };
    if (gpus === 0)
      return {
        host,
        score: Math.round(
          10 * (1 - node.gpuFreeMilliTotal / (node.gpuCount * MILLI_PER_GPU)) * 0.5,
        ),
      };
    const after = node.gpuFreeMilliTotal - gpus * MILLI_PER_GPU;
    const tight = 1 - Math.max(0, after) / (node.gpuCount * MILLI_PER_GPU);
    return { host, score: Math.max(0, Math.min(10, Math.round(10 * tight))) };
  });
}

/** Drops candidate nodes whose victims would take part of a gang and leave the rest running. */
export function preemptVictims(
  objects: ClusterObjects,
  _settings: PlannerSettings,
  _pod: PodObject,
  candidates: ReadonlyMap<string, VictimSet>,
): Map<string, VictimSet> {
  const byUid = new Map<string, PodObject>();
  const gangMembers = new Map<string, Set<string>>();
  for (const p of objects.pods) {
    const uid = p.metadata.uid;
    if (uid === undefined) continue;
    byUid.set(uid, p);
    const g = gangOf(p);
    if (g.source === 'single') continue;
    const set = gangMembers.get(g.key) ?? new Set<string>();
    set.add(uid);
    gangMembers.set(g.key, set);
  }
  const out = new Map<string, VictimSet>();
  for (const [node, victims] of candidates) {
    const chosen = new Set(victims.podUids);
    const splits = victims.podUids.some((uid) => {
      const p = byUid.get(uid);
      if (p === undefined) return false;
      const g = gangOf(p);
      if (g.source === 'single') return false;
      return [...(gangMembers.get(g.key) ?? [])].some((m) => !chosen.has(m));
    });
    if (!splits) out.set(node, victims);
  }
  return out;
}
