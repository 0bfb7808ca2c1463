/**
 * What a gang simulation measures, the same way for every scheduler it runs:
 *
 * - queueing delay (arrival → start, seconds): mean, p50, p95 per queue and overall, over the
 *   gangs that started; gangs that never started are counted apart;
 * - makespan: first arrival to last completion;
 * - per queue: GPU-time admitted (GPUs × run time of its started gangs) and its share of all,
 *   and the share of GPUs it held while every queue had gangs waiting ("contended"), where a
 *   weighted fair scheduler should give each queue its weight's share;
 * - topology locality of multi-node gangs (placed on more than one node): the narrowest level
 *   holding all their pods, and how often they were kept within one rack when some rack had
 *   room for the whole gang just before it was admitted;
 * - partial gangs: gangs holding some but not all of their pods' resources (hold-and-wait), how
 *   many were ever seen, the most at once, and the GPU-seconds they held while waiting;
 * - GPU utilisation over time.
 *
 * Pure: no I/O.
 */
import type { ClusterModel } from '../scheduling/cluster.ts';
import { CLUSTER_LEVEL } from '../scheduling/gang.ts';
import { MILLI_PER_GPU, shapeMilli } from '../scheduling/node-view.ts';
import type { TopologyTree } from '../scheduling/topology.ts';
import type { GangWorkload, SimGang } from './gang-workload.ts';
import { type NodeOccupancy, nodeOccupancy } from './html/occupancy.ts';

/** Points of the utilisation series kept in results (time-weighted means of equal slices). */
export const UTILISATION_POINTS = 200;

export interface StartedGang {
  readonly gang: SimGang;
  readonly start: number;
  /** Node ordinal of each member. */
  readonly nodes: readonly number[];
  /** The planner's note when it placed the gang wider than its preferred level. */
  readonly note: string | undefined;
  /** Whether some rack had room for the whole gang just before it was admitted. */
  readonly rackRoom: boolean;
  /** The same, counting only nodes the gang could use (outside reservations for other gangs). */
  readonly rackOpen: boolean;
}

/** The scheduler's state during the interval that starts at a step. */
export interface StepState {
  readonly waitingByQueue: ReadonlyMap<string, number>;
  readonly runningGpusByQueue: ReadonlyMap<string, number>;
  readonly allocatedMilli: number;
  /** Gangs holding some but not all of their pods, and the milli-GPU they hold. */
  readonly partial: readonly string[];
  readonly partialMilli: number;
}

export interface DelayStats {
  readonly gangs: number;
  readonly meanS: number;
  readonly p50S: number;
  readonly p95S: number;
}

export interface QueueMetrics {
  readonly name: string;
  readonly weight: number;
  /** weight / sum of weights. */
  readonly weightShare: number;
  readonly gangs: number;
  readonly started: number;
  readonly gpuSeconds: number;
  /** Share of all admitted GPU-time. */
  readonly share: number;
  /** Share of the GPUs held while every queue had gangs waiting; NaN when that never happened. */
  readonly contendedShare: number;
  readonly delay: DelayStats;
}

export interface LocalityMetrics {
  readonly multiNodeGangs: number;
  /** Of those, placed within one rack (or narrower), one block, or wider. */
  readonly withinRack: number;
  readonly withinBlock: number;
  readonly wider: number;
  /** Multi-node gangs for which some rack had room at admission, and how many of them stayed in one rack. */
  readonly rackRoom: number;
  readonly rackRoomWithinRack: number;
  /** rackRoomWithinRack / rackRoom (NaN when rackRoom is 0). */
  readonly withinRackWhenRoom: number;
  /** The same, counting room only outside head-of-line reservations for other gangs. */
  readonly rackOpen: number;
  readonly rackOpenWithinRack: number;
  readonly withinRackWhenOpen: number;
  /** Gangs the planner placed wider than their preferred level (with its note). */
  readonly notes: number;
}

export interface GangRecord {
  readonly id: string;
  readonly queue: string | undefined;
  readonly pods: number;
  readonly gpus: number;
  readonly arrival: number;
  readonly start: number | undefined;
  readonly end: number | undefined;
  /** Narrowest topology level holding every pod (`node`, `rack`…, `cluster`). */
  readonly level: string | undefined;
  readonly nodes: number;
}

export interface GangRunMetrics {
  readonly gangs: number;
  readonly started: number;
  readonly neverStarted: number;
  readonly makespanS: number;
  readonly delay: DelayStats;
  readonly meanUtilisationPct: number;
  readonly queues: readonly QueueMetrics[];
  readonly contendedS: number;
  readonly locality: LocalityMetrics;
  /** Running gangs stopped to give lent quota back, and the GPU-seconds of work they lost. */
  readonly preemptions: number;
  readonly preemptedGpuSeconds: number;
  readonly partialGangsSeen: number;
  readonly maxPartialAtOnce: number;
  readonly partialHeldGpuSeconds: number;
  readonly steps: number;
  readonly utilisation: readonly { readonly t: number; readonly pct: number }[];
  /** Every node's GPU use at the first moment of highest utilisation. */
  readonly peak: {
    readonly t: number;
    readonly pct: number;
    readonly nodes: readonly NodeOccupancy[];
  };
  readonly records: readonly GangRecord[];
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? 0;
}

