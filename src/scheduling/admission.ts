/**
 * Gang admission in queue order: the decision part of a planning round, shared by the live
 * planner and the simulator. Gangs are ordered by their queues (priority, weighted dominant share,
 * age; gangs without a queue after, by priority and age), and each is admitted only when it is
 * complete, within its queue's quota (borrowing from the cohort where allowed) and placeable whole.
 *
 * Head-of-line reservation: the first gang in order that is blocked only by capacity gets the
 * domain closest to holding it reserved for the rest of the round; later gangs may not use it, so
 * a stream of small gangs cannot keep a large one waiting for ever.
 *
 * Pure: no I/O.
 */
import type { ClusterModel } from './cluster.ts';
import type { GangPlan, GangPlanner, GangRequest } from './gang.ts';
import type { PendingGang, QueueBook, ResourceVector, RunningGang } from './queues.ts';
import type { Domain, TopologyTree } from './topology.ts';

export interface GangCandidate {
  readonly id: string;
  readonly queue: string | undefined;
  readonly priority: number;
  /** ms since the epoch (or simulated time). */
  readonly createdAt: number;
  /** Members the gang needs in all (0: whatever is present). */
  readonly size: number;
  /** Members present, including ones already planned earlier. */
  readonly present: number;
  /** The members to place now. */
  readonly request: GangRequest;
  readonly demand: ResourceVector;
  /** Set when a member's demand cannot be modelled: the gang waits with this reason. */
  readonly unsupported?: string;
}

export type Admission =
  | { readonly kind: 'planned'; readonly gang: GangCandidate; readonly plan: GangPlan }
  | {
      readonly kind: 'waiting';
      readonly gang: GangCandidate;
      readonly phase: 'Incomplete' | 'Waiting';
      readonly reason: string;
    }
  | {
      /** The gang's queue lent quota it now needs: these whole gangs are preempted to get it back. */
      readonly kind: 'reclaim';
      readonly gang: GangCandidate;
      readonly victims: readonly RunningGang[];
      readonly reason: string;
    };

export interface AdmissionContext {
  readonly planner: GangPlanner;
  readonly book: QueueBook;
  readonly model: ClusterModel;
  readonly tree: TopologyTree;
  /** Admitted gangs, for reclaiming quota lent inside a cohort. */
  readonly running?: readonly RunningGang[];
}

const queued = (book: QueueBook, c: GangCandidate) => c.queue !== undefined && book.has(c.queue);

/** Candidates in admission order. */
export function admissionOrder(
  book: QueueBook,
  candidates: readonly GangCandidate[],
): GangCandidate[] {
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const pending: PendingGang[] = candidates
    .filter((c) => queued(book, c))
    .map((c) => ({
      id: c.id,
      queue: c.queue ?? '',
      priority: c.priority,
      createdAt: c.createdAt,
      demand: c.demand,
    }));
  const rest = candidates
    .filter((c) => !queued(book, c))
    .sort(
      (a, b) => b.priority - a.priority || a.createdAt - b.createdAt || a.id.localeCompare(b.id),
    );
  const ordered = book.order(pending).flatMap((p) => {
    const c = byId.get(p.id);
    return c === undefined ? [] : [c];
  });
  return [...ordered, ...rest];
}

/** The narrowest domain that could ever hold the gang (by its nodes' GPUs), with the most free now. */
export function headDomain(
  model: ClusterModel,
  tree: TopologyTree,
  req: GangRequest,
): Domain | undefined {
  const perPod = Math.max(1, ...req.members.map((m) => m.shape.gpuCount));
  const widest = req.required === undefined ? 0 : (tree.depthOf(req.required) ?? 0);
  for (let depth = tree.levels.length; depth >= widest; depth--) {
    let best: Domain | undefined;
    let bestFree = -1;
    for (const d of tree.domainsAt(depth)) {
      let slots = 0;
      let free = 0;
      for (const o of d.nodes) {
        const n = model.nodes[o];
        if (n === undefined) continue;
        slots += Math.floor(n.gpuCount / perPod);
        free += n.gpuFreeMilliTotal;
      }
      if (slots >= req.members.length && free > bestFree) {
        best = d;
        bestFree = free;
      }
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

function precheck(
  ctx: AdmissionContext,
  c: GangCandidate,
  reclaimed: Set<string>,
): Admission | undefined {
  const waiting = (reason: string): Admission => ({
    kind: 'waiting',
    gang: c,
    phase: 'Waiting',
    reason,
  });
  if (c.unsupported !== undefined) return waiting(c.unsupported);
  if (c.queue === undefined) return undefined;
  if (!ctx.book.has(c.queue)) {
    return waiting(
      `gang ${c.id}: queue ${c.queue} does not exist; create it or fix the pods' queue label`,
    );
  }
  const check = ctx.book.check(c.queue, c.demand);
  if (check.ok) return undefined;
  const running = (ctx.running ?? []).filter((g) => !reclaimed.has(g.id));
  const victims = ctx.book.reclaimCandidates(c.queue, c.demand, running, c.priority);
  if (victims === undefined || victims.length === 0) return waiting(check.reason);
  for (const v of victims) reclaimed.add(v.id);
  const names = victims.map((v) => `${v.id} (queue ${v.queue})`).join(', ');
  return {
    kind: 'reclaim',
    gang: c,
    victims,
    reason: `gang ${c.id}: queue ${c.queue} reclaims quota it lent; preempting whole gang${victims.length === 1 ? '' : 's'} ${names}`,
  };
}

/**
 * Admits what it can, in order. Planned gangs hold their capacity in the model and their usage in
 * the book when this returns.
 */
export function admitRound(
  ctx: AdmissionContext,
  candidates: readonly GangCandidate[],
): Admission[] {
  const out: Admission[] = [];
  const blocked = new Set<number>();
  const reclaimed = new Set<string>();
  let headReserved = false;
  for (const gang of admissionOrder(ctx.book, candidates)) {
    if (gang.size > 0 && gang.present < gang.size) {
      const reason = `gang ${gang.id}: ${gang.present}/${gang.size} pods present; waiting for ${gang.size - gang.present}`;
      out.push({ kind: 'waiting', gang, phase: 'Incomplete', reason });
      continue;
    }
    const refused = precheck(ctx, gang, reclaimed);
    if (refused !== undefined) {
      out.push(refused);
      continue;
    }
    const allowed = gang.request.allowed;
    const request: GangRequest = {
      ...gang.request,
      allowed: (node) => !blocked.has(node.ordinal) && (allowed === undefined || allowed(node)),
    };
    const result = ctx.planner.plan(request);
    if (result.kind === 'planned') {
      if (gang.queue !== undefined) ctx.book.admit({ id: gang.id }, gang.queue, gang.demand);
      out.push({ kind: 'planned', gang, plan: result });
      continue;
    }
    out.push({ kind: 'waiting', gang, phase: 'Waiting', reason: result.reason });
    if (headReserved) continue;
    headReserved = true;
    for (const o of headDomain(ctx.model, ctx.tree, request)?.nodes ?? []) blocked.add(o);
  }
  return out;
}
