/**
 * The read-only view of one node's free capacity that placement policies score, and the shape of
 * one pod's demand as policies see it. The capacity ledger (`ledger.ts`) maintains these numbers
 * from devices and counters; the simulator, the planner and the extender all score through them,
 * so a policy is written once and measured where it runs.
 *
 * GPU amounts are in milli-GPU: 1000 is one whole, untouched GPU. A GPU that is exclusively
 * allocated (whole or partitioned for a claim that does not share it) has 0 free.
 *
 * Pure: no I/O.
 */
import type { ClaimDemand } from './devices.ts';

export const MILLI_PER_GPU = 1000;

/** What a policy may read about a node. All numbers are current (after earlier placements). */
export interface NodeView {
  readonly name: string;
  /** Position of the node in the model, stable for the model's life; policies may index arrays by it. */
  readonly ordinal: number;
  readonly cpuMilliTotal: number;
  readonly cpuMilliFree: number;
  readonly memoryBytesTotal: number;
  readonly memoryBytesFree: number;
  /** Number of physical GPUs on the node (0 for CPU-only nodes). */
  readonly gpuCount: number;
  /** Free milli-GPU of GPU `i` (0 ≤ i < gpuCount), 0..1000. */
  gpuFreeMilli(i: number): number;
  /** GPU model (product) of GPU `i`, e.g. `V100M32` or `Phalanx Fake H100 SXM 80GB`. */
  gpuModel(i: number): string;
  /** Whether GPU `i` accepts milli-GPU shares from several pods. */
  gpuShareable(i: number): boolean;
  /** Sum of gpuFreeMilli over all GPUs. */
  readonly gpuFreeMilliTotal: number;
  /** Number of GPUs with 1000 free. */
  readonly gpusIdle: number;
}

/**
 * One pod's demand in the terms policies score. `gpuCount` whole GPUs, or — when `gpuMilli` is
 * below 1000 — a share of one GPU (`gpuCount` is then 1). `gpuModels` restricts the acceptable GPU
 * models (empty: any).
 */
export interface PodShape {
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly gpuCount: number;
  /** Milli-GPU per GPU: 1000 for whole GPUs, 1..999 for a share of one GPU, 0 without GPUs. */
  readonly gpuMilli: number;
  readonly gpuModels: readonly string[];
  /**
   * Device requests the ledger picks devices for (partitions, CEL selectors, matchAttribute
   * constraints; see devices.ts). Set instead of `gpuCount`/`gpuMilli`, which are then 0.
   */
  readonly devices?: readonly ClaimDemand[];
}

/** The GPUs a placement would take on a node, with the milli-GPU taken from each. */
export interface GpuPick {
  readonly gpus: readonly number[];
  readonly milli: number;
  /** For shapes with device requests: the device indices picked on the node. */
  readonly devices?: readonly number[];
}

/** Whether the shape asks for GPUs or devices at all. */
export function usesDevices(shape: PodShape): boolean {
  return (shape.gpuCount > 0 && shape.gpuMilli > 0) || (shape.devices?.length ?? 0) > 0;
}

/** Total milli-GPU a shape asks for. */
export function shapeMilli(shape: PodShape): number {
  return shape.gpuMilli >= MILLI_PER_GPU ? shape.gpuCount * MILLI_PER_GPU : shape.gpuMilli;
}
