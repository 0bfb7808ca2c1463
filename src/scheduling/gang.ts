/**
 * Whole-gang placement: find the narrowest topology domain that can hold every member of a gang,
 * place all members there through the ledger, or place none. Capacity is taken only for a
 * complete placement (no member is ever left holding resources while others wait), which is what
 * makes gangs free of hold-and-wait deadlocks.
 *
 * Domain choice, at the narrowest level that works (node, NVLink domain, rack, block, zone, the
 * whole cluster), bounded by the gang's required level:
 *   1. capacity: the sum over the domain's nodes of how many members each node can take now;
 *   2. best fit: among domains with room, the one with the least free GPU left over, so small
 *      gangs fill partly used domains and leave whole racks and NVLink domains for big ones.
 * Members are then placed one by one (largest first) with the placement policy, restricted to the
 * chosen domain; a domain where that fails is rolled back and the next one is tried.
 *
 * Pure: no I/O.
 */
import type { ClusterModel, NodeState } from './cluster.ts';
import { claimsKey, deviceFitCount } from './devices.ts';
import { type GpuPick, MILLI_PER_GPU, type PodShape, shapeMilli } from './node-view.ts';
import { bestNode, noRoomReason } from './place.ts';
import type { PlacementPolicy, PolicyContext } from './policy.ts';
import type { Domain, TopologyTree } from './topology.ts';

export interface GangMember {
  readonly id: string;
  readonly shape: PodShape;
}

export interface GangRequest {
  readonly id: string;
  readonly members: readonly GangMember[];
  /** Level every member must share (`rack`, `block`…); undefined: anywhere in the cluster. */
  readonly required?: string | undefined;
  /** Level the members should share; a wider placement is made with a note. */
  readonly preferred?: string | undefined;
  /** Nodes the gang may use (node selectors, taints, reservations for other gangs). */
  readonly allowed?: ((node: NodeState) => boolean) | undefined;
}

export interface MemberPlacement {
  readonly member: string;
  readonly node: NodeState;
  readonly pick: GpuPick;
  readonly allocation: number;
}

export interface GangPlan {
  readonly kind: 'planned';
  readonly gang: string;
  /** The domain holding every member; undefined when the gang spans the whole cluster. */
  readonly domain: Domain | undefined;
  readonly level: string;
  readonly placements: readonly MemberPlacement[];
  /** Set when the preferred level could not be met: why, in one sentence. */
  readonly note?: string;
}

export interface GangWait {
  readonly kind: 'waiting';
  readonly gang: string;
  readonly reason: string;
  /** The domain closest to holding the gang within its required level (for reservations). */
  readonly closest: Domain | undefined;
}

export const CLUSTER_LEVEL = 'cluster';

interface ShapeGroup {
  readonly key: string;
  readonly shape: PodShape;
  readonly members: GangMember[];
}

/** How many more pods of `shape` the node can take now. */
export function fitCount(node: NodeState, shape: PodShape): number {
  let n = Number.POSITIVE_INFINITY;
  if (shape.cpuMilli > 0) n = Math.floor(node.cpuMilliFree / shape.cpuMilli);
  if (shape.memoryBytes > 0) n = Math.min(n, Math.floor(node.memoryBytesFree / shape.memoryBytes));
  if (shape.devices !== undefined) {
    return deviceFitCount(
      node,
      shape.devices,
      n === Number.POSITIVE_INFINITY ? 64 : Math.min(n, 64),
    );
  }
  if (shape.gpuCount === 0 || shape.gpuMilli === 0) return n === Number.POSITIVE_INFINITY ? 1e6 : n;
  if (shape.gpuMilli >= MILLI_PER_GPU && shape.gpuModels.length === 0) {
    return Math.min(n, Math.floor(node.gpusWholeFree / shape.gpuCount));
  }
  const gpus = node.gpusFor(shape);
  if (shape.gpuMilli >= MILLI_PER_GPU) return Math.min(n, Math.floor(gpus.length / shape.gpuCount));
  let shares = 0;
  for (const g of gpus) shares += Math.floor(node.gpuFreeMilli(g) / shape.gpuMilli);
  return Math.min(n, shares);
}

