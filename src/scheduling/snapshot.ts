/**
 * Builds the cluster model from the objects informers hold: nodes and their gpu.phalanx.dev
 * ResourceSlices become the ledger's devices and counters; allocated claims hold their devices;
 * bound pods hold their CPU and memory; planned pods that are not bound yet hold their whole
 * planned share (a reservation). Nothing is remembered between builds: a restarted process
 * rebuilds exactly the same state from the cluster.
 *
 * Pure: no I/O.
 */
import { parseQuantity } from '../api/resource/quantity.ts';
import type { Device, ResourceClaim, ResourceSlice } from '../api/resource/v1.ts';
import {
  ClusterModel,
  MODEL_ATTRIBUTE,
  type ModelDevice,
  type NodeBuild,
  type NodeState,
} from './cluster.ts';
import { pickDevices, selectorView } from './devices.ts';
import { type PodShape, usesDevices } from './node-view.ts';
import type { ClusterObjects, NodeObject, PlannerSettings } from './round-types.ts';
import { TopologyTree } from './topology.ts';
import {
  type ClaimSpecObject,
  type ClaimSpecs,
  isActiveOnNode,
  type PlanRecord,
  type PodObject,
  planOf,
  podDemand,
  podKey,
  podRequests,
} from './workload.ts';

export const DRIVER = 'gpu.phalanx.dev';

export interface PodEntry {
  readonly pod: PodObject;
  readonly key: string;
  readonly demand: { shape: PodShape } | { unsupported: string };
  readonly plan: PlanRecord | undefined;
  /** For a planned, unbound pod: whether its reservation still fits on the planned node. */
  readonly reservation: 'held' | 'broken' | 'none';
}

export interface Snapshot {
  readonly model: ClusterModel;
  readonly tree: TopologyTree;
  readonly pods: readonly PodEntry[];
  readonly problems: readonly string[];
}

function quantity(v: string | undefined): number {
  return v === undefined ? 0 : (parseQuantity(v) ?? 0);
}

/** The current generation of each pool, complete pools only. */
function currentPools(
  slices: readonly ResourceSlice[],
  problems: string[],
): Map<string, ResourceSlice[]> {
  const byPool = new Map<string, ResourceSlice[]>();
  for (const s of slices) {
    if (s.spec.driver !== DRIVER) continue;
    const list = byPool.get(s.spec.pool.name) ?? [];
    list.push(s);
    byPool.set(s.spec.pool.name, list);
  }
  const out = new Map<string, ResourceSlice[]>();
  for (const [pool, list] of byPool) {
    const generation = Math.max(...list.map((s) => s.spec.pool.generation));
    const current = list
      .filter((s) => s.spec.pool.generation === generation)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    const expected = current[0]?.spec.pool.resourceSliceCount ?? 0;
    if (current.length < expected) {
      problems.push(
        `pool ${pool}: ${current.length} of ${expected} slices present; its GPUs are not planned until it is complete`,
      );
      continue;
    }
    out.set(pool, current);
  }
  return out;
}

function stringAttr(device: Device, name: string): string {
  return device.attributes?.[name]?.string ?? '';
}

/** Devices and counters of one node's pool, grouped into GPUs by the `index` attribute. */
type DeviceTable = Pick<NodeBuild, 'devices' | 'counterTotal' | 'counterGpu' | 'gpuModels'>;

/** Identical device tables (nodes of one GPU profile) are shared, not repeated per node. */
function interned(tables: Map<string, DeviceTable>, table: DeviceTable): DeviceTable {
  const key = JSON.stringify(table);
  const known = tables.get(key);
  if (known !== undefined) return known;
  tables.set(key, table);
  return table;
}

/** Device tables of one build, by content and by the arrays they were read from. */
interface TableCache {
  readonly byContent: Map<string, DeviceTable>;
  readonly bySource: Map<string, DeviceTable>;
  readonly ids: Map<object, number>;
}

function newTableCache(): TableCache {
  return { byContent: new Map(), bySource: new Map(), ids: new Map() };
}

/**
 * The identities of a pool's `devices` and `sharedCounters` arrays, in slice order. Compacted
 * slices (kube/slice-compaction.ts) share these arrays between nodes of one GPU profile, so equal
 * keys mean equal tables and the table is built once per profile instead of once per node.
 */
