/**
 * The simulated cluster of a native workload: nodes built from a topology spec (groups of blocks
 * of racks of identical nodes, each node a fake profile or an explicit capacity), or an openb node
 * list grouped into racks and blocks by name order. Nodes carry Phalanx's own topology labels
 * (`topology.phalanx.dev/{zone,block,rack,nvlink-domain}`), so the scheduling core's topology tree
 * (scheduling/topology.ts, default levels) sees them exactly as it sees a labelled live cluster.
 *
 * Pure: no I/O (an openb node list is read through the caller's `readNodes`).
 */
import { FAKE_PROFILE_NAMES, fakeProfile } from '../devices/fake/profiles.ts';
import type { NodeSpec } from '../scheduling/cluster.ts';
import { child, type FieldReader, type Fields } from './fields.ts';

export const LABEL_ZONE = 'topology.phalanx.dev/zone';
export const LABEL_BLOCK = 'topology.phalanx.dev/block';
export const LABEL_RACK = 'topology.phalanx.dev/rack';
export const LABEL_NVLINK = 'topology.phalanx.dev/nvlink-domain';

const GiB = 2 ** 30;
/** CPU and memory of a profile node when the spec does not say (the profiles describe GPUs only). */
export const DEFAULT_NODE_CPU_MILLI = 128_000;
export const DEFAULT_NODE_MEMORY_BYTES = 1024 * GiB;
/** Largest node count one cluster spec may build (keeps a typo from building millions). */
export const MAX_NODES = 20_000;

/** One kind of node: its capacity and GPUs. */
export interface NodeKind {
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly gpus: number;
  readonly model: string;
  /** GPUs accept shares (milli-GPU) from several pods. */
  readonly shareable: boolean;
  /** NVLink reach: none, inside the node, or across the node's rack (multi-node NVLink). */
  readonly nvlink: 'none' | 'node' | 'rack';
}

/** Blocks of racks of identical nodes, optionally in a named zone. */
export interface NodeGroup {
  readonly name: string;
  readonly zone: string | undefined;
  readonly blocks: number;
  readonly racksPerBlock: number;
  readonly nodesPerRack: number;
  readonly node: NodeKind;
}

function groupNodes(group: NodeGroup): NodeSpec[] {
  const nodes: NodeSpec[] = [];
  const gpus = Array.from({ length: group.node.gpus }, () => ({
    model: group.node.model,
    shareable: group.node.shareable,
  }));
  for (let b = 0; b < group.blocks; b++) {
    for (let r = 0; r < group.racksPerBlock; r++) {
      const block = `${group.name}-b${b}`;
      const rack = `${block}-r${r}`;
      const labels: Record<string, string> = { [LABEL_BLOCK]: block, [LABEL_RACK]: rack };
      if (group.zone !== undefined) labels[LABEL_ZONE] = group.zone;
      if (group.node.nvlink === 'rack') labels[LABEL_NVLINK] = `${rack}-nvl`;
      for (let n = 0; n < group.nodesPerRack; n++) {
        nodes.push({
          name: `${rack}-n${n}`,
          labels,
          cpuMilli: group.node.cpuMilli,
          memoryBytes: group.node.memoryBytes,
          gpus,
        });
      }
    }
  }
  return nodes;
}

/** Every node of the groups, group by group, block by block, rack by rack. */
export function buildGroups(groups: readonly NodeGroup[]): NodeSpec[] {
  return groups.flatMap(groupNodes);
}

/**
 * Labels nodes (in the order given) into racks of `nodesPerRack` and blocks of `racksPerBlock`
 * racks: `rack-0007`, `block-003`. Used for node lists that carry no topology (openb).
 */
