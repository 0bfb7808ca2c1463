/**
 * GPU clustering (the published baseline): keep pods with the same GPU request together. A pod's
 * GPU request class is `share-gpu` for a share of one GPU and `N-gpu` for N whole GPUs. Score
 * bands, each raised within its band by how little free GPU the node has left
 * (25 × (largest node's milli − the node's free milli) / largest node's milli, truncated):
 *
 * - 75..100: the node runs pods of this class only;
 * - 50..75: it runs pods of this class and others;
 * - 25..50: it runs no GPU pod;
 * - 0..25: it runs only pods of other classes.
 *
 * CPU-only pods score 0 everywhere (they fill nodes in ordinal order). The policy remembers the
 * classes running on each node through `placed` / `released`. Shares go to the tightest GPU.
 *
 * Pure: no I/O.
 */
import { type GpuPick, MILLI_PER_GPU, type NodeView, type PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, PolicyContext } from '../policy.ts';
import { isCpuOnly, isShare, tightestPick } from './gpu-pick.ts';
import { MAX_SCORE } from './scale.ts';

/** The GPU request class of a shape, or undefined for CPU-only pods. */
export function gpuRequestClass(shape: PodShape): string | undefined {
  if (isCpuOnly(shape)) return undefined;
  return isShare(shape) ? 'share-gpu' : `${shape.gpuCount}-gpu`;
}

/** Per node ordinal: how many running pods of each GPU request class. */
export type ClassTally = Map<number, Map<string, number>>;

/** The published GPU clustering score, given the classes running on the node. */
export function gpuClusteringScore(
  node: NodeView,
  shape: PodShape,
  running: ReadonlyMap<string, number> | undefined,
  ctx: PolicyContext,
): number {
  const own = gpuRequestClass(shape);
  if (own === undefined) return 0;
  const maxMilli = ctx.maxGpuCount * MILLI_PER_GPU;
  const quarter = MAX_SCORE / 4;
  const fill =
    maxMilli > 0 ? Math.trunc((quarter * (maxMilli - node.gpuFreeMilliTotal)) / maxMilli) : 0;
  const classes = running?.size ?? 0;
  if ((running?.get(own) ?? 0) > 0) return fill + (classes === 1 ? 3 * quarter : 2 * quarter);
  return fill + (classes === 0 ? quarter : 0);
}

function count(tally: ClassTally, node: NodeView, shape: PodShape, delta: number): void {
  const cls = gpuRequestClass(shape);
  if (cls === undefined) return;
  const classes = tally.get(node.ordinal) ?? new Map<string, number>();
  const next = (classes.get(cls) ?? 0) + delta;
  if (next > 0) classes.set(cls, next);
  else classes.delete(cls);
  tally.set(node.ordinal, classes);
}

export function gpuClusteringPolicy(): PlacementPolicy {
  const tally: ClassTally = new Map();
  return {
    name: 'gpu-clustering',
    prepare(): void {
      tally.clear();
    },
    score(node: NodeView, shape: PodShape, ctx: PolicyContext): NodeScore | undefined {
      const pick = tightestPick(node, shape);
      if (pick === undefined) return undefined;
      return { score: gpuClusteringScore(node, shape, tally.get(node.ordinal), ctx), pick };
    },
    placed(node: NodeView, shape: PodShape, _pick: GpuPick): void {
      count(tally, node, shape, 1);
    },
    released(node: NodeView, shape: PodShape, _pick: GpuPick): void {
      count(tally, node, shape, -1);
    },
  };
}
