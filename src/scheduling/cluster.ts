/**
 * The cluster model: every node's allocatable CPU and memory and its devices, with a capacity
 * ledger that counts them the way the DRA allocator does. A device is either exclusive (one
 * allocation holds it) or shareable (`allowMultipleAllocations` with a consumable milli-GPU
 * capacity); devices may consume shared counters (MIG-like partitions), so a whole GPU and a
 * partition of it can never both be allocated.
 *
 * Devices are grouped into physical GPUs (a group is the set of devices that consume one counter
 * set, or a single device), and every group's free milli-GPU is kept current for the placement
 * policies through the NodeView interface.
 *
 * Pure: no I/O.
 */
import type { CelDevice } from './cel.ts';
import { describeClaims, pickDevices } from './devices.ts';
import { type GpuPick, MILLI_PER_GPU, type NodeView, type PodShape } from './node-view.ts';

/** One GPU of a node described directly (trace replays): a shareable or exclusive GPU of a model. */
export interface GpuSpec {
  readonly model: string;
  /** Accepts milli-GPU shares from several pods (default true). */
  readonly shareable?: boolean;
}

/** A node described directly by its capacity (trace replays and topology specs). */
export interface NodeSpec {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly gpus: readonly GpuSpec[];
}

/**
 * A device in the ledger: only what counting needs. Nodes with identical device tables (the same
 * GPU profile) share one table, which keeps a 5,000-node model small; attributes stay with the
 * ResourceSlices.
 */
export interface ModelDevice {
  readonly name: string;
  /** Index of the GPU group this device belongs to on its node. */
  readonly gpu: number;
  /** Consumable milli-GPU capacity when the device allows multiple allocations, else 0. */
  readonly shareMilli: number;
  /** Takes the whole GPU group when allocated. */
  readonly whole: boolean;
  readonly tainted: boolean;
  /** Counter indices (into the node's counters) and amounts this device consumes. */
  readonly counterIndex: readonly number[];
  readonly counterAmount: readonly number[];
  /** What CEL selectors see of the device (built from its ResourceSlice entry). */
  readonly cel?: CelDevice;
  /** Identity attributes the device has, values blanked (see devices.ts). */
  readonly identity?: readonly string[];
}

/** One allocation held in the ledger. */
export interface Allocation {
  readonly id: number;
  readonly owner: string;
  readonly node: number;
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  /** Device indices on the node and the milli taken from each (0 = exclusive use). */
  readonly devices: readonly number[];
  readonly shares: readonly number[];
  /** Milli-GPU this allocation counts as allocated. */
  readonly gpuMilli: number;
}

export class CapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}

/** Attribute naming the GPU model on devices built from a NodeSpec (matches our driver's slices). */
export const MODEL_ATTRIBUTE = 'productName';

export interface NodeBuild {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly devices: readonly ModelDevice[];
  /** Counter totals (same order as ModelDevice.counterIndex) and the GPU group of each counter. */
  readonly counterTotal: readonly number[];
  readonly counterGpu: readonly number[];
  readonly gpuModels: readonly string[];
  readonly taints?: readonly NodeTaint[];
  readonly unschedulable?: boolean;
}

export interface NodeTaint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** Device name → index, per device table (shared by the nodes of one GPU profile). */
const deviceIndexes = new WeakMap<readonly ModelDevice[], Map<string, number>>();

