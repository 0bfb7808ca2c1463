/**
 * Hand-built node views, shapes and policy contexts for the policy tests. A fixture node is
 * mutable through `take`, so a test can move it between states like placements would.
 */
import type { NodeView, PodShape } from '../../../../src/scheduling/node-view.ts';
import type { PolicyContext } from '../../../../src/scheduling/policy.ts';

export interface FixtureNode extends NodeView {
  cpuMilliFree: number;
  readonly free: number[];
  /** Takes CPU and milli-GPU from the listed GPUs. */
  take(cpuMilli: number, gpus: readonly number[], milli: number): void;
}

export interface NodeOptions {
  readonly name?: string;
  readonly ordinal?: number;
  readonly cpuTotal?: number;
  readonly cpuFree?: number;
  readonly memoryFree?: number;
  readonly gpus: readonly number[];
  readonly model?: string;
}

export function node(options: NodeOptions): FixtureNode {
  const free = [...options.gpus];
  const cpuTotal = options.cpuTotal ?? 64_000;
  const model = options.model ?? 'G2';
  return {
    name: options.name ?? 'n',
    ordinal: options.ordinal ?? 0,
    cpuMilliTotal: cpuTotal,
    cpuMilliFree: options.cpuFree ?? cpuTotal,
    memoryBytesTotal: 2 ** 40,
    memoryBytesFree: options.memoryFree ?? 2 ** 40,
    gpuCount: free.length,
    free,
    gpuFreeMilli: (i: number) => free[i] ?? 0,
    gpuModel: () => model,
    gpuShareable: () => true,
    get gpuFreeMilliTotal() {
      return free.reduce((a, b) => a + b, 0);
    },
    get gpusIdle() {
      return free.filter((f) => f === 1000).length;
    },
    take(cpuMilli: number, gpus: readonly number[], milli: number): void {
      this.cpuMilliFree -= cpuMilli;
      for (const g of gpus) free[g] = (free[g] ?? 0) - milli;
    },
  };
}

export function shape(
  cpuMilli: number,
  gpuCount: number,
  gpuMilli: number,
  gpuModels: readonly string[] = [],
): PodShape {
  return { cpuMilli, memoryBytes: 2 ** 30, gpuCount, gpuMilli, gpuModels };
}

/** The openb normalisation: largest node 128 cores and 8 GPUs. */
export function context(random: () => number = () => 0.5): PolicyContext {
  return { random, maxCpuMilli: 128_000, maxMemoryBytes: 2 ** 40, maxGpuCount: 8 };
}

/** A random source that returns the given values in turn (and fails when they run out). */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error('the test ran out of random values');
    return v;
  };
}
