/**
 * The node measure that the `phalanx` policy descends. It adds two terms to FGD's fragmentation
 * (fragmentation.ts). Both look further ahead than the next pod:
 *
 * - **CPU stranding.** The workload asks, on average, for `r` mCPU per milli-GPU (its GPU shapes
 *   weighted by frequency). A node with `G` free milli-GPU and `C` free mCPU can feed only
 *   `C / r` of those milli-GPU. The rest, `max(0, G − C / r)`, will probably stay idle, because the
 *   CPU runs out first. FGD checks only that the next pod fits. A placement can pass that check and
 *   still leave a node's GPUs without the CPU their future pods need.
 * - **Eventual waste of share gaps.** A partly used GPU with `g` free milli-GPU may be filled over
 *   time by several share pods, one after another. `W(g)` is the expected milli-GPU of it that is
 *   never used. With probability `π(g) = min(1, fillRate × p(g))`, the gap receives one share drawn
 *   from the shares that fit, in proportion to their frequency, and then goes on from the
 *   remainder. Otherwise it stays empty. `p(g)` is the mix frequency of the shares that fit, so gaps
 *   that only rare shares fit are seldom filled. Only shares whose CPU fits the node's free CPU,
 *   and whose model list accepts the GPU, count as fitting. A gap with no fitting share is waste
 *   in full. FGD counts a gap only by what the next pod can do with it. It therefore overrates
 *   gaps that one likely share can close (350 milli after a 650 share waits well for a 320), and
 *   fills them early with shares that fit them badly.
 *
 * The measure of a node is `frag + strandWeight × stranded + gapWeight × Σ W(gap)`, in milli-GPU.
 * Idle GPUs are not gaps: whole-GPU pods use them, and FGD's term already accounts for them.
 *
 * Pure: no I/O.
 */
import type { ShapeMix } from '../policy.ts';
import { type CompiledMix, compileMix, fragmentedMilli } from './fragmentation.ts';
import { isCpuOnly, isShare, requestMilli } from './gpu-pick.ts';

/** The tuning of the phalanx measure (chosen on openb seeds 0–9; see docs/simulator-method.md). */
export interface PhalanxOptions {
  /** Weight of the milli-GPU that a node's free CPU cannot feed. */
  readonly strandWeight: number;
  /** Weight of the expected eventual waste of partly used GPUs. */
  readonly gapWeight: number;
  /** How readily a gap is filled: π(g) = min(1, gapFillRate × frequency of the shares that fit). */
  readonly gapFillRate: number;
}

export const PHALANX_DEFAULTS: PhalanxOptions = {
  strandWeight: 1,
  gapWeight: 5,
  gapFillRate: 50,
};

const MILLI = 1000;

/** A share shape of the mix, as the gap tables read it. */
export interface ShareClass {
  readonly cpuMilli: number;
  readonly gpuMilli: number;
  readonly weight: number;
  readonly models: readonly string[];
}

/**
 * `W(g)` for g = 0..1000 (index g): the expected milli-GPU of a gap of g that is never used,
 * given the shares that may fill it. `W(0)` is 0. `W(1000)` is 0, because an idle GPU is not a gap.
 */
export function gapWasteTable(shares: readonly ShareClass[], fillRate: number): Float64Array {
  const table = new Float64Array(MILLI + 1);
  for (let g = 1; g < MILLI; g++) {
    let fitting = 0;
    let next = 0;
    for (const s of shares) {
      if (s.gpuMilli > g) continue;
      fitting += s.weight;
      next += s.weight * (table[g - s.gpuMilli] ?? 0);
    }
    if (fitting <= 0) {
      table[g] = g;
      continue;
    }
    const filled = Math.min(1, fillRate * fitting);
    table[g] = (1 - filled) * g + (filled * next) / fitting;
  }
  return table;
}

/** mCPU the mix asks for per milli-GPU, over its GPU shapes weighted by frequency (0: none). */
export function cpuPerGpuMilli(mix: ShapeMix): number {
  let cpu = 0;
  let milli = 0;
  for (const { shape, weight } of mix.shapes) {
    if (isCpuOnly(shape)) continue;
    cpu += weight * shape.cpuMilli;
    milli += weight * requestMilli(shape);
  }
  return milli > 0 ? cpu / milli : 0;
}

