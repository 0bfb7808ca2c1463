/**
 * DotProduct (the Tetris alignment heuristic, as the published baseline configures it): the
 * node's free vector (CPU, all GPUs together) and the pod's request vector, each divided by the
 * largest node's capacity, are multiplied; the smaller the product, the higher the score
 * 100 × (1 − product / 2), truncated to a whole number. Shares go to the tightest fitting GPU.
 *
 * Pure: no I/O.
 */
import type { NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, PolicyContext } from '../policy.ts';
import { requestMilli, tightestPick } from './gpu-pick.ts';
import { MAX_SCORE, normalised } from './scale.ts';

/** The published DotProduct score of `node` for `shape`, 0..100. */
export function dotProductScore(node: NodeView, shape: PodShape, ctx: PolicyContext): number {
  const gpuMax = ctx.maxGpuCount * 1000;
  let product = 0;
  product +=
    normalised(node.cpuMilliFree, ctx.maxCpuMilli) * normalised(shape.cpuMilli, ctx.maxCpuMilli);
  product += normalised(node.gpuFreeMilliTotal, gpuMax) * normalised(requestMilli(shape), gpuMax);
  const dimensions = 2;
  return Math.trunc(MAX_SCORE * (1 - product / dimensions));
}

export function dotProductPolicy(): PlacementPolicy {
  return {
    name: 'dot-product',
    score(node: NodeView, shape: PodShape, ctx: PolicyContext): NodeScore | undefined {
      const pick = tightestPick(node, shape);
      if (pick === undefined) return undefined;
      return { score: dotProductScore(node, shape, ctx), pick };
    },
  };
}
