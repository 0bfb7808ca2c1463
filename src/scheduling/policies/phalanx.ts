/**
 * `phalanx`: our own placement policy. Like FGD (fgd.ts), it places each pod where a node measure
 * rises the least, and scores `100 × sigmoid((before − after) / 1000)`, truncated to a whole
 * number. A share goes to the GPU with the best score, ties to the lower index. Whole GPUs go to
 * the lowest-indexed idle ones. Ties between nodes go to the lower ordinal.
 *
 * The measure (phalanx-measure.ts) is FGD's fragmentation plus two terms that look further ahead.
 * One counts GPU capacity that a node's free CPU cannot feed. The other counts the expected
 * eventual waste of partly used GPUs, given the shares that may still fill them. Both come from
 * the workload's shape mix, which FGD uses too. Nothing else about future pods is read.
 *
 * Keeping FGD's truncated scale matters. It keeps the 0..100 score the extender reports, and
 * nodes within a few milli-GPU of each other tie. They then fall to the node order, which spreads
 * pods of one kind over many nodes instead of piling them onto the single best one.
 *
 * Scores are remembered per node until the node's free CPU or GPUs change.
 *
 * Pure: no I/O.
 */
import type { NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy } from '../policy.ts';
import { fgdScore, measuredPolicy, scorePlacement } from './fgd.ts';
import { PHALANX_DEFAULTS, PhalanxMeasure, type PhalanxOptions } from './phalanx-measure.ts';

export { PHALANX_DEFAULTS, type PhalanxOptions } from './phalanx-measure.ts';

function stateOf(node: NodeView, cpuFree: number, gpuFree: Float64Array) {
  return { cpuFree, gpuFree, gpuCount: node.gpuCount, gpuModel: (i: number) => node.gpuModel(i) };
}

/** Scores one node for one shape from its remembered state (no caching here). */
export function phalanxNodeScore(
  node: NodeView,
  shape: PodShape,
  seen: { readonly cpuFree: number; readonly gpuFree: Float64Array; readonly before: number },
  measure: PhalanxMeasure,
): NodeScore | undefined {
  const gpus = Float64Array.from(seen.gpuFree);
  const state = stateOf(node, seen.cpuFree - shape.cpuMilli, gpus);
  return scorePlacement(node, shape, gpus, () => fgdScore(seen.before, measure.measure(state)));
}

/** The phalanx policy, with the tuned defaults or the given weights (for experiments). */
export function phalanxPolicy(options: Partial<PhalanxOptions> = {}): PlacementPolicy {
  const tuning: PhalanxOptions = { ...PHALANX_DEFAULTS, ...options };
  return measuredPolicy<PhalanxMeasure>({
    name: 'phalanx',
    prepare: (mix) => new PhalanxMeasure(mix, tuning),
    before: (measure, node) => (cpuFree, gpuFree) =>
      measure.measure(stateOf(node, cpuFree, gpuFree)),
    nodeScore: phalanxNodeScore,
  });
}