/** A node with its ledger state. Implements the NodeView policies read. */
export class NodeState implements NodeView {
  readonly name: string;
  readonly ordinal: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpuMilliTotal: number;
  cpuMilliFree: number;
  readonly memoryBytesTotal: number;
  memoryBytesFree: number;
  readonly devices: readonly ModelDevice[];
  readonly taints: readonly NodeTaint[];
  readonly unschedulable: boolean;
  readonly gpuCount: number;
  gpuFreeMilliTotal = 0;
  gpusIdle = 0;
  readonly #models: readonly string[];
  readonly #gpuFree: Float64Array;
  readonly #held: Uint8Array;
  readonly #shareUsed: Float64Array;
  readonly #counterLeft: Float64Array;
  readonly #counterTotal: readonly number[];
  /** Per GPU: device index of its whole-GPU device (-1 none) and of its shareable device (-1 none). */
  readonly #wholeDevice: Int32Array;
  /** Per GPU: 1 when it can be taken whole now; and how many such GPUs there are. */
  readonly #wholeOk: Uint8Array;
  #wholeOkCount = 0;
  readonly #shareDevice: Int32Array;
  /** Per GPU: the counter whose free fraction stands for the GPU's (its largest), -1 none. */
  readonly #gpuCounter: Int32Array;

  constructor(build: NodeBuild, ordinal: number) {
    this.name = build.name;
    this.ordinal = ordinal;
    this.labels = build.labels;
    this.cpuMilliTotal = build.cpuMilli;
    this.cpuMilliFree = build.cpuMilli;
    this.memoryBytesTotal = build.memoryBytes;
    this.memoryBytesFree = build.memoryBytes;
    this.devices = build.devices;
    this.taints = build.taints ?? [];
    this.unschedulable = build.unschedulable ?? false;
    this.#models = build.gpuModels;
    this.gpuCount = build.gpuModels.length;
    this.#gpuFree = new Float64Array(this.gpuCount);
    this.#held = new Uint8Array(build.devices.length);
    this.#shareUsed = new Float64Array(build.devices.length);
    this.#counterTotal = build.counterTotal;
    this.#counterLeft = Float64Array.from(build.counterTotal);
    this.#wholeDevice = new Int32Array(this.gpuCount).fill(-1);
    this.#wholeOk = new Uint8Array(this.gpuCount);
    this.#shareDevice = new Int32Array(this.gpuCount).fill(-1);
    this.#gpuCounter = largestCounters(build.counterTotal, build.counterGpu, this.gpuCount);
    build.devices.forEach((d, i) => {
      if (d.shareMilli > 0) this.#shareDevice[d.gpu] = i;
      else if (d.whole) this.#wholeDevice[d.gpu] = i;
    });
    for (let g = 0; g < this.gpuCount; g++) this.#refreshGpu(g);
  }

  gpuFreeMilli(i: number): number {
    return this.#gpuFree[i] ?? 0;
  }