export function delayStats(delays: readonly number[]): DelayStats {
  const sorted = [...delays].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    gangs: sorted.length,
    meanS: mean,
    p50S: percentile(sorted, 50),
    p95S: percentile(sorted, 95),
  };
}

/** GPUs a gang holds while it runs (shares count as their fraction). */
export function gangGpus(gang: SimGang): number {
  return (shapeMilli(gang.shape) * gang.pods) / MILLI_PER_GPU;
}

interface Started {
  readonly start: number;
  readonly level: string;
  readonly depth: number;
  readonly nodes: number;
  readonly note: boolean;
  readonly rackRoom: boolean;
  readonly rackOpen: boolean;
}

/** Downsamples a step function (value from each t until the next) to `points` slices. */
function downsample(
  samples: readonly { t: number; v: number }[],
  end: number,
  points: number,
): { t: number; pct: number }[] {
  const first = samples[0];
  if (first === undefined || end <= first.t) return [];
  const width = (end - first.t) / points;
  const out: { t: number; pct: number }[] = [];
  let k = 0;
  for (let p = 0; p < points; p++) {
    const from = first.t + p * width;
    const to = from + width;
    let area = 0;
    while (k < samples.length - 1 && (samples[k + 1]?.t ?? end) <= from) k++;
    for (let j = k; j < samples.length; j++) {
      const s = samples[j] as { t: number; v: number };
      if (s.t >= to) break;
      const next = samples[j + 1]?.t ?? end;
      area += s.v * Math.max(0, Math.min(to, next) - Math.max(from, s.t));
    }
    out.push({ t: Math.round(from * 1000) / 1000, pct: area / width });
  }
  return out;
}

export class GangRecorder {
  readonly #workload: GangWorkload;
  readonly #model: ClusterModel;
  readonly #tree: TopologyTree;
  readonly #started = new Map<string, Started>();
  readonly #ended = new Map<string, number>();
  #preemptions = 0;
  #preemptedGpuS = 0;
  readonly #queueGpuS = new Map<string, number>();
  readonly #contendedGpuS = new Map<string, number>();
  #contendedS = 0;
  readonly #partialSeen = new Set<string>();
  #maxPartial = 0;
  #partialMilliS = 0;
  #steps = 0;
  #last: { t: number; state: StepState } | undefined;
  readonly #samples: { t: number; v: number }[] = [];
  #peak: { t: number; pct: number; nodes: NodeOccupancy[] } = { t: 0, pct: -1, nodes: [] };
  readonly #queueNames: readonly string[];

  constructor(workload: GangWorkload, model: ClusterModel, tree: TopologyTree) {
    this.#workload = workload;
    this.#model = model;
    this.#tree = tree;
    const used = new Set(workload.gangs.flatMap((g) => (g.queue === undefined ? [] : [g.queue])));
    this.#queueNames = workload.queues.map((q) => q.metadata.name).filter((q) => used.has(q));
  }

