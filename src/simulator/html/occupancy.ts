/**
 * The cluster occupancy at one moment (the end of a run): per node, its GPUs and the milli-GPU in
 * use, read from the model through the node view; and the grouping of nodes into the blocks of
 * the occupancy map (by topology labels when the nodes carry them, else by GPU model).
 *
 * Pure: no I/O.
 */
import { MILLI_PER_GPU } from '../../scheduling/node-view.ts';
import type { HeatGroup } from './heat-grid.ts';

/** One node's GPU use, small enough to keep in a run's JSON. */
export interface NodeOccupancy {
  readonly name: string;
  /** GPU model of the node's first GPU ('' without GPUs). */
  readonly model: string;
  readonly gpus: number;
  /** Milli-GPU in use, 0..gpus × 1000. */
  readonly gpuMilliUsed: number;
  /** Labels that group nodes (topology); left out when the node has none. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** What occupancy reads from a node: the node view's GPU accessors and the node's labels. */
export interface OccupancySource {
  readonly name: string;
  readonly gpuCount: number;
  gpuFreeMilli(i: number): number;
  gpuModel(i: number): string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** The occupancy of each node, in the given order. */
export function nodeOccupancy(nodes: readonly OccupancySource[]): NodeOccupancy[] {
  return nodes.map((n) => {
    let free = 0;
    for (let i = 0; i < n.gpuCount; i++) free += n.gpuFreeMilli(i);
    const labels = n.labels ?? {};
    return {
      name: n.name,
      model: n.gpuCount > 0 ? n.gpuModel(0) : '',
      gpus: n.gpuCount,
      gpuMilliUsed: n.gpuCount * MILLI_PER_GPU - free,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
    };
  });
}

/** Share of the node's GPU capacity in use, 0..1; undefined without GPUs. */
export function gpuUse(n: NodeOccupancy): number | undefined {
  return n.gpus > 0 ? n.gpuMilliUsed / (n.gpus * MILLI_PER_GPU) : undefined;
}

/** Topology label keys the default grouping looks for, widest first. */
export const GROUP_LABELS: readonly string[] = [
  'topology.phalanx.dev/block',
  'topology.phalanx.dev/rack',
];

/**
 * A grouping by label values: the values of the keys a node carries, joined with `/`
 * (e.g. `b1/r3`); undefined when the node carries none of them.
 */
export function labelGrouping(
  keys: readonly string[],
): (node: NodeOccupancy) => string | undefined {
  return (node) => {
    const values = keys.map((k) => node.labels?.[k]).filter((v) => v !== undefined && v !== '');
    return values.length === 0 ? undefined : values.join('/');
  };
}

/** Grouping by GPU model, for clusters without topology labels (openb). */
export function modelGrouping(node: NodeOccupancy): string {
  return node.gpus === 0 ? 'no GPU' : node.model;
}

function describeGroup(name: string, nodes: readonly NodeOccupancy[]): string {
  const gpus = nodes.reduce((s, n) => s + n.gpus, 0);
  const used = nodes.reduce((s, n) => s + n.gpuMilliUsed, 0);
  const pct = gpus > 0 ? ` · ${((100 * used) / (gpus * MILLI_PER_GPU)).toFixed(1)}% in use` : '';
  return `${name} · ${nodes.length} nodes · ${gpus} GPUs${pct}`;
}

/**
 * The heat-grid groups: nodes grouped by `groupOf` (default: topology labels when any node has
 * them, else GPU model), groups sorted by name, nodes inside by GPU count (largest first) then name.
 */
export function occupancyGroups(
  nodes: readonly NodeOccupancy[],
  groupOf?: (node: NodeOccupancy) => string | undefined,
): HeatGroup[] {
  const byLabels = labelGrouping(GROUP_LABELS);
  const grouping =
    groupOf ??
    (nodes.some((n) => byLabels(n) !== undefined)
      ? (n: NodeOccupancy) => byLabels(n) ?? '(unlabelled)'
      : modelGrouping);
  const groups = new Map<string, NodeOccupancy[]>();
  for (const n of nodes) {
    const key = grouping(n) ?? '(other)';
    const list = groups.get(key) ?? [];
    list.push(n);
    groups.set(key, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([name, list]) => ({
      label: describeGroup(name, list),
      cells: [...list]
        .sort((a, b) => b.gpus - a.gpus || a.name.localeCompare(b.name, 'en', { numeric: true }))
        .map((n) => ({
          id: n.name,
          value: gpuUse(n),
          detail:
            n.gpus === 0
              ? 'no GPU'
              : `${(n.gpuMilliUsed / MILLI_PER_GPU).toFixed(2)} of ${n.gpus} GPUs in use${n.model === '' ? '' : ` (${n.model})`}`,
        })),
    }));
}
