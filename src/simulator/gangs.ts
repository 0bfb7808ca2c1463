/**
 * Phalanx in the gang simulation: the same core the live planner runs, on a simulated cluster.
 * Every round hands all waiting gangs to `admitRound` (scheduling/admission.ts): queue order
 * (QueueBook: priority, weighted dominant share, age), quota and cohort borrowing, whole-gang
 * placement into the narrowest topology domain (GangPlanner) and head-of-line reservation. Nothing
 * here decides placement or admission; this file only feeds the core and releases what finished.
 *
 * Invariants checked after every round (a violation throws InvariantError):
 * - no partial gangs: a running gang holds exactly one allocation per pod, a waiting gang none;
 * - no double allocation (invariants.ts: the ledger against its live allocations);
 * - each queue's usage in the book equals the demand of its running gangs.
 *
 * Pure: no I/O.
 */
import { type AdmissionContext, admitRound, type GangCandidate } from '../scheduling/admission.ts';
import type { ClusterModel } from '../scheduling/cluster.ts';
import {
  type GangMember,
  type GangPlan,
  GangPlanner,
  type GangRequest,
  type GangWait,
} from '../scheduling/gang.ts';
import { policyContext } from '../scheduling/place.ts';
import { DEFAULT_LIVE_POLICY } from '../scheduling/planner.ts';
import { policyByName } from '../scheduling/policies/index.ts';
import type { PlacementPolicy, PolicyContext } from '../scheduling/policy.ts';
import { QueueBook, type ResourceVector, type RunningGang } from '../scheduling/queues.ts';
import { DRIVER } from '../scheduling/snapshot.ts';
import type { TopologyTree } from '../scheduling/topology.ts';
import { type GangScheduler, QueueTally, type RoundOutcome, rackHasRoom } from './gang-events.ts';
import { gangGpus, type StartedGang, type StepState } from './gang-metrics.ts';
import type { GangWorkload, SimGang } from './gang-workload.ts';
import { checkLedger, InvariantError, memberId } from './invariants.ts';
import { workloadMix } from './mix.ts';
import { seededRandom } from './random.ts';

export const PHALANX_SCHEDULER = 'phalanx';

/** GPUs a gang asks its queue for: one device per pod GPU, as the live planner counts claims. */
export function gangDemand(gang: SimGang): ResourceVector {
  return new Map([[DRIVER, gangDevices(gang)]]);
}

function gangDevices(gang: SimGang): number {
  return gang.shape.gpuCount * gang.pods;
}

/**
 * The core's GangPlanner, noting for every gang it is asked to place whether some rack had room
 * for all of it at that moment (the locality measure's "when capacity allows"): on all nodes, and
 * on the nodes the gang may use (outside a head-of-line reservation). Placement is the planner's.
 */
class WatchedPlanner extends GangPlanner {
  readonly rackRoom = new Map<string, { all: boolean; open: boolean }>();
  readonly #model: ClusterModel;
  readonly #tree: TopologyTree;

  constructor(
    model: ClusterModel,
    tree: TopologyTree,
    policy: PlacementPolicy,
    ctx: PolicyContext,
  ) {
    super(model, tree, policy, ctx);
    this.#model = model;
    this.#tree = tree;
  }

