/**
 * The event loop of a gang simulation, shared by every scheduler it compares: gangs arrive at
 * their arrival time and, once started, complete after their run time and release everything.
 * After the events of one instant (completions first, then arrivals) the scheduler runs one round
 * and its invariants are checked; the state then holds until the next instant. The run ends when
 * nothing is running and nothing more arrives; gangs still waiting then can never start.
 *
 * Pure: no I/O.
 */
import type { ClusterModel, NodeState } from '../scheduling/cluster.ts';
import { fitCount } from '../scheduling/gang.ts';
import type { PodShape } from '../scheduling/node-view.ts';
import type { TopologyTree } from '../scheduling/topology.ts';
import type { GangRecorder, StartedGang, StepState } from './gang-metrics.ts';
import type { SimGang } from './gang-workload.ts';

export interface GangScheduler {
  /** `phalanx` or `fifo-first-fit`. */
  readonly name: string;
  /** The placement policy it places pods with. */
  readonly policy: string;
  arrive(gang: SimGang, t: number): void;
  /** The gang's run time is over: release all it holds. */
  finish(gang: SimGang, t: number): void;
  /** One scheduling round at time `t`: the gangs that start now and the ones preempted. */
  round(t: number): RoundOutcome;
  /** Checks the invariants (throws InvariantError) and describes the state from `t` on. */
  check(t: number): StepState;
}

export interface RoundOutcome {
  readonly started: readonly StartedGang[];
  /** Running gangs stopped to give a queue back the quota it lent; they wait again. */
  readonly preempted: readonly SimGang[];
}

/** Rounds run at one instant while rounds keep preempting (a reclaim frees room at once). */
export const MAX_ROUNDS_PER_INSTANT = 8;

interface Completion {
  readonly t: number;
  readonly seq: number;
  readonly gang: SimGang;
}

/** A binary min-heap of completions by time, then by start order. */
class CompletionHeap {
  readonly #items: Completion[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Completion | undefined {
    return this.#items[0];
  }

  push(c: Completion): void {
    const a = this.#items;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): Completion | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.#less(l, m)) m = l;
      if (r < a.length && this.#less(r, m)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }

  #less(i: number, j: number): boolean {
    const a = this.#items[i] as Completion;
    const b = this.#items[j] as Completion;
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const a = this.#items;
    [a[i], a[j]] = [a[j] as Completion, a[i] as Completion];
  }
}

export interface EventOptions {
  /** Called after every instant with the gangs arrived so far and the total. */
  readonly onProgress?: ((arrived: number, total: number) => void) | undefined;
}

/** The loop's own state: pending completions and which of them are still live. */
class Timeline {
  readonly completions = new CompletionHeap();
  /** The completion each running gang waits for (a preempted gang's entry goes stale). */
  readonly live = new Map<string, number>();
  #seq = 0;

  schedule(gang: SimGang, t: number): void {
    this.live.set(gang.id, this.#seq);
    this.completions.push({ t, seq: this.#seq++, gang });
  }

  /** Completions due at `t` that are still live. */
  *due(t: number): Generator<SimGang> {
    while ((this.completions.peek()?.t ?? Number.POSITIVE_INFINITY) === t) {
      const done = this.completions.pop() as Completion;
      if (this.live.get(done.gang.id) !== done.seq) continue;
      this.live.delete(done.gang.id);
      yield done.gang;
    }
  }
}

/** Rounds at one instant until none preempts. */
function rounds(
  t: number,
  scheduler: GangScheduler,
  recorder: GangRecorder,
  timeline: Timeline,
): void {
  for (let r = 0; r < MAX_ROUNDS_PER_INSTANT; r++) {
    const outcome = scheduler.round(t);
    for (const gang of outcome.preempted) {
      timeline.live.delete(gang.id);
      recorder.preempted(gang, t);
    }
    for (const s of outcome.started) {
      recorder.started(s);
      timeline.schedule(s.gang, t + s.gang.runtime);
    }
    if (outcome.preempted.length === 0) return;
  }
}

/** Runs the workload's gangs through the scheduler, recording every step. */
export function runGangEvents(
  gangs: readonly SimGang[],
  scheduler: GangScheduler,
  recorder: GangRecorder,
  options: EventOptions = {},
): void {
  const timeline = new Timeline();
  let next = 0;
  while (next < gangs.length || timeline.completions.size > 0) {
    const t = Math.min(
      gangs[next]?.arrival ?? Number.POSITIVE_INFINITY,
      timeline.completions.peek()?.t ?? Number.POSITIVE_INFINITY,
    );
    for (const gang of timeline.due(t)) {
      scheduler.finish(gang, t);
      recorder.finished(gang, t);
    }
    for (; next < gangs.length && (gangs[next] as SimGang).arrival === t; next++) {
      scheduler.arrive(gangs[next] as SimGang, t);
    }
    rounds(t, scheduler, recorder, timeline);
    recorder.step(t, scheduler.check(t));
    options.onProgress?.(next, gangs.length);
  }
}

/**
 * Whether some rack could take every one of `pods` pods of `shape` now: on all of its nodes, or
 * only on the nodes `allowed` lets the gang use (outside reservations for other gangs).
 */
export function rackHasRoom(
  model: ClusterModel,
  tree: TopologyTree,
  shape: PodShape,
  pods: number,
  allowed?: (node: NodeState) => boolean,
): boolean {
  const depth = tree.depthOf('rack');
  if (depth === undefined || pods <= 1) return false;
  for (const rack of tree.domainsAt(depth)) {
    let room = 0;
    for (const o of rack.nodes) {
      const node = model.nodes[o];
      if (node !== undefined && (allowed === undefined || allowed(node))) {
        room += fitCount(node, shape);
      }
      if (room >= pods) return true;
    }
  }
  return false;
}

/** A running total per queue (gangs without a queue are left out). */
export class QueueTally {
  readonly #totals = new Map<string, number>();

  add(gang: SimGang, amount: number): void {
    if (gang.queue === undefined) return;
    const next = (this.#totals.get(gang.queue) ?? 0) + amount;
    if (Math.abs(next) < 1e-9) this.#totals.delete(gang.queue);
    else this.#totals.set(gang.queue, next);
  }

  get(queue: string): number {
    return this.#totals.get(queue) ?? 0;
  }

  /** A copy, for a step's state. */
  snapshot(): Map<string, number> {
    return new Map(this.#totals);
  }
}
