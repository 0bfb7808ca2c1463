/**
 * FGD, Fragmentation Gradient Descent (Weng et al., ATC'23, as published with its simulator):
 * place the pod where it raises the node's expected GPU fragmentation (fragmentation.ts, against
 * the workload's shape mix) the least. The score is 100 × sigmoid((before − after) / 1000),
 * truncated to a whole number; a share goes to the GPU with the best such score (ties to the
 * lower index), whole GPUs to the lowest-indexed idle ones.
 *
 * Scores are remembered per node until the node's free CPU or GPUs change, because a replay asks
 * the same question of an unchanged node many times.
 *
 * Pure: no I/O.
 */
import type { GpuPick, NodeView, PodShape } from '../node-view.ts';
import type { NodeScore, PlacementPolicy, ShapeMix } from '../policy.ts';
import { type CompiledMix, compileMix, fragmentedMilli } from './fragmentation.ts';
import { gpuFits, idleGpusPick, isCpuOnly, isShare, NO_GPUS } from './gpu-pick.ts';
import { MAX_SCORE } from './scale.ts';

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The FGD score of going from `before` to `after` fragmented milli. */
export function fgdScore(before: number, after: number): number {
  return Math.trunc(sigmoid((before - after) / 1000) * MAX_SCORE);
}

/** One node's state as last seen, with its measure before placement and the scores computed for it. */
export interface MemoEntry {
  name: string;
  cpuFree: number;
  readonly gpuFree: Float64Array;
  before: number;
  readonly scores: Map<string, NodeScore | undefined>;
}

/**
 * The fragmentation score's memo key: what the score reads of a shape (memory plays no part in
 * it), so it is narrower than gang.ts's `shapeKey`, which keys interchangeable pods.
 */
export function shapeKey(shape: PodShape): string {
  return `${shape.cpuMilli}/${shape.gpuCount}/${shape.gpuMilli}/${shape.gpuModels.join('|')}`;
}

/**
 * Per-node memo, keyed by ordinal and checked against the node's current free CPU and GPUs; the
 * node's measure before placement comes from `measure(cpuFree, gpuFree)`.
 */
export class NodeMemo {
  readonly #entries: (MemoEntry | undefined)[] = [];

  clear(): void {
    this.#entries.length = 0;
  }

  entry(node: NodeView, measure: (cpuFree: number, gpuFree: Float64Array) => number): MemoEntry {
    const found = this.#entries[node.ordinal];
    if (found !== undefined && this.#current(found, node)) return found;
    const entry = found?.gpuFree.length === node.gpuCount ? found : fresh(node);
    entry.name = node.name;
    entry.cpuFree = node.cpuMilliFree;
    for (let i = 0; i < node.gpuCount; i++) entry.gpuFree[i] = node.gpuFreeMilli(i);
    entry.before = measure(entry.cpuFree, entry.gpuFree);
    entry.scores.clear();
    this.#entries[node.ordinal] = entry;
    return entry;
  }

  #current(entry: MemoEntry, node: NodeView): boolean {
    if (entry.name !== node.name || entry.cpuFree !== node.cpuMilliFree) return false;
    if (entry.gpuFree.length !== node.gpuCount) return false;
    for (let i = 0; i < node.gpuCount; i++) {
      if (entry.gpuFree[i] !== node.gpuFreeMilli(i)) return false;
    }
    return true;
  }
}

function fresh(node: NodeView): MemoEntry {
  return {
    name: node.name,
    cpuFree: 0,
    gpuFree: new Float64Array(node.gpuCount),
    before: 0,
    scores: new Map(),
  };
}

/** Scores one node for one shape from its memo entry (no caching here). */
export function fgdNodeScore(
  node: NodeView,
  shape: PodShape,
  entry: { readonly cpuFree: number; readonly gpuFree: Float64Array; readonly before: number },
  mix: CompiledMix,
): NodeScore | undefined {
  const gpus = Float64Array.from(entry.gpuFree);
  const cpuAfter = entry.cpuFree - shape.cpuMilli;
  const after = (): number =>
    fragmentedMilli(cpuAfter, gpus, node.gpuCount, (i) => node.gpuModel(i), mix);
  return scorePlacement(node, shape, gpus, () => fgdScore(entry.before, after()));
}

/**
 * FGD's placement step, shared by every policy that scores a node by a measure taken after the
 * placement: `scoreNow()` reads `gpus` (the node's free milli per GPU), which this updates in place
 * for the pick under test. CPU-only pods take no GPU; a share tries every GPU it fits on; whole
 * GPUs take idle ones.
 */
export function scorePlacement(
  node: NodeView,
  shape: PodShape,
  gpus: Float64Array,
  scoreNow: () => number,
): NodeScore | undefined {
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

/**
 * A policy that scores a node by how a measure of it changes with the placement (FGD and ours):
 * `prepare` turns the workload's shape mix into the measure's state `M`; `before` measures a node
 * as it is; `nodeScore` scores one placement from that. Scores are memoised per node and pod shape
 * until the node changes.
 */
export function measuredPolicy<M>(spec: {
  readonly name: string;
  readonly prepare: (mix: ShapeMix) => M;
  readonly before: (m: M, node: NodeView) => (cpuFree: number, gpuFree: Float64Array) => number;
  readonly nodeScore: (
    node: NodeView,
    shape: PodShape,
    entry: MemoEntry,
    m: M,
  ) => NodeScore | undefined;
}): PlacementPolicy {
  let state: { m: M } | undefined;
  const memo = new NodeMemo();
  let lastShape: PodShape | undefined;
  let lastKey = '';
  return {
    name: spec.name,
    prepare(next: ShapeMix): void {
      state = { m: spec.prepare(next) };
      memo.clear();
    },
    score(node: NodeView, shape: PodShape): NodeScore | undefined {
      if (state === undefined) {
        throw new Error(
          `policy ${spec.name} needs the workload's shape mix: call prepare(mix) before scoring`,
        );
      }
      if (shape !== lastShape) {
        lastShape = shape;
        lastKey = shapeKey(shape);
      }
      const entry = memo.entry(node, spec.before(state.m, node));
      if (entry.scores.has(lastKey)) return entry.scores.get(lastKey);
      const result = spec.nodeScore(node, shape, entry, state.m);
      entry.scores.set(lastKey, result);
      return result;
    },
  };
}

/** The FGD policy. */
export function fgdPolicy(name = 'fgd'): PlacementPolicy {
  return measuredPolicy<CompiledMix>({
    name,
    prepare: compileMix,
    before: (mix, node) => (cpuFree, gpuFree) =>
      fragmentedMilli(cpuFree, gpuFree, node.gpuCount, (i) => node.gpuModel(i), mix),
    nodeScore: fgdNodeScore,
  });
}
