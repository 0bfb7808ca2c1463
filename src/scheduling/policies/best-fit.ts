/**
 * BestFit: the node left with the least free capacity after placement wins. The leftover of CPU
 * and of GPU (all GPUs of the node together), each divided by the largest node's capacity, are
 * weighted 0.5 each; the score is 100 × (1 − leftover), truncated to a whole number as the
 * published baseline does (so nearly equal nodes tie, and ties go to the lower node ordinal).
 * Shares go to the tightest fitting GPU.
 *
 * Pure: no I/O.
 */
import type { NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, PolicyContext } from '../policy.ts';
import { requestMilli, tightestPick } from './gpu-pick.ts';
import { MAX_SCORE, normalised } from './scale.ts';

const CPU_WEIGHT = 0.5;
const GPU_WEIGHT = 0.5;

/** The published BestFit score of `node` for `shape`, 0..100 (higher is a tighter fit). */
export function bestFitScore(node: NodeView, shape: PodShape, ctx: PolicyContext): number {
  let leftover = 0;
  leftover += normalised(node.cpuMilliFree - shape.cpuMilli, ctx.maxCpuMilli) * CPU_WEIGHT;
  leftover +=
    normalised(node.gpuFreeMilliTotal - requestMilli(shape), ctx.maxGpuCount * 1000) * GPU_WEIGHT;
  return Math.trunc((1 - leftover) * MAX_SCORE);
}

export function bestFitPolicy(): PlacementPolicy {
  return {
    name: 'best-fit',
    score(node: NodeView, shape: PodShape, ctx: PolicyContext): NodeScore | undefined {
      const pick = tightestPick(node, shape);
      if (pick === undefined) return undefined;
      return { score: bestFitScore(node, shape, ctx), pick };
    },
  };
}
