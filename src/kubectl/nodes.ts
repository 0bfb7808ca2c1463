/**
 * `kubectl phalanx nodes`: every node of the core's model in topology order, with its GPU
 * occupancy as the ledger counts it (allocated claims, plans' reservations, shared counters).
 * Pure.
 */
import type { NodeState } from '../scheduling/cluster.ts';
import { MILLI_PER_GPU } from '../scheduling/node-view.ts';
import { DRIVER } from '../scheduling/snapshot.ts';
import { isActiveOnNode } from '../scheduling/workload.ts';
import type { Output } from './args.ts';
import { decimal, json, printTable } from './format.ts';
import { type ClusterView, podQueue } from './view.ts';

export interface NodeGpu {
  readonly index: number;
  readonly model: string;
  /** Milli-GPU in use: the largest shared counter's used fraction (memory), or the whole device. */
  readonly usedMilli: number;
}

export interface NodeRow {
  readonly name: string;
  /** Domain name at each topology level, widest first (`zone`, `block`, `rack`, `nvlink`). */
  readonly topology: Readonly<Record<string, string>>;
  readonly gpus: number;
  /** Whole GPUs that can be taken now (after allocations and plans' reservations). */
  readonly gpusFree: number;
  readonly wholeAllocated: number;
  readonly partitions: { readonly allocated: number; readonly total: number };
  /** GPUs in use by the counters (a GPU with three 1g partitions of seven counts 3/7). */
  readonly gpusUsed: number;
  /** GPUs held for planned pods that are not bound yet. */
  readonly gpusReserved: number;
  readonly reservedFor: readonly string[];
  readonly queues: readonly string[];
  readonly cpuMilli: { readonly free: number; readonly total: number };
  readonly memoryBytes: { readonly free: number; readonly total: number };
  readonly unschedulable: boolean;
  readonly gpuDetail: readonly NodeGpu[];
}

export interface NodesReport {
  readonly levels: readonly string[];
  readonly nodes: readonly NodeRow[];
  /** What the core could not read (an incomplete pool, a claim on an unknown node). */
  readonly problems: readonly string[];
}

/** Allocated devices per node, from the claims' allocation results (whole vs partition by the model). */
function allocatedDevices(view: ClusterView): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const claim of view.objects.claims) {
    for (const r of claim.status?.allocation?.devices?.results ?? []) {
      if (r.driver !== DRIVER) continue;
      const set = out.get(r.pool) ?? new Set<string>();
      set.add(r.device);
      out.set(r.pool, set);
    }
  }
  return out;
}

interface NodeUse {
  reserved: number;
  readonly reservedFor: Set<string>;
  readonly queues: Set<string>;
}

function podUse(view: ClusterView): Map<string, NodeUse> {
  const out = new Map<string, NodeUse>();
  const use = (node: string): NodeUse => {
    let u = out.get(node);
    if (u === undefined) {
      u = { reserved: 0, reservedFor: new Set(), queues: new Set() };
      out.set(node, u);
    }
    return u;
  };
  for (const entry of view.snap.pods) {
    const node = isActiveOnNode(entry.pod) ? entry.pod.spec?.nodeName : entry.plan?.node;
    if (node === undefined) continue;
    const queue = podQueue(view, entry.pod);
    if (queue !== undefined) use(node).queues.add(queue);
    if (entry.reservation !== 'held' || !('shape' in entry.demand)) continue;
    use(node).reserved += entry.demand.shape.gpuCount;
    use(node).reservedFor.add(entry.plan?.gang ?? entry.key);
  }
  return out;
}

function gpuDetail(node: NodeState): NodeGpu[] {
  return Array.from({ length: node.gpuCount }, (_, g) => ({
    index: g,
    model: node.gpuModel(g),
    usedMilli: MILLI_PER_GPU - node.gpuFreeMilli(g),
  }));
}

function nodeRow(
  view: ClusterView,
  node: NodeState,
  allocated: ReadonlySet<string>,
  use: NodeUse | undefined,
): NodeRow {
  const tree = view.snap.tree;
  const topology: Record<string, string> = {};
  tree.levels.forEach((level, depth) => {
    topology[level.name] = tree.domainOf(node.ordinal, depth)?.name ?? '';
  });
  let wholeAllocated = 0;
  let partAllocated = 0;
  for (const name of allocated) {
    const d = node.devices[node.deviceIndex(name)];
    if (d === undefined) continue;
    if (d.whole) wholeAllocated++;
    else partAllocated++;
  }
  return {
    name: node.name,
    topology,
    gpus: node.gpuCount,
    gpusFree: node.gpusWholeFree,
    wholeAllocated,
    partitions: { allocated: partAllocated, total: node.devices.filter((d) => !d.whole).length },
    gpusUsed: (node.gpuCount * MILLI_PER_GPU - node.gpuFreeMilliTotal) / MILLI_PER_GPU,
    gpusReserved: use?.reserved ?? 0,
    reservedFor: [...(use?.reservedFor ?? [])].sort(),
    queues: [...(use?.queues ?? [])].sort(),
    cpuMilli: { free: node.cpuMilliFree, total: node.cpuMilliTotal },
    memoryBytes: { free: node.memoryBytesFree, total: node.memoryBytesTotal },
    unschedulable: node.unschedulable,
    gpuDetail: gpuDetail(node),
  };
}

/** Nodes in topology order: by their domain path, widest level first, then by name. */
export function nodesReport(view: ClusterView): NodesReport {
  const allocated = allocatedDevices(view);
  const use = podUse(view);
  const levels = view.snap.tree.levels.map((l) => l.name);
  const rows = view.snap.model.nodes.map((n) =>
    nodeRow(view, n, allocated.get(n.name) ?? new Set(), use.get(n.name)),
  );
  const path = (r: NodeRow): string =>
    [...levels.map((l) => r.topology[l] ?? ''), r.name].join('\u0000');
  rows.sort((a, b) => path(a).localeCompare(path(b)));
  return { levels, nodes: rows, problems: view.snap.problems };
}

const gib = (bytes: number): string => `${decimal(bytes / 2 ** 30, 1)}Gi`;

export function renderNodes(report: NodesReport, output: Output): string {
  if (output === 'json') return json(report);
  const wide = output === 'wide';
  const headers = [
    ...report.levels.map((l) => l.toUpperCase()),
    'NODE',
    'GPUS',
    'FREE',
    'ALLOCATED',
    'PARTITIONS',
    'USED',
    'RESERVED',
    'QUEUES',
    ...(wide ? ['MODEL', 'CPU FREE', 'MEMORY FREE', 'RESERVED FOR'] : []),
  ];
  const rows = report.nodes.map((n) => [
    ...report.levels.map((l) => n.topology[l] ?? ''),
    n.unschedulable ? `${n.name} (cordoned)` : n.name,
    String(n.gpus),
    String(n.gpusFree),
    String(n.wholeAllocated),
    `${n.partitions.allocated}/${n.partitions.total}`,
    decimal(n.gpusUsed),
    String(n.gpusReserved),
    n.queues.join(','),
    ...(wide
      ? [
          [...new Set(n.gpuDetail.map((g) => g.model))].join(','),
          `${decimal(n.cpuMilli.free / 1000)}/${decimal(n.cpuMilli.total / 1000)}`,
          `${gib(n.memoryBytes.free)}/${gib(n.memoryBytes.total)}`,
          n.reservedFor.join(','),
        ]
      : []),
  ]);
  return printTable(headers, rows);
}
