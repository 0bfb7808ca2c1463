/**
 * `kubectl phalanx explain POD`: why a pod is where it is, or why it waits. Everything it says
 * comes from the objects (plan and waiting-reason annotations, claims, events) and from the core
 * run on them now: the gang's verdict of a dry planning round and the extender's filter for the
 * pod over every node. Pure.
 */
import { ANNOTATION_WAITING_REASON, SCHEDULING_GATE } from '../api/scheduling/labels.ts';
import { filterPod } from '../scheduling/extender-decisions.ts';
import {
  gangOf,
  isActiveOnNode,
  isGated,
  type PlanRecord,
  type PodObject,
  planOf,
  podKey,
} from '../scheduling/workload.ts';
import type { Output } from './args.ts';
import { fields, json, NONE } from './format.ts';
import { type GangRow, gangRow } from './gangs.ts';
import { type EventObject, eventTime } from './source.ts';
import { type ClusterView, podQueue } from './view.ts';

/** The pod asked for does not exist. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** Bound: on a node (it may still be starting); Planned: pinned and ungated, not bound yet. */
export type PodSituation = 'Finished' | 'Bound' | 'Planned' | 'Gated' | 'Unscheduled';

export interface ClaimDetail {
  /** The pod's name for the claim. */
  readonly name: string;
  /** The ResourceClaim's name, once it exists. */
  readonly claim: string | undefined;
  readonly allocated: boolean;
  readonly devices: readonly { request: string; pool: string; device: string }[];
}

export interface MemberDetail {
  readonly name: string;
  readonly node: string | undefined;
  readonly phase: string | undefined;
  readonly gated: boolean;
  readonly plannedNode: string | undefined;
}

export interface CoreVerdict {
  /** The gang's phase and reason in a dry planning round now. */
  readonly phase: string | undefined;
  readonly reason: string | undefined;
  /** The extender's filter for this pod over every node (unbound pods only). */
  readonly filter:
    | {
        readonly feasible: readonly string[];
        readonly failed: Readonly<Record<string, string>>;
        readonly others: string | undefined;
      }
    | undefined;
}

export interface ExplainReport {
  readonly pod: string;
  readonly situation: PodSituation;
  readonly summary: string;
  readonly phase: string | undefined;
  readonly node: string | undefined;
  readonly plan: PlanRecord | undefined;
  readonly waitingReason: string | undefined;
  readonly gates: readonly string[];
  readonly claims: readonly ClaimDetail[];
  readonly gang:
    | (GangRow & { readonly key: string; readonly members: readonly MemberDetail[] })
    | undefined;
  readonly queue:
    | {
        readonly name: string;
        readonly exists: boolean;
        readonly admittedGangs?: number;
        readonly pendingGangs?: number;
        readonly conditions: readonly string[];
      }
    | undefined;
  readonly events: readonly {
    type: string;
    reason: string;
    message: string;
    count: number;
    last: string;
  }[];
  readonly core: CoreVerdict;
}

export function findPod(view: ClusterView, namespace: string, name: string): PodObject {
  const pod = view.objects.pods.find(
    (p) => p.metadata.name === name && (p.metadata.namespace ?? 'default') === namespace,
  );
  if (pod === undefined) throw new NotFoundError(`pod ${namespace}/${name} not found`);
  return pod;
}

function situationOf(pod: PodObject): PodSituation {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 'Finished';
  if (isActiveOnNode(pod)) return 'Bound';
  if (planOf(pod) !== undefined && !isGated(pod)) return 'Planned';
  return isGated(pod) ? 'Gated' : 'Unscheduled';
}

function claimsOf(view: ClusterView, pod: PodObject): ClaimDetail[] {
  const namespace = pod.metadata.namespace ?? 'default';
  return (pod.spec?.resourceClaims ?? []).map((rc) => {
    const generated = pod.status?.resourceClaimStatuses?.find((s) => s.name === rc.name);
    const claimName = rc.resourceClaimName ?? generated?.resourceClaimName;
    const claim = view.objects.claims.find(
      (c) => c.metadata.namespace === namespace && c.metadata.name === claimName,
    );
    const results = claim?.status?.allocation?.devices?.results ?? [];
    return {
      name: rc.name,
      claim: claimName,
      allocated: claim?.status?.allocation !== undefined,
      devices: results.map((r) => ({ request: r.request, pool: r.pool, device: r.device })),
    };
  });
}

