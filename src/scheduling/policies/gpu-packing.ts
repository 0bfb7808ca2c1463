/**
 * GPU packing (the published baseline): prefer GPUs that are already shared, then idle GPUs on a
 * node already in use, then an idle node, in three score bands:
 *
 * - 50..100: the pod fits on partly used GPUs only: 100 − (sum over those GPUs of their free
 *   percent) / 10;
 * - 33..49: the pod needs idle GPUs of a used node: 50 − the number of idle GPUs it takes;
 * - 0..33: every GPU of the node is idle: 33 − the node's GPU count.
 *
 * Whole numbers, as published (ties go to the lower node ordinal). CPU-only pods score 0 on every
 * node, so they fill nodes in ordinal order. GPUs are examined from the least free upwards; shares
 * go to the tightest fitting GPU.
 *
 * Pure: no I/O.
 */
import { MILLI_PER_GPU, type NodeView, type PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy } from '../policy.ts';
import { gpuFits, isCpuOnly, tightestPick } from './gpu-pick.ts';
import { MAX_SCORE } from './scale.ts';

/** GPU indices ordered by free milli, least free first (stable: equal frees keep index order). */
function leastFreeFirst(node: NodeView): number[] {
  const order = Array.from({ length: node.gpuCount }, (_, i) => i);
  return order.sort((a, b) => node.gpuFreeMilli(a) - node.gpuFreeMilli(b) || a - b);
}

/** The published GPU packing score of `node` for `shape`, or undefined when it does not fit. */
export function gpuPackingScore(node: NodeView, shape: PodShape): number | undefined {
  if (isCpuOnly(shape)) return 0;
  if (node.gpusIdle === node.gpuCount) {
    return Math.max(Math.trunc(MAX_SCORE / 3) - node.gpusIdle, node.gpusIdle);
  }
  let wanted = shape.gpuCount;
  let idleTaken = 0;
  let freePercent = 0;
  for (const i of leastFreeFirst(node)) {
    if (wanted === 0) break;
    if (!gpuFits(node, i, shape)) continue;
    wanted--;
    const free = node.gpuFreeMilli(i);
    if (free === MILLI_PER_GPU) idleTaken++;
    freePercent += Math.trunc((free * 100) / MILLI_PER_GPU);
  }
  if (wanted > 0) return undefined;
  if (idleTaken > 0) {
    return Math.max(Math.trunc(MAX_SCORE / 2) - idleTaken, Math.trunc(MAX_SCORE / 3));
  }
  return Math.max(MAX_SCORE - Math.trunc(freePercent / 10), Math.trunc(MAX_SCORE / 2));
}

export function gpuPackingPolicy(): PlacementPolicy {
  return {
    name: 'gpu-packing',
    score(node: NodeView, shape: PodShape): NodeScore | undefined {
      const pick = tightestPick(node, shape);
      const score = gpuPackingScore(node, shape);
      if (pick === undefined || score === undefined) return undefined;
      return { score, pick };
    },
  };
}