export function groupIntoRacks(
  nodes: readonly NodeSpec[],
  nodesPerRack: number,
  racksPerBlock: number,
): NodeSpec[] {
  return nodes.map((node, i) => {
    const rack = Math.floor(i / nodesPerRack);
    const block = Math.floor(rack / racksPerBlock);
    return {
      ...node,
      labels: {
        ...node.labels,
        [LABEL_BLOCK]: `block-${String(block).padStart(3, '0')}`,
        [LABEL_RACK]: `rack-${String(rack).padStart(4, '0')}`,
      },
    };
  });
}

// ---- reading the spec ----------------------------------------------------------------------------

const NODE_FIELDS = ['profile', 'cpu', 'memory', 'gpus', 'model', 'shareable', 'nvlink'] as const;
const GROUP_FIELDS = ['name', 'zone', 'blocks', 'racksPerBlock', 'nodesPerRack', 'node'] as const;
const CLUSTER_FIELDS = ['groups', 'openb', 'nodesPerRack', 'racksPerBlock'] as const;
const NAME = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;
const NAME_RULE = 'a short lowercase name (letters, digits and -)';
const NVLINK = ['none', 'node', 'rack'] as const;

function profileKind(
  r: FieldReader,
  path: string,
  name: unknown,
): Omit<NodeKind, 'cpuMilli' | 'memoryBytes'> | undefined {
  const p = typeof name === 'string' ? fakeProfile(name) : undefined;
  if (p === undefined) {
    r.add(
      path,
      `must name a node profile (${FAKE_PROFILE_NAMES.join(', ')}), got ${JSON.stringify(name)}`,
    );
    return undefined;
  }
  return { gpus: p.defaultGpus, model: p.productName, shareable: true, nvlink: p.nvlink };
}

function explicitGpus(
  r: FieldReader,
  path: string,
  node: Fields,
): Omit<NodeKind, 'cpuMilli' | 'memoryBytes'> | undefined {
  const gpus = r.number(child(path, 'gpus'), node.gpus ?? 0, { integer: true, min: 0, max: 64 });
  const model =
    node.model === undefined && gpus === 0
      ? ''
      : r.string(
          child(path, 'model'),
          node.model,
          undefined,
          'the GPU model name (a non-empty string)',
        );
  const shareable = node.shareable ?? true;
  if (typeof shareable !== 'boolean') r.add(child(path, 'shareable'), 'must be true or false');
  const nvlink = node.nvlink ?? 'none';
  if (!NVLINK.includes(nvlink as (typeof NVLINK)[number])) {
    r.add(
      child(path, 'nvlink'),
      `must be one of ${NVLINK.join(', ')}, got ${JSON.stringify(nvlink)}`,
    );
  }
  if (gpus === undefined || model === undefined) return undefined;
  return {
    gpus,
    model,
    shareable: shareable === true,
    nvlink: nvlink as NodeKind['nvlink'],
  };
}

/** `sxm8-80g`, `{profile: sxm8-80g, cpu: 192, memory: 2Ti}` or `{cpu, memory, gpus, model}`. */
export function readNodeKind(r: FieldReader, path: string, value: unknown): NodeKind | undefined {
  if (typeof value === 'string') {
    const kind = profileKind(r, path, value);
    return (
      kind && { ...kind, cpuMilli: DEFAULT_NODE_CPU_MILLI, memoryBytes: DEFAULT_NODE_MEMORY_BYTES }
    );
  }
  const node = r.object(path, value);
  if (node === undefined) return undefined;
  r.unknown(path, node, NODE_FIELDS);
  const gpus =
    node.profile === undefined
      ? explicitGpus(r, path, node)
      : profileKind(r, child(path, 'profile'), node.profile);
  const cpu = r.optional(node.cpu, (v) => r.quantity(child(path, 'cpu'), v, '64 or 500m'));
  const memory = r.optional(node.memory, (v) => r.quantity(child(path, 'memory'), v, '512Gi'));
  if (node.profile === undefined && (node.cpu === undefined || node.memory === undefined)) {
    r.add(path, 'an explicit node needs cpu and memory (or name a profile)');
    return undefined;
  }
  if (gpus === undefined) return undefined;
  return {
    ...gpus,
    cpuMilli: cpu === undefined ? DEFAULT_NODE_CPU_MILLI : Math.round(cpu * 1000),
    memoryBytes: memory === undefined ? DEFAULT_NODE_MEMORY_BYTES : Math.round(memory),
  };
}