function membersOf(view: ClusterView, key: string): MemberDetail[] {
  const members = view.gangs.get(key)?.members ?? [];
  return members
    .map((m) => ({
      name: m.pod.metadata.name ?? '',
      node: m.pod.spec?.nodeName,
      phase: m.pod.status?.phase,
      gated: isGated(m.pod),
      plannedNode: m.plan?.node,
    }))
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

function gangOfPod(view: ClusterView, pod: PodObject, now: number): ExplainReport['gang'] {
  const ref = gangOf(pod);
  const gang = view.gangs.get(ref.key);
  if (gang === undefined || (ref.source === 'single' && !view.reports.has(ref.key)))
    return undefined;
  return { key: ref.key, ...gangRow(view, gang, now), members: membersOf(view, ref.key) };
}

function queueOfPod(view: ClusterView, pod: PodObject): ExplainReport['queue'] {
  const name = podQueue(view, pod);
  if (name === undefined) return undefined;
  const exists = view.objects.queues.some(
    (q) => (q as { metadata?: { name?: string } }).metadata?.name === name,
  );
  const status = view.queueStatus.get(name);
  if (status === undefined) return { name, exists, conditions: [] };
  return {
    name,
    exists,
    admittedGangs: status.admittedGangs ?? 0,
    pendingGangs: status.pendingGangs ?? 0,
    conditions: (status.conditions ?? []).map(
      (c) => `${c.type}=${c.status} (${c.reason}): ${c.message}`,
    ),
  };
}

function coreVerdict(view: ClusterView, pod: PodObject, situation: PodSituation): CoreVerdict {
  const report = view.reports.get(gangOf(pod).key);
  const base = { phase: report?.phase, reason: report?.reason };
  if (situation === 'Bound' || situation === 'Finished') return { ...base, filter: undefined };
  const names = view.snap.model.nodes.map((n) => n.name);
  const decision = filterPod(view.objects, view.settings, pod, names);
  const failed: Record<string, string> = { ...decision.failed, ...decision.unresolvable };
  return {
    ...base,
    filter: { feasible: decision.feasible, failed, others: decision.others?.message },
  };
}

function eventsOf(events: readonly EventObject[]): ExplainReport['events'] {
  return events.map((e) => ({
    type: e.type ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    count: e.count ?? 1,
    last: eventTime(e),
  }));
}

/** The last FailedScheduling message: kube-scheduler's verdict, with the extender's reason in it. */
function lastFailedScheduling(report: Pick<ExplainReport, 'events'>): string | undefined {
  return report.events.filter((e) => e.reason === 'FailedScheduling').at(-1)?.message;
}

function placedSummary(
  pod: string,
  node: string | undefined,
  plan: PlanRecord | undefined,
): string {
  if (plan === undefined) {
    return `pod ${pod} is bound to ${node ?? NONE}; no Phalanx plan placed it (it is in no gang or queue, or was bound before Phalanx managed it)`;
  }
  if (plan.node !== node)
    return `pod ${pod} is bound to ${node ?? NONE} but gang ${plan.gang} planned it on ${plan.node}`;
  return `pod ${pod} is bound to ${node ?? NONE}, where gang ${plan.gang} planned it (plan ${plan.plan}, ${plan.level} ${plan.domain})`;
}

function summaryOf(r: Omit<ExplainReport, 'summary'>): string {
  switch (r.situation) {
    case 'Finished':
      return `pod ${r.pod} has finished (${r.phase ?? ''})${r.node === undefined ? '' : ` on ${r.node}`}`;
    case 'Bound':
      return placedSummary(r.pod, r.node, r.plan);
    case 'Planned': {
      const failed = lastFailedScheduling(r);
      const why =
        failed === undefined
          ? 'kube-scheduler has not bound it yet'
          : `kube-scheduler says: ${failed}`;
      return `pod ${r.pod} is planned on ${r.plan?.node ?? NONE} (gang ${r.plan?.gang ?? ''}, ${r.plan?.level ?? ''} ${r.plan?.domain ?? ''}); ${why}`;
    }
    case 'Gated': {
      const why =
        r.waitingReason ??
        r.core.reason ??
        'the planner has not decided on its gang yet (is phalanx scheduler running?)';
      const others = r.gates.filter((g) => g !== SCHEDULING_GATE);
      const more = others.length === 0 ? '' : `; other gates left: ${others.join(', ')}`;
      return `pod ${r.pod} waits behind gate ${SCHEDULING_GATE}: ${why}${more}`;
    }
    default: {
      const failed = lastFailedScheduling(r);
      if (failed !== undefined) return `pod ${r.pod} waits for kube-scheduler: ${failed}`;
      const gates = r.gates.length === 0 ? '' : ` behind gates ${r.gates.join(', ')}`;
      return `pod ${r.pod} is not scheduled yet${gates}`;
    }
  }
}

export function explainReport(
  view: ClusterView,
  pod: PodObject,
  events: readonly EventObject[],
  now: number,
): ExplainReport {
  const situation = situationOf(pod);
  const waiting = pod.metadata.annotations?.[ANNOTATION_WAITING_REASON];
  const partial: Omit<ExplainReport, 'summary'> = {
    pod: podKey(pod),
    situation,
    phase: pod.status?.phase,
    node: pod.spec?.nodeName === '' ? undefined : pod.spec?.nodeName,
    plan: planOf(pod),
    waitingReason: waiting === '' ? undefined : waiting,
    gates: (pod.spec?.schedulingGates ?? []).map((g) => g.name),
    claims: claimsOf(view, pod),
    gang: gangOfPod(view, pod, now),
    queue: queueOfPod(view, pod),
    events: eventsOf(events),
    core: coreVerdict(view, pod, situation),
  };
  return { ...partial, summary: summaryOf(partial) };
}

// ---- rendering ----------------------------------------------------------------------------------

function planLines(plan: PlanRecord | undefined): string[] {
  if (plan === undefined) return [];
  return [
    'Plan:',
    ...fields(
      [
        ['Gang', plan.gang],
        ['Plan', plan.plan],
        ['Node', plan.node],
        ['Domain', `${plan.level} ${plan.domain}`],
        ['Expires', plan.expires],
      ],
      '  ',
    ),
  ];
}

function claimLines(claims: readonly ClaimDetail[]): string[] {
  if (claims.length === 0) return [];
  const lines = ['Claims:'];
  for (const c of claims) {
    const state = c.allocated ? 'allocated' : 'not allocated';
    lines.push(`  ${c.name} (${c.claim ?? 'not created yet'}): ${state}`);
    for (const d of c.devices) lines.push(`    ${d.request}: ${d.pool}/${d.device}`);
  }
  return lines;
}

function gangLines(gang: ExplainReport['gang']): string[] {
  if (gang === undefined) return [];
  const lines = [
    'Gang:',
    ...fields(
      [
        ['Name', gang.key],
        ['Source', gang.source],
        ['Size', gang.size === 0 ? 'unknown' : String(gang.size)],
        [
          'Pods',
          `${gang.pods.present} present, ${gang.pods.bound} bound, ${gang.pods.gated} gated, ${gang.pods.pending} pending`,
        ],
        ['State', gang.state],
        ['Planned', gang.planned],
      ],
      '  ',
    ),
    '  Members:',
  ];
  for (const m of gang.members) {
    const where =
      m.node ?? (m.plannedNode === undefined ? 'unplanned' : `planned on ${m.plannedNode}`);
    lines.push(`    ${m.name}  ${where}${m.gated ? '  (gated)' : ''}`);
  }
  return lines;
}

const gangs = (n: number | undefined): string => `${n ?? 0} gang${n === 1 ? '' : 's'}`;

function queueLines(queue: ExplainReport['queue']): string[] {
  if (queue === undefined) return [];
  if (!queue.exists)
    return [`Queue: ${queue.name} (does not exist; create the Queue or fix the label)`];
  return [
    `Queue: ${queue.name} (${gangs(queue.admittedGangs)} admitted, ${queue.pendingGangs ?? 0} pending)`,
    ...queue.conditions.map((c) => `  ${c}`),
  ];
}

function eventLines(events: ExplainReport['events']): string[] {
  if (events.length === 0) return ['Events: <none>'];
  return [
    'Events:',
    ...events.map((e) => `  ${e.type} ${e.reason} (x${e.count}, ${e.last}): ${e.message}`),
  ];
}

function coreLines(core: CoreVerdict): string[] {
  const lines = ['Scheduler core now:'];
  if (core.phase !== undefined) {
    lines.push(`  Gang: ${core.phase}${core.reason === undefined ? '' : ` - ${core.reason}`}`);
  }
  const f = core.filter;
  if (f === undefined) return lines.length === 1 ? [] : lines;
  lines.push(
    `  Extender filter passes: ${f.feasible.length === 0 ? 'no node' : f.feasible.join(', ')}`,
  );
  for (const [node, why] of Object.entries(f.failed)) lines.push(`    ${node}: ${why}`);
  if (f.others !== undefined) lines.push(`    other nodes: ${f.others}`);
  return lines;
}

export function renderExplain(report: ExplainReport, output: Output): string {
  if (output === 'json') return json(report);
  const lines = [
    ...fields([
      ['Pod', report.pod],
      [
        'Status',
        `${report.situation}${report.phase === undefined ? '' : ` (phase ${report.phase})`}`,
      ],
      ['Node', report.node],
      ['Why', report.summary],
      ['Waiting reason', report.waitingReason],
      ['Gates', report.gates.join(', ')],
    ]),
    ...planLines(report.plan),
    ...claimLines(report.claims),
    ...gangLines(report.gang),
    ...queueLines(report.queue),
    ...coreLines(report.core),
    ...eventLines(report.events),
  ];
  return `${lines.join('\n')}\n`;
}
