/**
 * Single-pod placement: score every node that can hold the pod with the policy, take the best.
 * Gangs are placed by gang.ts on top of the same ledger and policies.
 *
 * Pure: no I/O.
 */
import type { ClusterModel, NodeState } from './cluster.ts';
import { describeClaims, pickDevices } from './devices.ts';
import { type GpuPick, MILLI_PER_GPU, type NodeView, type PodShape } from './node-view.ts';
import type { NodeScore, PlacementPolicy, PolicyContext } from './policy.ts';

/** The policy context of a model: its largest node capacities (for normalising) and `random`. */
export function policyContext(model: ClusterModel, random: () => number): PolicyContext {
  let maxCpuMilli = 0;
  let maxMemoryBytes = 0;
  let maxGpuCount = 0;
  for (const n of model.nodes) {
    maxCpuMilli = Math.max(maxCpuMilli, n.cpuMilliTotal);
    maxMemoryBytes = Math.max(maxMemoryBytes, n.memoryBytesTotal);
    maxGpuCount = Math.max(maxGpuCount, n.gpuCount);
  }
  return { random, maxCpuMilli, maxMemoryBytes, maxGpuCount };
}

export interface Placed {
  readonly node: NodeView;
  readonly pick: GpuPick;
  readonly allocation: number;
}

export interface Unplaced {
  readonly reason: string;
}

/** The best node for the shape and the policy's pick there, without allocating. */
export function bestNode(
  model: ClusterModel,
  shape: PodShape,
  policy: PlacementPolicy,
  ctx: PolicyContext,
  nodes: readonly NodeState[] = model.nodes,
): { node: NodeState; score: NodeScore } | undefined {
  let best: { node: NodeState; score: NodeScore } | undefined;
  for (const node of nodes) {
    // Device shapes: deviceScore picks the devices itself (canHold would pick them a first time).
    let score: NodeScore | undefined;
    if (shape.devices !== undefined) score = deviceScore(node, shape);
    else if (node.canHold(shape)) score = policy.score(node, shape, ctx);
    if (score === undefined) continue;
    if (best === undefined || score.score > best.score.score) best = { node, score };
  }
  return best;
}

export function placeOne(
  model: ClusterModel,
  shape: PodShape,
  policy: PlacementPolicy,
  ctx: PolicyContext,
  owner: string,
): Placed | Unplaced {
  const best = bestNode(model, shape, policy, ctx);
  if (best === undefined) return { reason: noRoomReason(shape) };
  const allocation = model.allocate(best.node, shape, best.score.pick, owner);
  return { node: best.node, pick: best.score.pick, allocation };
}

/**
 * Shapes with device requests are scored by the ledger itself, not by the policy (policies read
 * whole GPUs and milli-GPU shares): best fit, the node whose GPUs end up fullest first, with the
 * devices the ledger picks there (partitions on partly used GPUs first).
 */
export function deviceScore(node: NodeState, shape: PodShape): NodeScore | undefined {
  if (!node.hasCpuAndMemoryFor(shape)) return undefined;
  const devices = pickDevices(node, shape.devices ?? []);
  if (devices === undefined) return undefined;
  const total = node.gpuCount * MILLI_PER_GPU;
  const taken = devices.reduce((sum, i) => sum + node.deviceMilli(i), 0);
  const used = total - node.gpuFreeMilliTotal + taken;
  return { score: total > 0 ? used / total : 0, pick: { gpus: [], milli: 0, devices } };
}

export function noRoomReason(shape: PodShape): string {
  if (shape.devices !== undefined) {
    return `no node has ${shape.cpuMilli} mCPU, ${Math.ceil(shape.memoryBytes / 2 ** 20)} MiB and free devices for ${describeClaims(shape.devices)}`;
  }
  const gpus =
    shape.gpuCount === 0 || shape.gpuMilli === 0
      ? 'no GPU'
      : shape.gpuMilli < 1000
        ? `${shape.gpuMilli} milli-GPU`
        : `${shape.gpuCount} GPU${shape.gpuCount === 1 ? '' : 's'}`;
  const models = shape.gpuModels.length > 0 ? ` of model ${shape.gpuModels.join('|')}` : '';
  return `no node has ${shape.cpuMilli} mCPU, ${Math.ceil(shape.memoryBytes / 2 ** 20)} MiB and ${gpus}${models} free`;
}