  gpuShareable(i: number): boolean {
    return (this.#shareDevice[i] ?? -1) >= 0;
  }

  gpuModel(i: number): string {
    return this.#models[i] ?? '';
  }

  /** True when no allocation holds device `i` exclusively and its counters still have room. */
  deviceAvailable(i: number, milli = 0): boolean {
    const d = this.devices[i];
    if (d === undefined || d.tainted || this.#held[i] === 1) return false;
    if (d.shareMilli > 0) {
      const need = milli > 0 ? milli : d.shareMilli;
      if ((this.#shareUsed[i] ?? 0) + need > d.shareMilli) return false;
      if (milli > 0) return true;
    }
    for (let k = 0; k < d.counterIndex.length; k++) {
      const idx = d.counterIndex[k] ?? -1;
      if ((this.#counterLeft[idx] ?? 0) < (d.counterAmount[k] ?? 0)) return false;
    }
    return true;
  }

  /** Milli-GPU already shared out of device `i` (0 for exclusive devices). */
  shareUsed(i: number): number {
    return this.#shareUsed[i] ?? 0;
  }

  /** The device that serves one unit of `shape` on GPU `g`, or -1 when GPU `g` cannot serve it. */
  deviceFor(g: number, shape: PodShape): number {
    if (shape.gpuModels.length > 0 && !shape.gpuModels.includes(this.gpuModel(g))) return -1;
    if (shape.gpuMilli < MILLI_PER_GPU) {
      const d = this.#shareDevice[g] ?? -1;
      return d >= 0 && this.deviceAvailable(d, shape.gpuMilli) ? d : -1;
    }
    if (this.#wholeOk[g] !== 1) return -1;
    const whole = this.#wholeDevice[g] ?? -1;
    return whole >= 0 ? whole : (this.#shareDevice[g] ?? -1);
  }

  /** GPUs that can be taken whole right now (any model). */
  get gpusWholeFree(): number {
    return this.#wholeOkCount;
  }

  /** GPUs that can serve one unit of the shape now, ascending. */
  gpusFor(shape: PodShape): number[] {
    const out: number[] = [];
    for (let g = 0; g < this.gpuCount; g++) if (this.deviceFor(g, shape) >= 0) out.push(g);
    return out;
  }

  /** Index of the device called `name`, -1 when the node has none. */
  deviceIndex(name: string): number {
    let index = deviceIndexes.get(this.devices);
    if (index === undefined) {
      index = new Map(this.devices.map((d, i) => [d.name, i]));
      deviceIndexes.set(this.devices, index);
    }
    return index.get(name) ?? -1;
  }

  /** Whether the node's free CPU and memory hold the shape (devices aside). */
  hasCpuAndMemoryFor(shape: PodShape): boolean {
    return shape.cpuMilli <= this.cpuMilliFree && shape.memoryBytes <= this.memoryBytesFree;
  }

  canHold(shape: PodShape): boolean {
    if (!this.hasCpuAndMemoryFor(shape)) return false;
    if (shape.devices !== undefined && shape.devices.length > 0) {
      return pickDevices(this, shape.devices) !== undefined;
    }
    if (shape.gpuCount === 0 || shape.gpuMilli === 0) return true;
    const anyModel = shape.gpuModels.length === 0;
    if (anyModel && shape.gpuMilli >= MILLI_PER_GPU) return this.#wholeOkCount >= shape.gpuCount;
    let found = 0;
    for (let g = 0; g < this.gpuCount && found < shape.gpuCount; g++) {
      if (this.deviceFor(g, shape) >= 0) found++;
    }
    return found >= shape.gpuCount;
  }

  /**
   * Milli-GPU device `i` stands for when held exclusively: 1000 for a whole GPU, the share of its
   * GPU's largest counter for a partition.
   */
  deviceMilli(i: number): number {
    const d = this.devices[i];
    if (d === undefined) return 0;
    if (d.whole) return MILLI_PER_GPU;
    const largest = this.#gpuCounter[d.gpu] ?? -1;
    const total = this.#counterTotal[largest] ?? 0;
    const k = d.counterIndex.indexOf(largest);
    return total > 0 && k >= 0
      ? Math.round((MILLI_PER_GPU * (d.counterAmount[k] ?? 0)) / total)
      : 0;
  }

  /** Takes device `i` (exclusively, or `milli` of a shareable device). Caller checked availability. */
  take(i: number, milli: number): void {
    const d = this.devices[i];
    if (d === undefined) return;
    if (d.shareMilli > 0) {
      this.#shareUsed[i] = (this.#shareUsed[i] ?? 0) + (milli > 0 ? milli : d.shareMilli);
    } else {
      this.#held[i] = 1;
    }
    if (d.shareMilli === 0 || milli === 0) this.#consumeCounters(d, -1);
    this.#refreshGpu(d.gpu);
  }

  give(i: number, milli: number): void {
    const d = this.devices[i];
    if (d === undefined) return;
    if (d.shareMilli > 0) {
      this.#shareUsed[i] = Math.max(
        0,
        (this.#shareUsed[i] ?? 0) - (milli > 0 ? milli : d.shareMilli),
      );
    } else {
      this.#held[i] = 0;
    }
    if (d.shareMilli === 0 || milli === 0) this.#consumeCounters(d, 1);
    this.#refreshGpu(d.gpu);
  }

  #consumeCounters(d: ModelDevice, sign: number): void {
    for (let k = 0; k < d.counterIndex.length; k++) {
      const idx = d.counterIndex[k] ?? -1;
      this.#counterLeft[idx] = (this.#counterLeft[idx] ?? 0) + sign * (d.counterAmount[k] ?? 0);
    }
  }

  /**
   * A GPU's free milli: for a shareable device the unshared part; for a GPU with counters the
   * free fraction of its largest counter (memory, for partitionable GPUs); otherwise whether its
   * whole device is free.
   */
  #refreshGpu(g: number): void {
    const ok = this.#computeWholeOk(g);
    this.#wholeOkCount += ok - (this.#wholeOk[g] ?? 0);
    this.#wholeOk[g] = ok;
    const before = this.#gpuFree[g] ?? 0;
    const after = this.#computeFree(g);
    this.#gpuFree[g] = after;
    this.gpuFreeMilliTotal += after - before;
    this.gpusIdle += (after === MILLI_PER_GPU ? 1 : 0) - (before === MILLI_PER_GPU ? 1 : 0);
  }

  /** 1 when GPU `g` can be taken whole now: its whole device (or unshared shareable device) is free. */
  #computeWholeOk(g: number): number {
    const whole = this.#wholeDevice[g] ?? -1;
    if (whole >= 0) return this.deviceAvailable(whole) ? 1 : 0;
    const share = this.#shareDevice[g] ?? -1;
    return share >= 0 && this.deviceAvailable(share) ? 1 : 0;
  }

  #computeFree(g: number): number {
    const share = this.#shareDevice[g] ?? -1;
    const shareDev = this.devices[share];
    if (shareDev !== undefined) {
      if (shareDev.tainted) return 0;
      return (
        (MILLI_PER_GPU * (shareDev.shareMilli - (this.#shareUsed[share] ?? 0))) /
        shareDev.shareMilli
      );
    }
    const largest = this.#gpuCounter[g] ?? -1;
    const whole = this.#wholeDevice[g] ?? -1;
    if (this.devices[whole]?.tainted === true) return 0;
    if (largest >= 0) {
      const total = this.#counterTotal[largest] ?? 0;
      return total > 0
        ? Math.round((MILLI_PER_GPU * (this.#counterLeft[largest] ?? 0)) / total)
        : 0;
    }
    return whole >= 0 && this.#held[whole] === 0 ? MILLI_PER_GPU : 0;
  }
}

function largestCounters(
  total: readonly number[],
  gpu: readonly number[],
  gpus: number,
): Int32Array {
  const out = new Int32Array(gpus).fill(-1);
  gpu.forEach((g, c) => {
    const current = out[g] ?? -1;
    if (current < 0 || (total[c] ?? 0) > (total[current] ?? 0)) out[g] = c;
  });
  return out;
}

function nodeBuildFromSpec(spec: NodeSpec): NodeBuild {
  const devices: ModelDevice[] = spec.gpus.map((gpu, i) => ({
    name: `gpu-${i}`,
    gpu: i,
    shareMilli: gpu.shareable === false ? 0 : MILLI_PER_GPU,
    whole: true,
    tainted: false,
    counterIndex: [],
    counterAmount: [],
  }));
  return {
    name: spec.name,
    labels: spec.labels ?? {},
    cpuMilli: spec.cpuMilli,
    memoryBytes: spec.memoryBytes,
    devices,
    counterTotal: [],
    counterGpu: [],
    gpuModels: spec.gpus.map((g) => g.model),
  };
}

export class ClusterModel {
  readonly nodes: readonly NodeState[];
  readonly gpuMilliTotal: number;
  readonly #byName: Map<string, NodeState>;
  readonly #allocations = new Map<number, Allocation>();
  #nextId = 1;
  #gpuMilliAllocated = 0;

  constructor(builds: readonly NodeBuild[]) {
    const seen = new Set<string>();
    for (const b of builds) {
      if (seen.has(b.name)) throw new CapacityError(`node ${b.name} is listed twice`);
      seen.add(b.name);
    }
    this.nodes = builds.map((b, i) => new NodeState(b, i));
    this.#byName = new Map(this.nodes.map((n) => [n.name, n]));
    this.gpuMilliTotal = this.nodes.reduce((sum, n) => sum + n.gpuCount * MILLI_PER_GPU, 0);
  }

  static fromNodes(nodes: readonly NodeSpec[]): ClusterModel {
    return new ClusterModel(nodes.map(nodeBuildFromSpec));
  }

  node(name: string): NodeState | undefined {
    return this.#byName.get(name);
  }

  gpuMilliAllocated(): number {
    return this.#gpuMilliAllocated;
  }

  allocation(id: number): Allocation | undefined {
    return this.#allocations.get(id);
  }

  allocations(): IterableIterator<Allocation> {
    return this.#allocations.values();
  }

  canHold(node: NodeView, shape: PodShape): boolean {
    return this.#state(node).canHold(shape);
  }

  /**
   * Places `shape` on `node` taking the GPUs in `pick` (for whole GPUs, `pick.gpus` lists
   * `shape.gpuCount` GPUs; for a share, one GPU). Throws CapacityError when the placement does
   * not fit: the ledger never overcommits.
   */
  allocate(node: NodeView, shape: PodShape, pick: GpuPick, owner: string): number {
    const state = this.#state(node);
    if (shape.devices !== undefined && shape.devices.length > 0) {
      return this.#allocateDevices(state, shape, pick, owner);
    }
    const why = this.#whyNot(state, shape, pick);
    if (why !== undefined) throw new CapacityError(`${owner} on ${state.name}: ${why}`);
    const gpuPod = shape.gpuCount > 0 && shape.gpuMilli > 0;
    const share = gpuPod && shape.gpuMilli < MILLI_PER_GPU ? shape.gpuMilli : 0;
    const devices: number[] = [];
    const shares: number[] = [];
    for (const g of pick.gpus) {
      const d = state.deviceFor(g, shape);
      // share 0: exclusive use (a whole-GPU pick on a shareable GPU takes all of its capacity).
      state.take(d, share);
      devices.push(d);
      shares.push(share);
    }
    const gpuMilli = share > 0 ? share : devices.length * MILLI_PER_GPU;
    return this.#record(state, shape, owner, devices, shares, gpuMilli);
  }

  /**
   * Device-request shapes: takes the devices in `pick.devices` (checked here) or, without them,
   * the devices the ledger picks itself.
   */
  #allocateDevices(state: NodeState, shape: PodShape, pick: GpuPick, owner: string): number {
    const claims = shape.devices ?? [];
    const fail = (why: string) => new CapacityError(`${owner} on ${state.name}: ${why}`);
    if (!state.hasCpuAndMemoryFor(shape)) {
      throw fail(this.#whyNot(state, shape, { gpus: [], milli: 0 }) ?? 'no room');
    }
    let devices: readonly number[];
    if (pick.devices === undefined) {
      const picked = pickDevices(state, claims, true);
      if (picked === undefined) throw fail(`no free devices for ${describeClaims(claims)}`);
      devices = picked;
    } else {
      devices = pick.devices;
      for (let k = 0; k < devices.length; k++) {
        const i = devices[k] ?? -1;
        if (devices.indexOf(i) !== k || !state.deviceAvailable(i)) {
          for (const j of devices.slice(0, k)) state.give(j, 0);
          throw fail(`device ${state.devices[i]?.name ?? i} is not free`);
        }
        state.take(i, 0);
      }
    }
    const gpuMilli = devices.reduce((sum, i) => sum + state.deviceMilli(i), 0);
    return this.#record(
      state,
      shape,
      owner,
      [...devices],
      devices.map(() => 0),
      gpuMilli,
    );
  }

  #record(
    state: NodeState,
    shape: PodShape,
    owner: string,
    devices: number[],
    shares: number[],
    gpuMilli: number,
  ): number {
    state.cpuMilliFree -= shape.cpuMilli;
    state.memoryBytesFree -= shape.memoryBytes;
    const id = this.#nextId++;
    this.#allocations.set(id, {
      id,
      owner,
      node: state.ordinal,
      cpuMilli: shape.cpuMilli,
      memoryBytes: shape.memoryBytes,
      devices,
      shares,
      gpuMilli,
    });
    this.#gpuMilliAllocated += gpuMilli;
    return id;
  }

  /**
   * Records what already runs on a node: exclusive devices held by allocated claims and the
   * CPU/memory requests of bound pods. Devices that are unknown or already held are skipped and
   * returned, so a caller can report the inconsistency instead of failing the whole snapshot.
   */
  hold(
    nodeName: string,
    owner: string,
    use: { cpuMilli?: number; memoryBytes?: number; devices?: readonly string[] },
  ): { allocation: number; skipped: string[] } | undefined {
    const state = this.#byName.get(nodeName);
    if (state === undefined) return undefined;
    const devices: number[] = [];
    const skipped: string[] = [];
    let gpuMilli = 0;
    for (const name of use.devices ?? []) {
      const i = state.deviceIndex(name);
      if (i < 0 || !state.deviceAvailable(i)) {
        skipped.push(name);
        continue;
      }
      state.take(i, 0);
      devices.push(i);
      gpuMilli += state.deviceMilli(i);
    }
    this.#gpuMilliAllocated += gpuMilli;
    const cpu = use.cpuMilli ?? 0;
    const mem = use.memoryBytes ?? 0;
    state.cpuMilliFree -= cpu;
    state.memoryBytesFree -= mem;
    const id = this.#nextId++;
    this.#allocations.set(id, {
      id,
      owner,
      node: state.ordinal,
      cpuMilli: cpu,
      memoryBytes: mem,
      devices,
      shares: devices.map(() => 0),
      gpuMilli,
    });
    return { allocation: id, skipped };
  }

  release(id: number): void {
    const a = this.#allocations.get(id);
    if (a === undefined) return;
    this.#allocations.delete(id);
    const state = this.nodes[a.node];
    if (state === undefined) return;
    a.devices.forEach((d, k) => {
      state.give(d, a.shares[k] ?? 0);
    });
    this.#gpuMilliAllocated -= a.gpuMilli;
    state.cpuMilliFree += a.cpuMilli;
    state.memoryBytesFree += a.memoryBytes;
  }

  #state(node: NodeView): NodeState {
    const state = this.nodes[node.ordinal];
    if (state === undefined || state.name !== node.name) {
      throw new CapacityError(`node ${node.name} is not part of this model`);
    }
    return state;
  }

  #whyNot(state: NodeState, shape: PodShape, pick: GpuPick): string | undefined {
    if (shape.cpuMilli > state.cpuMilliFree) {
      return `needs ${shape.cpuMilli} mCPU, ${state.cpuMilliFree} free`;
    }
    if (shape.memoryBytes > state.memoryBytesFree) {
      return `needs ${shape.memoryBytes} bytes of memory, ${state.memoryBytesFree} free`;
    }
    if (shape.gpuCount === 0 || shape.gpuMilli === 0) {
      return pick.gpus.length === 0 ? undefined : 'picked GPUs for a pod without GPUs';
    }
    const wanted = shape.gpuMilli < MILLI_PER_GPU ? 1 : shape.gpuCount;
    if (pick.gpus.length !== wanted || new Set(pick.gpus).size !== wanted) {
      return `needs ${wanted} distinct GPUs, pick names ${pick.gpus.length}`;
    }
    for (const g of pick.gpus) {
      if (state.deviceFor(g, shape) < 0) return `GPU ${g} cannot serve ${shape.gpuMilli} milli-GPU`;
    }
    return undefined;
  }
}
