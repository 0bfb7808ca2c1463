/**
 * What a replay measures, the way the published openb results are computed:
 *
 * - GPU allocation ratio: allocated milli-GPU / the cluster's milli-GPU;
 * - fragmented GPU capacity: the cluster's fragmented milli-GPU (fragmentation.ts, against the
 *   workload's shape mix) / the cluster's milli-GPU.
 *
 * Both are recorded after every arriving pod (placed or not) against the milli-GPU that has
 * arrived so far, and reported per 1% of arrived demand: the value at k% is the mean of the
 * records whose arrived demand rounds to k% (half to even); when none does, the mean of those
 * that round to k−1..k+1%.
 *
 * Pure: no I/O.
 */
import type { ClusterModel } from '../scheduling/cluster.ts';
import {
  type CompiledMix,
  compileMix,
  nodeFragmentedMilli,
} from '../scheduling/policies/fragmentation.ts';
import type { ShapeMix } from '../scheduling/policy.ts';

export interface SeriesPoint {
  /** Arrived milli-GPU as a whole percentage of the cluster's milli-GPU. */
  readonly arrivedPct: number;
  /** Mean GPU allocation ratio (%) of the records in this step. */
  readonly allocationPct: number;
  /** Mean fragmented GPU capacity (% of the cluster's milli-GPU) of the records in this step. */
  readonly fragmentationPct: number;
  /** Records averaged (0 when the neighbours' records stand in). */
  readonly records: number;
}

/** Rounds half to even, as the published analysis (Python's round) does. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

export class ReplayMetrics {
  readonly #model: ClusterModel;
  readonly #mix: CompiledMix;
  readonly #nodeFrag: Float64Array;
  #fragMilli = 0;
  readonly #allocSum: number[] = [];
  readonly #fragSum: number[] = [];
  readonly #count: number[] = [];

  constructor(model: ClusterModel, mix: ShapeMix) {
    this.#model = model;
    this.#mix = compileMix(mix);
    this.#nodeFrag = new Float64Array(model.nodes.length);
    model.nodes.forEach((node, i) => {
      const frag = nodeFragmentedMilli(node, this.#mix);
      this.#nodeFrag[i] = frag;
      this.#fragMilli += frag;
    });
  }

  /** The cluster's fragmented milli-GPU now. */
  get fragmentedMilli(): number {
    return this.#fragMilli;
  }

  /** Call after node `ordinal`'s capacity changed. */
  nodeChanged(ordinal: number): void {
    const node = this.#model.nodes[ordinal];
    if (node === undefined) return;
    const frag = nodeFragmentedMilli(node, this.#mix);
    this.#fragMilli += frag - (this.#nodeFrag[ordinal] ?? 0);
    this.#nodeFrag[ordinal] = frag;
  }

  /** Records the cluster's state after a pod arrived, with `arrivedMilli` arrived so far. */
  record(arrivedMilli: number): void {
    const capacity = this.#model.gpuMilliTotal;
    if (capacity <= 0) return;
    const step = roundHalfEven((100 * arrivedMilli) / capacity);
    this.#allocSum[step] = (this.#allocSum[step] ?? 0) + this.#model.gpuMilliAllocated();
    this.#fragSum[step] = (this.#fragSum[step] ?? 0) + this.#fragMilli;
    this.#count[step] = (this.#count[step] ?? 0) + 1;
  }

  #point(step: number, from: number, to: number): SeriesPoint | undefined {
    let alloc = 0;
    let frag = 0;
    let count = 0;
    for (let s = Math.max(0, from); s <= to; s++) {
      alloc += this.#allocSum[s] ?? 0;
      frag += this.#fragSum[s] ?? 0;
      count += this.#count[s] ?? 0;
    }
    if (count === 0) return undefined;
    const capacity = this.#model.gpuMilliTotal;
    return {
      arrivedPct: step,
      allocationPct: (100 * alloc) / count / capacity,
      fragmentationPct: (100 * frag) / count / capacity,
      records: from === to ? count : 0,
    };
  }

  /** The per-1% series, from 0% to the last step any record reached. */
  series(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (let step = 0; step < this.#count.length; step++) {
      const point =
        (this.#count[step] ?? 0) > 0
          ? this.#point(step, step, step)
          : this.#point(step, step - 1, step + 1);
      if (point !== undefined) out.push(point);
    }
    return out;
  }
}

/** The series value at `arrivedPct`, or undefined when the replay did not reach it. */
export function pointAt(
  series: readonly SeriesPoint[],
  arrivedPct: number,
): SeriesPoint | undefined {
  return series.find((p) => p.arrivedPct === arrivedPct);
}
