/**
 * `kubectl phalanx gangs`: each gang as a planning round groups it, its pods' state, its plan and
 * the core's verdict now. Pure.
 */
import { ANNOTATION_WAITING_REASON } from '../api/scheduling/labels.ts';
import type { Gang } from '../scheduling/planner.ts';
import type { GangReport } from '../scheduling/round-types.ts';
import type { PodEntry } from '../scheduling/snapshot.ts';
import { type GangSource, isActiveOnNode, isGated } from '../scheduling/workload.ts';
import type { Output } from './args.ts';
import { age, json, printTable } from './format.ts';
import type { ClusterView } from './view.ts';

/** Waiting, Incomplete, Planned, Running and Stale are the core's phases; Partial and Pending are ours. */
export type GangState = GangReport['phase'] | 'Partial' | 'Pending';

export interface GangRow {
  readonly namespace: string;
  readonly name: string;
  readonly source: string;
  /** Members the gang needs (label or PodGroup); 0 when nothing says. */
  readonly size: number;
  readonly pods: {
    readonly present: number;
    readonly bound: number;
    readonly gated: number;
    readonly pending: number;
  };
  readonly queue: string | undefined;
  readonly state: GangState;
  /** `level domain` of the plan, e.g. `node node-a` or `rack b0-r1`. */
  readonly planned: string | undefined;
  readonly plan: string | undefined;
  readonly reason: string | undefined;
  readonly createdAt: string | undefined;
  readonly age: string;
}

const SOURCES: Readonly<Record<GangSource, string>> = {
  podgroup: 'PodGroup/scheduling.k8s.io',
  'x-k8s-podgroup': 'PodGroup/scheduling.x-k8s.io',
  label: 'labels',
  single: 'pod',
};

export function describeSource(source: GangSource): string {
  return SOURCES[source];
}

/**
 * The gang's state: the core's phase, except that a gang with bound members and an unbound
 * member without a plan is Partial (the one state Phalanx exists to prevent), and a gang
 * Phalanx does not manage (no gate, no plan) is Pending or Running by its pods alone.
 */
function stateOf(members: readonly PodEntry[], report: GangReport | undefined): GangState {
  const bound = members.filter((m) => isActiveOnNode(m.pod)).length;
  const partial = bound > 0 && members.some((m) => !isActiveOnNode(m.pod) && m.plan === undefined);
  if (partial) return 'Partial';
  if (report !== undefined) return report.phase;
  return bound === members.length ? 'Running' : 'Pending';
}

function reasonOf(
  members: readonly PodEntry[],
  report: GangReport | undefined,
): string | undefined {
  for (const m of members) {
    const written = m.pod.metadata.annotations?.[ANNOTATION_WAITING_REASON];
    if (isGated(m.pod) && written !== undefined && written !== '') return written;
  }
  return report?.reason;
}

export function gangRow(view: ClusterView, gang: Gang, now: number): GangRow {
  const report = view.reports.get(gang.ref.key);
  const members = gang.members;
  const bound = members.filter((m) => isActiveOnNode(m.pod)).length;
  const gated = members.filter((m) => isGated(m.pod)).length;
  const plan = members.find((m) => m.plan !== undefined)?.plan;
  const level = plan?.level ?? report?.level;
  const domain = plan?.domain ?? report?.domain;
  const created =
    Number.isFinite(gang.createdAt) && gang.createdAt > 0 ? gang.createdAt : undefined;
  return {
    namespace: gang.ref.namespace,
    name: gang.ref.name,
    source: describeSource(gang.ref.source),
    size: gang.size,
    pods: { present: members.length, bound, gated, pending: members.length - bound - gated },
    queue: gang.queue,
    state: stateOf(members, report),
    planned: level === undefined || domain === undefined ? undefined : `${level} ${domain}`,
    plan: plan?.plan,
    reason: reasonOf(members, report),
    createdAt: created === undefined ? undefined : new Date(created).toISOString(),
    age: created === undefined ? '' : age(now - created),
  };
}

/** Gangs in a namespace (all when undefined): every gang of several pods, and single pods Phalanx manages. */
export function gangsReport(
  view: ClusterView,
  namespace: string | undefined,
  now: number,
): GangRow[] {
  const rows: GangRow[] = [];
  for (const gang of view.gangs.values()) {
    if (namespace !== undefined && gang.ref.namespace !== namespace) continue;
    if (gang.ref.source === 'single' && !view.reports.has(gang.ref.key)) continue;
    rows.push(gangRow(view, gang, now));
  }
  return rows.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

export function renderGangs(
  rows: readonly GangRow[],
  output: Output,
  allNamespaces: boolean,
): string {
  if (output === 'json') return json({ gangs: rows });
  const wide = output === 'wide';
  const headers = [
    ...(allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'SOURCE',
    'SIZE',
    'BOUND',
    'GATED',
    'PENDING',
    'QUEUE',
    'STATE',
    'PLANNED',
    'AGE',
    ...(wide ? ['PLAN'] : []),
    'REASON',
  ];
  const table = rows.map((r) => [
    ...(allNamespaces ? [r.namespace] : []),
    r.name,
    r.source,
    r.size === 0 ? '?' : String(r.size),
    String(r.pods.bound),
    String(r.pods.gated),
    String(r.pods.pending),
    r.queue ?? '',
    r.state,
    r.planned ?? '',
    r.age,
    ...(wide ? [r.plan ?? ''] : []),
    r.reason ?? '',
  ]);
  return printTable(headers, table);
}