function sourceKey(cache: TableCache, pool: readonly ResourceSlice[]): string {
  const id = (array: object | undefined): number => {
    if (array === undefined) return 0;
    let known = cache.ids.get(array);
    if (known === undefined) {
      known = cache.ids.size + 1;
      cache.ids.set(array, known);
    }
    return known;
  };
  return pool.map((s) => `${id(s.spec.devices)}/${id(s.spec.sharedCounters)}`).join(',');
}

function tableOf(cache: TableCache, pool: readonly ResourceSlice[]): DeviceTable {
  const key = sourceKey(cache, pool);
  const known = cache.bySource.get(key);
  if (known !== undefined) return known;
  const table = interned(cache.byContent, devicesOf(pool));
  cache.bySource.set(key, table);
  return table;
}

function devicesOf(slices: readonly ResourceSlice[]): DeviceTable {
  const counterIdx = new Map<string, number>();
  const counterTotal: number[] = [];
  for (const s of slices) {
    for (const set of s.spec.sharedCounters ?? []) {
      for (const [name, c] of Object.entries(set.counters)) {
        counterIdx.set(`${set.name}/${name}`, counterTotal.length);
        counterTotal.push(quantity(c.value));
      }
    }
  }
  const counterGpu = counterTotal.map(() => -1);
  const raw = slices.flatMap((s) => s.spec.devices ?? []);
  const indices = [...new Set(raw.map((d) => d.attributes?.index?.int ?? -1))].sort(
    (a, b) => a - b,
  );
  const group = new Map(indices.map((v, i) => [v, i]));
  const gpuModels = indices.map(() => '');
  const devices: ModelDevice[] = raw.map((d) => {
    const gpu = group.get(d.attributes?.index?.int ?? -1) ?? 0;
    const whole = stringAttr(d, 'type') !== 'partition';
    if (whole) gpuModels[gpu] = stringAttr(d, MODEL_ATTRIBUTE);
    const counterIndex: number[] = [];
    const counterAmount: number[] = [];
    for (const use of d.consumesCounters ?? []) {
      for (const [name, c] of Object.entries(use.counters)) {
        const idx = counterIdx.get(`${use.counterSet}/${name}`);
        if (idx === undefined) continue;
        counterIndex.push(idx);
        counterAmount.push(quantity(c.value));
        counterGpu[idx] = gpu;
      }
    }
    return {
      name: d.name,
      gpu,
      shareMilli: 0,
      whole,
      tainted: (d.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute'),
      counterIndex,
      counterAmount,
      ...selectorView(DRIVER, d),
    };
  });
  return { devices, counterTotal, counterGpu, gpuModels };
}

function nodeBuild(
  node: NodeObject,
  pool: readonly ResourceSlice[] | undefined,
  tables: TableCache,
): NodeBuild {
  const name = node.metadata.name ?? '';
  const alloc = node.status?.allocatable ?? {};
  const dev =
    pool === undefined
      ? { devices: [], counterTotal: [], counterGpu: [], gpuModels: [] }
      : tableOf(tables, pool);
  return {
    name,
    labels: node.metadata.labels ?? {},
    cpuMilli: Math.floor(quantity(alloc.cpu) * 1000),
    memoryBytes: quantity(alloc.memory),
    ...dev,
    taints: node.spec?.taints ?? [],
    unschedulable: node.spec?.unschedulable === true,
  };
}

function holdClaims(
  model: ClusterModel,
  claims: readonly ResourceClaim[],
  problems: string[],
): void {
  for (const claim of claims) {
    const byPool = new Map<string, string[]>();
    for (const r of claim.status?.allocation?.devices?.results ?? []) {
      if (r.driver !== DRIVER) continue;
      const list = byPool.get(r.pool) ?? [];
      list.push(r.device);
      byPool.set(r.pool, list);
    }
    const owner = `claim ${claim.metadata.namespace ?? ''}/${claim.metadata.name ?? ''}`;
    for (const [pool, devices] of byPool) {
      const held = model.hold(pool, owner, { devices });
      if (held === undefined) problems.push(`${owner}: allocated on unknown node ${pool}`);
      else if (held.skipped.length > 0) {
        problems.push(
          `${owner}: devices ${held.skipped.join(', ')} on ${pool} are unknown or already held`,
        );
      }
    }
  }
}

const specsByObjects = new WeakMap<ClusterObjects, ClaimSpecs>();

/**
 * Claim and template specs by namespace/name, indexed once per `objects` value: the extender asks
 * for them on every call, and the caches hand out the same value until something changes.
 */
export function claimSpecs(objects: ClusterObjects): ClaimSpecs {
  let specs = specsByObjects.get(objects);
  if (specs === undefined) {
    specs = indexClaimSpecs(objects);
    specsByObjects.set(objects, specs);
  }
  return specs;
}

function indexClaimSpecs(objects: ClusterObjects): ClaimSpecs {
  const templates = new Map(
    objects.templates.map((t) => [
      `${t.metadata.namespace ?? ''}/${t.metadata.name ?? ''}`,
      t.spec?.spec,
    ]),
  );
  const claims = new Map(
    objects.claims.map((c) => [`${c.metadata.namespace ?? ''}/${c.metadata.name ?? ''}`, c]),
  );
  const classes =
    objects.deviceClasses === undefined
      ? undefined
      : new Map(objects.deviceClasses.map((c) => [c.metadata.name ?? '', c]));
  return {
    ...(classes === undefined ? {} : { deviceClass: (name: string) => classes.get(name) }),
    template: (ns, name) => templates.get(`${ns}/${name}`),
    claim: (ns, name) => {
      const c = claims.get(`${ns}/${name}`);
      if (c === undefined) return undefined;
      // The claim spec is the same JSON shape as a template's spec.spec.
      const spec = c.spec as ClaimSpecObject | undefined;
      const allocated = c.status?.allocation !== undefined;
      return spec === undefined ? { allocated } : { spec, allocated };
    },
  };
}

/** GPUs for a reservation: the first GPUs on the node that can serve the shape. */
function reserve(model: ClusterModel, node: NodeState, shape: PodShape, owner: string): boolean {
  if (shape.devices !== undefined) {
    // Pick once; allocate only checks and takes the picked devices.
    const devices = node.hasCpuAndMemoryFor(shape) ? pickDevices(node, shape.devices) : undefined;
    if (devices === undefined) return false;
    model.allocate(node, shape, { gpus: [], milli: 0, devices }, owner);
    return true;
  }
  if (!node.canHold(shape)) return false;
  const gpus =
    shape.gpuCount > 0 && shape.gpuMilli > 0
      ? node.gpusFor(shape).slice(0, shape.gpuMilli < 1000 ? 1 : shape.gpuCount)
      : [];
  model.allocate(node, shape, { gpus, milli: shape.gpuMilli }, owner);
  return true;
}

/**
 * A bound pod holds its CPU and memory; GPUs of its claims are held by the claims' allocations.
 * Claims not seen allocated yet (the claim update may trail the binding) are held here as well.
 */
function holdBound(
  model: ClusterModel,
  pod: PodObject,
  key: string,
  demand: PodEntry['demand'],
  problems: string[],
): void {
  const nodeName = pod.spec?.nodeName ?? '';
  const node = model.node(nodeName);
  if (node === undefined) {
    problems.push(`pod ${key}: bound to unknown node ${nodeName}`);
    return;
  }
  const gpus = 'shape' in demand && usesDevices(demand.shape);
  if (gpus && reserve(model, node, demand.shape, `pod ${key}`)) return;
  model.hold(nodeName, `pod ${key}`, podRequests(pod));
}

export function buildSnapshot(objects: ClusterObjects, settings: PlannerSettings): Snapshot {
  const problems: string[] = [];
  const pools = currentPools(objects.slices, problems);
  const tables = newTableCache();
  const model = new ClusterModel(
    objects.nodes.map((n) => nodeBuild(n, pools.get(n.metadata.name ?? ''), tables)),
  );
  const tree = new TopologyTree(model.nodes, settings.levels);
  holdClaims(model, objects.claims, problems);
  const specs = claimSpecs(objects);
  const pods: PodEntry[] = [];
  for (const pod of objects.pods) {
    if (pod.metadata.deletionTimestamp !== undefined && !isActiveOnNode(pod)) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const key = podKey(pod);
    const plan = planOf(pod);
    const demand = podDemand(pod, specs);
    if (isActiveOnNode(pod)) {
      holdBound(model, pod, key, demand, problems);
      pods.push({ pod, key, demand, plan, reservation: 'none' });
      continue;
    }
    let reservation: PodEntry['reservation'] = 'none';
    if (plan !== undefined && 'shape' in demand) {
      const node = model.node(plan.node);
      reservation =
        node !== undefined && reserve(model, node, demand.shape, `pod ${key}`) ? 'held' : 'broken';
    }
    pods.push({ pod, key, demand, plan, reservation });
  }
  return { model, tree, pods, problems };
}