/** Free milli-GPU that `cpuFree` cannot feed at `cpuPerMilli` mCPU per milli-GPU. */
export function strandedMilli(gpuFreeTotal: number, cpuFree: number, cpuPerMilli: number): number {
  if (cpuPerMilli <= 0) return 0;
  return Math.max(0, gpuFreeTotal - Math.max(0, cpuFree) / cpuPerMilli);
}

/** A node state as the measure reads it. */
export interface MeasuredState {
  readonly cpuFree: number;
  /** Free milli of GPU i; only the first `gpuCount` entries are read. */
  readonly gpuFree: ArrayLike<number>;
  readonly gpuCount: number;
  readonly gpuModel: (i: number) => string;
}

function shareClasses(mix: ShapeMix): ShareClass[] {
  return mix.shapes
    .filter((s) => isShare(s.shape) && s.weight > 0)
    .map(({ shape, weight }) => ({
      cpuMilli: shape.cpuMilli,
      gpuMilli: shape.gpuMilli,
      weight,
      models: shape.gpuModels,
    }));
}

/**
 * The phalanx measure of one workload mix. Gap tables are built on first use, one per GPU model
 * and CPU level (the distinct CPU requests of the shares), and kept.
 */
export class PhalanxMeasure {
  readonly options: PhalanxOptions;
  readonly frag: CompiledMix;
  readonly cpuPerMilli: number;
  readonly #shares: readonly ShareClass[];
  /** Distinct share CPU requests, ascending: level k admits the shares asking ≤ cpuLevels[k − 1]. */
  readonly #cpuLevels: readonly number[];
  readonly #tables = new Map<string, (Float64Array | undefined)[]>();

  constructor(mix: ShapeMix, options: PhalanxOptions = PHALANX_DEFAULTS) {
    this.options = options;
    this.frag = compileMix(mix);
    this.cpuPerMilli = cpuPerGpuMilli(mix);
    this.#shares = shareClasses(mix);
    this.#cpuLevels = [...new Set(this.#shares.map((s) => s.cpuMilli))].sort((a, b) => a - b);
  }

  /** The measure of a node state, in milli-GPU (higher is worse). */
  measure(state: MeasuredState): number {
    const { strandWeight, gapWeight } = this.options;
    let total = 0;
    for (let i = 0; i < state.gpuCount; i++) total += state.gpuFree[i] ?? 0;
    const frag = fragmentedMilli(
      state.cpuFree,
      state.gpuFree,
      state.gpuCount,
      state.gpuModel,
      this.frag,
    );
    const stranded = strandWeight === 0 ? 0 : strandedMilli(total, state.cpuFree, this.cpuPerMilli);
    const gaps = gapWeight === 0 ? 0 : this.gapWaste(state);
    return frag + strandWeight * stranded + gapWeight * gaps;
  }

  /** Σ W(gap) over the node's partly used GPUs. */
  gapWaste(state: MeasuredState): number {
    const level = this.#cpuLevel(state.cpuFree);
    let waste = 0;
    for (let i = 0; i < state.gpuCount; i++) {
      const free = state.gpuFree[i] ?? 0;
      if (free <= 0 || free >= MILLI) continue;
      waste += this.gapTable(state.gpuModel(i), level)[Math.round(free)] ?? free;
    }
    return waste;
  }

  /** The gap table for GPUs of `model` on a node at CPU level `level` (see #cpuLevels). */
  gapTable(model: string, level: number): Float64Array {
    let byLevel = this.#tables.get(model);
    if (byLevel === undefined) {
      byLevel = [];
      this.#tables.set(model, byLevel);
    }
    const found = byLevel[level];
    if (found !== undefined) return found;
    const limit = level === 0 ? Number.NEGATIVE_INFINITY : (this.#cpuLevels[level - 1] ?? 0);
    const shares = this.#shares.filter(
      (s) => s.cpuMilli <= limit && (s.models.length === 0 || s.models.includes(model)),
    );
    const table = gapWasteTable(shares, this.options.gapFillRate);
    byLevel[level] = table;
    return table;
  }

  /** How many of the distinct share CPU requests fit in `cpuFree`. */
  #cpuLevel(cpuFree: number): number {
    let level = 0;
    while (level < this.#cpuLevels.length && (this.#cpuLevels[level] ?? 0) <= cpuFree) level++;
    return level;
  }
}