function readGroup(r: FieldReader, path: string, value: unknown): NodeGroup | undefined {
  const g = r.object(path, value);
  if (g === undefined) return undefined;
  r.unknown(path, g, GROUP_FIELDS);
  const count = (key: string) =>
    r.number(child(path, key), g[key] ?? 1, { integer: true, min: 0, exclusiveMin: true });
  const name = r.string(child(path, 'name'), g.name, NAME, NAME_RULE);
  const zone = r.optional(g.zone, (v) => r.string(child(path, 'zone'), v, NAME, NAME_RULE));
  const blocks = count('blocks');
  const racksPerBlock = count('racksPerBlock');
  const nodesPerRack = count('nodesPerRack');
  const node = readNodeKind(r, child(path, 'node'), g.node);
  if (
    name === undefined ||
    blocks === undefined ||
    racksPerBlock === undefined ||
    nodesPerRack === undefined ||
    node === undefined
  ) {
    return undefined;
  }
  return { name, zone, blocks, racksPerBlock, nodesPerRack, node };
}

function readGroups(r: FieldReader, path: string, value: unknown): NodeSpec[] | undefined {
  const list = r.list(path, value);
  if (list === undefined) return undefined;
  if (list.length === 0) r.add(path, 'must list at least one group of nodes');
  const groups = list.map((g, i) => readGroup(r, `${path}[${i}]`, g));
  const names = new Set<string>();
  groups.forEach((g, i) => {
    if (g === undefined) return;
    if (names.has(g.name)) r.add(`${path}[${i}].name`, `group ${g.name} is listed twice`);
    names.add(g.name);
  });
  if (groups.some((g) => g === undefined)) return undefined;
  const nodes = buildGroups(groups as NodeGroup[]);
  if (nodes.length > MAX_NODES) {
    r.add(path, `builds ${nodes.length} nodes; at most ${MAX_NODES} are allowed`);
    return undefined;
  }
  return nodes;
}

/** How a cluster spec reads an openb node list named in it (path relative to the workload file). */
export type NodeListReader = (path: string) => readonly NodeSpec[];

/**
 * The cluster: `{groups: [...]}` or `{openb: <node list csv>, nodesPerRack?, racksPerBlock?}`.
 * A node list that cannot be read is reported at `cluster.openb`.
 */
export function readCluster(
  r: FieldReader,
  path: string,
  value: unknown,
  readNodes: NodeListReader,
): NodeSpec[] | undefined {
  const c = r.object(path, value);
  if (c === undefined) return undefined;
  r.unknown(path, c, CLUSTER_FIELDS);
  if ((c.groups === undefined) === (c.openb === undefined)) {
    r.add(path, 'must have exactly one of groups (a topology spec) or openb (an openb node list)');
    return undefined;
  }
  if (c.groups !== undefined) return readGroups(r, child(path, 'groups'), c.groups);
  const file = r.string(
    child(path, 'openb'),
    c.openb,
    undefined,
    'the path of an openb node list CSV',
  );
  const perRack = r.number(child(path, 'nodesPerRack'), c.nodesPerRack ?? 8, {
    integer: true,
    min: 0,
    exclusiveMin: true,
  });
  const perBlock = r.number(child(path, 'racksPerBlock'), c.racksPerBlock ?? 8, {
    integer: true,
    min: 0,
    exclusiveMin: true,
  });
  if (file === undefined || perRack === undefined || perBlock === undefined) return undefined;
  try {
    return groupIntoRacks(readNodes(file), perRack, perBlock);
  } catch (error) {
    r.add(child(path, 'openb'), error instanceof Error ? error.message : String(error));
    return undefined;
  }
}
