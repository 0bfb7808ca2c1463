/**
 * Queue accounting: which gangs a queue may admit under its quota, what it borrows from its
 * cohort, the order in which pending gangs are served (priority, then dominant resource fairness),
 * and which running gangs to reclaim when a queue wants its nominal quota back.
 *
 * Amounts are device counts keyed by quota resource (`gpu.phalanx.dev`,
 * `partition.gpu.phalanx.dev/1g.10gb`). A resource that no queue lists is not limited by queues.
 * A queue that does not list a resource others list has nominal 0 for it and may only borrow.
 *
 * Borrowing model: a queue's usage fills its own nominal first; usage above nominal is borrowed.
 * Queue q can lend `min(lendingLimit, nominal − usage)` (at least 0) of its unused nominal. A
 * cohort is sound when, per resource, all borrowing fits in all lending. A queue within its
 * nominal may still have to wait while others borrow that quota: that is what reclaim is for.
 *
 * Pure: no I/O.
 */
import { LABEL_QUEUE } from '../api/scheduling/labels.ts';
import type {
  ConditionUpdate,
  Queue,
  QueueResourceUsage,
  ReclaimWithinCohortPolicy,
  WithinQueuePolicy,
} from '../api/scheduling/v1alpha1/queue.ts';

/** Device counts keyed by quota resource. */
export type ResourceVector = ReadonlyMap<string, number>;

/** Whatever identifies a gang: its id (namespace/name) is all the book needs. */
export interface GangRef {
  readonly id: string;
}

export interface PendingGang {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  readonly demand: ResourceVector;
}

export interface RunningGang {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  /** Admission time, ms since the epoch: the newest are preempted first (least work lost). */
  readonly startedAt: number;
  readonly demand: ResourceVector;
}

export type QuotaCheck =
  | { readonly ok: true; readonly borrows: ResourceVector }
  | {
      readonly ok: false;
      readonly reason: string;
      /** The resource that does not fit; empty when the queue itself is the problem. */
      readonly resource: string;
    };

/** What the planner writes to Queue.status (it adds `lastTransitionTime` to the conditions). */
export interface QueueStatusData {
  readonly usage: QueueResourceUsage[];
  readonly admittedGangs: number;
  readonly pendingGangs: number;
  readonly fairShare: number;
  readonly conditions: ConditionUpdate[];
}

/** A device request of one gang, as the queue book counts it. */
export interface DeviceRequest {
  readonly deviceClass: string;
  /** Partition profile, for partition devices. */
  readonly profile?: string;
  readonly count: number;
}

export class QueueBookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueBookError';
  }
}

/** The quota resource key of a device class, or of one partition profile of it. */
export function resourceKey(deviceClass: string, profile?: string): string {
  return profile === undefined ? deviceClass : `${deviceClass}/${profile}`;
}

/**
 * A gang's demand: each request counts against its device class, and a request for a partition
 * profile also against `<class>/<profile>`, so a quota on either limits it.
 */
export function demandVector(requests: Iterable<DeviceRequest>): ResourceVector {
  const out = new Map<string, number>();
  const add = (key: string, n: number) => out.set(key, (out.get(key) ?? 0) + n);
  for (const request of requests) {
    add(request.deviceClass, request.count);
    if (request.profile !== undefined) {
      add(resourceKey(request.deviceClass, request.profile), request.count);
    }
  }
  return out;
}

/** A vector from a plain record (zero amounts dropped). */
export function toVector(amounts: Readonly<Record<string, number>>): ResourceVector {
  return new Map(Object.entries(amounts).filter(([, n]) => n !== 0));
}

// ---- internal model ------------------------------------------------------------------------------

interface Limits {
  readonly nominal: number;
  readonly borrowingLimit: number | undefined;
  readonly lendingLimit: number | undefined;
}

interface QueueEntry {
  readonly name: string;
  readonly cohort: string | undefined;
  readonly priority: number;
  readonly weight: number;
  readonly reclaim: ReclaimWithinCohortPolicy;
  readonly withinQueue: WithinQueuePolicy;
  readonly quotaOrder: readonly string[];
  readonly limits: ReadonlyMap<string, Limits>;
}

interface Admitted {
  readonly queue: string;
  readonly demand: ResourceVector;
}