  started(s: StartedGang): void {
    const unique = [...new Set(s.nodes)];
    const depth = this.#tree.commonDepth(unique);
    const level = depth < 0 ? CLUSTER_LEVEL : (this.#tree.levelNames()[depth] ?? CLUSTER_LEVEL);
    this.#started.set(s.gang.id, {
      start: s.start,
      level,
      depth,
      nodes: unique.length,
      note: s.note !== undefined,
      rackRoom: s.rackRoom,
      rackOpen: s.rackOpen,
    });
  }

  /** A running gang was stopped (quota reclaim): its run so far is lost and it waits again. */
  preempted(gang: SimGang, t: number): void {
    const s = this.#started.get(gang.id);
    this.#started.delete(gang.id);
    this.#preemptions++;
    if (s !== undefined) this.#preemptedGpuS += gangGpus(gang) * (t - s.start);
  }

  #locality(): LocalityMetrics {
    const rackDepth = this.#tree.depthOf('rack') ?? this.#tree.levels.length;
    const blockDepth = this.#tree.depthOf('block') ?? -1;
    const l = {
      multiNodeGangs: 0,
      withinRack: 0,
      withinBlock: 0,
      wider: 0,
      rackRoom: 0,
      rackRoomWithinRack: 0,
      rackOpen: 0,
      rackOpenWithinRack: 0,
      notes: 0,
    };
    for (const s of this.#started.values()) {
      if (s.note) l.notes++;
      if (s.nodes <= 1) continue;
      const inRack = s.depth >= rackDepth;
      l.multiNodeGangs++;
      if (inRack) l.withinRack++;
      else if (blockDepth >= 0 && s.depth >= blockDepth) l.withinBlock++;
      else l.wider++;
      if (s.rackRoom) l.rackRoom++;
      if (s.rackRoom && inRack) l.rackRoomWithinRack++;
      if (s.rackOpen) l.rackOpen++;
      if (s.rackOpen && inRack) l.rackOpenWithinRack++;
    }
    const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
    return {
      ...l,
      withinRackWhenRoom: ratio(l.rackRoomWithinRack, l.rackRoom),
      withinRackWhenOpen: ratio(l.rackOpenWithinRack, l.rackOpen),
    };
  }

  finished(gang: SimGang, t: number): void {
    this.#ended.set(gang.id, t);
  }

  /** Records the state that holds from `t` until the next step. */
  step(t: number, state: StepState): void {
    this.#steps++;
    this.#integrate(t);
    this.#last = { t, state };
    const pct =
      this.#model.gpuMilliTotal > 0 ? (100 * state.allocatedMilli) / this.#model.gpuMilliTotal : 0;
    this.#samples.push({ t, v: pct });
    if (pct > this.#peak.pct) this.#peak = { t, pct, nodes: nodeOccupancy(this.#model.nodes) };
    for (const g of state.partial) this.#partialSeen.add(g);
    this.#maxPartial = Math.max(this.#maxPartial, state.partial.length);
  }

  #integrate(t: number): void {
    const last = this.#last;
    if (last === undefined || t <= last.t) return;
    const dt = t - last.t;
    const { state } = last;
    this.#partialMilliS += state.partialMilli * dt;
    const contended =
      this.#queueNames.length > 1 &&
      this.#queueNames.every((q) => (state.waitingByQueue.get(q) ?? 0) > 0);
    if (contended) this.#contendedS += dt;
    for (const [q, gpus] of state.runningGpusByQueue) {
      this.#queueGpuS.set(q, (this.#queueGpuS.get(q) ?? 0) + gpus * dt);
      if (contended) this.#contendedGpuS.set(q, (this.#contendedGpuS.get(q) ?? 0) + gpus * dt);
    }
  }

  #records(): GangRecord[] {
    return this.#workload.gangs.map((g) => {
      const s = this.#started.get(g.id);
      return {
        id: g.id,
        queue: g.queue,
        pods: g.pods,
        gpus: gangGpus(g),
        arrival: g.arrival,
        start: s?.start,
        end: this.#ended.get(g.id),
        level: s?.level,
        nodes: s?.nodes ?? 0,
      };
    });
  }

  #queues(records: readonly GangRecord[]): QueueMetrics[] {
    const totalWeight = this.#workload.queues.reduce((s, q) => s + q.spec.weight, 0);
    const gpuTime = (r: GangRecord, g: SimGang) => (r.start === undefined ? 0 : r.gpus * g.runtime);
    const byId = new Map(this.#workload.gangs.map((g) => [g.id, g]));
    const admitted = new Map<string, number>();
    let total = 0;
    for (const r of records) {
      const g = byId.get(r.id);
      if (g === undefined || r.queue === undefined) continue;
      const s = gpuTime(r, g);
      admitted.set(r.queue, (admitted.get(r.queue) ?? 0) + s);
      total += s;
    }
    const contendedTotal = [...this.#contendedGpuS.values()].reduce((a, b) => a + b, 0);
    return this.#workload.queues.map((q) => {
      const name = q.metadata.name;
      const mine = records.filter((r) => r.queue === name);
      return {
        name,
        weight: q.spec.weight,
        weightShare: totalWeight > 0 ? q.spec.weight / totalWeight : 0,
        gangs: mine.length,
        started: mine.filter((r) => r.start !== undefined).length,
        gpuSeconds: admitted.get(name) ?? 0,
        share: total > 0 ? (admitted.get(name) ?? 0) / total : 0,
        contendedShare:
          contendedTotal > 0 ? (this.#contendedGpuS.get(name) ?? 0) / contendedTotal : Number.NaN,
        delay: delayStats(
          mine.flatMap((r) => (r.start === undefined ? [] : [r.start - r.arrival])),
        ),
      };
    });
  }

  result(): GangRunMetrics {
    const records = this.#records();
    const started = records.filter((r) => r.start !== undefined);
    const firstArrival = this.#workload.gangs[0]?.arrival ?? 0;
    const lastEnd = Math.max(firstArrival, ...records.map((r) => r.end ?? 0));
    this.#integrate(lastEnd);
    const window = lastEnd - firstArrival;
    const area = this.#samples.reduce((sum, s, i) => {
      const next = this.#samples[i + 1]?.t ?? lastEnd;
      return sum + s.v * Math.max(0, Math.min(next, lastEnd) - s.t);
    }, 0);
    return {
      gangs: records.length,
      started: started.length,
      neverStarted: records.length - started.length,
      makespanS: window,
      delay: delayStats(started.map((r) => (r.start ?? 0) - r.arrival)),
      meanUtilisationPct: window > 0 ? area / window : 0,
      queues: this.#queues(records),
      contendedS: this.#contendedS,
      locality: this.#locality(),
      preemptions: this.#preemptions,
      preemptedGpuSeconds: this.#preemptedGpuS,
      partialGangsSeen: this.#partialSeen.size,
      maxPartialAtOnce: this.#maxPartial,
      partialHeldGpuSeconds: this.#partialMilliS / MILLI_PER_GPU,
      steps: this.#steps,
      utilisation: downsample(this.#samples, lastEnd, UTILISATION_POINTS),
      peak: this.#peak,
      records,
    };
  }
}
