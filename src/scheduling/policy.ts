/**
 * Placement policies: how a feasible node (and the GPUs on it) is chosen for one pod. The core
 * asks the policy to score every node that can hold the pod; the highest score wins (ties go to
 * the lower node ordinal, so runs are deterministic). The same policies run in the simulator,
 * the planner and the extender.
 *
 * Pure: no I/O.
 */
import type { GpuPick, NodeView, PodShape } from './node-view.ts';

/** Everything a policy may know besides the node it scores. */
export interface PolicyContext {
  /** Seeded uniform random number in [0, 1): the only source of randomness a policy may use. */
  random(): number;
  /** Largest node capacity in the model, for normalisation. */
  readonly maxCpuMilli: number;
  readonly maxMemoryBytes: number;
  readonly maxGpuCount: number;
}

/** A policy's verdict on one node: its score and the GPUs it would take there. */
export interface NodeScore {
  readonly score: number;
  readonly pick: GpuPick;
}

/**
 * A workload's expected mix of pod shapes, with their relative frequency (summing to 1). Policies
 * that reason about future demand (fragmentation) read it; others ignore it.
 */
export interface ShapeMix {
  readonly shapes: readonly { readonly shape: PodShape; readonly weight: number }[];
}

export interface PlacementPolicy {
  readonly name: string;
  /** Called once before placements start, and again whenever the expected workload mix changes. */
  prepare?(mix: ShapeMix, ctx: PolicyContext): void;
  /**
   * Scores `node` for `shape`. The node is already known to have room for the shape (CPU, memory,
   * enough GPUs of an accepted model with enough free milli). Return undefined to refuse the node.
   */
  score(node: NodeView, shape: PodShape, ctx: PolicyContext): NodeScore | undefined;
  /**
   * Optional, for policies that remember what runs where (GPU clustering prefers nodes already
   * running pods of the same GPU request): told after a placement on the model is committed, and
   * after one is released. Whoever commits or releases a placement calls these, once each.
   */
  placed?(node: NodeView, shape: PodShape, pick: GpuPick): void;
  released?(node: NodeView, shape: PodShape, pick: GpuPick): void;
}
