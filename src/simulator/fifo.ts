/**
 * The baseline the gang simulation compares Phalanx with: `fifo-first-fit`, standing in for a
 * stock scheduler that knows nothing of gangs or queues. Pods are tried one by one in arrival
 * order, each on the first node that can hold it (lowest ordinal) through the core's single-pod
 * placement (`placeOne` over the same ClusterModel); a pod that fits nowhere waits and later pods
 * may pass it, as kube-scheduler's queue lets them. A gang starts running only when ALL its pods
 * are placed, and placed pods keep their resources while they wait for the rest (hold-and-wait):
 * this is the behaviour gang scheduling exists to avoid, and it can deadlock.
 *
 * Pure: no I/O.
 */
import type { ClusterModel } from '../scheduling/cluster.ts';
import { shapeKey } from '../scheduling/gang.ts';
import type { GpuPick, NodeView, PodShape } from '../scheduling/node-view.ts';
import { placeOne, policyContext } from '../scheduling/place.ts';
import {
  gpuFits,
  idleGpusPick,
  isCpuOnly,
  isShare,
  NO_GPUS,
} from '../scheduling/policies/gpu-pick.ts';
import type { PlacementPolicy, PolicyContext } from '../scheduling/policy.ts';
import type { TopologyTree } from '../scheduling/topology.ts';
import { type GangScheduler, QueueTally, type RoundOutcome, rackHasRoom } from './gang-events.ts';
import { gangGpus, type StartedGang, type StepState } from './gang-metrics.ts';
import type { SimGang } from './gang-workload.ts';
import { checkLedger, InvariantError, memberId } from './invariants.ts';
import { seededRandom } from './random.ts';

export const FIFO_SCHEDULER = 'fifo-first-fit';
export const FIRST_FIT_POLICY = 'first-fit';

/** The lowest-indexed GPUs that fit: idle ones for whole GPUs, the first that fits for a share. */
export function firstFitPick(node: NodeView, shape: PodShape): GpuPick | undefined {
  if (isCpuOnly(shape)) return NO_GPUS;
  if (!isShare(shape)) return idleGpusPick(node, shape);
  for (let i = 0; i < node.gpuCount; i++) {
    if (gpuFits(node, i, shape)) return { gpus: [i], milli: shape.gpuMilli };
  }
  return undefined;
}

/**
 * First fit: every node that can hold the pod scores minus its ordinal, so the first one wins
 * (the core breaks ties to the lower ordinal too); the GPUs are the lowest-indexed that fit.
 */
export function firstFitPolicy(): PlacementPolicy {
  return {
    name: FIRST_FIT_POLICY,
    score(node, shape) {
      const pick = firstFitPick(node, shape);
      return pick === undefined ? undefined : { score: -node.ordinal, pick };
    },
  };
}

interface PendingPod {
  readonly gang: SimGang;
  readonly index: number;
}

export class FifoGangScheduler implements GangScheduler {
  readonly name = FIFO_SCHEDULER;
  readonly policy = FIRST_FIT_POLICY;
  readonly #model: ClusterModel;
  readonly #tree: TopologyTree;
  readonly #placement = firstFitPolicy();
  readonly #ctx: PolicyContext;
  #pods: PendingPod[] = [];
  /** Allocations held by each gang with at least one pod placed (waiting or running). */
  readonly #held = new Map<string, number[]>();
  readonly #gangs = new Map<string, SimGang>();
  readonly #running = new Set<string>();
  /** Gangs holding some but not all of their pods, with the milli-GPU they hold. */
  readonly #partial = new Map<string, number>();
  #partialMilli = 0;
  readonly #rackRoom = new Map<string, boolean>();
  readonly #waitingByQueue = new QueueTally();
  readonly #gpusByQueue = new QueueTally();

  constructor(model: ClusterModel, tree: TopologyTree, seed: number) {
    this.#model = model;
    this.#tree = tree;
    const random = seededRandom(seed);
    this.#ctx = policyContext(model, () => random.next());
  }

