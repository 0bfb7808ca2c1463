/**
 * Random: every node that can hold the pod is equally likely; a share goes to a random GPU that
 * fits. The published baseline draws one feasible node uniformly; scoring each feasible node with
 * an independent uniform number and taking the highest is the same distribution.
 *
 * Pure: no I/O (randomness comes from the context's seeded generator).
 */
import type { NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, PolicyContext } from '../policy.ts';
import { randomPick } from './gpu-pick.ts';

export function randomPolicy(): PlacementPolicy {
  return {
    name: 'random',
    score(node: NodeView, shape: PodShape, ctx: PolicyContext): NodeScore | undefined {
      const pick = randomPick(node, shape, () => ctx.random());
      if (pick === undefined) return undefined;
      return { score: ctx.random(), pick };
    },
  };
}
