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
import type { GpuPick, NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, ShapeMix } from '../policy.ts';
import { fgdScore } from './fgd.ts';
import { gpuFits, idleGpusPick, isCpuOnly, isShare, NO_GPUS } from './gpu-pick.ts';
import { PHALANX_DEFAULTS, PhalanxMeasure, type PhalanxOptions } from './phalanx-measure.ts';

export { PHALANX_DEFAULTS, type PhalanxOptions } from './phalanx-measure.ts';

/** One node's state as last seen, with its measure and the scores computed for it. */
interface Seen {
  name: string;
  cpuFree: number;
  readonly gpuFree: Float64Array;
  before: number;
  readonly scores: Map<string, NodeScore | undefined>;
}

function shapeKey(shape: PodShape): string {
  return `${shape.cpuMilli}/${shape.gpuCount}/${shape.gpuMilli}/${shape.gpuModels.join('|')}`;
}

function unchanged(seen: Seen, node: NodeView): boolean {
  if (seen.name !== node.name || seen.cpuFree !== node.cpuMilliFree) return false;
  if (seen.gpuFree.length !== node.gpuCount) return false;
  for (let i = 0; i < node.gpuCount; i++) {
    if (seen.gpuFree[i] !== node.gpuFreeMilli(i)) return false;
  }
  return true;
}

/** Per-node memory, keyed by ordinal and checked against the node's current free CPU and GPUs. */
class SeenNodes {
  readonly #byOrdinal: (Seen | undefined)[] = [];

  clear(): void {
    this.#byOrdinal.length = 0;
  }

  get(node: NodeView, measure: PhalanxMeasure): Seen {
    const found = this.#byOrdinal[node.ordinal];
    if (found !== undefined && unchanged(found, node)) return found;
    const seen: Seen =
      found?.gpuFree.length === node.gpuCount
        ? found
        : {
            name: node.name,
            cpuFree: 0,
            gpuFree: new Float64Array(node.gpuCount),
            before: 0,
            scores: new Map(),
          };
    seen.name = node.name;
    seen.cpuFree = node.cpuMilliFree;
    for (let i = 0; i < node.gpuCount; i++) seen.gpuFree[i] = node.gpuFreeMilli(i);
    seen.before = measure.measure(stateOf(node, seen.cpuFree, seen.gpuFree));
    seen.scores.clear();
    this.#byOrdinal[node.ordinal] = seen;
    return seen;
  }
}

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
  const scoreNow = (): number => fgdScore(seen.before, measure.measure(state));
  if (isCpuOnly(shape)) return { score: scoreNow(), pick: NO_GPUS };
  if (isShare(shape)) return bestShare(node, shape, gpus, scoreNow);
  const pick = idleGpusPick(node, shape);
  if (pick === undefined) return undefined;
  for (const g of pick.gpus) gpus[g] = 0;
  return { score: scoreNow(), pick };
}

/** Tries the share on every fitting GPU; the best score wins, ties to the lower index. */
function bestShare(
  node: NodeView,
  shape: PodShape,
  gpus: Float64Array,
  scoreNow: () => number,
): NodeScore | undefined {
  let best: { score: number; pick: GpuPick } | undefined;
  for (let i = 0; i < node.gpuCount; i++) {
    if (!gpuFits(node, i, shape)) continue;
    const free = gpus[i] ?? 0;
    gpus[i] = free - shape.gpuMilli;
    const score = scoreNow();
    gpus[i] = free;
    if (best === undefined || score > best.score) {
      best = { score, pick: { gpus: [i], milli: shape.gpuMilli } };
    }
  }
  return best;
}

/** The phalanx policy, with the tuned defaults or the given weights (for experiments). */
export function phalanxPolicy(options: Partial<PhalanxOptions> = {}): PlacementPolicy {
  const tuning: PhalanxOptions = { ...PHALANX_DEFAULTS, ...options };
  let measure: PhalanxMeasure | undefined;
  const seenNodes = new SeenNodes();
  let lastShape: PodShape | undefined;
  let lastKey = '';
  return {
    name: 'phalanx',
    prepare(mix: ShapeMix): void {
      measure = new PhalanxMeasure(mix, tuning);
      seenNodes.clear();
    },
    score(node: NodeView, shape: PodShape): NodeScore | undefined {
      if (measure === undefined) {
        throw new Error(
          "policy phalanx needs the workload's shape mix: call prepare(mix) before scoring",
        );
      }
      if (shape !== lastShape) {
        lastShape = shape;
        lastKey = shapeKey(shape);
      }
      const seen = seenNodes.get(node, measure);
      if (seen.scores.has(lastKey)) return seen.scores.get(lastKey);
      const result = phalanxNodeScore(node, shape, seen, measure);
      seen.scores.set(lastKey, result);
      return result;
    },
  };
}
