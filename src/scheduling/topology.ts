/**
 * The topology tree: nodes grouped into nested domains by their labels, from the widest level
 * (zone) down to the node. Each level lists the label keys that name it, in order of preference;
 * the first key present on a node wins. A domain is identified by the path of values from the
 * top, so two racks called `r1` in different blocks stay distinct. A node without any label of a
 * level either shares one unnamed domain (`-`) with its unlabelled siblings (zones, blocks, racks:
 * an unlabelled cluster is one big domain) or is a domain of its own (NVLink: a node without a
 * multi-node NVLink label has only its own NVLink fabric).
 *
 * Pure: no I/O.
 */

export interface TopologyLevel {
  /** Short name used in annotations and messages: `zone`, `block`, `rack`, `nvlink`. */
  readonly name: string;
  /** Node label keys naming the domain at this level, first present wins. */
  readonly labels: readonly string[];
  /** Where a node without any of the labels goes: one shared domain (default) or its own. */
  readonly unlabelled?: 'shared' | 'own';
}

/**
 * Default levels, widest first, with the well-known labels of clouds, NVIDIA Topograph and the
 * GPU operator, and Phalanx's own `topology.phalanx.dev/*` labels for clusters labelled by hand.
 */
export const DEFAULT_LEVELS: readonly TopologyLevel[] = [
  { name: 'zone', labels: ['topology.kubernetes.io/zone', 'topology.phalanx.dev/zone'] },
  {
    name: 'block',
    labels: [
      'topology.phalanx.dev/block',
      'network.topology.nvidia.com/spine',
      'cloud.google.com/gce-topology-block',
      'topology.k8s.aws/network-node-layer-2',
      'oci.oraclecloud.com/host.network_block_id',
    ],
  },
  {
    name: 'rack',
    labels: [
      'topology.phalanx.dev/rack',
      'network.topology.nvidia.com/leaf',
      'cloud.google.com/gce-topology-subblock',
      'topology.k8s.aws/network-node-layer-3',
      'oci.oraclecloud.com/rack_id',
    ],
  },
  {
    name: 'nvlink',
    labels: [
      'topology.phalanx.dev/nvlink-domain',
      'nvidia.com/gpu.clique',
      'network.topology.nvidia.com/accelerator',
      'topology.k8s.aws/ultraserver-id',
    ],
    unlabelled: 'own',
  },
];

/** The pseudo-level below every configured level. */
export const NODE_LEVEL = 'node';

export interface Domain {
  /** Unique key: level name and the value path, e.g. `rack:z1/b2/r7`. */
  readonly key: string;
  readonly level: string;
  /** Depth of the level: 0 = widest; levels.length = node. */
  readonly depth: number;
  /** Human-readable name: the last value of the path (the node name at node level). */
  readonly name: string;
  readonly parent: Domain | undefined;
  /** Node ordinals inside, ascending. */
  readonly nodes: readonly number[];
}

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}

interface NodeLabels {
  readonly name: string;
  readonly ordinal: number;
  readonly labels: Readonly<Record<string, string>>;
}

export class TopologyTree {
  readonly levels: readonly TopologyLevel[];
  /** Domains of each depth (0..levels.length), sorted by key. */
  readonly #byDepth: Domain[][];
  /** For each node ordinal, its domain at each depth. */
  readonly #path = new Map<number, Domain[]>();

  constructor(nodes: readonly NodeLabels[], levels: readonly TopologyLevel[] = DEFAULT_LEVELS) {
    validateLevels(levels);
    this.levels = levels;
    const byKey = new Map<string, { domain: MutableDomain; depth: number }>();
    for (const node of [...nodes].sort((a, b) => a.ordinal - b.ordinal)) {
      const path: Domain[] = [];
      let parent: MutableDomain | undefined;
      let prefix = '';
      for (let depth = 0; depth <= levels.length; depth++) {
        const level = levels[depth];
        const value = level === undefined ? node.name : levelValue(node, level);
        prefix = prefix === '' ? value : `${prefix}/${value}`;
        const levelName = level?.name ?? NODE_LEVEL;
        const key = `${levelName}:${prefix}`;
        let entry = byKey.get(key);
        if (entry === undefined) {
          entry = {
            domain: { key, level: levelName, depth, name: displayName(value), parent, nodes: [] },
            depth,
          };
          byKey.set(key, entry);
        }
        entry.domain.nodes.push(node.ordinal);
        path.push(entry.domain);
        parent = entry.domain;
      }
      this.#path.set(node.ordinal, path);
    }
    this.#byDepth = Array.from({ length: levels.length + 1 }, () => []);
    for (const { domain, depth } of byKey.values()) this.#byDepth[depth]?.push(domain);
    for (const list of this.#byDepth) list.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** Depth of a level by name (`node` = the deepest); undefined for an unknown name. */
  depthOf(level: string): number | undefined {
    if (level === NODE_LEVEL) return this.levels.length;
    const i = this.levels.findIndex((l) => l.name === level);
    return i < 0 ? undefined : i;
  }

  /** Level names, widest first, ending with `node`. */
  levelNames(): string[] {
    return [...this.levels.map((l) => l.name), NODE_LEVEL];
  }

  domainsAt(depth: number): readonly Domain[] {
    return this.#byDepth[depth] ?? [];
  }

  /** The node's domain at `depth`. */
  domainOf(ordinal: number, depth: number): Domain | undefined {
    return this.#path.get(ordinal)?.[depth];
  }

  /** Depth of the narrowest domain containing all the given nodes (0 when they share no zone). */
  commonDepth(ordinals: readonly number[]): number {
    const first = ordinals[0];
    if (first === undefined) return this.levels.length;
    for (let depth = this.levels.length; depth >= 0; depth--) {
      const d = this.domainOf(first, depth);
      if (ordinals.every((o) => this.domainOf(o, depth) === d)) return depth;
    }
    return -1;
  }
}

interface MutableDomain extends Domain {
  readonly nodes: number[];
}

function levelValue(node: NodeLabels, level: TopologyLevel): string {
  for (const key of level.labels) {
    const v = node.labels[key];
    if (v !== undefined && v !== '') return v;
  }
  return level.unlabelled === 'own' ? `~${node.name}` : '-';
}

function displayName(value: string): string {
  if (value === '-') return '(unlabelled)';
  return value.startsWith('~') ? value.slice(1) : value;
}

function validateLevels(levels: readonly TopologyLevel[]): void {
  const names = new Set<string>();
  for (const [i, level] of levels.entries()) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(level.name) || level.name === NODE_LEVEL) {
      throw new TopologyError(
        `topology level ${i}: name "${level.name}" must be a short lowercase word other than "node"`,
      );
    }
    if (names.has(level.name)) {
      throw new TopologyError(`topology level "${level.name}" is listed twice`);
    }
    if (level.labels.length === 0) {
      throw new TopologyError(`topology level "${level.name}" names no node label`);
    }
    names.add(level.name);
  }
}
