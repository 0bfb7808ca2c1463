/**
 * Choosing the GPUs inside a node, shared by the placement policies. The published trace
 * simulator (see docs/simulator-method.md) picks GPUs in one of three ways, and every baseline
 * uses one of them:
 *
 * - whole GPUs (`gpuMilli` 1000): the lowest-indexed idle GPUs, for every policy;
 * - a share of one GPU, "tightest": the GPU with the least free milli that still fits the share
 *   (ties to the lower index);
 * - a share of one GPU, "random": a uniformly random GPU among those that fit.
 *
 * Pure: no I/O.
 */
import { type GpuPick, MILLI_PER_GPU, type NodeView, type PodShape } from '../node-view.ts';

export const NO_GPUS: GpuPick = { gpus: [], milli: 0 };

/** True for pods that take no GPU at all. */
export function isCpuOnly(shape: PodShape): boolean {
  return shape.gpuCount === 0 || shape.gpuMilli === 0;
}

/** True for a share of one GPU (less than a whole GPU). */
export function isShare(shape: PodShape): boolean {
  return !isCpuOnly(shape) && shape.gpuMilli < MILLI_PER_GPU;
}

/** True when GPU `i` of `node` is of a model the shape accepts. */
export function modelAccepted(node: NodeView, i: number, shape: PodShape): boolean {
  return shape.gpuModels.length === 0 || shape.gpuModels.includes(node.gpuModel(i));
}

/** True when GPU `i` can take one unit of the shape (model accepted, enough free milli). */
export function gpuFits(node: NodeView, i: number, shape: PodShape): boolean {
  return modelAccepted(node, i, shape) && node.gpuFreeMilli(i) >= shape.gpuMilli;
}

/** The lowest-indexed idle GPUs the shape accepts, `shape.gpuCount` of them, or undefined. */
export function idleGpusPick(node: NodeView, shape: PodShape): GpuPick | undefined {
  const gpus: number[] = [];
  for (let i = 0; i < node.gpuCount && gpus.length < shape.gpuCount; i++) {
    if (modelAccepted(node, i, shape) && node.gpuFreeMilli(i) >= MILLI_PER_GPU) gpus.push(i);
  }
  return gpus.length === shape.gpuCount ? { gpus, milli: MILLI_PER_GPU } : undefined;
}

/** The fitting GPU with the least free milli (ties to the lower index), or -1. */
export function tightestShareGpu(node: NodeView, shape: PodShape): number {
  let best = -1;
  let bestFree = Number.POSITIVE_INFINITY;
  for (let i = 0; i < node.gpuCount; i++) {
    if (!gpuFits(node, i, shape)) continue;
    const free = node.gpuFreeMilli(i);
    if (free < bestFree) {
      best = i;
      bestFree = free;
    }
  }
  return best;
}

/** A uniformly random fitting GPU (one draw of `random` per fitting GPU), or -1. */
export function randomShareGpu(node: NodeView, shape: PodShape, random: () => number): number {
  let chosen = -1;
  let seen = 0;
  for (let i = 0; i < node.gpuCount; i++) {
    if (!gpuFits(node, i, shape)) continue;
    seen++;
    // Reservoir sampling: the k-th fitting GPU replaces the choice with probability 1/k.
    if (Math.floor(random() * seen) === 0) chosen = i;
  }
  return chosen;
}

function sharePick(gpu: number, shape: PodShape): GpuPick | undefined {
  return gpu < 0 ? undefined : { gpus: [gpu], milli: shape.gpuMilli };
}

/** The pick most baselines use: idle GPUs for whole GPUs, the tightest GPU for a share. */
export function tightestPick(node: NodeView, shape: PodShape): GpuPick | undefined {
  if (isCpuOnly(shape)) return NO_GPUS;
  if (isShare(shape)) return sharePick(tightestShareGpu(node, shape), shape);
  return idleGpusPick(node, shape);
}

/** Idle GPUs for whole GPUs, a random fitting GPU for a share. */
export function randomPick(
  node: NodeView,
  shape: PodShape,
  random: () => number,
): GpuPick | undefined {
  if (isCpuOnly(shape)) return NO_GPUS;
  if (isShare(shape)) return sharePick(randomShareGpu(node, shape, random), shape);
  return idleGpusPick(node, shape);
}

/** Milli-GPU the shape takes in total (0 for CPU-only pods). */
export function requestMilli(shape: PodShape): number {
  if (isCpuOnly(shape)) return 0;
  return isShare(shape) ? shape.gpuMilli : shape.gpuCount * MILLI_PER_GPU;
}