/** Usage per queue; the book's own table, or a copy the reclaim search edits. */
type UsageTable = Map<string, Map<string, number>>;

const NO_LIMITS: Limits = { nominal: 0, borrowingLimit: undefined, lendingLimit: undefined };

function entryOf(queue: Queue): QueueEntry {
  const limits = new Map<string, Limits>();
  for (const q of queue.spec.quotas) {
    limits.set(q.resource, {
      nominal: q.nominal,
      borrowingLimit: q.borrowingLimit,
      lendingLimit: q.lendingLimit,
    });
  }
  return {
    name: queue.metadata.name,
    cohort: queue.spec.cohort,
    priority: queue.spec.priority,
    weight: queue.spec.weight,
    reclaim: queue.spec.preemption.reclaimWithinCohort,
    withinQueue: queue.spec.preemption.withinQueue,
    quotaOrder: queue.spec.quotas.map((q) => q.resource),
    limits,
  };
}

const limitsOf = (entry: QueueEntry, resource: string): Limits =>
  entry.limits.get(resource) ?? NO_LIMITS;

/** What a queue can lend of resource r at usage `used`. */
function lendable(limits: Limits, used: number): number {
  const cap = limits.lendingLimit ?? limits.nominal;
  return Math.max(0, Math.min(cap, limits.nominal - used));
}

const borrowedAt = (limits: Limits, used: number): number => Math.max(0, used - limits.nominal);

const usageIn = (table: UsageTable, queue: string, resource: string): number =>
  table.get(queue)?.get(resource) ?? 0;

function addInto(table: UsageTable, queue: string, demand: ResourceVector, sign: 1 | -1): void {
  let row = table.get(queue);
  if (row === undefined) {
    row = new Map();
    table.set(queue, row);
  }
  for (const [resource, n] of demand) {
    const next = (row.get(resource) ?? 0) + sign * n;
    if (next === 0) row.delete(resource);
    else row.set(resource, next);
  }
  if (row.size === 0) table.delete(queue);
}

function checkDemand(demand: ResourceVector): void {
  for (const [resource, n] of demand) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new QueueBookError(
        `demand for ${resource} must be a non-negative whole device count, got ${n}`,
      );
    }
  }
}

function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** One resource of one check: the numbers a verdict and its message need. */
interface ResourceTerms {
  readonly entry: QueueEntry;
  readonly resource: string;
  readonly limits: Limits;
  readonly used: number;
  readonly needs: number;
}

function quotaSentence(t: ResourceTerms): string {
  const unlisted = t.entry.limits.has(t.resource) ? '' : ' (not in spec.quotas)';
  return `queue ${t.entry.name}: ${t.resource} quota ${t.limits.nominal}${unlisted}, in use ${t.used}, gang needs ${t.needs}`;
}

// ---- the book ----------------------------------------------------------------------------------

/** Quota usage of every queue, from the gangs admitted to them. */
export class QueueBook {
  readonly #queues = new Map<string, QueueEntry>();
  readonly #cohorts = new Map<string, string[]>();
  /** Resources some queue has a quota for; others are not limited by queues. */
  readonly #managed = new Set<string>();
  readonly #usage: UsageTable = new Map();
  readonly #gangs = new Map<string, Admitted>();

  constructor(queues: Iterable<Queue> = []) {
    for (const queue of queues) this.#queues.set(queue.metadata.name, entryOf(queue));
    this.#reindex();
  }

  /** Adds a queue or replaces its spec; admitted gangs stay admitted. */
  upsert(queue: Queue): void {
    this.#queues.set(queue.metadata.name, entryOf(queue));
    this.#reindex();
  }

  /** Forgets a queue's spec. Its admitted gangs stay recorded until released. */
  remove(name: string): void {
    this.#queues.delete(name);
    this.#reindex();
  }

  has(queue: string): boolean {
    return this.#queues.has(queue);
  }

  #reindex(): void {
    this.#cohorts.clear();
    this.#managed.clear();
    for (const entry of [...this.#queues.values()].sort((a, b) => compareIds(a.name, b.name))) {
      for (const resource of entry.limits.keys()) this.#managed.add(resource);
      if (entry.cohort === undefined) continue;
      const members = this.#cohorts.get(entry.cohort) ?? [];
      members.push(entry.name);
      this.#cohorts.set(entry.cohort, members);
    }
  }

