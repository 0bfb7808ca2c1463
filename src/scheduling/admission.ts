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
 * The order follows usage as the round admits: after a gang is admitted, the gangs after it are
 * ordered again with its queue's new usage, so one round that admits many gangs interleaves the
 * queues by weighted dominant share (as many rounds admitting one gang each would) instead of
 * letting the queue that was lowest at the start take everything.
 *
 * Within a round capacity only shrinks, so once a gang of n identical pods finds no room, a later
 * gang with the same pod shape, the same topology levels, the same node constraints and at least
 * n pods finds none either: it waits without a second placement search. This keeps a round over
 * thousands of waiting gangs of a few shapes cheap (a gang's room is exact for identical pods, so
 * the answer is the one the search would give).
 *
 * Pure: no I/O.
 */
import type { ClusterModel } from './cluster.ts';
import { type GangPlan, type GangPlanner, type GangRequest, shapeKey } from './gang.ts';
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
  /**
   * Names the node constraints of `request.allowed`: candidates with equal keys may use the same
   * nodes. A request without `allowed` needs no key. Lets a failed placement search stand for
   * later gangs that need at least as much (see above).
   */
  readonly constraintKey?: string;
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
  const lent = ctx.book.reclaimCandidates(c.queue, c.demand, running, c.priority);
  if (lent !== undefined && lent.length > 0) {
    return preempting(c, lent, reclaimed, `queue ${c.queue} reclaims quota it lent`);
  }
  const own = ctx.book.withinQueueCandidates(c.queue, c.demand, running, c.priority);
  if (own !== undefined && own.length > 0) {
    return preempting(
      c,
      own,
      reclaimed,
      `priority ${c.priority} outranks running gangs of queue ${c.queue}`,
    );
  }
  return waiting(check.reason);
}

function preempting(
  c: GangCandidate,
  victims: readonly RunningGang[],
  reclaimed: Set<string>,
  why: string,
): Admission {
  for (const v of victims) reclaimed.add(v.id);
  const names = victims.map((v) => `${v.id} (queue ${v.queue})`).join(', ');
  return {
    kind: 'reclaim',
    gang: c,
    victims,
    reason: `gang ${c.id}: ${why}; preempting whole gang${victims.length === 1 ? '' : 's'} ${names}`,
  };
}

/** Whether gangs of another queue than order[i]'s wait after it (their order may change). */
function othersQueuedAfter(book: QueueBook, order: readonly GangCandidate[], i: number): boolean {
  const queue = order[i]?.queue;
  if (queue === undefined || !book.has(queue)) return false;
  for (let k = i + 1; k < order.length; k++) {
    const q = order[k]?.queue;
    if (q !== undefined && q !== queue && book.has(q)) return true;
  }
  return false;
}

interface Failure {
  readonly gang: string;
  readonly pods: number;
  readonly reason: string;
}

/** The key under which a failed search stands for others, or undefined when it cannot. */
function failureKey(c: GangCandidate): string | undefined {
  const { members, allowed, required, preferred } = c.request;
  const first = members[0];
  if (first === undefined || (allowed !== undefined && c.constraintKey === undefined))
    return undefined;
  const shape = shapeKey(first.shape);
  for (const m of members) {
    if (m.shape !== first.shape && shapeKey(m.shape) !== shape) return undefined;
  }
  return `${c.constraintKey ?? ''}\n${required ?? ''}\n${preferred ?? ''}\n${shape}`;
}

function knownFailure(
  failures: ReadonlyMap<string, Failure>,
  key: string | undefined,
  c: GangCandidate,
): Admission | undefined {
  const f = key === undefined ? undefined : failures.get(key);
  if (f === undefined || c.request.members.length < f.pods) return undefined;
  const reason = `gang ${c.id}: no room for its ${c.request.members.length} pods; gang ${f.gang}, earlier in queue order with the same pods and ${f.pods} of them, does not fit either (${f.reason})`;
  return { kind: 'waiting', gang: c, phase: 'Waiting', reason };
}

/** What a round accumulates as it goes. */
interface Round {
  readonly out: Admission[];
  /** Nodes reserved for the head-of-line gang. */
  readonly blocked: Set<number>;
  readonly reclaimed: Set<string>;
  readonly failures: Map<string, Failure>;
  headReserved: boolean;
}

/** The verdict before any placement search: incomplete, refused, or known not to fit. */
function screen(
  ctx: AdmissionContext,
  round: Round,
  gang: GangCandidate,
  key: string | undefined,
): Admission | undefined {
  if (gang.size > 0 && gang.present < gang.size) {
    const reason = `gang ${gang.id}: ${gang.present}/${gang.size} pods present; waiting for ${gang.size - gang.present}`;
    return { kind: 'waiting', gang, phase: 'Incomplete', reason };
  }
  return precheck(ctx, gang, round.reclaimed) ?? knownFailure(round.failures, key, gang);
}

/**
 * Searches for a placement outside the reserved nodes. A gang placed is admitted to its queue; a
 * gang that does not fit is remembered, and the first one gets the head-of-line reservation.
 */
function place(
  ctx: AdmissionContext,
  round: Round,
  gang: GangCandidate,
  key: string | undefined,
): boolean {
  const allowed = gang.request.allowed;
  const request: GangRequest = {
    ...gang.request,
    allowed: (node) => !round.blocked.has(node.ordinal) && (allowed === undefined || allowed(node)),
  };
  const result = ctx.planner.plan(request);
  if (result.kind === 'planned') {
    if (gang.queue !== undefined) ctx.book.admit({ id: gang.id }, gang.queue, gang.demand);
    round.out.push({ kind: 'planned', gang, plan: result });
    return true;
  }
  round.out.push({ kind: 'waiting', gang, phase: 'Waiting', reason: result.reason });
  const pods = gang.request.members.length;
  if (key !== undefined && pods < (round.failures.get(key)?.pods ?? Number.POSITIVE_INFINITY)) {
    round.failures.set(key, { gang: gang.id, pods, reason: result.reason });
  }
  if (!round.headReserved) {
    round.headReserved = true;
    for (const o of headDomain(ctx.model, ctx.tree, request)?.nodes ?? []) round.blocked.add(o);
  }
  return false;
}

/**
 * Admits what it can, in order. Planned gangs hold their capacity in the model and their usage in
 * the book when this returns.
 */
export function admitRound(
  ctx: AdmissionContext,
  candidates: readonly GangCandidate[],
): Admission[] {
  const round: Round = {
    out: [],
    blocked: new Set(),
    reclaimed: new Set(),
    failures: new Map(),
    headReserved: false,
  };
  let order = admissionOrder(ctx.book, candidates);
  for (let i = 0; i < order.length; i++) {
    const gang = order[i] as GangCandidate;
    const key = failureKey(gang);
    const screened = screen(ctx, round, gang, key);
    if (screened !== undefined) {
      round.out.push(screened);
      continue;
    }
    if (place(ctx, round, gang, key) && othersQueuedAfter(ctx.book, order, i)) {
      order = [...order.slice(0, i + 1), ...admissionOrder(ctx.book, order.slice(i + 1))];
    }
  }
  return round.out;
}
