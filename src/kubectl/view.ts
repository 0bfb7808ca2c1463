/**
 * One reading of the cluster through the scheduling core, shared by every command: the snapshot
 * the planner and the extender build (ledger, topology tree, plans as reservations), the gangs as
 * a planning round groups them, and a dry planning round (nothing is written) for the core's
 * verdict on each gang and queue now. Pure.
 */
import type { QueueStatus } from '../api/scheduling/v1alpha1/queue.ts';
import { collectGangs, type Gang, planRound } from '../scheduling/planner.ts';
import type {
  ClusterObjects,
  GangReport,
  PlannerSettings,
  RoundResult,
} from '../scheduling/round-types.ts';
import { buildSnapshot, type Snapshot } from '../scheduling/snapshot.ts';
import { type PodObject, queueOf } from '../scheduling/workload.ts';

export interface ClusterView {
  readonly objects: ClusterObjects;
  readonly settings: PlannerSettings;
  readonly snap: Snapshot;
  readonly gangs: ReadonlyMap<string, Gang>;
  /** The core's dry round: what the planner would decide on these objects now. */
  readonly round: RoundResult;
  readonly reports: ReadonlyMap<string, GangReport>;
  /** Queue status as the core computes it now, by queue name. */
  readonly queueStatus: ReadonlyMap<string, QueueStatus>;
}

export function clusterView(objects: ClusterObjects, settings: PlannerSettings): ClusterView {
  const snap = buildSnapshot(objects, settings);
  const round = planRound(objects, settings);
  return {
    objects,
    settings,
    snap,
    gangs: collectGangs(snap, objects),
    round,
    reports: new Map(round.gangs.map((g) => [g.key, g])),
    queueStatus: new Map(round.queues.map((q) => [q.name, q.status as QueueStatus])),
  };
}

/** The pod's queue: its label, else its namespace's. */
export function podQueue(view: ClusterView, pod: PodObject): string | undefined {
  return queueOf(pod, view.objects.namespaces.get(pod.metadata.namespace ?? 'default'));
}