  #entry(queue: string): QueueEntry {
    const entry = this.#queues.get(queue);
    if (entry === undefined) throw new QueueBookError(unknownQueue(queue));
    return entry;
  }

  #members(entry: QueueEntry): readonly QueueEntry[] {
    if (entry.cohort === undefined) return [entry];
    const names = this.#cohorts.get(entry.cohort) ?? [];
    return names.flatMap((n) => this.#queues.get(n) ?? []);
  }

  /** Records a gang as admitted to `queue`. Does not check quota: call {@link check} first. */
  admit(gang: GangRef, queue: string, demand: ResourceVector): void {
    this.#entry(queue);
    checkDemand(demand);
    const before = this.#gangs.get(gang.id);
    if (before !== undefined) {
      throw new QueueBookError(`gang ${gang.id} is already admitted to queue ${before.queue}`);
    }
    const copy = new Map([...demand].filter(([, n]) => n > 0));
    this.#gangs.set(gang.id, { queue, demand: copy });
    addInto(this.#usage, queue, copy, 1);
  }

  /** Releases an admitted gang's quota; false when the gang was not admitted. */
  release(gangId: string): boolean {
    const admitted = this.#gangs.get(gangId);
    if (admitted === undefined) return false;
    this.#gangs.delete(gangId);
    addInto(this.#usage, admitted.queue, admitted.demand, -1);
    return true;
  }

  /** Devices in use by a queue's admitted gangs. */
  usage(queue: string): ResourceVector {
    return new Map(this.#usage.get(queue) ?? []);
  }

  /** The part of a queue's usage that is borrowed from its cohort. */
  borrowed(queue: string): ResourceVector {
    const entry = this.#entry(queue);
    const out = new Map<string, number>();
    for (const [resource, used] of this.#usage.get(queue) ?? []) {
      if (!this.#managed.has(resource)) continue;
      const b = borrowedAt(limitsOf(entry, resource), used);
      if (b > 0) out.set(resource, b);
    }
    return out;
  }

  admittedGangs(queue: string): number {
    let n = 0;
    for (const g of this.#gangs.values()) if (g.queue === queue) n++;
    return n;
  }

  /** Whether `queue` may admit a gang needing `demand` now, and what it would borrow. */
  check(queue: string, demand: ResourceVector): QuotaCheck {
    checkDemand(demand);
    const entry = this.#queues.get(queue);
    if (entry === undefined) return { ok: false, reason: unknownQueue(queue), resource: '' };
    return this.#checkWith(entry, demand, this.#usage);
  }

  #checkWith(entry: QueueEntry, demand: ResourceVector, table: UsageTable): QuotaCheck {
    const borrows = new Map<string, number>();
    for (const resource of [...demand.keys()].sort(compareIds)) {
      const needs = demand.get(resource) ?? 0;
      if (needs === 0 || !this.#managed.has(resource)) continue;
      const limits = limitsOf(entry, resource);
      const terms: ResourceTerms = {
        entry,
        resource,
        limits,
        used: usageIn(table, entry.name, resource),
        needs,
      };
      const refusal = this.#refusal(terms, table);
      if (refusal !== undefined) return { ok: false, reason: refusal, resource };
      const more = borrowedAt(limits, terms.used + needs) - borrowedAt(limits, terms.used);
      if (more > 0) borrows.set(resource, more);
    }
    return { ok: true, borrows };
  }

  /** Why one resource of the demand does not fit, or undefined when it does. */
  #refusal(t: ResourceTerms, table: UsageTable): string | undefined {
    const after = t.used + t.needs;
    const cohort = t.entry.cohort;
    if (cohort === undefined) {
      return after <= t.limits.nominal
        ? undefined
        : `${quotaSentence(t)}; it is in no cohort, so it cannot borrow`;
    }
    const borrowNow = borrowedAt(t.limits, t.used);
    const borrowAfter = borrowedAt(t.limits, after);
    const cap = t.limits.borrowingLimit;
    if (cap !== undefined && borrowAfter > cap) {
      return `${quotaSentence(t)}; its borrowingLimit ${cap} lets it borrow ${Math.max(0, cap - borrowNow)} more`;
    }
    const spare = this.#cohortSpare(t.entry, t.resource, table);
    if (borrowAfter <= spare + lendable(t.limits, after)) return undefined;
    if (borrowAfter > 0) {
      const more = borrowNow > 0 ? ' more' : '';
      return `${quotaSentence(t)}; cohort ${cohort} can lend ${Math.max(0, spare - borrowNow)}${more}`;
    }
    const lentOut = -(spare + lendable(t.limits, after));
    return `${quotaSentence(t)}; ${lentOut} of that quota is lent to other queues in cohort ${cohort} until their gangs finish or are reclaimed`;
  }

  /**
   * What the rest of the queue's cohort can still lend of a resource: their lendable unused
   * nominal minus what they borrow themselves. Negative when they borrow this queue's quota.
   */
  #cohortSpare(entry: QueueEntry, resource: string, table: UsageTable): number {
    let spare = 0;
    for (const other of this.#members(entry)) {
      if (other.name === entry.name) continue;
      const limits = limitsOf(other, resource);
      const used = usageIn(table, other.name, resource);
      spare += lendable(limits, used) - borrowedAt(limits, used);
    }
    return spare;
  }

  /** Sum of nominal quota over the queue's cohort (the queue alone when it has none). */
  #cohortNominal(entry: QueueEntry, resource: string): number {
    return this.#members(entry).reduce((sum, q) => sum + limitsOf(q, resource).nominal, 0);
  }

  #shareWith(entry: QueueEntry, extra: ResourceVector | undefined): number {
    const row = this.#usage.get(entry.name);
    const resources = new Set([...(row?.keys() ?? []), ...(extra?.keys() ?? [])]);
    let share = 0;
    for (const resource of resources) {
      if (!this.#managed.has(resource)) continue;
      const nominal = limitsOf(entry, resource).nominal;
      const base = nominal > 0 ? nominal : this.#cohortNominal(entry, resource);
      if (base === 0) continue;
      const used = (row?.get(resource) ?? 0) + (extra?.get(resource) ?? 0);
      share = Math.max(share, used / base);
    }
    return share / entry.weight;
  }

  /**
   * Dominant resource share (DRF): the largest fraction of a quota the queue uses — of its
   * nominal, or of the cohort's total where its nominal is 0 — divided by its weight.
   */
  dominantShare(queue: string): number {
    return this.#shareWith(this.#entry(queue), undefined);
  }

  /** The dominant share as written to Queue.status (rounded to 4 decimals). */
  fairShare(queue: string): number {
    return Math.round(this.dominantShare(queue) * 10_000) / 10_000;
  }

  /**
   * Pending gangs in the order they should be tried: queue priority (high first), gang priority
   * (high first), the dominant share of the gang's queue if the gang were admitted (low first),
   * creation time (old first), id. Gangs of unknown queues come last.
   */
  order(pending: readonly PendingGang[]): PendingGang[] {
    const keyed = pending.map((gang) => {
      const entry = this.#queues.get(gang.queue);
      return {
        gang,
        queuePriority: entry?.priority ?? Number.NEGATIVE_INFINITY,
        share: entry === undefined ? Number.POSITIVE_INFINITY : this.#shareWith(entry, gang.demand),
      };
    });
    keyed.sort(
      (a, b) =>
        b.queuePriority - a.queuePriority ||
        b.gang.priority - a.gang.priority ||
        a.share - b.share ||
        a.gang.createdAt - b.gang.createdAt ||
        compareIds(a.gang.id, b.gang.id),
    );
    return keyed.map((k) => k.gang);
  }

  /**
   * The gangs to preempt so that `queue` can run `demand` within its nominal quota: whole gangs
   * of other queues in its cohort that borrow a resource the demand needs, lowest priority first,
   * then newest first, pruned so that none can be spared. `priority` is the pending gang's
   * priority (for the LowerPriority policy). Only gangs admitted to this book count, with the
   * demand they were admitted with. [] when nothing needs reclaiming; undefined when
   * reclaim cannot make room (no cohort, policy Never, demand above nominal, not enough
   * borrowed).
   */
  reclaimCandidates(
    queue: string,
    demand: ResourceVector,
    running: readonly RunningGang[],
    priority = 0,
  ): RunningGang[] | undefined {
    checkDemand(demand);
    const entry = this.#queues.get(queue);
    if (entry?.cohort === undefined || entry.reclaim === 'Never') return undefined;
    if (!this.#withinNominal(entry, demand)) return undefined;
    const table = copyTable(this.#usage);
    if (this.#checkWith(entry, demand, table).ok) return [];
    const cohortQueues = new Set(this.#members(entry).map((q) => q.name));
    const candidates = running
      .filter(
        (g) =>
          g.queue !== queue &&
          cohortQueues.has(g.queue) &&
          this.#gangs.get(g.id)?.queue === g.queue &&
          (entry.reclaim === 'Any' || g.priority < priority),
      )
      .sort(
        (a, b) => a.priority - b.priority || b.startedAt - a.startedAt || compareIds(a.id, b.id),
      );
    const victims = this.#pickVictims(entry, demand, candidates, table, (g) =>
      this.#helps(g, demand, table),
    );
    return victims === undefined ? undefined : this.#prune(entry, demand, victims, table);
  }

  /**
   * The gangs of `queue` itself to preempt so that a gang of higher `priority` can run `demand`
   * (policy `withinQueue: LowerPriority`): strictly lower priority first, then newest first,
   * pruned so that none can be spared. [] when the demand fits already; undefined when the policy
   * is Never or preempting every lower-priority gang would not make room.
   */
  withinQueueCandidates(
    queue: string,
    demand: ResourceVector,
    running: readonly RunningGang[],
    priority: number,
  ): RunningGang[] | undefined {
    checkDemand(demand);
    const entry = this.#queues.get(queue);
    if (entry === undefined || entry.withinQueue === 'Never') return undefined;
    const table = copyTable(this.#usage);
    if (this.#checkWith(entry, demand, table).ok) return [];
    const candidates = running
      .filter(
        (g) => g.queue === queue && g.priority < priority && this.#gangs.get(g.id)?.queue === queue,
      )
      .sort(
        (a, b) => a.priority - b.priority || b.startedAt - a.startedAt || compareIds(a.id, b.id),
      );
    const holds = (gang: RunningGang): boolean =>
      [...demand].some(([r, n]) => n > 0 && (this.#demandOf(gang).get(r) ?? 0) > 0);
    const victims = this.#pickVictims(entry, demand, candidates, table, holds);
    return victims === undefined ? undefined : this.#prune(entry, demand, victims, table);
  }

  #withinNominal(entry: QueueEntry, demand: ResourceVector): boolean {
    for (const [resource, n] of demand) {
      if (n === 0 || !this.#managed.has(resource)) continue;
      if (usageIn(this.#usage, entry.name, resource) + n > limitsOf(entry, resource).nominal) {
        return false;
      }
    }
    return true;
  }

  /** What the book recorded for an admitted gang (the running list may be stale). */
  #demandOf(gang: RunningGang): ResourceVector {
    return this.#gangs.get(gang.id)?.demand ?? new Map();
  }

  /** Whether the gang holds a resource that `demand` needs and its queue borrows (in `table`). */
  #helps(gang: RunningGang, demand: ResourceVector, table: UsageTable): boolean {
    const entry = this.#queues.get(gang.queue);
    if (entry === undefined) return false;
    const holds = this.#demandOf(gang);
    for (const [resource, n] of demand) {
      if (n === 0 || (holds.get(resource) ?? 0) === 0 || !this.#managed.has(resource)) {
        continue;
      }
      const used = usageIn(table, gang.queue, resource);
      if (borrowedAt(limitsOf(entry, resource), used) > 0) return true;
    }
    return false;
  }

  /** Greedy pass: preempt candidates in order until the demand fits; edits `table`. */
  #pickVictims(
    entry: QueueEntry,
    demand: ResourceVector,
    candidates: readonly RunningGang[],
    table: UsageTable,
    helps: (gang: RunningGang) => boolean,
  ): RunningGang[] | undefined {
    const victims: RunningGang[] = [];
    for (const gang of candidates) {
      if (this.#checkWith(entry, demand, table).ok) return victims;
      if (!helps(gang)) continue;
      addInto(table, gang.queue, this.#demandOf(gang), -1);
      victims.push(gang);
    }
    return this.#checkWith(entry, demand, table).ok ? victims : undefined;
  }

  /** Gives back victims (the most valuable first) whose preemption turns out not to be needed. */
  #prune(
    entry: QueueEntry,
    demand: ResourceVector,
    victims: readonly RunningGang[],
    table: UsageTable,
  ): RunningGang[] {
    const kept = new Set<RunningGang>();
    for (const gang of [...victims].reverse()) {
      addInto(table, gang.queue, this.#demandOf(gang), 1);
      if (this.#checkWith(entry, demand, table).ok) kept.add(gang);
      else addInto(table, gang.queue, this.#demandOf(gang), -1);
    }
    return victims.filter((g) => !kept.has(g));
  }

  /**
   * Status data for a queue: usage and borrowing per resource (quota resources first, in spec
   * order), admitted gangs, the caller's count of pending gangs, fair share and conditions.
   */
  status(queue: string, pendingGangs = 0): QueueStatusData {
    const entry = this.#entry(queue);
    const row = this.#usage.get(queue);
    const extra = [...(row?.keys() ?? [])].filter((r) => !entry.limits.has(r)).sort(compareIds);
    const usage = [...entry.quotaOrder, ...extra].map((resource) => {
      const admitted = row?.get(resource) ?? 0;
      const managed = this.#managed.has(resource);
      const borrowed = managed ? borrowedAt(limitsOf(entry, resource), admitted) : 0;
      return { resource, admitted, borrowed };
    });
    return {
      usage,
      admittedGangs: this.admittedGangs(queue),
      pendingGangs,
      fairShare: this.fairShare(queue),
      conditions: [
        this.#activeCondition(entry),
        this.#exhaustedCondition(entry),
        borrowingCondition(entry, usage),
      ],
    };
  }

  #activeCondition(entry: QueueEntry): ConditionUpdate {
    const hasQuota = [...entry.limits.values()].some((l) => l.nominal > 0);
    if (hasQuota || entry.cohort !== undefined) {
      return { type: 'Active', status: 'True', reason: 'Ready', message: 'queue admits gangs' };
    }
    return {
      type: 'Active',
      status: 'False',
      reason: 'NoQuota',
      message: `queue ${entry.name} has no nominal quota and no cohort to borrow from; set spec.quotas or spec.cohort`,
    };
  }

  #exhaustedCondition(entry: QueueEntry): ConditionUpdate {
    const full = entry.quotaOrder.filter(
      (resource) => !this.#checkWith(entry, new Map([[resource, 1]]), this.#usage).ok,
    );
    if (full.length === 0) {
      return {
        type: 'QuotaExhausted',
        status: 'False',
        reason: 'QuotaAvailable',
        message: 'every quota resource has room for at least one more device',
      };
    }
    const detail = full.map(
      (r) =>
        `${r} (quota ${limitsOf(entry, r).nominal}, in use ${usageIn(this.#usage, entry.name, r)})`,
    );
    return {
      type: 'QuotaExhausted',
      status: 'True',
      reason: 'NoQuotaLeft',
      message: `no room for one more device of ${detail.join(', ')}; gangs wait until admitted gangs finish`,
    };
  }
}

function borrowingCondition(entry: QueueEntry, usage: readonly QueueResourceUsage[]) {
  const borrowing = usage.filter((u) => u.borrowed > 0);
  if (borrowing.length === 0) {
    return {
      type: 'Borrowing',
      status: 'False',
      reason: 'WithinNominalQuota',
      message: 'queue uses no more than its nominal quota',
    } satisfies ConditionUpdate;
  }
  const what = borrowing.map((u) => `${u.borrowed} ${u.resource}`).join(', ');
  return {
    type: 'Borrowing',
    status: 'True',
    reason: 'BorrowingFromCohort',
    message: `queue borrows ${what} from cohort ${entry.cohort ?? ''}`,
  } satisfies ConditionUpdate;
}

function unknownQueue(queue: string): string {
  return `queue ${queue} does not exist; create the Queue or fix the ${LABEL_QUEUE} label`;
}

function copyTable(table: UsageTable): UsageTable {
  return new Map([...table].map(([queue, row]) => [queue, new Map(row)]));
}