/** Pods with equal keys are interchangeable for placement. */
export function shapeKey(s: PodShape): string {
  const devices = s.devices === undefined ? '' : `/${claimsKey(s.devices)}`;
  return `${s.cpuMilli}/${s.memoryBytes}/${s.gpuCount}/${s.gpuMilli}/${s.gpuModels.join('|')}${devices}`;
}

function groupMembers(members: readonly GangMember[]): ShapeGroup[] {
  const groups = new Map<string, ShapeGroup>();
  for (const m of members) {
    const key = shapeKey(m.shape);
    let g = groups.get(key);
    if (g === undefined) {
      g = { key, shape: m.shape, members: [] };
      groups.set(key, g);
    }
    g.members.push(m);
  }
  // Largest demand first: big members are the hardest to place.
  return [...groups.values()].sort(
    (a, b) => shapeMilli(b.shape) - shapeMilli(a.shape) || b.shape.cpuMilli - a.shape.cpuMilli,
  );
}

interface Candidate {
  readonly domain: Domain | undefined;
  readonly nodes: NodeState[];
  readonly leftover: number;
}

export class GangPlanner {
  readonly #model: ClusterModel;
  readonly #tree: TopologyTree;
  readonly #policy: PlacementPolicy;
  readonly #ctx: PolicyContext;

  constructor(
    model: ClusterModel,
    tree: TopologyTree,
    policy: PlacementPolicy,
    ctx: PolicyContext,
  ) {
    this.#model = model;
    this.#tree = tree;
    this.#policy = policy;
    this.#ctx = ctx;
  }

  /** Plans and reserves the whole gang, or returns why it must wait (nothing reserved). */
  plan(gang: GangRequest): GangPlan | GangWait {
    const invalid = this.#validate(gang);
    if (invalid !== undefined)
      return { kind: 'waiting', gang: gang.id, reason: invalid, closest: undefined };
    const groups = groupMembers(gang.members);
    const fits = this.#fits(groups, gang);
    const narrowest = this.#tree.levels.length;
    const widest = gang.required === undefined ? -1 : (this.#tree.depthOf(gang.required) ?? -1);
    for (let depth = narrowest; depth >= widest; depth--) {
      for (const candidate of this.#candidates(depth, groups, fits)) {
        const placements = this.#placeIn(candidate, groups);
        if (placements !== undefined) return this.#planned(gang, candidate, depth, placements);
      }
    }
    return this.#waiting(gang, groups, fits, widest);
  }

  /** Releases every reservation of a plan (the gang is being re-planned or was cancelled). */
  release(plan: GangPlan): void {
    for (const p of plan.placements) this.#model.release(p.allocation);
  }

  #validate(gang: GangRequest): string | undefined {
    if (gang.members.length === 0) return `gang ${gang.id} has no members`;
    for (const level of [gang.required, gang.preferred]) {
      if (
        level !== undefined &&
        level !== CLUSTER_LEVEL &&
        this.#tree.depthOf(level) === undefined
      ) {
        return `gang ${gang.id}: unknown topology level "${level}"; known levels: ${this.#tree.levelNames().join(', ')}`;
      }
    }
    return undefined;
  }

  /** Per shape group, how many members each node can take (0 for nodes the gang may not use). */
  #fits(groups: readonly ShapeGroup[], gang: GangRequest): Int32Array[] {
    return groups.map((g) => {
      const out = new Int32Array(this.#model.nodes.length);
      for (const node of this.#model.nodes) {
        if (gang.allowed !== undefined && !gang.allowed(node)) continue;
        out[node.ordinal] = Math.min(fitCount(node, g.shape), g.members.length);
      }
      return out;
    });
  }