  arrive(gang: SimGang): void {
    this.#gangs.set(gang.id, gang);
    this.#waitingByQueue.add(gang, 1);
    for (let index = 0; index < gang.pods; index++) this.#pods.push({ gang, index });
  }

  finish(gang: SimGang): void {
    if (!this.#running.delete(gang.id)) {
      throw new InvariantError(`gang ${gang.id} finished but was not running`);
    }
    for (const id of this.#held.get(gang.id) ?? []) this.#model.release(id);
    this.#held.delete(gang.id);
    this.#gangs.delete(gang.id);
    this.#gpusByQueue.add(gang, -gangGpus(gang));
  }

  round(t: number): RoundOutcome {
    const failed = new Set<string>();
    const waiting: PendingPod[] = [];
    const started: StartedGang[] = [];
    for (const pod of this.#pods) {
      const key = shapeKey(pod.gang.shape);
      // Capacity only shrinks during a pass: a shape that found no node will not find one now.
      if (failed.has(key) || !this.#place(pod)) {
        failed.add(key);
        waiting.push(pod);
        continue;
      }
      const held = this.#held.get(pod.gang.id) ?? [];
      if (held.length === pod.gang.pods) started.push(this.#start(pod.gang, held, t));
    }
    this.#pods = waiting;
    return { started, preempted: [] };
  }

  #place(pod: PendingPod): boolean {
    const { gang } = pod;
    const first = !this.#held.has(gang.id);
    // Admission time of a gang here is its first pod's placement: was there a rack for all of it?
    const room = first && rackHasRoom(this.#model, this.#tree, gang.shape, gang.pods);
    const result = placeOne(
      this.#model,
      gang.shape,
      this.#placement,
      this.#ctx,
      memberId(gang.id, pod.index),
    );
    if (!('allocation' in result)) return false;
    let held = this.#held.get(gang.id);
    if (held === undefined) {
      held = [];
      this.#held.set(gang.id, held);
      this.#rackRoom.set(gang.id, room);
    }
    held.push(result.allocation);
    if (held.length < gang.pods) {
      const milli = this.#model.allocation(result.allocation)?.gpuMilli ?? 0;
      this.#partial.set(gang.id, (this.#partial.get(gang.id) ?? 0) + milli);
      this.#partialMilli += milli;
    }
    return true;
  }

  #start(gang: SimGang, held: readonly number[], t: number): StartedGang {
    this.#running.add(gang.id);
    this.#partialMilli -= this.#partial.get(gang.id) ?? 0;
    this.#partial.delete(gang.id);
    this.#waitingByQueue.add(gang, -1);
    this.#gpusByQueue.add(gang, gangGpus(gang));
    const nodes = held.map((id) => this.#model.allocation(id)?.node ?? -1);
    const rackRoomAtStart = this.#rackRoom.get(gang.id) ?? false;
    this.#rackRoom.delete(gang.id);
    // Nothing is reserved in this baseline: room on all nodes is room it may use.
    return {
      gang,
      start: t,
      nodes,
      note: undefined,
      rackRoom: rackRoomAtStart,
      rackOpen: rackRoomAtStart,
    };
  }

  check(t: number): StepState {
    const at = `t=${t}s`;
    checkLedger(this.#model, this.#held, at);
    for (const id of this.#running) {
      const gang = this.#gangs.get(id);
      const count = this.#held.get(id)?.length ?? 0;
      if (gang === undefined || count !== gang.pods) {
        throw new InvariantError(
          `${at}: gang ${id} runs with ${count} of ${gang?.pods ?? 0} pods allocated`,
        );
      }
    }
    return {
      waitingByQueue: this.#waitingByQueue.snapshot(),
      runningGpusByQueue: this.#gpusByQueue.snapshot(),
      allocatedMilli: this.#model.gpuMilliAllocated(),
      partial: [...this.#partial.keys()],
      partialMilli: this.#partialMilli,
    };
  }
}