  override plan(gang: GangRequest): GangPlan | GangWait {
    const first = gang.members[0];
    const pods = gang.members.length;
    if (first !== undefined && pods > 1) {
      const all = rackHasRoom(this.#model, this.#tree, first.shape, pods);
      const open = all && rackHasRoom(this.#model, this.#tree, first.shape, pods, gang.allowed);
      this.rackRoom.set(gang.id, { all, open });
    }
    return super.plan(gang);
  }
}

export interface PhalanxOptions {
  /** Placement policy (default: the live planner's). */
  readonly policy?: string | undefined;
  /** Seed of the policy's random choices. */
  readonly seed: number;
}

export class PhalanxGangScheduler implements GangScheduler {
  readonly name = PHALANX_SCHEDULER;
  readonly policy: string;
  readonly #model: ClusterModel;
  readonly #tree: TopologyTree;
  readonly #placement: PlacementPolicy;
  readonly #planner: WatchedPlanner;
  readonly #book: QueueBook;
  readonly #queues: readonly string[];
  readonly #waiting = new Map<string, { gang: SimGang; candidate: GangCandidate }>();
  readonly #running = new Map<
    string,
    { gang: SimGang; plan: GangPlan; candidate: RunningGang | undefined }
  >();
  /** Allocation ids of every running gang (what the ledger must hold, and nothing else). */
  readonly #held = new Map<string, number[]>();
  readonly #waitingByQueue = new QueueTally();
  readonly #gpusByQueue = new QueueTally();
  readonly #demandByQueue = new QueueTally();

  constructor(
    workload: GangWorkload,
    model: ClusterModel,
    tree: TopologyTree,
    options: PhalanxOptions,
  ) {
    this.#model = model;
    this.#tree = tree;
    this.#placement = policyByName(options.policy ?? DEFAULT_LIVE_POLICY);
    this.policy = this.#placement.name;
    const random = seededRandom(options.seed);
    const ctx = policyContext(model, () => random.next());
    this.#placement.prepare?.(
      workloadMix(workload.gangs.flatMap((g) => Array.from({ length: g.pods }, () => g))),
      ctx,
    );
    this.#book = new QueueBook(workload.queues);
    this.#queues = workload.queues.map((q) => q.metadata.name);
    this.#planner = new WatchedPlanner(model, tree, this.#placement, ctx);
  }

  /** The admission context of a round, with the running gangs as reclaim candidates. */
  #admission(): AdmissionContext {
    const running: RunningGang[] = [];
    for (const { candidate } of this.#running.values())
      if (candidate !== undefined) running.push(candidate);
    return {
      planner: this.#planner,
      book: this.#book,
      model: this.#model,
      tree: this.#tree,
      running,
    };
  }

  arrive(gang: SimGang, t: number): void {
    const members: GangMember[] = Array.from({ length: gang.pods }, (_, i) => ({
      id: memberId(gang.id, i),
      shape: gang.shape,
    }));
    this.#waiting.set(gang.id, {
      gang,
      candidate: {
        id: gang.id,
        queue: gang.queue,
        priority: gang.priority,
        // A preempted gang's pods are recreated: it is as old as its new pods.
        createdAt: t * 1000,
        size: gang.pods,
        present: gang.pods,
        request: { id: gang.id, members, required: gang.required, preferred: gang.preferred },
        demand: gangDemand(gang),
      },
    });
    this.#waitingByQueue.add(gang, 1);
  }

  finish(gang: SimGang): void {
    this.#stop(gang);
  }

  /** Releases everything a running gang holds (it finished or was preempted). */
  #stop(gang: SimGang): void {
    const run = this.#running.get(gang.id);
    if (run === undefined) throw new InvariantError(`gang ${gang.id} stopped but was not running`);
    this.#running.delete(gang.id);
    this.#held.delete(gang.id);
    for (const p of run.plan.placements) {
      this.#model.release(p.allocation);
      this.#placement.released?.(p.node, gang.shape, p.pick);
    }
    if (gang.queue !== undefined && this.#book.has(gang.queue)) this.#book.release(gang.id);
    this.#gpusByQueue.add(gang, -gangGpus(gang));
    this.#demandByQueue.add(gang, -gangDevices(gang));
  }

  round(t: number): RoundOutcome {
    if (this.#waiting.size === 0) return { started: [], preempted: [] };
    const waiting = [...this.#waiting.values()];
    this.#planner.rackRoom.clear();
    const started: StartedGang[] = [];
    const preempted: SimGang[] = [];
    for (const a of admitRound(
      this.#admission(),
      waiting.map((w) => w.candidate),
    )) {
      if (a.kind === 'reclaim') {
        preempted.push(...this.#preempt(a.victims, t));
        continue;
      }
      if (a.kind !== 'planned') continue;
      const gang = this.#waiting.get(a.gang.id)?.gang;
      if (gang === undefined) continue;
      this.#start(gang, a.plan, t);
      started.push({
        gang,
        start: t,
        nodes: a.plan.placements.map((p) => p.node.ordinal),
        note: a.plan.note,
        rackRoom: this.#planner.rackRoom.get(gang.id)?.all ?? false,
        rackOpen: this.#planner.rackRoom.get(gang.id)?.open ?? false,
      });
    }
    return { started, preempted };
  }

  /** Stops the victims of a reclaim; their pods are recreated, so they wait again from now. */
  #preempt(victims: readonly RunningGang[], t: number): SimGang[] {
    const out: SimGang[] = [];
    for (const v of victims) {
      const gang = this.#running.get(v.id)?.gang;
      if (gang === undefined) continue;
      this.#stop(gang);
      this.arrive(gang, t);
      out.push(gang);
    }
    return out;
  }

  #start(gang: SimGang, plan: GangPlan, t: number): void {
    this.#waiting.delete(gang.id);
    const candidate =
      gang.queue === undefined
        ? undefined
        : {
            id: gang.id,
            queue: gang.queue,
            priority: gang.priority,
            startedAt: t * 1000,
            demand: gangDemand(gang),
          };
    this.#running.set(gang.id, { gang, plan, candidate });
    this.#held.set(
      gang.id,
      plan.placements.map((p) => p.allocation),
    );
    for (const p of plan.placements) this.#placement.placed?.(p.node, gang.shape, p.pick);
    this.#waitingByQueue.add(gang, -1);
    this.#gpusByQueue.add(gang, gangGpus(gang));
    this.#demandByQueue.add(gang, gangDevices(gang));
  }

  check(t: number): StepState {
    const at = `t=${t}s`;
    checkLedger(this.#model, this.#held, at);
    for (const { gang, plan } of this.#running.values()) {
      if (plan.placements.length !== gang.pods) {
        throw new InvariantError(
          `${at}: gang ${gang.id} runs with ${plan.placements.length} of ${gang.pods} pods placed (a partial gang)`,
        );
      }
    }
    for (const queue of this.#queues) {
      const used = this.#book.usage(queue).get(DRIVER) ?? 0;
      const want = this.#demandByQueue.get(queue);
      if (used !== want) {
        throw new InvariantError(
          `${at}: queue ${queue} counts ${used} GPUs in use, its running gangs ${want}`,
        );
      }
    }
    return {
      waitingByQueue: this.#waitingByQueue.snapshot(),
      runningGpusByQueue: this.#gpusByQueue.snapshot(),
      allocatedMilli: this.#model.gpuMilliAllocated(),
      partial: [],
      partialMilli: 0,
    };
  }
}