  /** Domains at `depth` (-1: the whole cluster) with room for every group, best fit first. */
  #candidates(depth: number, groups: readonly ShapeGroup[], fits: Int32Array[]): Candidate[] {
    const domains: (Domain | undefined)[] =
      depth < 0 ? [undefined] : [...this.#tree.domainsAt(depth)];
    const out: Candidate[] = [];
    const need = groups.reduce((s, g) => s + shapeMilli(g.shape) * g.members.length, 0);
    for (const domain of domains) {
      const ordinals =
        domain === undefined ? this.#model.nodes.map((n) => n.ordinal) : domain.nodes;
      const room = groups.map(() => 0);
      const nodes: NodeState[] = [];
      let free = 0;
      for (const o of ordinals) {
        let useful = false;
        groups.forEach((_, i) => {
          const f = fits[i]?.[o] ?? 0;
          room[i] = (room[i] ?? 0) + f;
          if (f > 0) useful = true;
        });
        const node = this.#model.nodes[o];
        if (useful && node !== undefined) {
          nodes.push(node);
          free += node.gpuFreeMilliTotal;
        }
      }
      if (groups.every((g, i) => (room[i] ?? 0) >= g.members.length)) {
        out.push({ domain, nodes, leftover: free - need });
      }
    }
    return out.sort(
      (a, b) => a.leftover - b.leftover || (a.domain?.key ?? '').localeCompare(b.domain?.key ?? ''),
    );
  }

  /** Places every member inside the candidate; rolls back and returns undefined on failure. */
  #placeIn(candidate: Candidate, groups: readonly ShapeGroup[]): MemberPlacement[] | undefined {
    const placed: MemberPlacement[] = [];
    for (const group of groups) {
      for (const member of group.members) {
        const best = bestNode(this.#model, group.shape, this.#policy, this.#ctx, candidate.nodes);
        if (best === undefined) {
          for (const p of placed) this.#model.release(p.allocation);
          return undefined;
        }
        const allocation = this.#model.allocate(best.node, group.shape, best.score.pick, member.id);
        placed.push({ member: member.id, node: best.node, pick: best.score.pick, allocation });
      }
    }
    return placed;
  }

  #planned(
    gang: GangRequest,
    candidate: Candidate,
    depth: number,
    placements: MemberPlacement[],
  ): GangPlan {
    const level = depth < 0 ? CLUSTER_LEVEL : (this.#tree.levelNames()[depth] ?? CLUSTER_LEVEL);
    const preferredDepth =
      gang.preferred === undefined ? undefined : (this.#tree.depthOf(gang.preferred) ?? -1);
    const plan: GangPlan = {
      kind: 'planned',
      gang: gang.id,
      domain: candidate.domain,
      level,
      placements,
    };
    if (preferredDepth === undefined || depth >= preferredDepth) return plan;
    const where =
      candidate.domain === undefined ? 'the whole cluster' : `${level} ${candidate.domain.name}`;
    return {
      ...plan,
      note: `no ${gang.preferred} has room for all ${gang.members.length} pods of gang ${gang.id}; placed across ${where}`,
    };
  }

  #waiting(
    gang: GangRequest,
    groups: readonly ShapeGroup[],
    fits: Int32Array[],
    widest: number,
  ): GangWait {
    const total = gang.members.length;
    const depth = Math.max(widest, 0);
    let closest: Domain | undefined;
    let closestRoom = -1;
    const domains = widest < 0 ? [] : this.#tree.domainsAt(depth);
    for (const domain of domains) {
      let room = 0;
      groups.forEach((g, i) => {
        let r = 0;
        for (const o of domain.nodes) r += fits[i]?.[o] ?? 0;
        room += Math.min(r, g.members.length);
      });
      if (room > closestRoom) {
        closest = domain;
        closestRoom = room;
      }
    }
    const big = groups[0]?.shape;
    const what =
      big === undefined ? '' : ` (${noRoomReason(big).replace(/^no node has /, 'each needs ')})`;
    if (widest < 0) {
      let room = 0;
      groups.forEach((g, i) => {
        room += Math.min(fits[i]?.reduce((s, f) => s + f, 0) ?? 0, g.members.length);
      });
      return {
        kind: 'waiting',
        gang: gang.id,
        reason: `gang ${gang.id}: room for ${room} of ${total} pods in the cluster${what}`,
        closest: undefined,
      };
    }
    const level = this.#tree.levelNames()[depth] ?? CLUSTER_LEVEL;
    const best =
      closest === undefined ? '' : `; best ${level} ${closest.name} has room for ${closestRoom}`;
    return {
      kind: 'waiting',
      gang: gang.id,
      reason: `gang ${gang.id}: no ${level} has room for all ${total} pods${what}${best}`,
      closest,
    };
  }
}
