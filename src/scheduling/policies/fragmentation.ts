/**
 * GPU fragmentation of a node against a workload's shape mix, as the FGD paper defines it
 * ("Beware of Fragmentation", Weng et al., ATC'23) and its published simulator computes it.
 *
 * For every shape of the mix, weighted by its frequency, the node's free GPU milli counts as
 * fragmented unless the shape fits on the node (enough CPU, enough GPUs of an accepted model with
 * enough free milli); when it fits, only the free milli of GPUs too small for one unit of it
 * counts. CPU-only shapes count all free GPU milli (a GPU left idle for a CPU-only pod is not
 * usable by it). The node's fragmentation is the weighted sum, in milli-GPU.
 *
 * The FGD policy scores a placement by how little it raises this number; the simulator reports
 * the cluster sum as "fragmented GPU capacity".
 *
 * Pure: no I/O.
 */
import type { NodeView } from '../node-view.ts';
import type { ShapeMix } from '../policy.ts';

/** A shape mix laid out in flat arrays for the inner loops. */
export interface CompiledMix {
  readonly size: number;
  readonly cpuMilli: Float64Array;
  /** Milli per GPU (1..1000), 0 for CPU-only shapes. */
  readonly gpuMilli: Float64Array;
  readonly gpuCount: Int32Array;
  readonly weight: Float64Array;
  /** Accepted GPU models per shape (empty: any). */
  readonly models: readonly (readonly string[])[];
}

export function compileMix(mix: ShapeMix): CompiledMix {
  const n = mix.shapes.length;
  const out = {
    size: n,
    cpuMilli: new Float64Array(n),
    gpuMilli: new Float64Array(n),
    gpuCount: new Int32Array(n),
    weight: new Float64Array(n),
    models: mix.shapes.map((s) => s.shape.gpuModels),
  };
  mix.shapes.forEach(({ shape, weight }, k) => {
    const cpuOnly = shape.gpuCount === 0 || shape.gpuMilli === 0;
    out.cpuMilli[k] = shape.cpuMilli;
    out.gpuMilli[k] = cpuOnly ? 0 : Math.min(shape.gpuMilli, 1000);
    out.gpuCount[k] = cpuOnly ? 0 : shape.gpuCount;
    out.weight[k] = weight;
  });
  return out;
}

/** A node state as the measure reads it: free CPU, GPU i's free milli and model. */
interface NodeState {
  readonly cpuFree: number;
  readonly gpuFree: ArrayLike<number>;
  readonly gpuCount: number;
  readonly gpuModel: (i: number) => string;
}

/** Free milli of the node that shape `k` of the mix cannot use (all of it when `k` does not fit). */
function unusableFor(node: NodeState, total: number, mix: CompiledMix, k: number): number {
  const milli = mix.gpuMilli[k] ?? 0;
  if (milli === 0) return total;
  const models = mix.models[k] ?? [];
  let fitting = 0;
  let tooSmall = 0;
  for (let i = 0; i < node.gpuCount; i++) {
    const free = node.gpuFree[i] ?? 0;
    if (free >= milli && (models.length === 0 || models.includes(node.gpuModel(i)))) fitting++;
    else tooSmall += free;
  }
  const fits = fitting >= (mix.gpuCount[k] ?? 0) && node.cpuFree >= (mix.cpuMilli[k] ?? 0);
  return fits ? tooSmall : total;
}

/**
 * Fragmented milli-GPU of a node state. `gpuFree[i]` is GPU i's free milli and `gpuModel(i)` its
 * model; only the first `gpuCount` entries are read.
 */
export function fragmentedMilli(
  cpuFree: number,
  gpuFree: ArrayLike<number>,
  gpuCount: number,
  gpuModel: (i: number) => string,
  mix: CompiledMix,
): number {
  let total = 0;
  for (let i = 0; i < gpuCount; i++) total += gpuFree[i] ?? 0;
  if (total === 0) return 0;
  const node: NodeState = { cpuFree, gpuFree, gpuCount, gpuModel };
  let frag = 0;
  for (let k = 0; k < mix.size; k++)
    frag += (mix.weight[k] ?? 0) * unusableFor(node, total, mix, k);
  return frag;
}

/** Fragmented milli-GPU of a node as it is now. */
export function nodeFragmentedMilli(node: NodeView, mix: CompiledMix): number {
  const free = new Float64Array(node.gpuCount);
  for (let i = 0; i < node.gpuCount; i++) free[i] = node.gpuFreeMilli(i);
  return fragmentedMilli(node.cpuMilliFree, free, node.gpuCount, (i) => node.gpuModel(i), mix);
}
